"""JupyterLab in a real browser: one server and one Chromium for the session.

The server runs on a temporary copy of the course (``course`` below): the released
notebooks, the sources, an ``nbgrader_config.py`` pointing nbgrader at that copy, and one
demo submission that ``workbook autograde`` grades in the background while the student
tests run. Screenshots and the server's log go to test-artifacts/browser/.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers import ROOT, SUMMARY_SECTIONS

# Part of `make test`; WORKBOOK_BROWSER_TESTS=0 skips them (saying so) for a quicker run.
SWITCH = "WORKBOOK_BROWSER_TESTS"


def pytest_collection_modifyitems(config, items):
    if os.environ.get(SWITCH, "1") != "0":
        return
    skip = pytest.mark.skip(reason=f"browser tests switched off by {SWITCH}=0")
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(skip)


from labdriver import (ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, DEMO_STUDENT, NOTES, STEPS,
                       LabServer, Steps, _proc_stat, descendants, released_notebooks, terminate)


AUTOGRADE_TIMEOUT_S = 300


@dataclass
class Course:
    root: Path                    # server root and working directory
    grading: subprocess.Popen     # `workbook autograde` of the demo submission
    grading_log: Path
    demo_assignment: str
    demo_notebook: str
    started: float
    grading_seconds: float = 0.0

    def __post_init__(self):
        def watch():  # when did grading end (it runs while the student tests run)
            self.grading.wait()
            self.grading_seconds = time.perf_counter() - self.started

        threading.Thread(target=watch, daemon=True).start()

    def wait_for_grading(self) -> float:
        """Seconds spent waiting; fails with the command's output if it did not succeed."""
        t0 = time.perf_counter()
        try:
            rc = self.grading.wait(AUTOGRADE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            stop_group(self.grading)
            pytest.fail(f"`workbook autograde` did not finish in {AUTOGRADE_TIMEOUT_S} s:\n"
                        + self.grading_log.read_text(errors="replace")[-3000:])
        assert rc == 0, ("`workbook autograde` failed:\n"
                         + self.grading_log.read_text(errors="replace")[-3000:])
        return time.perf_counter() - t0


def stop_group(proc: subprocess.Popen) -> None:
    """Stop ``proc`` and everything it started (Dask workers, kernels): SIGTERM, wait,
    SIGKILL what is left."""
    if proc.poll() is None:
        started = descendants(proc.pid)
        started[proc.pid] = _proc_stat(proc.pid)[2] if _proc_stat(proc.pid) else ""
        terminate(started, wait_s=15)
        proc.wait(10)


def nbgrader_config_text(course_root: Path, exchange: Path) -> str:
    return ("# the temporary course of the browser tests (see tests/browser/conftest.py)\n"
            "from workbook_grading.config import course_config\n\n"
            "c = get_config()  # noqa: F821\n"
            f"c.merge(course_config({str(course_root)!r}))\n"
            f"c.Exchange.root = {str(exchange)!r}  # not /usr/local/share/nbgrader/exchange\n")


@pytest.fixture(scope="session")
def scratch():
    """The session's temporary folder (course, Jupyter's and Chromium's private
    directories), removed at the end."""
    path = Path(tempfile.mkdtemp(prefix="workbook-browser-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def artifacts():
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def course(scratch, artifacts):
    """A copy of the course; the demo submission is being autograded when this returns."""
    import nbformat
    from helpers import fill_submission

    released = released_notebooks()
    if not released:
        pytest.fail("no released notebooks under notebooks/")
    root = scratch / "course"
    shutil.copytree(ROOT / "notebooks", root / "notebooks")
    shutil.copytree(ROOT / "solutions", root / "solutions")
    (root / "grading").mkdir()
    (scratch / "exchange").mkdir()
    (root / "nbgrader_config.py").write_text(nbgrader_config_text(root, scratch / "exchange"))

    # the demo submission: the first notebook with every exercise solved
    rel = released[0]
    assignment, name = rel.parent.name, rel.name
    submission = root / "grading" / "submitted" / DEMO_STUDENT / assignment / name
    submission.parent.mkdir(parents=True)
    nbformat.write(fill_submission(nbformat.read(root / rel, as_version=4),
                                   nbformat.read(root / "solutions" / assignment / name,
                                                 as_version=4)), submission)
    log = artifacts / "workbook-autograde.log"
    with open(log, "w") as out:
        grading = subprocess.Popen(
            [sys.executable, "-m", "workbook_grading.cli", "autograde", assignment, "--root", str(root),
             "--workers", "1", "--no-progress"],
            cwd=root, env={**os.environ, "WORKBOOK_PROFILE": "ci"}, stdin=subprocess.DEVNULL,
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    c = Course(root, grading, log, assignment, name[:-len(".ipynb")], time.perf_counter())
    try:
        yield c
    finally:
        stop_group(grading)


@pytest.fixture(scope="session")
def lab(course, artifacts, scratch):
    """``jupyter lab`` as ``make lab`` starts it, headless, on the temporary course."""
    server = LabServer(root=course.root, private=scratch / "jupyter",
                       log_path=artifacts / "jupyter-server.log",
                       env_extra={"WORKBOOK_PROFILE": "ci"})  # kernels and Validate
    steps = Steps("server")
    STEPS.append(steps)
    try:
        with steps.step("make lab's extension set-up", shot=False):
            server.start_setup()
        with steps.step("start jupyter lab until /api/status", shot=False):
            server.start_server()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def browser(lab, scratch):
    """Debian's Chromium driven by playwright (its own browser download needs the network)."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=60_000)  # Validate alone takes ~6 s here
    home = scratch / "chromium-home"  # its crash reports and dconf stay out of ~
    home.mkdir()
    steps = Steps("browser")
    STEPS.append(steps)
    with sync_playwright() as p:
        with steps.step("launch chromium", shot=False):
            chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                         env={**os.environ, "HOME": str(home)})
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session")
def context(browser, lab):
    """One browser context: the login cookie set by the first page serves every page."""
    ctx = browser.new_context(viewport={"width": 1440, "height": 900})
    ctx.set_default_timeout(60_000)
    page = ctx.new_page()
    page.goto(lab.url(f"api/status?token={lab.token}"))  # sets the login cookie
    page.close()
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def steps(request):
    """Timed steps of this test, each followed by a screenshot in test-artifacts/browser/."""
    s = Steps(request.node.name.replace("[", "-").replace("]", ""))
    STEPS.append(s)
    return s


def pytest_sessionfinish(session):
    """The seconds per step, for the summary at the end of the run (root conftest.py)."""
    timed = [s for s in STEPS if s.seconds]
    if not timed:
        return
    lines = []
    slowest = max(((s.name, label, sec) for s in timed for label, sec in s.seconds.items()),
                  key=lambda x: x[2])
    for s in timed:
        lines.append(f"{s.total:7.1f}s  {s.name}")
        lines.extend(f"{sec:11.1f}s  {label}" for label, sec in s.seconds.items())
    lines.extend(NOTES)
    lines.append(f"slowest step: {slowest[2]:.1f}s  {slowest[0]}: {slowest[1]}")
    lines.append(f"screenshots and logs: {ARTIFACTS.relative_to(ROOT)}/")
    SUMMARY_SECTIONS["browser tests: seconds per step"] = lines
