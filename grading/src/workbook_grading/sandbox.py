"""The sandbox every grading kernel runs in: Debian's bubblewrap (``bwrap``).

A student's code is hostile until proven otherwise. Its kernel is started by
``SandboxProvisioner``, a jupyter_client kernel provisioner (registered under the entry
point ``workbook-sandbox``; ``limits.LimitedKernelManager`` names it in the kernel spec),
inside a bubblewrap sandbox with

- no network: a network namespace of its own (its own, empty loopback), so not even a
  server on the grader's 127.0.0.1 is reachable; the kernel talks to the grader over Unix
  sockets (ZeroMQ's ``ipc`` transport) in a private folder made for this kernel alone;
- a file system of read-only pieces: the system's ``/usr``, a few files of ``/etc``, the
  Python installation and environment, the course library, the data cache -- and
  nothing else: no course folder (``solutions/``, gradebooks, submissions, other
  students), no home folder. Writable are only the submission's own scratch folder (the
  kernel's working directory), its private folder (home, matplotlib's cache) and an empty
  ``/tmp`` of its own;
- no privileges: a user namespace of its own as ``nobody``, every capability dropped
  (bubblewrap run as root keeps them otherwise: the kernel could remount ``/`` writable),
  no further user namespaces, its own PID and IPC namespaces (it sees and signals no other
  process), and a clean environment (only the variables named below pass);
- the existing limits: the launcher (launcher.py) inside the sandbox sets the memory cap;
  timeouts and output caps are the grader's (limits.py). Interrupts go as messages
  (``interrupt_mode: message``): a SIGINT to the process group would stop bubblewrap
  itself, and with it the kernel. A kill reaches the whole sandbox (bubblewrap's PID 1
  takes every process in it down with it).

``check()`` runs a trivial command in the same sandbox once and says what to do when it
cannot be built (``sudo apt-get install bubblewrap``, or grade with ``--unsandboxed``).
"""

from __future__ import annotations

import functools
import os
import shutil
import site
import subprocess
import sys
import tempfile
from pathlib import Path

from jupyter_client.provisioning import LocalProvisioner

INSTALL_HINT = ("install Debian's bubblewrap (`sudo apt-get install bubblewrap`), or grade "
                "without a sandbox with `workbook autograde --unsandboxed` (student code "
                "then runs with your rights: it can read solutions and rewrite grades)")

# What of /etc a Python kernel needs (the dynamic linker's cache, time zone, user names,
# Debian's alternatives behind some /usr links); nothing else of /etc is visible.
ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "timezone", "passwd",
       "group", "nsswitch.conf", "alternatives", "fonts", "mime.types")
# Environment variables that pass into the sandbox (everything else is dropped: the
# grader's environment may hold a database URL or a token).
ENV_NAMES = ("PATH", "LANG", "LANGUAGE", "TZ", "MPLBACKEND", "PYTHONHASHSEED",
             "PYTHONIOENCODING", "PYTHONUTF8", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
             "JPY_SESSION_NAME", "CUDA_VISIBLE_DEVICES")
