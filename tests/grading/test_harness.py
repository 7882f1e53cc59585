"""The round-trip harness itself, on the tiny two-exercise assignment of tiny_course.py."""

import pytest

from harness import Right, Wrong, grade_cases
from tiny_course import tiny_assignment


WRONG = [Wrong("ex-add", "def add(a, b):\n    return a - b", fails=["test-add"]),
         Wrong("ex-double", "def double(x):\n    return x * x", fails=["test-double"],
               why="4 * 4 passes the visible test; the hidden one catches it")]
RIGHT = [Right("ex-add", "def add(a, b):\n    return sum([a, b])"),
         Right("ex-double", "def double(x):\n    return x + x")]


def _grade(tmp_path_factory, batch):
    root = tmp_path_factory.mktemp("course")
    tiny_assignment(root)
    return grade_cases("00_demo", WRONG, RIGHT, tmp_path_factory.mktemp("work"), root=root,
                       batch=batch)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    return _grade(tmp_path_factory, batch=False)


def test_independent_wrong_answers_share_a_submission(tmp_path_factory):
    batched = _grade(tmp_path_factory, batch=True)
    assert batched.wrong_student == {0: "wrong-00", 1: "wrong-00"}
    assert batched.scores["wrong-00"] == {"test-add": (0, 2), "test-double": (0, 1)}


def test_scores_are_read_per_cell(graded):
    assert graded.scores["solution"] == {"test-add": (2, 2), "test-double": (1, 1)}
    assert graded.scores["blank"] == {"test-add": (0, 2), "test-double": (0, 1)}
    assert graded.scores["right"] == {"test-add": (2, 2), "test-double": (1, 1)}


def test_a_wrong_answer_loses_only_its_cell(graded):
    assert graded.scores["wrong-01"] == {"test-add": (2, 2), "test-double": (0, 1)}


def test_a_wrong_submission_ends_after_its_last_failing_cell(graded):
    # ex-double was cut off; the grader put test-double back, and it finds no double()
    assert graded.scores["wrong-00"] == {"test-add": (0, 2), "test-double": (0, 1)}
    assert graded.errors["wrong-00"]["test-double"].startswith("NameError")


def test_failures_are_explained(graded):
    assert graded.errors["blank"]["test-add"].startswith("NotImplementedError")
    assert "AssertionError" in graded.describe("wrong-00", "test-add")
