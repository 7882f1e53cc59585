"""A tiny course with one exercise and one written answer in the layout of the course's
notebooks (docs/authoring.md): a read-only question cell holding the mark scheme, then
the student's answer cell, graded by hand. Graded by ``workbook autograde`` for the tests
of manual grading (tests/grading/test_written_answers.py, tests/browser/test_formgrader.py).
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.request
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
            f"notebooks)</small>\n\n{MARK_SCHEME}\n\n{RUBRIC_LINE}\n\n<small>END MARK SCHEME</small>",
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


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as r:
        return r.read().decode()


def start_formgrader(root, private, timeout=90) -> tuple[subprocess.Popen, str, list[str]]:
    """``workbook formgrader --no-browser`` on ``root`` with private Jupyter folders;
    (the process, the URL it printed, the lines it printed up to the URL's)."""
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(private / "config"),
           "JUPYTER_DATA_DIR": str(private / "data"),
           "JUPYTER_RUNTIME_DIR": str(private / "runtime"), "IPYTHONDIR": str(private / "ipython")}
    proc = subprocess.Popen([sys.executable, "-m", "workbook_grading.cli", "formgrader",
                             "--no-browser", "--root", str(root)], cwd=private.parent,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, stdin=subprocess.DEVNULL)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(l.rstrip("\n")) for l in proc.stdout],
                     daemon=True).start()
    seen, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            seen.append(lines.get(timeout=1))
        except queue.Empty:
            continue
        if seen[-1].startswith("Ctrl-C"):
            url = next(w for l in seen for w in l.split() if w.startswith("http://"))
            return proc, url, seen
    proc.kill()
    raise AssertionError("`workbook formgrader` printed no URL:\n" + "\n".join(seen))


def stop_formgrader(proc: subprocess.Popen, url: str) -> None:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 128 + signal.SIGTERM
    base = url.split("/formgrader")[0]
    try:
        get(f"{base}/api/status")
    except OSError:
        return
    raise AssertionError("the Jupyter server outlived `workbook formgrader`")
