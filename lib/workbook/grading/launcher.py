"""The kernel launcher: the process Jupyter starts, signals and waits for as each grading
kernel.

``python -I -S .../launcher.py [--memory-mb N] [--quiet] [--zygote PATH] -- <kernel cmd>``
(built by ``command``) asks Linux to kill the kernel when its grader dies, exports
``WORKBOOK_PROFILE=ci`` and the thread cap, and has the kernel forked by the grader's warm
zygote (zygote.py): it passes on every signal it gets (interrupt, terminate) and exits when
the kernel exits. When the zygote cannot serve (not Linux, another Python, the zygote died)
it sets ``RLIMIT_AS`` and ``exec``\\ s the real kernel.

It runs once per submission, so it is run by path, isolated and without site-packages
(``-I -S``): it imports only the standard library -- nothing of workbook, nothing
installed: 0.026 s of CPU per kernel instead of 0.054 s as ``python -m`` of a workbook
module (measured per warm submission, waiting for the kernel included). zygote.py and limits.py import its
helpers; keep it free of imports beyond the standard library.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys

# Threads per kernel, set by the grader so that parallel kernels share the cores.
KERNEL_THREADS_ENV = "WORKBOOK_KERNEL_THREADS"
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
RELAYED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1,
           signal.SIGUSR2)


def command(kernel_cmd: list[str], memory_mb: int = 0, zygote: str | None = None,
            quiet: bool = True) -> list[str]:
    """The command that starts ``kernel_cmd`` through this launcher."""
    cmd = [sys.executable, "-I", "-S", os.path.abspath(__file__),
           "--memory-mb", str(int(memory_mb))]
    if quiet:
        cmd.append("--quiet")
    if zygote:
        cmd += ["--zygote", zygote]
    return [*cmd, "--", *kernel_cmd]


def kernel_env(base) -> dict:
    """The environment of a grading kernel: ``base`` with the ci profile and the thread cap."""
    env = dict(base, WORKBOOK_PROFILE="ci")
    threads = base.get(KERNEL_THREADS_ENV)
    if threads:  # read by torch, NumPy's BLAS and OpenMP when the kernel imports them
        env.update({var: threads for var in THREAD_VARS})
    return env


def die_with_parent() -> None:
    """Ask Linux to kill this process when its parent (thread) exits."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            PR_SET_PDEATHSIG = 1
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        except Exception:  # pragma: no cover - best effort
            pass


def wait_for_exit(pid: int) -> None:
    """Block until ``pid`` (not our child) has exited."""
    import select

    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    except (AttributeError, OSError):  # no pidfd (old kernel): poll
        import time

        while True:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
    try:
        select.select([fd], [], [])
    finally:
        os.close(fd)


# ------------------------------------------------------------- asking the zygote

def usable(cmd: list[str]) -> bool:
    """Whether the zygote can start ``cmd``: ``<this python> -m MODULE ...`` on Linux."""
    return (sys.platform.startswith("linux") and hasattr(socket, "send_fds")
            and len(cmd) >= 3 and cmd[1] == "-m"
            and os.path.realpath(cmd[0]) == os.path.realpath(sys.executable))


def spawn(path: str, cmd: list[str], env: dict, memory_mb: int) -> int | None:
    """Ask the zygote at ``path`` for a kernel running ``cmd``; its pid, or None."""
    request = {"argv": cmd, "cwd": os.getcwd(), "env": env, "memory_mb": memory_mb,
               "launcher_pid": os.getpid()}
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.connect(path)
            socket.send_fds(conn, [json.dumps(request).encode()], [0, 1, 2])
            conn.shutdown(socket.SHUT_WR)
            reply = b""
            while chunk := conn.recv(4096):
                reply += chunk
        return int(json.loads(reply)["pid"])
    except (OSError, ValueError, KeyError):
        return None


def launch(path: str, cmd: list[str], env: dict, memory_mb: int) -> None:
    """Be the kernel to Jupyter: have the zygote at ``path`` fork it, pass every signal on
    (one that arrives before the kernel's pid is known is passed on once it is), exit
    when it exits. Returns only when the zygote could not start it."""
    target: dict = {"pid": None, "pending": []}

    def forward(signum, _frame):
        if target["pid"] is None:
            target["pending"].append(signum)
            return
        try:
            os.kill(target["pid"], signum)
        except ProcessLookupError:
            pass

    previous = {sig: signal.signal(sig, forward) for sig in RELAYED}
    pid = spawn(path, cmd, env, memory_mb)
    if pid is None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for signum in target["pending"]:  # as if they had arrived now
            os.kill(os.getpid(), signum)
        return
    target["pid"] = pid
    for signum in target["pending"]:
        forward(signum, None)
    wait_for_exit(pid)
    sys.exit(0)


# ------------------------------------------------------------------------ main

def main(argv: list[str]) -> None:
    """``[--memory-mb N] [--quiet] [--zygote PATH] -- cmd...``: start ``cmd`` under the
    limits -- forked by the zygote at PATH, else exec'd in this process."""
    if "--" not in argv:
        raise SystemExit("usage: launcher.py [--memory-mb N] [--quiet] [--zygote PATH] -- CMD...")
    split = argv.index("--")
    opts, cmd = argv[:split], argv[split + 1:]
    memory_mb = int(opts[opts.index("--memory-mb") + 1]) if "--memory-mb" in opts else 0
    zygote_path = opts[opts.index("--zygote") + 1] if "--zygote" in opts else None
    die_with_parent()  # with the grader process, never run on as an orphan
    if "--quiet" in opts:
        # the kernel's own log (not the student's output: that goes over iopub)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
    env = kernel_env(os.environ)
    if zygote_path and usable(cmd):
        launch(zygote_path, cmd, env, memory_mb)  # exits with the kernel
    if memory_mb > 0:
        import resource

        cap = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    os.execvpe(cmd[0], cmd, env)


if __name__ == "__main__":
    main(sys.argv[1:])
