"""The ``workbook`` command: the instructor's side of the course.

    workbook release [ASSIGNMENT ...]   regenerate notebooks/ from solutions/ (nbgrader)
"""

from __future__ import annotations

import argparse
import sys


def _release(args: argparse.Namespace) -> int:
    from workbook.grading.release import ReleaseError, release

    try:
        paths = release(args.assignments or None)
    except ReleaseError as err:
        print(f"workbook release: {err}", file=sys.stderr)
        return 1
    for path in paths:
        print(f"released {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="workbook", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("release", help="regenerate notebooks/ from solutions/ with nbgrader")
    p.add_argument("assignments", nargs="*", help="assignment ids (default: all)")
    p.set_defaults(func=_release)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
