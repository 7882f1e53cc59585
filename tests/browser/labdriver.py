"""JupyterLab started as ``make lab`` starts it, headless, for a real browser to drive.

What works on the course machines and the traps are in ``shared/BROWSER-TESTING.md``:
Debian's Chromium driven by pip's ``playwright`` (its own browser download does not
work offline), a private Jupyter config/data/runtime/IPython directory, the news pop-up
switched off through a user-settings file, a random port and token.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from helpers import ROOT

CHROMIUM = os.environ.get("WORKBOOK_CHROMIUM", "/usr/bin/chromium")
# --headless: no display here; the rest keeps Chromium off the network and quiet.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
SERVER_READY_S = 60
STOP_WAIT_S = 20
DEMO_STUDENT = "demo"

STEPS: list["Steps"] = []   # every test's timed steps, for the summary at the end of the run
NOTES: list[str] = []       # more lines for that summary


# The student's walk through these runs in `make test`; the other notebooks' in
# `make test-slow` (CI runs both): one NumPy notebook, one torch notebook.
QUICK_WALKS = ("01_neurons", "08_attention")


def released_notebooks() -> list[Path]:
    """Every released notebook, relative to the checkout: notebooks/NN_topic/topic.ipynb."""
    return sorted(p.relative_to(ROOT) for p in (ROOT / "notebooks").glob("*/*.ipynb"))


def walked_notebooks() -> list:
    """``released_notebooks()`` as pytest parameters, those not in QUICK_WALKS marked slow."""
    import pytest

    return [pytest.param(p, id=p.parent.name,
                         marks=() if p.parent.name in QUICK_WALKS else pytest.mark.slow)
            for p in released_notebooks()]


def missing_requirements() -> str | None:
    """Why the browser tests cannot run here (with the install command), or None."""
    missing = []
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        missing.append(f"Chromium ({CHROMIUM}): `sudo apt-get install -y chromium` "
                       "(.ci/run installs it)")
    if importlib.util.find_spec("playwright") is None:
        missing.append(f"playwright: `{sys.executable} -m pip install playwright` "
                       "(in the dev extra: `pip install -e .[dev]`)")
    if not missing:
        return None
    return "browser tests need " + " and ".join(missing)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------ make lab's recipe

def make_lab_recipe(makefile: Path = ROOT / "Makefile") -> list[str]:
    """The command lines of the Makefile's ``lab`` target, as written there."""
    lines = makefile.read_text().splitlines()
    start = next((i for i, line in enumerate(lines) if re.match(r"^lab\s*:", line)), None)
    if start is None:
        raise AssertionError(f"{makefile} has no `lab:` target")
    recipe = []
    for line in lines[start + 1:]:
        if not line.startswith("\t"):
            break
        recipe.append(line.strip())
    return recipe


def lab_commands(venv: Path, root_dir: Path, port: int, token: str) -> tuple[list[str], list[str]]:
    """(set-up shell lines, the ``jupyter lab`` argv) of ``make lab``, made headless.

    The set-up lines (enabling nbgrader's Validate button and assignment list) run as
    written. The server gets make lab's arguments with two changes: ``root_dir`` is the
    temporary course (nbgrader's formgrader refuses a course root outside the server's
    root, and make lab's ``notebooks`` holds only the release), and the port is free;
    then the headless options: no browser, loopback, a random token, no news.
    """
    *setup, serve = [line.replace("$(VENV)", str(venv)) for line in make_lab_recipe()]
    argv = shlex.split(serve)
    jupyter = str(venv / "bin" / "jupyter")
    if argv[:2] != [jupyter, "lab"]:
        raise AssertionError(f"the last line of `make lab` no longer starts `jupyter lab`: {serve}")
    args = []
    for arg in argv[2:]:
        if arg.startswith("--ServerApp.root_dir="):
            arg = f"--ServerApp.root_dir={root_dir}"
        elif arg.startswith("--port="):
            arg = f"--port={port}"
        args.append(arg)
    if not any(a.startswith("--ServerApp.root_dir=") for a in args):
        raise AssertionError(f"`make lab` no longer sets --ServerApp.root_dir: {serve}")
    args += ["--no-browser", "--ip=127.0.0.1", f"--IdentityProvider.token={token}",
             "--LabApp.news_url=None", "--ServerApp.open_browser=False"]
    if os.geteuid() == 0:
        args.append("--allow-root")
    return setup, [jupyter, "lab", *args]


