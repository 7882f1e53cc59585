"""The ``workbook`` command: the instructor's side of the course.

    workbook release [ASSIGNMENT ...]          regenerate notebooks/ from solutions/ (nbgrader)
    workbook collect PATH [--assignment A]     import an LMS download (folder or .zip) into
                                               grading/submitted/<student>/<assignment>/
    workbook autograde [ASSIGNMENT ...]        grade new or changed submissions in parallel
                                               (local Dask cluster, or --scheduler ADDRESS)
    workbook export [--output FILE]            grades as CSV: student x notebook, per cell;
                                               --format lms --lms canvas|moodle: LMS import
    workbook feedback [ASSIGNMENT ...]         per-student HTML: points and messages per test
                                               (no hidden test, no mark scheme); --zip:
                                               one archive per student
    workbook report                            grading/reports/index.html: score
                                               distributions, pass rate per test, timings,
                                               flagged submissions
    workbook formgrader [--port N]             nbgrader's formgrader on the course (manual
                                               grading of written answers), on 127.0.0.1
    workbook demo                              a synthetic class (LMS-style .zip per
                                               assignment) built from solutions/

Every command works on the checkout (or --root, or $WORKBOOK_ROOT) and passes nbgrader its
configuration explicitly, so it can run from any folder. Exit status: 0 when the command
completed -- whatever the submissions contained, problems are listed at the end -- and
non-zero only when the grader itself could not run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _root(args: argparse.Namespace) -> Path:
    from workbook_grading.config import repo_root

    return Path(args.root).resolve() if getattr(args, "root", None) else repo_root()


def _release(args: argparse.Namespace) -> int:
    from workbook_grading.release import ReleaseError, release

    try:
        paths = release(args.assignments or None,
                        root=Path(args.root).resolve() if args.root else None)
    except ReleaseError as err:
        print(f"workbook release: {err}", file=sys.stderr)
        return 1
    for path in paths:
        print(f"released {path}")
    return 0


def _collect(args: argparse.Namespace) -> int:
    from workbook_grading.collect import CollectError, collect

    try:
        report = collect(Path(args.path), root=_root(args), assignment=args.assignment,
                         dry_run=args.dry_run)
    except CollectError as err:
        print(f"workbook collect: {err}", file=sys.stderr)
        return 1
    print(report.describe())
    return 0


def _autograde(args: argparse.Namespace) -> int:
    from workbook_grading.autograde import GradingError, autograde
    from workbook_grading.limits import Limits

    limits = Limits(cell_timeout=args.cell_timeout, wall_time=args.wall_time,
                    memory_mb=args.memory_mb, max_output_bytes=args.max_output_bytes,
                    sandbox=not args.unsandboxed)
    if args.warm_kernels is not None:
        print("workbook autograde: --warm-kernels/--no-warm-kernels no longer do anything: "
              "every kernel starts from scratch (in its sandbox)", file=sys.stderr)
    try:
        summary = autograde(args.assignments or None, root=_root(args), db_url=args.db_url,
                            workers=args.workers, scheduler=args.scheduler, limits=limits,
                            force=args.force, students=args.student or None,
                            progress=not args.no_progress)
    except GradingError as err:
        print(f"workbook autograde: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # while starting (an interrupt while grading ends in summary)
        print("workbook autograde: interrupted before any grade was recorded",
              file=sys.stderr)
        return 130
    print(summary.report())
    return 130 if summary.interrupted else 0  # 130: the shell's code for Ctrl-C


def _course(args: argparse.Namespace):
    from workbook_grading.course import Course

    return Course.at(_root(args), db_url=getattr(args, "db_url", None))


def _export(args: argparse.Namespace) -> int:
    from workbook_grading.export import export, export_lms

    course = _course(args)
    if args.format == "lms" or (args.format is None and args.lms):
        lms = args.lms or "canvas"
        output = (Path(args.output) if args.output
                  else course.exports / f"grades-{lms}.csv")
        students, blank = export_lms(output, course, lms, per_question=args.per_question,
                                     assignments=args.assignment or None)
        print(f"wrote {students} student(s) to {output} ({lms} grade import)")
        if blank:
            print(f"{blank} assignment total(s) left blank: written answers await manual "
                  "grading (the import leaves those grades alone)")
        return 0
    output = Path(args.output) if args.output else course.exports / "grades.csv"
    rows = export(output, course, assignments=args.assignment or None)
    print(f"wrote {rows} row(s) to {output}")
    return 0


def _feedback(args: argparse.Namespace) -> int:
    from workbook_grading.feedback import FeedbackError, generate_feedback, zip_per_student

    course = _course(args)
    where = Path(args.output) if args.output else course.feedback
    try:
        paths = generate_feedback(course, args.assignments or None,
                                  students=args.student or None, output=where)
    except FeedbackError as err:
        print(f"workbook feedback: {err}", file=sys.stderr)
        return 1
    print(f"wrote {len(paths)} feedback page(s) under {where}")
    if args.zip:
        archives = zip_per_student(paths, where)
        print(f"wrote {len(archives)} archive(s), one per student: {where}/<student>.zip")
    return 0


def _report(args: argparse.Namespace) -> int:
    from workbook_grading.report import report

    out = report(_course(args), output=Path(args.output) if args.output else None,
                 feedback=Path(args.feedback) if args.feedback else None)
    print(f"wrote {out}")
    return 0


def _formgrader(args: argparse.Namespace) -> int:
    from workbook_grading.formgrader import FormgraderError, serve

    try:
        return serve(_root(args), port=args.port, open_browser=not args.no_browser)
    except FormgraderError as err:
        print(f"workbook formgrader: {err}", file=sys.stderr)
        return 1


def _demo(args: argparse.Namespace) -> int:
    from workbook_grading.demo import DemoError, build_demo

    try:
        zips = build_demo(root=_root(args), output=Path(args.output) if args.output else None,
                          assignments=args.assignments or None, db_url=args.db_url)
    except DemoError as err:
        print(f"workbook demo: {err}", file=sys.stderr)
        return 1
    for path in zips:
        print(f"wrote {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="workbook", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name, help, func):
        p = sub.add_parser(name, help=help, description=help)
        p.add_argument("--root", help="the course checkout (default: this checkout, "
                                      "or $WORKBOOK_ROOT)")
        p.set_defaults(func=func)
        return p

    p = add("release", "regenerate notebooks/ from solutions/ with nbgrader", _release)
    p.add_argument("assignments", nargs="*", help="assignment ids (default: all)")

    p = add("collect", "import submissions from a folder or .zip (an LMS download)", _collect)
    p.add_argument("path", help="folder or .zip of files named per student")
    p.add_argument("--assignment", help="the assignment they belong to (default: guessed "
                                        "from the notebook names)")
    p.add_argument("--dry-run", action="store_true", help="report only, copy nothing")

    p = add("autograde", "grade new or changed submissions in parallel (resumable)",
            _autograde)
    p.add_argument("assignments", nargs="*", help="assignment ids (default: every one "
                                                  "with submissions)")
    p.add_argument("--workers", type=int, default=None,
                   help="local worker processes (default: the number of cores)")
    p.add_argument("--scheduler", help="address of an existing Dask scheduler "
                                       "(e.g. tcp://host:8786) instead of a local cluster")
    p.add_argument("--student", action="append", help="only this student (repeatable)")
    p.add_argument("--force", action="store_true", help="regrade even unchanged submissions")
    p.add_argument("--cell-timeout", type=int, default=120, help="seconds per cell (120)")
    p.add_argument("--wall-time", type=int, default=900,
                   help="seconds per notebook, re-runs included (900)")
    p.add_argument("--memory-mb", type=int, default=4096,
                   help="address-space cap of each kernel in MiB, 0 for none (4096)")
    p.add_argument("--max-output-bytes", type=int, default=100_000,
                   help="output kept per cell, in bytes (100000)")
    p.add_argument("--unsandboxed", action="store_true",
                   help="run student code WITHOUT the bubblewrap sandbox, with your rights "
                        "(it can then read solutions/ and rewrite grades); every result and "
                        "report says so. Only for machines without bubblewrap")
    p.add_argument("--warm-kernels", action=argparse.BooleanOptionalAction, default=None,
                   help="no longer does anything (kernels forked from a warm process could "
                        "not be sandboxed); accepted so that old scripts still run")
    p.add_argument("--db-url", help="nbgrader gradebook URL (default: "
                                    "sqlite:///<root>/grading/gradebook.db)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    p = add("export", "write the grades as CSV: detailed (one row per student x notebook) "
                      "or an LMS grade import (one row per student)", _export)
    p.add_argument("--output", "-o", help="CSV file (default: grading/exports/grades.csv, "
                                          "or grades-<lms>.csv)")
    p.add_argument("--format", choices=["detailed", "lms"], default=None,
                   help="detailed: every cell, status and detail (default); lms: one row "
                        "per student, one column per assignment, for --lms")
    p.add_argument("--lms", choices=["canvas", "moodle"],
                   help="the grade import layout of --format lms (default canvas); "
                        "implies --format lms")
    p.add_argument("--per-question", action="store_true",
                   help="with --format lms: also one column per graded cell")
    p.add_argument("--assignment", action="append", help="only this assignment (repeatable)")
    p.add_argument("--db-url", help="nbgrader gradebook URL")

    p = add("feedback", "per-student HTML feedback: points and messages per test "
                        "(hidden tests and mark schemes never shown)", _feedback)
    p.add_argument("assignments", nargs="*", help="assignment ids (default: all)")
    p.add_argument("--student", action="append", help="only this student (repeatable)")
    p.add_argument("--output", "-o", help="folder (default: grading/feedback)")
    p.add_argument("--zip", action="store_true",
                   help="also one archive per student: <folder>/<student>.zip")
    p.add_argument("--db-url", help="nbgrader gradebook URL")

    p = add("report", "an HTML report with plots: scores, pass rate per test, grading "
                      "time, flagged submissions", _report)
    p.add_argument("--output", "-o", help="folder (default: grading/reports)")
    p.add_argument("--feedback", help="the feedback folder its roster links to "
                                      "(default: grading/feedback)")
    p.add_argument("--db-url", help="nbgrader gradebook URL")

    p = add("formgrader", "nbgrader's formgrader on the course, to grade written answers "
                          "(JupyterLab on 127.0.0.1 with a token; prints the URL)", _formgrader)
    p.add_argument("--port", type=int, default=None, help="port (default: a free one)")
    p.add_argument("--no-browser", action="store_true", help="only print the URL")

    p = add("demo", "build a synthetic class from solutions/ (perfect, blank, wrong, late "
                    "and bad submissions) as one LMS-style .zip per assignment; sets a "
                    "due date in the gradebook", _demo)
    p.add_argument("assignments", nargs="*", help="assignment ids (default: all)")
    p.add_argument("--output", "-o", help="folder for the .zip files "
                                          "(default: grading/demo/build/inbox)")
    p.add_argument("--db-url", help="nbgrader gradebook URL")
    return parser


def main(argv: list[str] | None = None) -> int:
    if argv is None:  # the command itself (not a caller's process)
        from workbook_grading import skip_slow_iri_checker

        skip_slow_iri_checker()
    args = build_parser().parse_args(argv)
    code = args.func(args)
    if argv is None:  # the command, about to exit: the interpreter's last garbage
        import gc     # collection would walk the whole heap (0.4 s after grading)

        gc.freeze()
    return code


if __name__ == "__main__":
    sys.exit(main())
