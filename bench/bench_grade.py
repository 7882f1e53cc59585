"""Grading throughput on the real course notebooks: plain ``nbgrader autograde`` vs
``workbook autograde`` (sandboxed, answers verified) with 1 and 2 workers.

For each assignment (default: every one in solutions/), a scratch course under
bench/build/ (git-ignored, removed afterwards) holds the released notebook and N correct
submissions (the release filled with the solution's answers). The same batch is graded,
each time into a fresh copy of the released gradebook, under the ``ci`` profile:

1. ``nbgrader autograde <assignment> --force``: one command for the batch, run in the
   course folder (it reads nbgrader_config.py from there); no sandbox, no verification;
2. ``workbook autograde --workers 1`` and ``--workers 2``: every kernel in its bubblewrap
   sandbox, every verified cell re-checked outside it (the command's default);
3. with ``--sandbox-cost``: ``workbook autograde --workers 2 --unsandboxed`` as well.

Every run must give every submission full marks on every autograded cell. Prints seconds
per submission and the ratios per notebook, the target (2 workers >= 1.8x nbgrader's
batch), the machine's own ceiling for 2 workers (two CPU-bound processes at once against
one) and how fast the command's one gradebook writer records results alone.

    python bench/bench_grade.py [--assignments 01_neurons ...] [--submissions 4]
                                [--workers 1 2] [--sandbox-cost] [--skip-nbgrader] [--keep]
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

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BIN = Path(sys.executable).parent
TARGET = 1.8  # 2 workers against nbgrader's batch, sandboxed and verified


def answers(source: Path) -> dict[str, str]:
    """{grade id: the solution's code, markers removed} of every answer cell."""
    from workbook_grading import markers

    nb = nbformat.read(source, as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: markers.answer(c.source) for c in nb.cells
            if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")}


def make_course(root: Path, assignment: str, n: int) -> str:
    """``assignment`` released into ``root`` (gradebook grading/released.db) with ``n``
    correct submissions; returns the notebook's name."""
    from workbook_grading.course import Course
    from workbook_grading.release import release

    shutil.copytree(REPO / "solutions" / assignment, root / "solutions" / assignment)
    (root / "grading").mkdir(parents=True, exist_ok=True)
    (released,) = release([assignment], course=Course(root, f"sqlite:///{root / 'grading' / 'released.db'}"))
    nb = nbformat.read(released, as_version=4)
    solved = answers(root / "solutions" / assignment / released.name)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in solved:
            cell.source = solved[gid]
    for i in range(n):
        d = root / "grading" / "submitted" / f"s{i:03d}" / assignment
        d.mkdir(parents=True)
        nbformat.write(nb, d / released.name)
    # nbgrader reads its configuration from the folder it runs in
    (root / "nbgrader_config.py").write_text(
        "from workbook_grading.config import course_config\n"
        "c = get_config()  # noqa: F821\n"
        f"c.merge(course_config({str(root)!r}, db_url='sqlite:///{root}/grading/nbgrader.db'))\n"
        "c.CourseDirectory.autograded_directory = 'grading/autograded_nbgrader'\n")
    return released.stem


def fresh_db(root: Path, name: str) -> str:
    path = root / "grading" / name
    shutil.copyfile(root / "grading" / "released.db", path)
    return f"sqlite:///{path}"


def full_marks(db_path: Path, assignment: str) -> int:
    """Submissions whose every autograded cell scored its maximum."""
    from nbgrader.api import Gradebook

    from workbook_grading.config import COURSE_ID

    with Gradebook(f"sqlite:///{db_path}", COURSE_ID) as gb:
        return sum(all(g.auto_score == g.max_score for nb in sub.notebooks for g in nb.grades
                       if g.cell.cell_type == "code")
                   for sub in gb.assignment_submissions(assignment))


def flagged(db_path: Path) -> str:
    """What ``workbook autograde`` recorded about the submissions it did not call ok."""
    from workbook_grading.autograde import read_state

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


def writer_rate(root: Path, assignment: str, n: int) -> tuple[float, float]:
    """The command's one gradebook writer alone: (ms of CPU per result, results per
    second) for ``n`` full-mark results of distinct students, into a fresh gradebook."""
    from workbook_grading.autograde import Recorder, assignment_spec
    from workbook_grading.results import Grade, NotebookResult, SubmissionResult

    url = fresh_db(root, "writer.db")
    spec = assignment_spec(root, url, assignment)
    autograded = next((root / "grading" / "submitted").glob(f"*/{assignment}/*.ipynb"))
    notebooks = {nb["name"]: NotebookResult(autograded=autograded.read_bytes(), grades={
        c["name"]: Grade(c["max_score"], False) if c["cell_type"] == "code" else Grade(None, True)
        for c in nb["grade_cells"]}) for nb in spec["notebooks"]}
    results = [SubmissionResult(assignment, f"w{i:04d}", f"{i}", None, notebooks)
               for i in range(n)]  # built before the clock
    recorder = Recorder(root, url)
    try:
        cpu, wall = time.process_time(), time.perf_counter()
        for result in results:
            recorder.record(result)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    finally:
        recorder.close()
    return 1000 * cpu / n, n / wall


SPIN = "s = 0\nfor i in range(20_000_000):\n    s += i"


def machine_scaling(workers: int) -> float:
    """The machine's own ceiling: the throughput of ``workers`` CPU-bound Python processes
    at once, relative to one alone (2.0 on two real cores)."""
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


def bench_assignment(assignment: str, args, env: dict) -> dict[str, float]:
    """Seconds per submission of each run on ``assignment``."""
    n = args.submissions
    root = HERE / "build" / "grade" / assignment
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    make_course(root, assignment, n)
    per: dict[str, float] = {}
    runs: list[tuple[str, list[str], Path, str]] = []
    if not args.skip_nbgrader:
        runs.append(("nbgrader", [str(BIN / "nbgrader"), "autograde", assignment, "--force"],
                     root, "nbgrader.db"))
    for w in args.workers:
        runs.append((f"workbook {w}", [], HERE, f"workbook{w}.db"))
    if args.sandbox_cost:
        runs.append(("workbook 2 unsandboxed", ["--unsandboxed"], HERE, "unsandboxed.db"))
    for name, cmd, cwd, db in runs:
        url = fresh_db(root, db)
        if name != "nbgrader":
            workers = name.split()[1]
            cmd = [str(BIN / "workbook"), "autograde", assignment, "--root", str(root),
                   "--db-url", url, "--workers", workers, "--force", "--no-progress", *cmd]
        seconds = timed(cmd, cwd, env)
        got = full_marks(root / "grading" / db, assignment)
        assert got == n, (f"{assignment}, {name}: {got} of {n} submissions scored in full\n"
                          + (flagged(root / "grading" / db) if name != "nbgrader" else ""))
        per[name] = seconds / n
        print(f"  {assignment:22s} {name:24s} {seconds:7.1f} s  {seconds / n:6.2f} s/submission",
              flush=True)
    if args.writer:
        ms, rate = writer_rate(root, assignment, 100)
        print(f"  {assignment:22s} the writer alone: {ms:4.1f} ms of CPU per result, "
              f"{rate:4.0f} results/s")
    return per


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assignments", nargs="+",
                        default=sorted(p.name for p in (REPO / "solutions").iterdir()
                                       if p.is_dir()))
    parser.add_argument("--submissions", type=int, default=4)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--sandbox-cost", action="store_true",
                        help="also grade with 2 workers --unsandboxed")
    parser.add_argument("--skip-nbgrader", action="store_true")
    parser.add_argument("--writer", action="store_true",
                        help="also time the gradebook writer alone (100 results)")
    parser.add_argument("--keep", action="store_true", help="keep bench/build/ afterwards")
    args = parser.parse_args(argv)

    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
               WORKBOOK_PROFILE="ci")
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = float("nan")
    print(f"{args.submissions} correct submissions per notebook, graded under the ci profile; "
          f"{os.cpu_count()} cores, load average {load:.1f} at the start")
    table = {a: bench_assignment(a, args, env) for a in args.assignments}

    print("\nratios (higher is faster):")
    missed = []
    for assignment, per in table.items():
        parts = []
        base, one, two = per.get("nbgrader"), per.get("workbook 1"), per.get("workbook 2")
        if base and two:
            parts.append(f"2 workers {base / two:4.2f}x nbgrader")
            if base / two < TARGET:
                missed.append(assignment)
        if base and one:
            parts.append(f"1 worker {base / one:4.2f}x nbgrader")
        if one and two:
            parts.append(f"2 workers {one / two:4.2f}x 1 worker")
        bare = per.get("workbook 2 unsandboxed")
        if bare and two:
            parts.append(f"sandbox + verification cost {two / bare:4.2f}x the unsandboxed time")
        print(f"  {assignment:22s} " + ", ".join(parts))
    if 2 in args.workers and (os.cpu_count() or 1) >= 2:
        print(f"the machine: 2 CPU-bound processes at once do {machine_scaling(2):4.2f}x the "
              "work of one (the ceiling for 2 workers against 1)")
    if not args.skip_nbgrader and 2 in args.workers:
        print(f"target 2 workers >= {TARGET}x nbgrader: "
              + ("met on every notebook" if not missed else f"missed on {', '.join(missed)}"))
    if not args.keep:
        shutil.rmtree(HERE / "build", ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
