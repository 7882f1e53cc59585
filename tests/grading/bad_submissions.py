"""One tiny course with every kind of bad submission, graded once by ``workbook autograde``
(2 workers) for the whole session: tests/grading/test_autograde*.py and test_export.py
read the result. Each case: how the submission is made, the scores of its test cells and
the status ``workbook autograde`` must record."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import nbformat

from tiny_course import (ADD, ASSIGNMENT, NOTEBOOK, db_url, put_submission, released_course,
                         submission, workbook)

LOOP = ("import time\ndef double(x):\n    return 2 * x\n"
        "while True:  # swallows the grader's interrupt\n    try:\n        time.sleep(0.01)\n"
        "    except KeyboardInterrupt:\n        pass")
EXIT = "import os\ndef double(x):\n    return 2 * x\nos._exit(1)"
HUGE = "def add(a, b):\n    return a + b\nprint('x' * 50_000_000)  # one 50 MB line"
WARN = ("import warnings\ndef add(a, b):\n    warnings.warn('ints only, please')\n"
        "    return a + b")
EXC = "def add(a, b):\n    raise ValueError('not today ' * 200_000)  # a 2 MB message"
MEMORY = "def double(x):\n    bytearray(8 * 1024 ** 3)  # 8 GiB: over the kernel's cap\n    return 2 * x"
DUE = datetime(2030, 1, 1, tzinfo=timezone.utc)


def _tamper(nb):
    """Edit one test cell into a no-op and delete the other."""
    for cell in list(nb.cells):
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid == "test-add":
            cell.source = "pass  # trust me"
        elif gid == "test-double":
            nb.cells.remove(cell)


def _cut(nb):
    """Everything after ex-add deleted (edited outside Jupyter, which would not allow it)."""
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
    del nb.cells[ids.index("ex-add") + 1:]


@dataclass(frozen=True)
class Case:
    student: str
    scores: dict          # {test cell: auto score}
    status: str
    why: str = ""


CASES = [
    Case("good", {"test-add": 2, "test-double": 1}, "ok"),
    Case("blank", {"test-add": 0, "test-double": 0}, "ok", "the release as handed out"),
    Case("loop", {"test-add": 2, "test-double": 0}, "timeout",
         "an infinite loop that swallows KeyboardInterrupt in ex-double"),
    Case("exit", {"test-add": 2, "test-double": 0}, "kernel-died", "os._exit(1) in ex-double"),
    Case("huge", {"test-add": 2, "test-double": 1}, "ok", "prints one 50 MB line"),
    Case("warn", {"test-add": 2, "test-double": 1}, "ok", "a warning on stderr, right answer"),
    Case("exc", {"test-add": 0, "test-double": 1}, "ok", "add raises, with a 2 MB message"),
    Case("broken", {"test-add": 0, "test-double": 0}, "invalid-notebook", "not JSON"),
    Case("tampered", {"test-add": 0, "test-double": 1}, "ok",
         "wrong add, test-add edited to pass, test-double deleted: both restored"),
    Case("cut", {"test-add": 2, "test-double": 0}, "ok",
         "the notebook cut after ex-add: both tests put back, double is not defined"),
    Case("memory", {"test-add": 2, "test-double": 0}, "ok", "allocates 8 GiB in double"),
    Case("renamed", {"test-add": 2, "test-double": 1}, "ok",
         "handed in as 'Demo (1).ipynb', matched by workbook collect"),
    Case("late", {"test-add": 2, "test-double": 1}, "late", "handed in after the due date"),
    Case("nofile", {"test-add": 0, "test-double": 0}, "missing", "a folder with no notebook"),
]
EXPECTED = {c.student: c for c in CASES}


@dataclass
class Graded:
    root: Path
    run: object           # CompletedProcess of the first `workbook autograde`
    seconds: float


def build(root: Path) -> None:
    """The course and every submission of CASES (``renamed`` through workbook collect)."""
    from nbgrader.api import Gradebook

    from workbook.grading.config import COURSE_ID

    released = released_course(root)
    with Gradebook(db_url(root), COURSE_ID) as gb:
        gb.update_or_create_assignment(ASSIGNMENT, duedate=DUE.replace(tzinfo=None))
    on_time = (DUE - timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S.%f UTC")
    good = submission(released, add="import os\nprint('profile=' + os.environ['WORKBOOK_PROFILE'])\n"
                                     + ADD)
    put_submission(root, "good", good, timestamp=on_time)
    put_submission(root, "blank", submission(released, add=None, double=None))
    put_submission(root, "loop", submission(released, double=LOOP))
    put_submission(root, "exit", submission(released, double=EXIT))
    put_submission(root, "huge", submission(released, add=HUGE))
    put_submission(root, "warn", submission(released, add=WARN))
    put_submission(root, "exc", submission(released, add=EXC))
    put_submission(root, "broken", raw='{"cells": [ {"cell_type": "code", "sour')
    put_submission(root, "tampered", submission(released, add="def add(a, b):\n    return a - b",
                                                edit=_tamper))
    put_submission(root, "cut", submission(released, edit=_cut))
    put_submission(root, "memory", submission(released, double=MEMORY))
    put_submission(root, "late", submission(released),
                   timestamp=(DUE + timedelta(days=2)).strftime("%Y-%m-%d %H:%M:%S.%f UTC"))
    d = put_submission(root, "nofile")
    (d / "notes.txt").write_text("I forgot the notebook\n")
    inbox = root.parent / "inbox" / "renamed"
    inbox.mkdir(parents=True)
    nbformat.write(submission(released), inbox / f"{NOTEBOOK.capitalize()} (1).ipynb")
    run = workbook("collect", str(inbox.parent), "--assignment", ASSIGNMENT, root=root)
    assert run.returncode == 0, run.stderr


def grade(root: Path, *extra: str, workers: int = 2, wait: bool = True, env: dict | None = None,
          **popen):
    """``workbook autograde`` with short limits; the command runs under the full profile,
    so the kernels see ci only if the grader sets it.

    The cell timeout is what the loop case waits for, but also all that a right cell has
    when ``make test`` loads both cores: 2 s was too little on a loaded CI machine, where
    ``exc`` (a 2 MB traceback) timed out and lost the points of its right ``double``."""
    args = ["autograde", "--workers", str(workers), "--cell-timeout", "6", "--wall-time", "60",
            "--no-progress", *extra]
    env = dict(os.environ, **(env or {}), WORKBOOK_PROFILE="full")
    return workbook(*args, root=root, env=env, wait=wait, **popen)


def graded_course(root: Path) -> Graded:
    build(root)
    start = time.perf_counter()
    run = grade(root)
    return Graded(root, run, time.perf_counter() - start)
