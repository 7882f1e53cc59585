"""Warm kernels: each submission's kernel is forked from a process that has already
imported the heavy libraries, instead of importing them again.

A fresh kernel spends about 3 s of CPU importing ipykernel, NumPy, torch, matplotlib and
scikit-learn before the student's first cell runs -- most of the cost of grading a
submission. The zygote does those imports once and then, on request, forks: one per
machine, started by ``workbook autograde`` for its local workers (who find it through
``WORKBOOK_ZYGOTE``) and dying with it; a worker of another Dask cluster starts its own on
first use. Each child becomes one submission's kernel: a process of its own that shares
the imported code copy-on-write, with the request's working directory, environment, file
descriptors and memory cap. The zygote
runs no student code, so nothing one student does reaches another's kernel.

Jupyter still starts and signals an ordinary process: the launcher (launcher.py) asks the
zygote for a kernel, passes on every signal it gets (interrupt, terminate) and exits when
the kernel exits; a kernel whose launcher is gone (killed by the grader) kills itself. When
the zygote cannot serve (not Linux, another Python, the zygote died) the launcher starts
the kernel the ordinary way.

One difference from a fresh process remains: the kernels of one zygote share its
string-hash seed (Python draws it at start-up), so a ``set`` of strings
iterates in the same order in each -- no notebook may rely on that order anyway. The
socket lies in a private temporary folder (mode 0700).

Not preloaded: modules that look at their surroundings when imported (``tqdm.auto``
decides between notebook widgets and text at import; ``workbook.train`` imports it).
matplotlib is imported with the inline backend ipykernel would choose.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys

from workbook.grading.launcher import (KERNEL_THREADS_ENV, THREAD_VARS, die_with_parent,
                                       wait_for_exit)

# Imported once in the zygote. Order matters only for speed. The last line is what
# ipykernel imports while a kernel starts (event loop, debugger, completer, history):
# about 140 modules, 0.23 s per kernel.
PRELOAD = ("ipykernel.kernelapp", "numpy", "torch", "matplotlib.pyplot", "sklearn.datasets",
           "workbook.checks", "workbook.runtime", "workbook.plots", "workbook.numpy_nn",
           "workbook.nn", "workbook.data",
           "ipykernel.ipkernel", "tornado.platform.asyncio", "ipykernel.debugger",
           "IPython.core.debugger", "IPython.core.completerlib",
           "IPython.core.oinspect", "IPython.extensions.storemagic", "sqlite3")
# What the preloaded modules read when imported (and the interpreter's PYTHON* settings).
IMPORT_ENV = (*THREAD_VARS, KERNEL_THREADS_ENV, "WORKBOOK_PROFILE", "MPLBACKEND", "PATH")
# The socket of a zygote started by the grading command for all its local workers.
SHARED_ENV = "WORKBOOK_ZYGOTE"
# ipykernel sets this when the kernel starts; matplotlib reads it when imported.
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
_MAX_REQUEST = 1 << 22


# ------------------------------------------------------------------ the zygote process

def serve(path: str, preload=PRELOAD) -> None:
    """Listen on the Unix socket ``path``; fork one kernel per request. Never returns."""
    die_with_parent()
    # Ctrl-C in the grader's terminal: the grader stops, and this process dies with it
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)  # requests wait here while the imports below run
    os.environ.setdefault("MPLBACKEND", INLINE_BACKEND)
    # pydevd (ipykernel's debugger) warns on stderr about frozen modules when imported
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    for name in preload:
        try:
            __import__(name)
        except Exception:  # noqa: BLE001 - not preloaded; the kernel imports it itself
            pass
    # The imported objects live as long as the process: keep the garbage collector of
    # every kernel off them (a full collection walks them all -- 0.14 s at a kernel's exit
    # -- and writes to their pages, which a fork then copies).
    import gc

    gc.collect()
    gc.freeze()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # kernels are reaped by the system
    while True:
        conn, _ = listener.accept()
        try:
            request, fds = _receive(conn)
        except (OSError, ValueError):
            conn.close()
            continue
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            pid = os.fork()
        except OSError:  # no room for another process: the launcher starts it cold
            for fd in fds:
                os.close(fd)
            conn.close()
            continue
        if pid == 0:  # the kernel
            listener.close()
            conn.close()
            _become_kernel(request, fds)  # never returns
        for fd in fds:
            os.close(fd)
        try:
            conn.sendall(json.dumps({"pid": pid}).encode())
        except OSError:  # the launcher is gone: so must its kernel be
            os.kill(pid, signal.SIGKILL)
        conn.close()


def _receive(conn) -> tuple[dict, list[int]]:
    data, fds, _, _ = socket.recv_fds(conn, _MAX_REQUEST, 3)
    if len(fds) != 3:
        raise ValueError("expected stdin, stdout and stderr")
    return json.loads(data), fds


def _become_kernel(request: dict, fds: list[int]) -> None:
    """In the forked child: take on the launcher's surroundings, run the kernel, exit."""
    code = 1
    try:
        os.setsid()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # student code may use subprocess
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        die_with_parent()  # with the zygote, which dies with the grader
        _watch(request["launcher_pid"])  # and with the launcher, which Jupyter kills
        if request.get("memory_mb"):
            import resource

            cap = int(request["memory_mb"]) * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        _reseed()
        import importlib
        import runpy

        # as ``python -m``: the notebook's folder first on the path, the module as __main__
        sys.path[0] = os.getcwd()
        importlib.invalidate_caches()
        argv = request["argv"]
        sys.argv = [argv[2], *argv[3:]]
        try:
            runpy.run_module(argv[2], run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
        import atexit

        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001
                pass
        os._exit(code)


def _reseed() -> None:
    """A fresh process seeds NumPy's and torch's global generators from the OS; so does
    each kernel, or every kernel would draw the zygote's numbers. (``random`` reseeds
    itself after a fork.)"""
    np = sys.modules.get("numpy")
    if np is not None:
        np.random.seed()
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.seed()


def _watch(pid: int) -> None:
    """Kill this process when process ``pid`` exits."""
    import threading

    def wait():
        wait_for_exit(pid)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=wait, name="workbook-launcher-watch", daemon=True).start()


