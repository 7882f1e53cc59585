"""One tiny course with every kind of bad submission, graded once by ``workbook autograde``
(2 workers) for the whole session: tests/grading/test_autograde*.py and test_export.py
read the result. Each case: how the submission is made, the scores of its test cells and
the status ``workbook autograde`` must record."""

from __future__ import annotations

import os
import socket
import threading
import time
from contextlib import contextmanager
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
# What the spy prints: every escape from the sandbox it managed (test_sandbox.py).
ESCAPES = "SANDBOX ESCAPES:"
CONNECTIONS = "server-connections.txt"  # how many the grader's loopback server accepted


def spy(root: Path, port: int) -> str:
    """A right ``add`` whose cell tries what a hostile student would: read the solutions,
    the gradebook and another student's submission, rewrite grades and plant a file in
    the course, find the worker's scratch gradebooks, reach a server on 127.0.0.1."""
    reads = [root / "solutions" / ASSIGNMENT / f"{NOTEBOOK}.ipynb",
             root / "grading" / "gradebook.db",
             root / "grading" / "submitted" / "good" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"]
    writes = [root / "grading" / "pwned.txt", root / "solutions" / "pwned.txt"]
    return f"""import glob, os, socket, sqlite3
def add(a, b):
    return a + b
escapes = []
for path in {[str(p) for p in reads]!r}:
    try:
        with open(path, 'rb') as f:
            f.read(1)
        escapes.append('read ' + path)
    except OSError:
        pass
for path in {[str(p) for p in writes]!r}:
    try:
        with open(path, 'w') as f:
            f.write('x')
        escapes.append('wrote ' + path)
    except OSError:
        pass
try:
    db = sqlite3.connect({str(root / "grading" / "gradebook.db")!r})
    db.execute('update grade set auto_score = 99')
    db.commit()
    escapes.append('rewrote the gradebook')
except sqlite3.Error:
    pass
escapes += glob.glob('/tmp/workbook-grader-*/*/gradebook.db')
try:
    socket.create_connection(('127.0.0.1', {port}), timeout=2).close()
    escapes.append('connected to 127.0.0.1:{port}')
except OSError:
    pass
print({ESCAPES!r}, escapes)"""


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
    Case("spy", {"test-add": 2, "test-double": 1}, "ok",
         "right answers, and attacks on the course from the kernel (all blocked)"),
]
EXPECTED = {c.student: c for c in CASES}


@dataclass
class Graded:
    root: Path
    run: object           # CompletedProcess of the first `workbook autograde`
    seconds: float


def build(root: Path, port: int = 9) -> None:
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
    put_submission(root, "spy", submission(released, add=spy(root, port)))
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


@contextmanager
def loopback_server(counter: Path):
    """A TCP server on 127.0.0.1 for the spy to reach; its port. ``counter`` gets the
    number of connections it accepted."""
    accepted = []
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(0.2)
        stop = threading.Event()

        def serve():
            while not stop.is_set():
                try:
                    conn, _ = server.accept()
                except OSError:
                    continue
                accepted.append(1)
                conn.close()

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        try:
            yield server.getsockname()[1]
        finally:
            stop.set()
            thread.join()
            counter.write_text(str(len(accepted)))


def graded_course(root: Path) -> Graded:
    root.mkdir(parents=True, exist_ok=True)
    with loopback_server(root / CONNECTIONS) as port:
        build(root, port)
        start = time.perf_counter()
        run = grade(root)
        seconds = time.perf_counter() - start
    return Graded(root, run, seconds)
