"""The round-trip harness itself, on a tiny two-exercise assignment built here."""

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from harness import Right, Wrong, grade_cases


def _meta(grade_id, **flags):
    base = {"grade": False, "solution": False, "locked": False, "schema_version": 3}
    base.update(flags)
    base["grade_id"] = grade_id
    return {"nbgrader": base}


def tiny_assignment(root):
    cells = [
        new_markdown_cell("# Demo", metadata=_meta("intro", locked=True)),
        new_code_cell("import numpy as np", metadata=_meta("setup", locked=True)),
        new_code_cell("def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b\n    ### END SOLUTION",
                      metadata=_meta("ex-add", solution=True)),
        new_code_cell("assert add(2, 3) == 5\n### BEGIN HIDDEN TESTS\nassert add(-1, 1) == 0\n"
                      "### END HIDDEN TESTS", metadata=_meta("test-add", grade=True, locked=True,
                                                             points=2)),
        new_code_cell("def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
                      metadata=_meta("ex-double", solution=True)),
        new_code_cell("assert double(4) == 8\n### BEGIN HIDDEN TESTS\nassert double(-3) == -6\n"
                      "### END HIDDEN TESTS", metadata=_meta("test-double", grade=True, locked=True,
                                                             points=1)),
        new_markdown_cell("Why?\n### BEGIN MARK SCHEME\nBecause.\n### END MARK SCHEME",
                          metadata=_meta("task-why", task=True, locked=True, points=1)),
    ]
    nb = new_notebook(cells=cells, metadata={"kernelspec": {
        "name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}})
    path = root / "solutions" / "00_demo" / "demo.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(nb, path)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("course")
    tiny_assignment(root)
    wrong = [Wrong("ex-add", "def add(a, b):\n    return a - b", fails=["test-add"]),
             Wrong("ex-double", "def double(x):\n    return x * x", fails=["test-double"],
                   why="4 * 4 passes the visible test; the hidden one catches it")]
    right = [Right("ex-add", "def add(a, b):\n    return sum([a, b])"),
             Right("ex-double", "def double(x):\n    return x + x")]
    return grade_cases("00_demo", wrong, right, tmp_path_factory.mktemp("work"), root=root)


def test_scores_are_read_per_cell(graded):
    assert graded.scores["solution"] == {"test-add": (2, 2), "test-double": (1, 1)}
    assert graded.scores["blank"] == {"test-add": (0, 2), "test-double": (0, 1)}
    assert graded.scores["right"] == {"test-add": (2, 2), "test-double": (1, 1)}


def test_a_wrong_answer_loses_only_its_cell(graded):
    assert graded.scores["wrong-00"] == {"test-add": (0, 2), "test-double": (1, 1)}
    assert graded.scores["wrong-01"] == {"test-add": (2, 2), "test-double": (0, 1)}


def test_failures_are_explained(graded):
    assert graded.errors["blank"]["test-add"].startswith("NotImplementedError")
    assert "AssertionError" in graded.describe("wrong-00", "test-add")
