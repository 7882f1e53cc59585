"""Grading throughput: plain ``nbgrader autograde`` vs ``workbook autograde``.

Builds a scratch course (bench/build/, git-ignored) holding one small assignment whose
notebook imports torch (the realistic fixed cost: a kernel start plus ``import torch``
per submission), releases it, hands in N correct submissions (default 40) and grades
the same batch five times, each into its own copy of the freshly released gradebook:

1. ``nbgrader autograde 99_bench --force``, one command for the batch, run with cwd =
   the course (it reads the course's nbgrader_config.py from there);
2. ``workbook autograde --workers 1 --force --no-warm-kernels`` and ``--workers 2``: every
   kernel started from scratch, as nbgrader does;
3. the same two with warm kernels (the default): forked from a process per worker that
   has already imported ipykernel, torch, ... (lib/workbook/grading/zygote.py).

Prints seconds per submission and the ratios, checks that every run scored every
submission in full, measures the machine's own ceiling for 2 workers (two CPU-bound
processes at once against one), and extrapolates to more cores from the two workbook runs
(wall = fixed + N * per_submission / workers).

    python bench/bench_grade.py [--submissions 40] [--workers 1 2] [--kernels cold warm] [--keep]
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


def make_course(root: Path) -> None:
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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submissions", type=int, default=40)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--kernels", nargs="+", choices=["cold", "warm"],
                        default=["cold", "warm"],
                        help="workbook runs with kernels started from scratch (cold) and "
                             "forked from a warm zygote (warm, the default of the command)")
    parser.add_argument("--skip-nbgrader", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep bench/build/ afterwards")
    args = parser.parse_args(argv)
    n = args.submissions

    root = HERE / "build" / "grade"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
               WORKBOOK_PROFILE="ci")
    make_course(root)
    release_and_submit(root, n)
    cores = os.cpu_count()
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = float("nan")
    print(f"{n} submissions of a notebook importing torch; {cores} cores, "
          f"load average {load:.1f} at the start")

    results: dict[str, float] = {}
    if not args.skip_nbgrader:
        fresh_db(root, "nbgrader.db")
        seconds = timed([str(BIN / "nbgrader"), "autograde", ASSIGNMENT, "--force"], root, env)
        got = full_marks(root / "grading" / "nbgrader.db")
        assert got == n, f"nbgrader: {got} of {n} submissions scored in full"
        results["nbgrader autograde (batch)"] = seconds
        print(f"  nbgrader autograde (batch)      {seconds:7.1f} s  "
              f"{seconds / n:5.2f} s/submission", flush=True)
    for kind in args.kernels:
        for w in args.workers:
            name = f"workbook --workers {w}, {kind} kernels"
            db = fresh_db(root, f"workbook{w}{kind}.db")
            seconds = timed([str(BIN / "workbook"), "autograde", "--root", str(root),
                             "--db-url", db, "--workers", str(w), "--force", "--no-progress",
                             "--warm-kernels" if kind == "warm" else "--no-warm-kernels"],
                            HERE, env)
            got = full_marks(root / "grading" / f"workbook{w}{kind}.db")
            assert got == n, (f"{name}: {got} of {n} submissions scored in full; flagged:\n"
                              + flagged(root / "grading" / f"workbook{w}{kind}.db"))
            results[name] = seconds
            print(f"  {name:34s} {seconds:7.1f} s  {seconds / n:5.2f} s/submission", flush=True)

    base = results.get("nbgrader autograde (batch)")
    print("ratios (higher is faster):")
    for name, seconds in results.items():
        parts = [f"{base / seconds:4.2f}x nbgrader"] if base else []
        kind = name.rsplit(", ", 1)[-1]
        one = results.get(f"workbook --workers 1, {kind}")
        if one and name.startswith("workbook"):
            parts.append(f"{one / seconds:4.2f}x workbook 1 worker ({kind})")
        cold = results.get(name.replace("warm kernels", "cold kernels"))
        if "warm" in name and cold:
            parts.append(f"{cold / seconds:4.2f}x the same with cold kernels")
        print(f"  {name:34s} " + ", ".join(parts))
    if 2 in args.workers and (os.cpu_count() or 1) >= 2:
        print(f"the machine: 2 CPU-bound processes at once do {machine_scaling(2):4.2f}x the "
              f"work of one (the ceiling for 2 workers against 1)")
    for kind in args.kernels:
        one = results.get(f"workbook --workers 1, {kind} kernels")
        two = results.get(f"workbook --workers 2, {kind} kernels")
        if not (one and two):
            continue
        per = (one - two) * 2 / n          # from wall = fixed + n * per / workers
        fixed = max(0.0, one - n * per)
        print(f"model, {kind} kernels: wall = {fixed:.1f} s fixed + {n} x {per:.2f} s / workers")
        for w in (4, 8, 16):
            est = fixed + n * per / w
            print(f"  {w:2d} workers (extrapolated, one core each): {est:6.1f} s, "
                  f"{est / n:5.2f} s/submission, {one / est:4.1f}x one worker")
    if not args.keep:
        shutil.rmtree(HERE / "build", ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
