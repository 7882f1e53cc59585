"""`workbook autograde` stopped mid-run -- killed with SIGKILL, or interrupted with Ctrl-C --
then run again: every submission is graded exactly once and nothing finished is lost;
nothing the stopped command started (workers, the server that forks them, the zygote,
kernels) lives on; Ctrl-C ends with the summary and exit code 130, not tracebacks; one
worker gives the scores two did; a changed submission (and only it) is graded again."""

import os
import shutil
import signal
import time
import uuid

import nbformat
import pytest

from bad_submissions import grade
from tiny_course import ASSIGNMENT, NOTEBOOK, released_course, scores, state

STUDENTS = ["good", "exc", "warn", "tampered"]


@pytest.mark.parametrize("stop", ["SIGKILL", "Ctrl-C"])
def test_stop_then_resume_grades_each_submission_once(autograded, tmp_path, stop):
    root = tmp_path / "course"
    released_course(root)
    for student in STUDENTS:
        shutil.copytree(autograded.root / "grading" / "submitted" / student,
                        root / "grading" / "submitted" / student)

    run_id = uuid.uuid4().hex
    # Ctrl-C acts as in a terminal: a test run started in the background (`make test &`)
    # ignores SIGINT, and the command would inherit that
    runner = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        proc = grade(root, workers=1, wait=False, env={"WORKBOOK_TEST_RUN": run_id},
                     start_new_session=True)  # its own process group, as a terminal's job
    finally:
        signal.signal(signal.SIGINT, runner)
    mark = f"WORKBOOK_TEST_RUN={run_id}".encode()
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and proc.poll() is None:
        if (root / "grading" / "gradebook.db").exists() and state(root):
            break
        time.sleep(0.2)
    assert _started_by(mark), "no process carries the run's mark"
    if stop == "SIGKILL":
        proc.kill()  # no clean-up of any kind
    else:
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches every process of the job
    proc.wait(timeout=60)
    finished = state(root)
    assert 1 <= len(finished) < len(STUDENTS), "the stop did not land mid-run"
    if stop == "Ctrl-C":
        out, err = [(root.parent / "elsewhere" / f).read_text()
                    for f in ("stdout.txt", "stderr.txt")]
        assert proc.returncode == 130, out + err
        assert f"graded {len(finished)} submission(s)" in out, out
        assert (f"interrupted: {len(STUDENTS) - len(finished)} submission(s) not graded"
                in out), out
        assert "KeyboardInterrupt" not in err, err
    deadline = time.monotonic() + 15  # a worker checks for its parent every second
    while _started_by(mark) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _started_by(mark), f"left running after the stop: {_started_by(mark)}"

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


def _started_by(mark: bytes) -> list[str]:
    """The live processes whose environment holds ``mark`` (every process the command
    started inherits it), as ``pid command``."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if mark not in f.read().split(b"\0"):
                    continue
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":  # exited, not yet reaped
                    continue
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                command = f.read().replace(b"\0", b" ").decode(errors="replace")
            found.append(f"{pid} {command[:120]}")
        except OSError:  # gone meanwhile
            continue
    return found
