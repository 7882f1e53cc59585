"""Generate the student notebooks from solutions/ with nbgrader, then verify them.

nbgrader strips the solutions, hidden tests and mark schemes and clears outputs; the
verification afterwards makes sure nothing an instructor wrote leaked into the release.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat

from workbook_grading import markers
from workbook_grading.course import Course
from workbook_grading.config import course_config, prepare_gradebook, repo_root

# Text that must never reach a student.
FORBIDDEN_MARKERS = markers.ALL_MARKERS


class ReleaseError(RuntimeError):
    """nbgrader failed, or the generated release is not fit for students."""


def assignments(root: Path | None = None) -> list[str]:
    """Assignment ids, one per folder of solutions/ holding a notebook (``01_neurons``...)."""
    root = root or repo_root()
    return sorted(p.name for p in (root / "solutions").iterdir()
                  if p.is_dir() and any(p.glob("*.ipynb")))


def release(names: list[str] | None = None, *, course: Course | None = None,
            release_directory: str | os.PathLike = "notebooks") -> list[Path]:
    """Run nbgrader's generate_assignment (with --force) and verify each release.

    Returns the released notebook paths. ``release_directory`` may be absolute (tests
    generate into a temporary folder to compare with the committed one).
    """
    from nbgrader.apps import NbGraderAPI

    course = course or Course.at()
    root = course.root
    names = names or assignments(root)
    unknown = sorted(set(names) - set(assignments(root)))
    if unknown:
        raise ReleaseError(f"no such assignment(s) in solutions/: {', '.join(unknown)}; "
                           f"available: {', '.join(assignments(root))}")
    config = course_config(root, db_url=course.db_url, release_directory=str(release_directory))
    prepare_gradebook(config.CourseDirectory.db_url)
    api = NbGraderAPI(config=config)
    released = []
    for name in names:
        result = api.generate_assignment(name, force=True, create=True)
        if not result["success"]:
            raise ReleaseError(f"nbgrader could not release {name}:\n{result['log']}\n"
                               f"{result.get('error', '')}")
        out_dir = Path(root, release_directory, name)
        for src in sorted((root / "solutions" / name).glob("*.ipynb")):
            dest = out_dir / src.name
            problems = verify_release(dest)
            if problems:
                raise ReleaseError(f"{dest} is not fit for students:\n  " + "\n  ".join(problems))
            released.append(dest)
    return released


def verify_release(path: Path) -> list[str]:
    """Problems with a released notebook: leaked markers, outputs left in, no stubs."""
    if not path.is_file():
        return [f"{path} was not generated"]
    nb = nbformat.read(path, as_version=4)
    problems = []
    stubs = 0
    for i, cell in enumerate(nb.cells):
        for marker in FORBIDDEN_MARKERS:
            if marker in cell.source:
                problems.append(f"cell {i}: contains '{marker}'")
        if cell.cell_type == "code":
            if cell.outputs or cell.execution_count:
                problems.append(f"cell {i}: outputs were not cleared")
            nbg = cell.metadata.get("nbgrader", {})
            if nbg.get("solution") and "raise NotImplementedError()" in cell.source:
                stubs += 1
    if stubs == 0:
        problems.append("no exercise stubs (raise NotImplementedError()) found")
    return problems
