"""Grading throughput: plain ``nbgrader autograde`` vs ``workbook autograde``.

Builds a scratch course (bench/build/, git-ignored) holding one small assignment whose
notebook imports torch (the realistic fixed cost: a kernel start plus ``import torch``
per submission), releases it, hands in N correct submissions (default 40) and grades
the same batch several times, each into its own copy of the freshly released gradebook:

1. ``nbgrader autograde 99_bench --force``, one command for the batch, run with cwd =
   the course (it reads the course's nbgrader_config.py from there);
2. ``workbook autograde --workers 1 --force`` and ``--workers 2``: the command's default,
   every kernel in the bubblewrap sandbox, started from scratch;
3. the same two ``--unsandboxed --no-warm-kernels``: kernels started from scratch, as
   nbgrader does, without the sandbox (what the sandbox costs);
4. the same two ``--unsandboxed`` with warm kernels: forked from a process per command that
   has already imported ipykernel, torch, ... (lib/workbook/grading/zygote.py).

Each workbook run is repeated (``--repeat``, default 3; 1 and 2 workers interleaved) and
the best counts: on a shared machine the speed wanders by 10-20 % between runs.

Prints seconds per submission and the ratios, checks that every run scored every
submission in full, and measures the machine's own ceiling for 2 workers (two CPU-bound
processes at once against one). For the workbook runs it also prints the steady rate --
seconds per submission once every worker has handed in its first result, from the times
the gradebook recorded -- and the start-up that is left (wall - N x steady): a long batch
goes at the steady rate, a short one pays the start-up too. The extrapolation to more
cores uses the steady rates of 1 and 2 workers; it also says how busy the command's one
gradebook writer would be, from the writer timed alone (200 results, one at a time and
eight at a time: results that arrive together are written in one transaction).

    python bench/bench_grade.py [--submissions 40] [--workers 1 2]
                                [--kernels sandboxed cold warm]
                                [--repeat 3] [--keep]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ASSIGNMENT, NOTEBOOK = "99_bench", "bench"
HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent


def _meta(grade_id, **flags):
    base = {"grade": False, "solution": False, "locked": False, "schema_version": 3}
    base.update(flags)
    base["grade_id"] = grade_id
    return {"nbgrader": base}


def make_course(root: Path, work: float = 0.0) -> None:
    """The bench assignment; ``work`` > 0 adds a cell that computes for that many CPU
    seconds in one thread (as a student's own code does)."""
    cells = [
        new_markdown_cell("# Bench", metadata=_meta("intro", locked=True)),
        new_code_cell("import numpy as np\nimport torch\ntorch.manual_seed(0)",
                      metadata=_meta("setup", locked=True)),
        new_code_cell("def scale(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n"
                      "    ### END SOLUTION", metadata=_meta("ex-scale", solution=True)),
        new_code_cell("x = torch.randn(4, 3)\nassert torch.allclose(scale(x), x + x)\n"
                      "### BEGIN HIDDEN TESTS\nassert torch.equal(scale(torch.zeros(2)), "
                      "torch.zeros(2))\n### END HIDDEN TESTS",
                      metadata=_meta("test-scale", grade=True, locked=True, points=1)),
        new_code_cell("layer = torch.nn.Linear(3, 2)\nprint(layer(torch.ones(1, 3)).shape)",
                      metadata=_meta("demo", locked=True)),
    ]
    if work > 0:
        cells.append(new_code_cell(
            f"import time\nend = time.process_time() + {work}\n"
            "while time.process_time() < end:\n    sum(range(1000))",
            metadata=_meta("work", locked=True)))
    nb = new_notebook(cells=cells, metadata={"kernelspec": {
        "name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}})
    src = root / "solutions" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    src.parent.mkdir(parents=True)
    nbformat.write(nb, src)
    (root / "grading").mkdir(exist_ok=True)


def release_and_submit(root: Path, n: int) -> None:
    from workbook.grading.release import release

    (released,) = release([ASSIGNMENT], root=root,
                          db_url=f"sqlite:///{root / 'grading' / 'released.db'}")
    nb = nbformat.read(released, as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "ex-scale":
            cell.source = "def scale(x):\n    return x * 2"
    for i in range(n):
        d = root / "grading" / "submitted" / f"s{i:03d}" / ASSIGNMENT
        d.mkdir(parents=True)
        nbformat.write(nb, d / f"{NOTEBOOK}.ipynb")
    # nbgrader reads its configuration from the folder it runs in
    (root / "nbgrader_config.py").write_text(
        "from workbook.grading.config import course_config\n"
        "c = get_config()  # noqa: F821\n"
        f"c.merge(course_config({str(root)!r}, db_url='sqlite:///{root}/grading/nbgrader.db'))\n"
        "c.CourseDirectory.autograded_directory = 'grading/autograded_nbgrader'\n")


def fresh_db(root: Path, name: str) -> str:
    path = root / "grading" / name
    shutil.copyfile(root / "grading" / "released.db", path)
    return f"sqlite:///{path}"


def full_marks(db_path: Path) -> int:
    """Submissions whose test cell scored its point."""
    from nbgrader.api import Gradebook

    from workbook.grading.config import COURSE_ID

    with Gradebook(f"sqlite:///{db_path}", COURSE_ID) as gb:
        return sum(g.auto_score == 1 for sub in gb.assignment_submissions(ASSIGNMENT)
                   for nb in sub.notebooks for g in nb.grades if g.name == "test-scale")


def flagged(db_path: Path) -> str:
    """What ``workbook autograde`` recorded about the submissions it did not call ok."""
    from workbook.grading.autograde import read_state

    return "\n".join(f"  {r['student']}: {r['status']} -- {r['detail']}"
                     for r in read_state(f"sqlite:///{db_path}")
                     if r["status"] != "ok" or r["detail"])


def steady_rate(db_path: Path, workers: int) -> float | None:
    """Seconds per submission after each of ``workers`` workers delivered its first result
    (from the times the writer recorded them), or None when too few were graded."""
    from workbook.grading.autograde import read_state

    times = sorted(r["graded_at"] for r in read_state(f"sqlite:///{db_path}"))
    if len(times) < workers + 2:
        return None
    return (times[-1] - times[workers - 1]).total_seconds() / (len(times) - workers)


def writer_rate(root: Path, n: int, batch: int) -> tuple[float, float]:
    """The grading command's one gradebook writer alone: (ms of CPU per result, results per
    second) for ``n`` full-mark results of distinct students arriving ``batch`` at a time,
    into a fresh copy of the released gradebook."""
    from workbook.grading.autograde import Recorder, assignment_spec

    url = fresh_db(root, f"writer{batch}.db")
    spec = assignment_spec(root, url, ASSIGNMENT)
    autograded = next((root / "grading" / "submitted").glob(f"*/{ASSIGNMENT}/*.ipynb"))
    notebooks = {nb["name"]: {
        "status": "ok", "problems": [], "comments": {}, "late_penalty": None,
        "autograded": autograded.read_bytes(),
        "grades": {c["name"]: {"auto_score": c["max_score"] if c["cell_type"] == "code"
                               else None, "needs_manual_grade": c["cell_type"] != "code"}
                   for c in nb["grade_cells"]}} for nb in spec["notebooks"]}
    results = [{"assignment": ASSIGNMENT, "student": f"w{i:04d}", "hash": f"{i}",
                "timestamp": None, "notebooks": notebooks, "extra_files": [],
                "seconds": 0.0, "worker": None} for i in range(n)]  # built before the clock

    recorder = Recorder(root, url)
    try:
        cpu, wall = time.process_time(), time.perf_counter()
        for start in range(0, n, batch):
            recorder.record_batch(results[start:start + batch])
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    finally:
        recorder.close()
    return 1000 * cpu / n, n / wall


def timed(cmd: list[str], cwd: Path, env: dict) -> float:
    start = time.perf_counter()
    run = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if run.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({run.returncode}):\n"
                         f"{run.stdout[-3000:]}\n{run.stderr[-3000:]}")
    return seconds


SPIN = "s = 0\nfor i in range(20_000_000):\n    s += i"


def machine_scaling(workers: int) -> float:
    """The machine's own ceiling: the throughput of ``workers`` CPU-bound Python processes
    at once, relative to one alone (2.0 on two real cores; less where the cores are
    hyper-threads of one another or shared with other guests)."""
    def run(k: int) -> float:
        start = time.perf_counter()
        procs = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(k)]
        for p in procs:
            p.wait()
        return time.perf_counter() - start
    ones, manys = [], []
    for _ in range(3):  # interleaved, best of 3: the clock of a shared machine wanders
        ones.append(run(1))
        manys.append(run(workers))
    return workers * min(ones) / min(manys)


# workbook autograde's flags for each kind of kernel the bench compares
KERNEL_FLAGS = {"sandboxed": [], "cold": ["--unsandboxed"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submissions", type=int, default=40)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--kernels", nargs="+", choices=list(KERNEL_FLAGS),
                        default=list(KERNEL_FLAGS),
                        help="workbook runs with kernels in the sandbox (sandboxed: the "
                             "command's default, started from scratch), and --unsandboxed "
                             "started from scratch (cold) or forked from a warm zygote (warm)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of each workbook configuration (interleaved; the best "
                             "counts)")
    parser.add_argument("--cell-seconds", type=float, default=0.0,
                        help="add a cell computing this many CPU seconds per submission "
                             "(a course notebook's own work; default: none)")
    parser.add_argument("--skip-nbgrader", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep bench/build/ afterwards")
    args = parser.parse_args(argv)
    n = args.submissions

    root = HERE / "build" / "grade"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
               WORKBOOK_PROFILE="ci")
    make_course(root, args.cell_seconds)
    release_and_submit(root, n)
    cores = os.cpu_count()
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = float("nan")
    work = f" and computing {args.cell_seconds:g} CPU s" if args.cell_seconds else ""
    print(f"{n} submissions of a notebook importing torch{work}; {cores} cores, "
          f"load average {load:.1f} at the start")

    results: dict[str, float] = {}
    steady: dict[str, float] = {}
    if not args.skip_nbgrader:
        fresh_db(root, "nbgrader.db")
        seconds = timed([str(BIN / "nbgrader"), "autograde", ASSIGNMENT, "--force"], root, env)
        got = full_marks(root / "grading" / "nbgrader.db")
        assert got == n, f"nbgrader: {got} of {n} submissions scored in full"
        results["nbgrader autograde (batch)"] = seconds
        print(f"  nbgrader autograde (batch)      {seconds:7.1f} s  "
              f"{seconds / n:5.2f} s/submission", flush=True)
    for kind in args.kernels:
        for attempt in range(args.repeat):  # interleaved: the machine's speed wanders
            for w in args.workers:
                name = f"workbook --workers {w}, {kind} kernels"
                db_name = f"workbook{w}{kind}{attempt}.db"
                seconds = timed([str(BIN / "workbook"), "autograde", "--root", str(root),
                                 "--db-url", fresh_db(root, db_name), "--workers", str(w),
                                 "--force", "--no-progress", *KERNEL_FLAGS[kind]],
                                HERE, env)
                got = full_marks(root / "grading" / db_name)
                assert got == n, (f"{name}: {got} of {n} submissions scored in full; "
                                  "flagged:\n" + flagged(root / "grading" / db_name))
                rate = steady_rate(root / "grading" / db_name, w)
                print(f"  {name:34s} {seconds:7.1f} s  {seconds / n:5.2f} s/submission"
                      + (f"  (steady {rate:4.2f} s/submission, start-up "
                         f"{seconds - n * rate:4.1f} s)" if rate else ""), flush=True)
                results[name] = min(seconds, results.get(name, seconds))
                if rate:
                    steady[name] = min(rate, steady.get(name, rate))
    if args.repeat > 1:
        print(f"best of {args.repeat} for each workbook run below")

    base = results.get("nbgrader autograde (batch)")
    print("ratios, whole command (higher is faster):")
    for name, seconds in results.items():
        parts = [f"{base / seconds:4.2f}x nbgrader"] if base else []
        kind = name.rsplit(", ", 1)[-1]
        one = results.get(f"workbook --workers 1, {kind}")
        if one and name.startswith("workbook"):
            parts.append(f"{one / seconds:4.2f}x workbook 1 worker ({kind})")
        cold = results.get(name.replace("warm kernels", "cold kernels"))
        if "warm" in name and cold:
            parts.append(f"{cold / seconds:4.2f}x the same with cold kernels")
        bare = results.get(name.replace("sandboxed kernels", "cold kernels"))
        if "sandboxed" in name and bare:  # below 1: what the sandbox costs
            parts.append(f"{bare / seconds:4.2f}x the same unsandboxed")
        print(f"  {name:34s} " + ", ".join(parts))
    print("ratios, steady rate (a long batch):")
    for name, rate in steady.items():
        kind = name.rsplit(", ", 1)[-1]
        one = steady.get(f"workbook --workers 1, {kind}")
        parts = [f"{base / n / rate:4.2f}x nbgrader's batch"] if base else []
        if one:
            parts.append(f"{one / rate:4.2f}x workbook 1 worker ({kind})")
        print(f"  {name:34s} " + ", ".join(parts))
    ceiling = None
    if 2 in args.workers and (os.cpu_count() or 1) >= 2:
        ceiling = machine_scaling(2)
        print(f"the machine: 2 CPU-bound processes at once do {ceiling:4.2f}x the work of one "
              f"(the ceiling for 2 workers against 1)")
    one_ms, one_rate = writer_rate(root, 200, 1)
    batch_ms, batch_rate = writer_rate(root, 200, 8)
    print(f"the writer alone (200 results): {one_ms:4.1f} ms of CPU per result one at a time "
          f"({one_rate:4.0f}/s), {batch_ms:4.1f} ms in batches of 8 ({batch_rate:4.0f}/s): "
          f"results that arrive together are written together")
    for kind in args.kernels:
        one = steady.get(f"workbook --workers 1, {kind} kernels")
        two = steady.get(f"workbook --workers 2, {kind} kernels")
        if not (one and two):
            continue
        efficiency = one / two / 2     # parallel efficiency: speed-up per worker
        startup = results[f"workbook --workers 2, {kind} kernels"] - n * two
        of_ceiling = f" ({one / two / ceiling:.0%} of the machine's ceiling)" if ceiling else ""
        print(f"extrapolation, {kind} kernels: {efficiency:.0%} parallel efficiency at 2 "
              f"workers{of_ceiling}, kept at more workers with a core each; start-up "
              f"{startup:.1f} s")
        if efficiency > 1:  # best steady rates of runs at different moments: noise
            print("  (over 100 %: the best runs of 1 and 2 workers came at different "
                  "moments of a machine whose speed wanders; 100 % used below)")
            efficiency = 1.0
        for w in (4, 8, 16):
            rate = one / (w * efficiency)
            print(f"  {w:2d} workers, one core each: {rate:5.3f} s/submission steady; "
                  f"300 x 10 notebooks like this in {startup + 3000 * rate:5.0f} s; the "
                  f"writer busy {1 / rate / batch_rate:.0%} of the time")
    if not args.keep:
        shutil.rmtree(HERE / "build", ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
