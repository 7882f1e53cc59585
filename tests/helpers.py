"""What several test folders share (importable because pytest puts tests/ on sys.path)."""

from __future__ import annotations

from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]

# Printed at the end of the run by the root conftest.py (which also gathers them from
# pytest-xdist's workers): seconds spent executing each notebook ("slowest notebooks"), and
# more sections, title -> lines (e.g. the browser tests' seconds per step).
NOTEBOOK_SECONDS: dict[str, float] = {}
SUMMARY_SECTIONS: dict[str, list[str]] = {}


def record_notebook_time(label: str, seconds: float) -> None:
    NOTEBOOK_SECONDS[label] = NOTEBOOK_SECONDS.get(label, 0.0) + seconds


def load_bench(name: str):
    """bench/<name>.py imported as a module (the scripts are not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def assignments() -> list[str]:
    """Assignment ids with a source notebook: ``['01_neurons', '02_backprop', ...]``."""
    return sorted(p.name for p in (ROOT / "solutions").iterdir()
                  if p.is_dir() and any(p.glob("*.ipynb")))


def strip_solution_markers(source: str) -> str:
    from workbook_grading import markers

    return markers.answer(source)


def cells_by_id(nb) -> dict[str, nbformat.NotebookNode]:
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells
            if "grade_id" in c.metadata.get("nbgrader", {})}


def fill_submission(released, source, replacements: dict[str, str] | None = None):
    """The release with every exercise answered by the solution, then ``replacements``."""
    nb = nbformat.from_dict(released)
    solutions = cells_by_id(source)
    replacements = dict(replacements or {})
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if not meta.get("solution") or cell.cell_type != "code":
            continue
        grade_id = meta["grade_id"]
        if grade_id in replacements:
            cell.source = replacements.pop(grade_id)
        else:
            cell.source = strip_solution_markers(solutions[grade_id].source)
    if replacements:
        raise KeyError(f"no exercise cell(s) {sorted(replacements)} in the notebook")
    return nb
