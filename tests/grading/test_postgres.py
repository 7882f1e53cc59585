"""The gradebook on PostgreSQL: a real server on 127.0.0.1 in a temporary folder, the tiny
course graded into it by ``workbook autograde --db-url postgresql+psycopg://...``, then
exported and turned into feedback from it. Skipped (with the reason) where PostgreSQL's
server binaries or the psycopg driver are not installed."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tiny_course import ADD, ASSIGNMENT, DOUBLE, put_submission, released_course, submission, workbook

HIDDEN_FAIL = ("def add(a, b):\n    assert a >= 0, 'add: negative a is not supported'\n"
               "    return a + b")


def _bindir() -> Path | None:
    """Debian keeps the server binaries (initdb, pg_ctl) in /usr/lib/postgresql/<v>/bin."""
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                      key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if versions:
        return Path(versions[-1]).parent
    found = shutil.which("pg_ctl")
    return Path(found).parent if found and Path(found).with_name("initdb").exists() else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    pytest.importorskip("psycopg", reason="the psycopg driver is not installed "
                                          "(pip install 'psycopg[binary]')")
    bindir = _bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries not found (apt-get install postgresql)")
    as_user: list[str] = []
    base = Path(tempfile.mkdtemp(prefix="workbook-pg-"))
    if os.geteuid() == 0:  # initdb refuses to run as root
        import pwd

        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(base)
            pytest.skip("running as root and there is no 'postgres' user to run the server")
        os.chown(base, pw.pw_uid, pw.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, log = base / "data", base / "server.log"
    port = _free_port()

    def run(*cmd):
        return subprocess.run([*as_user, *cmd], capture_output=True, text=True, timeout=120)

    r = run(str(bindir / "initdb"), "-D", str(data), "-U", "workbook", "--auth=trust",
            "-E", "UTF8", "--no-sync")
    if r.returncode:
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(f"initdb failed: {r.stderr[-500:]}")
    r = run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o",
            f"-p {port} -h 127.0.0.1 -k {base} -c fsync=off", "start")
    if r.returncode:
        text = log.read_text() if log.exists() else ""
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(f"PostgreSQL did not start: {r.stderr[-300:]} {text[-500:]}")
    try:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={port} user=workbook dbname=postgres",
                             autocommit=True) as conn:
            conn.execute("CREATE DATABASE gradebook")
        yield f"postgresql+psycopg://workbook@127.0.0.1:{port}/gradebook"
    finally:
        run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        time.sleep(0.2)
        shutil.rmtree(base, ignore_errors=True)


def test_autograde_into_postgres(postgres_url, tmp_path):
    from nbgrader.api import Gradebook

    from workbook_grading.autograde import read_state
    from workbook_grading.config import COURSE_ID

    root = tmp_path / "course"
    root.mkdir()
    released = released_course(root)  # the sqlite gradebook of the release is not used
    put_submission(root, "good", submission(released, add=ADD, double=DOUBLE))
    put_submission(root, "hidden", submission(released, add=HIDDEN_FAIL))
    put_submission(root, "blank", submission(released, add=None, double=None))
    put_submission(root, "broken", raw='{"cells": [')

    run = workbook("autograde", "--db-url", postgres_url, "--workers", "2", "--no-progress",
                   "--cell-timeout", "20", root=root)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "graded 4 submission(s)" in run.stdout

    with Gradebook(postgres_url, COURSE_ID) as gb:
        assert gb.engine.dialect.name == "postgresql"
        got = {sub.student.id: {g.name: g.auto_score for g in sub.notebooks[0].grades
                                if g.name.startswith("test-")}
               for sub in gb.assignment_submissions(ASSIGNMENT)}
    assert got == {"good": {"test-add": 2, "test-double": 1},
                   "hidden": {"test-add": 0, "test-double": 1},
                   "blank": {"test-add": 0, "test-double": 0},
                   "broken": {"test-add": 0, "test-double": 0}}
    status = {r["student"]: r["status"] for r in read_state(postgres_url)}
    assert status == {"good": "ok", "hidden": "ok", "blank": "ok", "broken": "invalid-notebook"}

    again = workbook("autograde", "--db-url", postgres_url, "--workers", "1", "--no-progress",
                     root=root)
    assert "graded 0 submission(s), 4 unchanged" in again.stdout, again.stdout + again.stderr

    out = tmp_path / "grades.csv"
    run = workbook("export", "--db-url", postgres_url, "-o", str(out), root=root)
    assert run.returncode == 0, run.stderr
    assert out.read_text().count("\n") == 5

    fb = tmp_path / "feedback"
    run = workbook("feedback", "--db-url", postgres_url, "-o", str(fb), root=root)
    assert run.returncode == 0, run.stderr
    page = (fb / "hidden" / ASSIGNMENT / "demo.html").read_text()
    assert "AssertionError: add: negative a is not supported" in page  # the hidden check's message
    assert "add(-1, 1)" not in page and "Traceback" not in page