ENV_PREFIXES = ("LC_", "WORKBOOK_", "OPENBLAS_", "KMP_")
NOBODY = 65534
USR = Path("/usr")
# What marks a folder as a course (or a checkout of this one), never to be shown
COURSE_MARKS = ("solutions", "gradebook.db", "grading/gradebook.db", "nbgrader_config.py",
                "grading/nbgrader_config.py")


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot build a sandbox on this machine."""


def bwrap() -> str:
    """The path of ``bwrap``, or SandboxUnavailable saying how to get it."""
    path = shutil.which("bwrap")
    if not path:
        raise SandboxUnavailable(f"bubblewrap (bwrap) is not installed: {INSTALL_HINT}")
    return path


def _python_dirs(python: str) -> set[Path]:
    """The installation and environment of ``python`` (a venv's bin/python or a base)."""
    exe = Path(shutil.which(python) or python).absolute()
    dirs = {exe.parent.parent, Path(os.path.realpath(exe)).parent.parent}
    dirs.update(Path(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix,
                                  sys.base_exec_prefix))
    return dirs


def _pth_dirs() -> set[Path]:
    """Folders that .pth files add to sys.path (editable installs: the course library)."""
    found = set()
    for sp in site.getsitepackages():
        for pth in Path(sp).glob("*.pth"):
            try:
                lines = pth.read_text().splitlines()
            except OSError:
                continue
            found.update(Path(line.strip()) for line in lines
                         if line.startswith("/") and Path(line.strip()).is_dir())
    return found


def readable(python: str = sys.executable) -> list[Path]:
    """The folders a kernel may read, outermost only: Python, its packages, the course
    library and the data cache (if there is one)."""
    import workbook
    from workbook import runtime

    dirs = _python_dirs(python) | _pth_dirs() | {Path(workbook.__file__).parent}
    cache = runtime.cache_dir()
    if cache.is_dir():
        dirs.add(cache)
    dirs = {Path(os.path.abspath(d)) for d in dirs if d.is_dir()}
    dirs = {d for d in dirs if d != USR and USR not in d.parents}  # bound as a whole
    for d in dirs:  # a folder this wide would show the instructor's files
        if len(d.parts) < 3 or d == Path.home() or any(
                (d / name).exists() for name in COURSE_MARKS):
            raise SandboxUnavailable(
                f"the sandbox would show student code all of {d} (a Python installation or "
                f"library there?), which looks like a home or course folder: install them in "
                f"a folder of their own (e.g. a virtual environment), or {INSTALL_HINT}")
    return sorted(d for d in dirs if not any(o != d and o in d.parents for o in dirs))


def sandbox_env(env: dict, home: Path) -> dict:
    """The kernel's environment: the allowed variables of ``env`` and a private home."""
    kept = {k: v for k, v in env.items()
            if k in ENV_NAMES or k.startswith(ENV_PREFIXES)}
    from workbook import runtime

    kept.update(HOME=str(home), TMPDIR="/tmp", MPLCONFIGDIR=str(home / "matplotlib"),
                IPYTHONDIR=str(home / "ipython"), XDG_CACHE_HOME=str(home / "cache"))
    kept[runtime.CACHE_ENV] = str(runtime.cache_dir())
    return kept


def command(cmd: list[str], *, scratch: Path, private: Path, env: dict) -> list[str]:
    """``cmd`` run inside the sandbox: ``scratch`` (its working directory) and
    ``private`` (connection file, sockets, home) writable, the rest as described above."""
    args = [bwrap(),
            "--unshare-user", "--uid", str(NOBODY), "--gid", str(NOBODY),
            "--cap-drop", "ALL", "--disable-userns",
            "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
            "--unshare-cgroup-try", "--die-with-parent",
            # a fresh /dev, /proc and /tmp first: what is bound below may lie under /tmp
            "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
            "--ro-bind", str(USR), str(USR)]
    for link in ("bin", "lib", "lib64", "lib32", "sbin"):
        target = Path("/", link)
        if target.is_symlink():
            args += ["--symlink", os.readlink(target), str(target)]
        elif target.is_dir():
            args += ["--ro-bind", str(target), str(target)]
    for name in ETC:
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    for d in readable(cmd[0]):
        args += ["--ro-bind", str(d), str(d)]
    args += ["--bind", str(private), str(private),
             "--bind", str(scratch), str(scratch), "--chdir", str(scratch),
             "--clearenv"]
    for key, value in sorted(sandbox_env(env, private / "home").items()):
        args += ["--setenv", key, value]
    return [*args, "--", *cmd]


def prepare_private(private: Path) -> None:
    """A sandboxed process's private folder, its home inside with matplotlib's font list
    copied in (found again otherwise: a second per process)."""
    mpl = private / "home" / "matplotlib"
    mpl.mkdir(parents=True)
    try:
        import matplotlib

        for cached in Path(matplotlib.get_cachedir()).glob("fontlist-*.json"):
            shutil.copy2(cached, mpl / cached.name)
    except Exception:  # pragma: no cover - only slower
        pass


@functools.lru_cache(maxsize=None)
def check(python: str = sys.executable) -> None:
    """Build the sandbox once around ``python -c pass``; SandboxUnavailable if it fails."""
    with tempfile.TemporaryDirectory(prefix="wbk-check-") as tmp:
        scratch, private = Path(tmp, "scratch"), Path(tmp, "private")
        scratch.mkdir()
        prepare_private(private)
        cmd = command([python, "-I", "-S", "-c", "pass"], scratch=scratch,
                      private=private, env=dict(os.environ))
        try:
            run = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise SandboxUnavailable(f"bubblewrap could not start: {err}; {INSTALL_HINT}")
        if run.returncode != 0:
            raise SandboxUnavailable(
                "bubblewrap cannot build the grading sandbox on this machine ("
                + (run.stderr.strip().splitlines() or ["no message"])[-1]
                + "; user namespaces may be disabled: sysctl kernel.unprivileged_userns_clone=1"
                f"); {INSTALL_HINT}")


class SandboxProvisioner(LocalProvisioner):
    """A LocalProvisioner whose kernel runs in the sandbox above, over Unix sockets in a
    folder private to that kernel (its connection file, sockets and home), removed when
    the kernel is cleaned up."""

    _private: Path | None = None

    async def pre_launch(self, **kwargs):
        km = self.parent
        # short: a Unix socket's path has at most 107 bytes
        self._private = Path(tempfile.mkdtemp(prefix="wbk-"))
        prepare_private(self._private)
        km.transport = "ipc"
        km.ip = str(self._private / "ipc")
        km.connection_file = str(self._private / "kernel.json")
        kwargs = await super().pre_launch(**kwargs)
        scratch = Path(kwargs.get("cwd") or os.getcwd()).resolve()
        kwargs["cmd"] = command(kwargs["cmd"], scratch=scratch, private=self._private,
                                env=kwargs.get("env") or dict(os.environ))
        return kwargs

    async def cleanup(self, restart: bool = False) -> None:
        await super().cleanup(restart=restart)
        if self._private is not None:
            shutil.rmtree(self._private, ignore_errors=True)
            self._private = None
