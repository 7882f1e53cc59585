"""Scores of predicted token sequences against references: exact match, the edit
(Levenshtein) distance and the token error rate built on it (the phoneme error rate of
grapheme-to-phoneme models, a character error rate for dates).

A sequence is anything with ``len`` and indexing whose items compare with ``==``: a string
(one token a character) or a list of tokens (``["TH", "AO", "T"]``).
"""

from __future__ import annotations

from typing import Sequence

__all__ = ["edit_distance", "exact_match", "error_rate", "error_rates"]


def edit_distance(a: Sequence, b: Sequence) -> int:
    """The fewest single-token insertions, deletions and substitutions that turn a into b.

    Dynamic programming over D[i, j], the distance between a[:i] and b[:j], one row at a
    time: D[i, 0] = i, D[0, j] = j, D[i, j] = min(D[i-1, j] + 1, D[i, j-1] + 1,
    D[i-1, j-1] + (a[i-1] != b[j-1])). O(len(a) * len(b)) time, O(len(b)) memory.
    """
    previous = list(range(len(b) + 1))  # D[0, j] = j: insert b's first j tokens
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)  # D[i, 0] = i: delete a's first i tokens
        for j in range(1, len(b) + 1):
            current[j] = min(previous[j] + 1,  # delete a[i-1]
                             current[j - 1] + 1,  # insert b[j-1]
                             previous[j - 1] + (a[i - 1] != b[j - 1]))  # substitute or keep
        previous = current
    return previous[-1]


def _check_pairs(predictions: Sequence[Sequence], references: Sequence[Sequence]) -> None:
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} references")
    if not references:
        raise ValueError("no references to score against")


def exact_match(predictions: Sequence[Sequence], references: Sequence[Sequence]) -> float:
    """The fraction of predictions equal to their reference, token for token."""
    _check_pairs(predictions, references)
    return sum(list(p) == list(r) for p, r in zip(predictions, references)) / len(references)


def error_rate(predictions: Sequence[Sequence], references: Sequence[Sequence]) -> float:
    """Total edit distance over total reference length, sum_n d(p_n, r_n) / sum_n |r_n|:
    long references weigh more than in a mean of per-sequence rates, and the rate exceeds 1
    when a model writes far too much."""
    _check_pairs(predictions, references)
    total = sum(len(r) for r in references)
    if total == 0:
        raise ValueError("the references are all empty: the error rate is undefined")
    return sum(edit_distance(p, r) for p, r in zip(predictions, references)) / total


def error_rates(predictions: Sequence[Sequence],
                references: Sequence[Sequence]) -> tuple[float, float]:
    """(exact_match, error_rate) of N predictions against N references (notebook 09's
    exercise of the same name)."""
    return exact_match(predictions, references), error_rate(predictions, references)
