"""A tiny course with one exercise and one written answer in the layout of the course's
notebooks (docs/authoring.md): a read-only question cell holding the mark scheme, then
the student's answer cell, graded by hand. Graded by ``workbook autograde`` for the tests
of manual grading (tests/grading/test_written_answers.py, tests/browser/test_formgrader.py).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ASSIGNMENT = "00_written"
NOTEBOOK = "written"
QUESTION = "question-why"
ANSWER = "written-why"
POINTS = 3
MARK_SCHEME = "Model answer: because the sum of two numbers is what add returns."
RUBRIC_LINE = "Rubric: 3 points for naming the sum, 1 for a vague answer."
GOOD_ANSWER = "It returns the **sum** of its two arguments, as the test checks."


def _meta(grade_id, **flags):
    base = {"grade": False, "solution": False, "locked": False, "schema_version": 3}
    base.update(flags)
    base["grade_id"] = grade_id
    return {"nbgrader": base}


def written_assignment(root: Path) -> Path:
    """``root/solutions/00_written/written.ipynb``."""
    cells = [
        new_markdown_cell("# Written answers", metadata=_meta("intro", locked=True)),
        new_code_cell("def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b\n"
                      "    ### END SOLUTION", metadata=_meta("ex-add", solution=True)),
        new_code_cell("assert add(2, 3) == 5", metadata=_meta("test-add", grade=True,
                                                               locked=True, points=1)),
        new_markdown_cell(
            f"**Question ({POINTS} points).** What does `add` return, and why?\n\n"
            "<small>BEGIN MARK SCHEME (for the grader: removed from the students' "
            f"notebooks)</small>\n{MARK_SCHEME}\n\n{RUBRIC_LINE}\n<small>END MARK SCHEME</small>",
            metadata=_meta(QUESTION, locked=True)),
        new_markdown_cell("*Write your answer here.*",
                          metadata=_meta(ANSWER, solution=True, grade=True, points=POINTS)),
    ]
    nb = new_notebook(cells=cells, metadata={"kernelspec": {
        "name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}})
    path = root / "solutions" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(nb, path)
    return path


def released_written_course(root: Path) -> Path:
    """The assignment released into ``root`` (notebooks/ and grading/gradebook.db)."""
    from workbook_grading.release import release

    written_assignment(root)
    (root / "grading").mkdir(exist_ok=True)
    (released,) = release([ASSIGNMENT], root=root,
                          db_url=f"sqlite:///{root / 'grading' / 'gradebook.db'}")
    return released


def answered(released: Path, answer: str | None = GOOD_ANSWER, *, delete_answer=False):
    """The release with the exercise solved and the written answer set to ``answer``
    (None: left as released); ``delete_answer``: the answer cell removed."""
    nb = nbformat.read(released, as_version=4)
    for cell in list(nb.cells):
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid == "ex-add":
            cell.source = "def add(a, b):\n    return a + b"
        elif gid == ANSWER:
            if delete_answer:
                nb.cells.remove(cell)
            elif answer is not None:
                cell.source = answer
    return nb


def submit(root: Path, student: str, nb) -> None:
    d = root / "grading" / "submitted" / student / ASSIGNMENT
    d.mkdir(parents=True, exist_ok=True)
    if isinstance(nb, str):
        (d / f"{NOTEBOOK}.ipynb").write_text(nb)
    else:
        nbformat.write(nb, d / f"{NOTEBOOK}.ipynb")


def workbook(*args, root: Path, timeout=300) -> subprocess.CompletedProcess:
    """``workbook ARGS --root ROOT``, run from a folder outside the course."""
    cwd = root.parent / "elsewhere"
    cwd.mkdir(exist_ok=True)
    return subprocess.run([sys.executable, "-m", "workbook_grading.cli", *args, "--root",
                           str(root)], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def graded_written_course(root: Path, students: dict) -> subprocess.CompletedProcess:
    """Release, submit ``students`` ({id: notebook, or raw text}) and autograde."""
    released = released_written_course(root)
    for student, make in students.items():
        submit(root, student, make(released) if callable(make) else make)
    run = workbook("autograde", ASSIGNMENT, "--workers", "1", "--no-progress", root=root)
    assert run.returncode == 0, run.stdout + run.stderr
    return run
