"""workbook.metrics: edit distance against a brute-force search over edit scripts and
known cases, its metric properties (hypothesis), and the error rate's total-over-total."""

import functools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbook import metrics


def _brute_force(a, b):
    """The fewest edits by breadth-first search over every sequence reachable by single
    insertions (of b's tokens), deletions and substitutions: no recurrence assumed."""
    alphabet = set(a) | set(b)
    frontier, seen, depth = {tuple(a)}, {tuple(a)}, 0
    while tuple(b) not in frontier:
        nxt = set()
        for s in frontier:
            for i in range(len(s) + 1):
                for t in alphabet:
                    nxt.add(s[:i] + (t,) + s[i:])  # insert
                    if i < len(s):
                        nxt.add(s[:i] + (t,) + s[i + 1:])  # substitute
                if i < len(s):
                    nxt.add(s[:i] + s[i + 1:])  # delete
        frontier = {s for s in nxt if s not in seen and len(s) <= len(a) + len(b)}
        seen |= frontier
        depth += 1
    return depth


@functools.lru_cache(maxsize=None)
def _recursive(a, b):
    if not a or not b:
        return len(a) + len(b)
    return min(_recursive(a[1:], b) + 1, _recursive(a, b[1:]) + 1,
               _recursive(a[1:], b[1:]) + (a[0] != b[0]))


@pytest.mark.parametrize("a, b, want", [
    ("kitten", "sitting", 3), ("", "abc", 3), ("abc", "", 3), ("", "", 0), ("abc", "abc", 0),
    ("ab", "ba", 2), ("flaw", "lawn", 2), ("intention", "execution", 5),
    (["TH", "AO", "T"], ["TH", "OW", "T"], 1), (["K", "AE", "T"], ["K", "AE", "T", "S"], 1),
    (("IH", "G", "Z"), ["IH", "G", "Z"], 0),  # a tuple against a list: tokens compared, not types
])
def test_known_distances(a, b, want):
    assert metrics.edit_distance(a, b) == want


short = st.lists(st.sampled_from("abc"), max_size=4)
medium = st.lists(st.sampled_from("abcd"), max_size=9)


@settings(max_examples=60, deadline=None)
@given(short, short)
def test_equals_brute_force_search(a, b):
    assert metrics.edit_distance(a, b) == _brute_force(a, b)


@settings(max_examples=200, deadline=None)
@given(medium, medium, medium)
def test_is_a_metric_and_equals_the_recursion(a, b, c):
    d = metrics.edit_distance
    assert d(a, b) == _recursive(tuple(a), tuple(b))
    assert d(a, b) == d(b, a)
    assert (d(a, b) == 0) == (a == b)
    assert d(a, c) <= d(a, b) + d(b, c)
    assert abs(len(a) - len(b)) <= d(a, b) <= max(len(a), len(b))
    assert d(a, a + c) == len(c) == d(c + a, a)


def test_error_rate_is_total_edits_over_total_reference_length():
    predictions = [["K", "AE", "T"], ["D", "AO", "G"], ["B", "ER", "D", "Z"], ["AY", "Z"]]
    references = [["K", "AE", "T"], ["D", "AA", "G"], ["B", "ER", "D"], ["AY"]]
    assert metrics.error_rates(predictions, references) == (0.25, 3 / 10)  # not mean(0, 1/3, 1/3, 1)
    assert metrics.error_rates(["2001-02-03", "1999-12-31"], ["2001-02-03", "1999-12-13"]) == (0.5, 0.1)
    assert metrics.error_rate(["abcabc"], ["a"]) == 5.0  # writing too much costs more than 1
    assert metrics.exact_match([("a", "b")], [["a", "b"]]) == 1.0


@pytest.mark.parametrize("predictions, references", [([], []), (["a"], ["a", "b"]), ([""], [""])])
def test_error_rate_refuses_what_it_cannot_score(predictions, references):
    with pytest.raises(ValueError):
        metrics.error_rate(predictions, references)
