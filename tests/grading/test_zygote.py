"""Warm kernels (lib/workbook/grading/zygote.py): forked from a process with the imports
done, yet each a fresh process of its own that sees what a kernel started from scratch
sees; signals reach it through its launcher and it dies with it; without a zygote the
launcher starts the kernel the ordinary way."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from workbook.grading import launcher, zygote
from workbook.grading.launcher import kernel_env
from workbook.grading.limits import nbgrader_classes

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="warm kernels are forked: Linux only")

PROBE = """\
import json, os, sys
print(json.dumps({"pid": os.getpid(), "ppid": os.getppid(), "cwd": os.getcwd(),
                  "preloaded": "torch" in sys.modules, "argv": sys.argv[1:],
                  "profile": os.environ.get("WORKBOOK_PROFILE"),
                  "mine": os.environ.get("PROBE_VAR")}), flush=True)
import numpy as np, torch
print(json.dumps({"random": float(np.random.rand()), "seed": torch.initial_seed()}), flush=True)
if sys.argv[1:] == ["start"]:  # what a kernel does first: initialise the kernel app
    import gc
    before, out = set(sys.modules), os.dup(1)  # the kernel app captures stdout (fd 1 too)
    from ipykernel.kernelapp import IPKernelApp
    IPKernelApp.instance().initialize(["-f", os.path.abspath("kernel.json")])
    os.write(out, json.dumps({"imported": sorted(set(sys.modules) - before),
                              "frozen": gc.get_freeze_count()}).encode() + b"\\n")
    os._exit(0)  # the kernel's threads would keep it alive
if sys.argv[1:] == ["wait"]:
    import time
    try:  # ready for the interrupt only from here
        print(json.dumps({"waiting": True}), flush=True)
        time.sleep(60)
    except KeyboardInterrupt:
        print(json.dumps({"interrupted": True}), flush=True)