# Settings of the test user. The news pop-up survives --LabApp.news_url=None; this
# removes it. Windowing "none" keeps every cell in the page (the default attaches only
# the cells in view), so the test can see every prompt. A key for Run > "Run Selected
# Cell and All Below", pressed once per failing cell: through the menu it costs ~1 s
# more each time on a busy machine.
RUN_ALL_BELOW_KEY = "Control+Alt+Shift+B"
USER_SETTINGS = {
    "apputils-extension/notification.jupyterlab-settings":
        {"fetchNews": "false", "checkForUpdates": False},
    "notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "shortcuts-extension/shortcuts.jupyterlab-settings": {"shortcuts": [
        {"command": "notebook:run-all-below", "keys": ["Ctrl Alt Shift B"],
         "selector": ".jp-Notebook.jp-mod-commandMode:not(.jp-mod-readWrite) :focus"}]},
}


def _config_fingerprint(venv: Path) -> str:
    """What make lab's set-up lines change: the environment's Jupyter configuration."""
    h = hashlib.sha256()
    for folder in (venv / "etc" / "jupyter", venv / "share" / "jupyter" / "lab" / "settings"):
        for p in sorted(folder.rglob("*")) if folder.is_dir() else []:
            if p.is_file():
                h.update(f"{p}:{p.stat().st_size}:{p.stat().st_mtime_ns}\n".encode())
    return h.hexdigest()


def run_setup(lines: list[str], venv: Path, env: dict) -> None:
    """Run make lab's set-up lines (enable nbgrader's extensions in the environment),
    all at once; skipped when they already ran with the configuration unchanged since.

    Each line starts a Jupyter command (several seconds on a busy machine); the stamp
    in the environment holds the lines and the configuration they left behind.
    """
    stamp = venv / ".browser-test-lab-setup"
    key = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    if stamp.is_file() and stamp.read_text() == f"{key} {_config_fingerprint(venv)}":
        return
    # one chain per kind of command (lab extensions share page_config.json), run together
    chains: dict[str, list[str]] = {}
    for line in lines:
        words = shlex.split(line)
        chains.setdefault(" ".join(words[1:3]) if len(words) > 2 else line, []).append(line)
    procs = [(" && ".join(chain),
              subprocess.Popen(["bash", "-c", "set -e\n" + "\n".join(chain)], cwd=ROOT, env=env,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)) for chain in chains.values()]
    failed = []
    for line, proc in procs:
        out, err = proc.communicate(timeout=180)
        if proc.returncode:
            failed.append(f"`{line}` failed ({proc.returncode}):\n{out}{err}")
    if failed:
        raise RuntimeError("\n".join(failed))
    stamp.write_text(f"{key} {_config_fingerprint(venv)}")


# ---------------------------------------------------------------------- the server