# ------------------------------------------------------------ the grader's side

_ZYGOTE: dict = {}


def ensure(env: dict) -> str | None:
    """The socket of the zygote for kernels with ``env``: the one the grading command
    shares with its local workers (``SHARED_ENV``), else this process's own, started if
    needed."""
    import subprocess
    import tempfile

    shared = os.environ.get(SHARED_ENV)
    if shared and os.path.exists(shared):
        return shared

    # A new zygote only when what its imports read changes; the rest of the environment
    # is the kernel's own (nbgrader sets NBGRADER_EXECUTION around each autograde).
    key = tuple(sorted((k, v) for k, v in env.items() if k in IMPORT_ENV or k.startswith("PYTHON")))
    current = _ZYGOTE.get("proc")
    if current is not None and current.poll() is None and _ZYGOTE.get("key") == key:
        return _ZYGOTE["path"]
    if current is not None and current.poll() is None:
        current.kill()
    folder = tempfile.mkdtemp(prefix="workbook-zygote-")
    path = os.path.join(folder, "socket")
    try:
        proc = subprocess.Popen([sys.executable, "-m", "workbook.grading.zygote", path],
                                env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, cwd=folder)
    except OSError:
        return None
    import time

    deadline = time.monotonic() + 30
    while not os.path.exists(path):  # bound before the imports: ready to queue requests
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            return None
        time.sleep(0.01)
    _ZYGOTE.update(proc=proc, key=key, path=path)
    import atexit
    import shutil

    atexit.register(proc.kill)  # a worker that exits normally cleans up after itself
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return path


if __name__ == "__main__":
    serve(sys.argv[1])