"""


@pytest.fixture
def socket_path():
    path = zygote.ensure(kernel_env(os.environ))
    assert path, "the zygote did not start"
    return path


@pytest.fixture
def probe(tmp_path):
    (tmp_path / "probe.py").write_text(PROBE)
    return tmp_path


def launch(folder, socket_path, *args, **env):
    """The launcher as Jupyter starts it, running ``python -m probe ARGS``."""
    cmd = launcher.command([sys.executable, "-m", "probe", *args], zygote=socket_path,
                           quiet=False)
    return subprocess.Popen(cmd, cwd=folder, env=dict(os.environ, **env),
                            stdout=subprocess.PIPE, text=True)


def lines(proc):
    """The probe's JSON lines (a kernel app prints its connection notes to stdout too)."""
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def gone(pid: int, within: float = 15.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_each_kernel_is_a_fresh_child_of_the_zygote(probe, socket_path):
    runs = [launch(probe, socket_path, "a", PROBE_VAR="x") for _ in range(2)]
    (first, r1), (second, r2) = [lines(p) for p in runs]
    zygote_pid = zygote._ZYGOTE["proc"].pid
    for info, proc in ((first, runs[0]), (second, runs[1])):
        assert info["preloaded"], "the kernel was not forked from the warm zygote"
        assert info["ppid"] == zygote_pid and info["pid"] != proc.pid
        assert info["cwd"] == str(probe), "the launcher's working directory"
        assert info["argv"] == ["a"] and info["mine"] == "x" and info["profile"] == "ci"
    assert first["pid"] != second["pid"]
    assert r1["random"] != r2["random"], "NumPy's global generator not reseeded per kernel"
    assert r1["seed"] != r2["seed"], "torch's default generator not reseeded per kernel"


def test_a_kernel_starts_with_what_the_zygote_imported(probe, socket_path):
    """The zygote preloads what ipykernel imports while a kernel starts (about 140
    modules, 0.23 s per kernel) and freezes its objects out of the kernels' garbage
    collections (a full collection at each kernel's exit took 0.14 s)."""
    warm = lines(launch(probe, socket_path, "start"))[-1]
    cold = lines(launch(probe, None, "start"))[-1]
    assert len(cold["imported"]) > 100, "the probe no longer starts a kernel app"
    assert len(warm["imported"]) <= 10, (
        "a warm kernel imports these while it starts; add them to zygote.PRELOAD: "
        f"{warm['imported']}")
    assert warm["frozen"] > 100_000 and cold["frozen"] == 0


def test_without_a_zygote_the_kernel_starts_cold(probe, tmp_path):
    proc = launch(probe, str(tmp_path / "no-such-socket"), "a")
    info, _ = lines(proc)
    assert not info["preloaded"] and info["pid"] == proc.pid  # exec'd in the launcher
    proc = launch(probe, None, "a")
    info, _ = lines(proc)
    assert not info["preloaded"] and info["pid"] == proc.pid


def test_signals_pass_through_the_launcher(probe, socket_path):
    proc = launch(probe, socket_path, "wait")
    info = json.loads(proc.stdout.readline())
    json.loads(proc.stdout.readline())
    assert json.loads(proc.stdout.readline()) == {"waiting": True}
    assert info["preloaded"]
    proc.send_signal(signal.SIGINT)  # what Jupyter's interrupt does
    assert json.loads(proc.stdout.readline()) == {"interrupted": True}
    assert proc.wait(timeout=10) == 0, "the launcher outlived its kernel"
    assert gone(info["pid"])


def test_a_killed_launcher_takes_its_kernel_along(probe, socket_path):
    proc = launch(probe, socket_path, "wait")
    info = json.loads(proc.stdout.readline())
    proc.kill()  # SIGKILL: what Jupyter does to a kernel that will not shut down
    proc.wait(timeout=10)
    assert gone(info["pid"]), "the kernel ran on without its launcher"


KERNEL_PROBE = """\
import os, sys, json
import matplotlib, numpy, torch, tqdm.auto
print(json.dumps({"cwd": os.getcwd(), "path0": "" in sys.path,
                  "backend": matplotlib.get_backend(), "tqdm": tqdm.auto.tqdm.__module__,
                  "seed": torch.initial_seed(), "threads": torch.get_num_threads(),
                  "profile": os.environ["WORKBOOK_PROFILE"]}))
"""


def run_kernel(folder, warm: bool) -> tuple[dict, list]:
    from nbclient import NotebookClient

    nb = new_notebook(cells=[new_code_cell(KERNEL_PROBE),
                             new_code_cell("import matplotlib.pyplot as plt\nplt.plot([0, 1])\n"
                                           "plt.show()")])
    manager = nbgrader_classes()[0](warm=warm, memory_mb=4096)
    NotebookClient(nb, km=manager, timeout=60, resources={"metadata": {"path": str(folder)}},
                   ).execute()
    (out,) = [o for o in nb.cells[0].outputs if o.get("name") == "stdout"]
    kinds = [k for o in nb.cells[1].outputs for k in o.get("data", {})]
    return json.loads(out["text"]), kinds


def test_a_warm_kernel_sees_what_a_cold_one_sees(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBOOK_KERNEL_THREADS", "1")
    monkeypatch.delenv("MPLBACKEND", raising=False)  # as in JupyterLab: the kernel chooses
    warm, warm_plot = run_kernel(tmp_path, warm=True)
    again, _ = run_kernel(tmp_path, warm=True)
    cold, cold_plot = run_kernel(tmp_path, warm=False)
    seeds = {warm.pop("seed"), again.pop("seed"), cold.pop("seed")}
    assert len(seeds) == 3, "torch's seed is drawn per process, as in a fresh one"
    assert warm == again == cold
    assert warm["cwd"] == str(tmp_path) and warm["threads"] == 1
    assert "inline" in warm["backend"]
    assert "image/png" in warm_plot and warm_plot == cold_plot


def test_one_zygote_per_worker_until_what_imports_read_changes(monkeypatch):
    first = zygote.ensure(kernel_env(os.environ))
    pid = zygote._ZYGOTE["proc"].pid
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")  # set by nbgrader per notebook
    assert zygote.ensure(kernel_env(os.environ)) == first
    assert zygote._ZYGOTE["proc"].pid == pid, "the zygote was restarted for every kernel"
    monkeypatch.setenv("WORKBOOK_KERNEL_THREADS", "3")  # OMP_NUM_THREADS=3, read by torch
    assert zygote.ensure(kernel_env(os.environ)) != first
    assert zygote._ZYGOTE["proc"].pid != pid


def test_the_command_shares_one_zygote_with_its_workers(tmp_path):
    """``workbook autograde`` (here in-process, 2 workers) starts the zygote itself; every
    kernel of every worker is forked from it."""
    from tiny_course import ADD, ASSIGNMENT, NOTEBOOK, db_url, put_submission, released_course
    from tiny_course import scores, submission

    from workbook.grading.autograde import autograde
    from workbook.grading.limits import Limits

    root = tmp_path / "course"
    released = released_course(root)
    probe = "import os\nprint('parent', os.getppid())\n" + ADD
    for student in ("s1", "s2", "s3"):
        put_submission(root, student, submission(released, add=probe))
    summary = autograde([ASSIGNMENT], root=root, db_url=db_url(root), workers=2,
                        limits=Limits(sandbox=False),  # sandboxed kernels start cold
                        progress=False, log=lambda _: None)
    assert summary.graded == 3 and set(summary.statuses) == {"ok"}
    assert all(s == {"test-add": 2, "test-double": 1} for s in scores(root).values())
    parents = set()
    for student in ("s1", "s2", "s3"):
        nb = nbformat.read(root / "grading" / "autograded" / student / ASSIGNMENT
                           / f"{NOTEBOOK}.ipynb", as_version=4)
        text = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
        parents.add(int(text.split("parent ")[1].split()[0]))
    assert parents == {zygote._ZYGOTE["proc"].pid}
    assert zygote.SHARED_ENV not in os.environ, "the command's zygote leaked into the caller"


def test_a_kernel_that_does_not_start_is_started_again_cold(tmp_path):
    """The grader's trouble is not the student's: a notebook whose kernel died before its
    first cell is run again, with a kernel started from scratch, and says so."""
    from workbook.grading.limits import RUN_NOTES

    manager_class, guarded_execute = nbgrader_classes()[:2]
    starts = []

    class FailsOnce(manager_class):
        def format_kernel_cmd(self, extra_arguments=None):
            starts.append(self.warm)
            if len(starts) == 1:  # the first kernel dies at once
                return [sys.executable, "-c", "import os; os._exit(1)"]
            return super().format_kernel_cmd(extra_arguments)

    nb = new_notebook(cells=[new_code_cell("print(6 * 7)")],
                      metadata={"kernelspec": {"name": "python3", "language": "python",
                                               "display_name": "Python 3"}})
    execute = guarded_execute(timeout=30)
    execute.kernel_manager_class = FailsOnce
    out, _ = execute.preprocess(nb, {"unique_key": "fails-once",
                                     "metadata": {"path": str(tmp_path)}})
    assert starts == [True, False], "retried, and cold"
    assert out.cells[0].outputs[0]["text"] == "42\n"
    notes = RUN_NOTES.pop("fails-once")
    assert notes["status"] == "ok" and "the kernel did not start" in notes["problems"][0]
