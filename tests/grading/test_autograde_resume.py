"""`workbook autograde` killed with SIGKILL mid-run, then run again: every submission is
graded exactly once and nothing finished is lost; one worker gives the scores two did;
a changed submission (and only it) is graded again."""

import shutil
import time

import nbformat

from bad_submissions import grade
from tiny_course import ASSIGNMENT, NOTEBOOK, released_course, scores, state

STUDENTS = ["good", "exc", "warn", "tampered"]


def test_kill_then_resume_grades_each_submission_once(autograded, tmp_path):
    root = tmp_path / "course"
    released_course(root)
    for student in STUDENTS:
        shutil.copytree(autograded.root / "grading" / "submitted" / student,
                        root / "grading" / "submitted" / student)

    proc = grade(root, workers=1, wait=False)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and proc.poll() is None:
        if (root / "grading" / "gradebook.db").exists() and state(root):
            break
        time.sleep(0.2)
    proc.kill()  # SIGKILL: no clean-up of any kind
    proc.wait()
    finished = state(root)
    assert 1 <= len(finished) < len(STUDENTS), "the kill did not land mid-run"

    # a graded submission changes before the re-run: graded again, alone with the rest
    changed = sorted(finished)[0]
    path = root / "grading" / "submitted" / changed / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("one more thought"))
    nbformat.write(nb, path)

    run = grade(root, workers=1)
    assert run.returncode == 0, run.stdout + run.stderr
    left = len(STUDENTS) - len(finished)
    assert f"graded {left + 1} submission(s), {len(finished) - 1} unchanged" in run.stdout

    rows = state(root)
    assert sorted(rows) == sorted(STUDENTS)
    writes = {s: r["writes"] for s, r in rows.items()}
    assert writes == {s: 2 if s == changed else 1 for s in STUDENTS}
    # serial (1 worker) gives exactly what parallel (2 workers) gave
    parallel = scores(autograded.root)
    assert scores(root) == {s: parallel[s] for s in STUDENTS}
    assert all(rows[s]["status"] == state(autograded.root)[s]["status"] for s in STUDENTS)