@dataclass
class LabServer:
    """``jupyter lab`` on 127.0.0.1 in its own process group, private Jupyter dirs."""

    root: Path                 # server root and working directory (the temp course)
    private: Path              # Jupyter config/data/runtime, IPython, Chromium's HOME
    log_path: Path
    env_extra: dict = field(default_factory=dict)
    port: int = 0
    token: str = ""
    proc: subprocess.Popen | None = None
    setup_seconds: float = 0.0
    start_seconds: float = 0.0
    setup_lines: list = field(default_factory=list)   # make lab's, run before the server
    argv: list = field(default_factory=list)          # the jupyter lab command line

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "lab") -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def env(self) -> dict:
        env = dict(os.environ)
        # the root conftest's Agg backend would stop the notebooks' plots showing inline
        env.pop("MPLBACKEND", None)
        env.pop("JUPYTER_PATH", None)
        for name, sub in [("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"),
                          ("JUPYTER_RUNTIME_DIR", "runtime"), ("IPYTHONDIR", "ipython")]:
            env[name] = str(self.private / sub)
        env.update(self.env_extra)
        return env

    def write_user_settings(self) -> None:
        """JupyterLab settings of the test user (in the private config directory)."""
        user = self.private / "config" / "lab" / "user-settings" / "@jupyterlab"
        for rel, settings in USER_SETTINGS.items():
            (user / rel).parent.mkdir(parents=True, exist_ok=True)
            (user / rel).write_text(json.dumps(settings))

    def start(self) -> None:
        self.start_setup()
        self.start_server()

    def start_setup(self) -> None:
        """Private directories, user settings, and make lab's extension set-up lines."""
        for sub in ("config", "data", "runtime", "ipython"):
            (self.private / sub).mkdir(parents=True, exist_ok=True)
        self.write_user_settings()
        self.port, self.token = free_port(), secrets.token_hex(16)
        self.setup_lines, self.argv = lab_commands(Path(sys.prefix), self.root, self.port, self.token)
        t0 = time.perf_counter()
        run_setup(self.setup_lines, Path(sys.prefix), self.env())
        self.setup_seconds = time.perf_counter() - t0

    def start_server(self) -> None:
        """Start ``jupyter lab``; return once it answers /api/status."""
        argv = self.argv
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "w") as log:
            log.write("$ " + shlex.join(argv).replace(self.token, "<token>") + "\n")
            log.flush()
            t0 = time.perf_counter()
            self.proc = subprocess.Popen(argv, cwd=self.root, env=self.env(),
                                         stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + SERVER_READY_S
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {self.proc.returncode}:\n"
                                   + self.log_tail())
            try:
                self.api("GET", "api/status")
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"jupyter lab did not answer in {SERVER_READY_S} s:\n"
                                       + self.log_tail())
                time.sleep(0.2)
        self.start_seconds = time.perf_counter() - t0

    def api(self, method: str, path: str, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url(path), data=data, method=method, headers={
            "Authorization": f"token {self.token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def shutdown_sessions(self) -> None:
        """Stop every kernel the browser started (a kernel left behind is reused)."""
        for session in self.api("GET", "api/sessions"):
            self.api("DELETE", f"api/sessions/{session['id']}")

    def log_tail(self, n: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace").replace(self.token or "\0", "<token>")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-n:])

    def stop(self) -> None:
        """SIGTERM the server (it shuts its kernels down) and wait; then SIGTERM, and if
        need be SIGKILL, whatever it started that is still running. Kernels run in
        sessions of their own, so they are found as the server's descendants."""
        if self.proc is None:
            return
        started = descendants(self.proc.pid)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_WAIT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        terminate(started)
        self.proc = None


def _proc_stat(pid: int) -> tuple[int, str, str] | None:
    """(parent pid, state, start time) of ``pid``, or None when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[1]), fields[0], fields[19]


def descendants(pid: int) -> dict[int, str]:
    """{pid: start time} of every living descendant of ``pid`` (children, kernels, ...)."""
    children: dict[int, list[int]] = {}
    starts: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (st := _proc_stat(int(entry.name))):
            children.setdefault(st[0], []).append(int(entry.name))
            starts[int(entry.name)] = st[2]
    found, todo = {}, list(children.get(pid, []))
    while todo:
        p = todo.pop()
        found[p] = starts[p]
        todo.extend(children.get(p, []))
    return found


def _alive(pid: int, start: str) -> bool:
    st = _proc_stat(pid)
    return st is not None and st[2] == start and st[1] != "Z"


def terminate(procs: dict[int, str], wait_s: float = 5.0) -> None:
    """SIGTERM the processes of ``procs`` ({pid: start time}) still alive, then SIGKILL."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        alive = [p for p, start in procs.items() if _alive(p, start)]
        if not alive:
            return
        for p in alive:
            try:
                os.kill(p, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and any(_alive(p, procs[p]) for p in alive):
            time.sleep(0.1)


# -------------------------------------------------------------------------- timing

@dataclass
class Steps:
    """Times each step of a test and screenshots the page after it (and on failure)."""

    name: str
    page: object = None
    seconds: dict = field(default_factory=dict)
    shots: int = 0

    @property
    def folder(self) -> Path:
        return ARTIFACTS / self.name

    def screenshot(self, label: str) -> Path | None:
        if self.page is None:
            return None
        self.shots += 1
        path = self.folder / f"{self.shots:02d}-{re.sub(r'[^A-Za-z0-9_.-]+', '-', label)}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.page.screenshot(path=str(path), timeout=15_000)
        except Exception:  # a screenshot must never hide the real failure
            return None
        return path

    @contextmanager
    def step(self, label: str, shot: bool = True):
        t0 = time.perf_counter()
        try:
            yield
        except BaseException:
            self.seconds[label] = time.perf_counter() - t0
            self.screenshot(f"FAILED-{label}")
            raise
        self.seconds[label] = time.perf_counter() - t0
        if shot:
            self.screenshot(label)

    @property
    def total(self) -> float:
        return sum(self.seconds.values())

