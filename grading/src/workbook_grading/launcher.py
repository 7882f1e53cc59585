"""The kernel launcher: what the sandbox (sandbox.py) runs as each grading kernel.

``python -I -S .../launcher.py [--memory-mb N] [--quiet] -- <kernel cmd>`` (built by
``command``) asks Linux to kill the kernel when its parent dies, silences the kernel's own
log (not the student's output: that goes over ZeroMQ), exports ``WORKBOOK_PROFILE=ci`` and
the thread cap, sets ``RLIMIT_AS`` and ``exec``\\ s the kernel: the launcher *becomes* the
kernel, so signals and exit status are the kernel's own.

Standard library only, run with ``-I -S`` (no site-packages): it starts once per kernel.
"""

from __future__ import annotations

import os
import signal
import sys

# Threads per kernel, set by the grader so that parallel kernels share the cores.
KERNEL_THREADS_ENV = "WORKBOOK_KERNEL_THREADS"
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def command(kernel_cmd: list[str], memory_mb: int = 0, quiet: bool = True) -> list[str]:
    """The command that starts ``kernel_cmd`` through this launcher."""
    cmd = [sys.executable, "-I", "-S", os.path.abspath(__file__),
           "--memory-mb", str(int(memory_mb))]
    if quiet:
        cmd.append("--quiet")
    return [*cmd, "--", *kernel_cmd]


def kernel_env(base) -> dict:
    """The environment of a grading kernel: ``base`` with the ci profile and the thread cap."""
    env = dict(base, WORKBOOK_PROFILE="ci")
    # the quick profile, but figures a person can read in the formgrader and the feedback
    # (the test suite sets 40: it grades for scores, not for looks)
    env.setdefault("WORKBOOK_FIGURE_DPI", "100")
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


def main(argv: list[str]) -> None:
    """``[--memory-mb N] [--quiet] -- cmd...``: exec ``cmd`` under the limits."""
    if "--" not in argv:
        raise SystemExit("usage: launcher.py [--memory-mb N] [--quiet] -- CMD...")
    split = argv.index("--")
    opts, cmd = argv[:split], argv[split + 1:]
    memory_mb = int(opts[opts.index("--memory-mb") + 1]) if "--memory-mb" in opts else 0
    die_with_parent()  # with the grader process, never run on as an orphan
    if "--quiet" in opts:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
    if memory_mb > 0:
        import resource

        cap = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    os.execvpe(cmd[0], cmd, kernel_env(os.environ))


if __name__ == "__main__":
    main(sys.argv[1:])
