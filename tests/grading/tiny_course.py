"""A tiny two-exercise nbgrader assignment (``00_demo/demo.ipynb``) built in a temp dir.

Shared by the harness tests and the autograde/collect/export tests: no torch, runs in a
second. ``tiny_assignment(root)`` writes ``root/solutions/00_demo/demo.ipynb``; the
``tiny_course`` fixture also releases it (which seeds ``root/grading/gradebook.db``).
"""

from __future__ import annotations

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ASSIGNMENT = "00_demo"
NOTEBOOK = "demo"
ADD = "def add(a, b):\n    return a + b"
DOUBLE = "def double(x):\n    return 2 * x"


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
    path = root / "solutions" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(nb, path)
    return path


def released_course(root):
    """``tiny_assignment`` released into ``root`` (notebooks/ and grading/gradebook.db)."""
    from workbook_grading.course import Course
    from workbook_grading.release import release

    tiny_assignment(root)
    (root / "grading").mkdir(exist_ok=True)
    (released,) = release([ASSIGNMENT], course=Course(root, f"sqlite:///{root / 'grading' / 'gradebook.db'}"))
    return released


def submission(released, add: str | None = ADD, double: str | None = DOUBLE,
               edit=None) -> nbformat.NotebookNode:
    """The released notebook answered with ``add``/``double`` (None: left blank);
    ``edit(nb)`` may then change anything (delete test cells, ...)."""
    nb = nbformat.read(released, as_version=4)
    answers = {"ex-add": add, "ex-double": double}
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers and answers[gid] is not None:
            cell.source = answers[gid]
    if edit is not None:
        edit(nb)
    return nb


# ------------------------------------------------------------- grading the tiny course

def workbook(*args, root, timeout=300, wait=True, **kw):
    """Run the ``workbook`` command in a subprocess, from a folder that is not the course
    (nbgrader must never pick up a config or create a gradebook in the cwd). With
    ``wait=False``: the ``Popen``, output to files in that folder."""
    import subprocess
    import sys

    cwd = root.parent / "elsewhere"
    cwd.mkdir(exist_ok=True)
    cmd = [sys.executable, "-m", "workbook_grading.cli", *args, "--root", str(root)]
    if not wait:
        return subprocess.Popen(cmd, cwd=cwd, stdout=open(cwd / "stdout.txt", "w"),
                                stderr=open(cwd / "stderr.txt", "w"), **kw)
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, **kw)


def put_submission(root, student, nb=None, raw: str | None = None, timestamp: str | None = None):
    d = root / "grading" / "submitted" / student / ASSIGNMENT
    d.mkdir(parents=True, exist_ok=True)
    if raw is not None:
        (d / f"{NOTEBOOK}.ipynb").write_text(raw)
    elif nb is not None:
        nbformat.write(nb, d / f"{NOTEBOOK}.ipynb")
    if timestamp:
        (d / "timestamp.txt").write_text(timestamp + "\n")
    return d


def db_url(root):
    return f"sqlite:///{root / 'grading' / 'gradebook.db'}"


def scores(root) -> dict[str, dict[str, float | None]]:
    """{student: {test cell: auto_score}} from the course's gradebook."""
    from nbgrader.api import Gradebook

    from workbook_grading.config import COURSE_ID

    out = {}
    with Gradebook(db_url(root), COURSE_ID) as gb:
        for sub in gb.assignment_submissions(ASSIGNMENT):
            (nb,) = sub.notebooks
            out[sub.student.id] = {g.name: g.auto_score for g in nb.grades
                                   if g.name.startswith("test-")}
    return out


def state(root) -> dict[str, dict]:
    """{student: state row} of ``workbook autograde``'s table."""
    from workbook_grading.autograde import read_state

    return {r["student"]: r for r in read_state(db_url(root)) if r["assignment"] == ASSIGNMENT}
