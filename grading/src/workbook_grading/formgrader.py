"""``workbook formgrader``: nbgrader's formgrader on a course, for grading written answers.

nbgrader's formgrader is a Jupyter server extension (enabled by ``pip install nbgrader``)
that reads its configuration only from ``nbgrader_config.py`` in the server's working
directory (or Jupyter's config path). So the command:

1. writes ``<course>/grading/nbgrader_config.py`` (``CONFIG_TEXT``: three lines that call
   ``workbook_grading.config.course_config`` on the course, so the formgrader and the
   ``workbook`` command never disagree) where it is missing or different, and creates the
   course's own exchange folder (``grading/exchange``, named by ``course_config``);
2. starts JupyterLab in ``<course>/grading`` with the course as the server's root (the
   formgrader refuses a course outside it), on 127.0.0.1, a free port (or ``--port``) and
   a random token, and prints the formgrader's URL once the server answers;
3. lists the submitted notebooks the formgrader cannot show: those with no autograded
   notebook (``invalid-notebook``, ``missing``, ``error``: nbgrader lists only notebooks
   that exist on disk), so its count is never silently one short of the report's.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from workbook_grading.config import course_config

READY_S = 60  # seconds to wait for the server to answer

# grading/nbgrader_config.py of every course (the checkout's is committed: the same text)
CONFIG_TEXT = '''\
# nbgrader reads this file only from the folder it runs in: run nbgrader (and
# `nbgrader formgrader`) from grading/, or use the `workbook` command from anywhere.
import os

from workbook_grading.config import course_config

c = get_config()  # noqa: F821 (injected by traitlets)
c.merge(course_config(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
'''


class FormgraderError(RuntimeError):
    """The formgrader could not be started (no gradebook, a port in use, ...)."""


def ensure_config(root: Path) -> Path:
    """``root/grading/nbgrader_config.py`` holding ``CONFIG_TEXT`` (written if missing or
    different), and the course's exchange folder; returns the config file's path."""
    grading = root / "grading"
    grading.mkdir(parents=True, exist_ok=True)
    path = grading / "nbgrader_config.py"
    if not path.is_file() or path.read_text() != CONFIG_TEXT:
        path.write_text(CONFIG_TEXT)
    Path(course_config(root).Exchange.root).mkdir(parents=True, exist_ok=True)
    return path


@dataclass(frozen=True)
class Hidden:
    """A submitted notebook the formgrader does not list."""

    student: str
    assignment: str
    notebook: str
    status: str
    reason: str

    def describe(self) -> str:
        return (f"{self.student} {self.assignment}/{self.notebook}: {self.status}"
                + (f" ({self.reason})" if self.reason else ""))


def not_in_formgrader(root: Path, db_url: str | None = None) -> list[Hidden]:
    """The submitted notebooks of the gradebook with no autograded notebook on disk (the
    formgrader shows only those that have one), with ``workbook autograde``'s status and
    the first line of its reason."""
    from nbgrader.api import Gradebook

    from workbook_grading.autograde import read_state
    from workbook_grading.config import COURSE_ID

    db_url = db_url or course_config(root).CourseDirectory.db_url
    state = {(r["student"], r["assignment"], r["notebook"]): r for r in read_state(db_url)}
    hidden = []
    with Gradebook(db_url, COURSE_ID) as gb:
        for assignment in gb.assignments:
            for sub in gb.assignment_submissions(assignment.name):
                for nb in sub.notebooks:
                    path = (root / "grading" / "autograded" / sub.student.id / assignment.name
                            / f"{nb.name}.ipynb")
                    if path.is_file():
                        continue
                    row = state.get((sub.student.id, assignment.name, nb.name), {})
                    reason = (row.get("detail") or "").strip().splitlines()
                    hidden.append(Hidden(sub.student.id, assignment.name, nb.name,
                                         row.get("status") or "not autograded",
                                         reason[0][:200] if reason else ""))
    return sorted(hidden, key=lambda h: (h.assignment, h.notebook, h.student))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_command(root: Path, port: int, token: str) -> list[str]:
    """JupyterLab on the course (root folder of the server), 127.0.0.1 only."""
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
           f"--port={port}", "--ServerApp.port_retries=0",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # Jupyter refuses root otherwise (containers, CI)
    return cmd


def wait_ready(base: str, token: str, proc: subprocess.Popen, timeout: float = READY_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise FormgraderError(f"the Jupyter server exited with status {proc.returncode} "
                                  "(its messages are above)")
        try:
            with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.3)
    raise FormgraderError(f"the Jupyter server did not answer within {timeout:.0f} s")


def check_formgrader(base: str, token: str) -> None:
    """The server has nbgrader's formgrader (a user's Jupyter config may disable it)."""
    try:
        with urllib.request.urlopen(f"{base}/formgrader/api/assignments?token={token}",
                                    timeout=30):
            return
    except urllib.error.HTTPError as err:
        if err.code != 404:
            raise FormgraderError(f"the formgrader answered {err.code} {err.reason}") from err
    raise FormgraderError("the Jupyter server has no formgrader: enable nbgrader's extension "
                          "with `jupyter server extension enable --sys-prefix "
                          "nbgrader.server_extensions.formgrader`")


def serve(root: Path, *, port: int | None = None, open_browser: bool = True,
          out=sys.stdout) -> int:
    """Run the formgrader on the course at ``root`` until interrupted; the exit status."""
    db = Path(course_config(root).CourseDirectory.db_url.removeprefix("sqlite:///"))
    if not db.is_file():
        raise FormgraderError(f"no gradebook at {db}: release and autograde the course "
                              "first (`workbook autograde`)")
    ensure_config(root)
    hidden = not_in_formgrader(root)
    port = port or free_port()
    token = secrets.token_hex(24)
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(server_command(root, port, token), cwd=root / "grading",
                            stdin=subprocess.DEVNULL, start_new_session=True)
    # SIGTERM (a service manager, `timeout`) stops the server too, as Ctrl-C does
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    try:
        wait_ready(base, token, proc)
        check_formgrader(base, token)
        url = f"{base}/formgrader?token={token}"
        print(f"formgrader of {root}: {url}", file=out)
        if hidden:
            print(f"{len(hidden)} submitted notebook(s) could not be graded and are not in "
                  "the formgrader (`workbook report` lists them too):", file=out)
            for h in hidden:
                print("  " + h.describe(), file=out)
        print("Ctrl-C stops the server.", file=out, flush=True)
        if open_browser:
            import webbrowser

            webbrowser.open(url)
        return proc.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # the server and its kernels
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
