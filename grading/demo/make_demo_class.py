"""Set up the demo course for `make grade`: a scratch course (default
grading/demo/build/course, git-ignored) with a copy of solutions/, released there with
nbgrader (its own notebooks/ and gradebook; the checkout's are left alone), and the
synthetic class of workbook_grading.demo written as one LMS-style .zip per assignment
into <course>/inbox/.

    python grading/demo/make_demo_class.py [--course DIR] [ASSIGNMENT ...]

Then (what `make grade` runs):

    workbook collect DIR/inbox/01_neurons.zip --assignment 01_neurons --root DIR
    workbook autograde --root DIR
    workbook feedback --root DIR; workbook export --root DIR; workbook report --root DIR
"""

import argparse
import shutil
import sys
from pathlib import Path

from workbook_grading.course import Course
from workbook_grading.config import repo_root
from workbook_grading.demo import STUDENTS, build_demo
from workbook_grading.release import release


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("assignments", nargs="*", help="assignment ids (default: all)")
    parser.add_argument("--course", default=None, help="scratch course folder (replaced)")
    args = parser.parse_args(argv)
    checkout = repo_root()
    course = Path(args.course or checkout / "grading" / "demo" / "build" / "course").resolve()
    if course == checkout or checkout in course.parents and course.parent == checkout:
        print(f"refusing to replace {course}", file=sys.stderr)
        return 2
    shutil.rmtree(course, ignore_errors=True)
    (course / "grading").mkdir(parents=True)
    shutil.copytree(checkout / "solutions", course / "solutions",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    for path in release(args.assignments or None, course=Course.at(course)):
        print(f"released {path}")
    for path in build_demo(root=course, output=course / "inbox",
                           assignments=args.assignments or None):
        print(f"wrote {path} ({len(STUDENTS)} students)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
