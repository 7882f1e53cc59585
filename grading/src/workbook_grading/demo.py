"""A synthetic class, built from the solution notebooks, to exercise the whole grading chain.

``build_demo(root)`` writes ``<output>/<assignment>.zip`` for every released assignment
of the course at ``root`` -- an LMS-style download that ``workbook collect`` imports --
and sets the assignment's due date in the gradebook (``DUE``). The students (one folder
each, except where the layout itself is the point):

==================  =========================================================  ==========
student             submission                                                 expected
==================  =========================================================  ==========
perfect_ada         every exercise answered with the solution                  ok, full
perfect_alan        the same, flat layout ``perfect_alan_<notebook>.ipynb``    ok, full
blank_bo            the release as handed out                                  ok, 0 code
wrong_wu            every other exercise (1st, 3rd, ...) returns a perturbed   ok, partial
                    value (the solution wrapped: arrays x 0.9 + 0.1)
wrong_wei           the same for the 2nd, 4th, ... exercise                    ok, partial
wrong_wanda         a pseudo-random third of the exercises perturbed           ok, partial
tardy_tess          perfect, handed in after the due date                      late
loop_lou            perfect, plus an infinite loop that ignores interrupts     timeout
                    at the end of the last exercise cell
exit_eve            perfect, plus ``os._exit(1)`` in the 2nd exercise cell     kernel-died
huge_hu             perfect, plus one 50 MB line printed in the 1st exercise   ok
warn_wim            perfect, the 1st exercise warns on stderr at every call    ok, full
exc_ezra            the 2nd exercise raises ValueError                         ok, partial
broken_bea          truncated JSON                                             invalid
renamed_rex         perfect, handed in as ``<Notebook> (1).ipynb``             ok, full
tamper_tom          perfect, the first test cell deleted (restored)            ok, full
==================  =========================================================  ==========

Code answers come from ``solutions/`` (the ``BEGIN SOLUTION``/``END SOLUTION`` markers
dropped) pasted into the released notebook's exercise cells, so tests, hidden tests and
markdown are exactly what students get. Perturbations wrap the exercise's first
function rather than editing its body, so they work for any exercise. Students who
answer also write ``WRITTEN`` in every written answer (the blank one leaves the
placeholder, which ``workbook autograde`` scores 0 and flags).
"""

from __future__ import annotations

import ast
import io
import json
import random
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import nbformat

from workbook_grading import markers
from workbook_grading.config import COURSE_ID, course_config, repo_root

DUE = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)
ON_TIME = DUE - timedelta(days=2)   # zip dates are local times: stay days away from DUE
LATE = DUE + timedelta(days=3)

STUDENTS = ("perfect_ada", "perfect_alan", "blank_bo", "wrong_wu", "wrong_wei", "wrong_wanda",
            "tardy_tess", "loop_lou", "exit_eve", "huge_hu", "warn_wim", "exc_ezra",
            "broken_bea", "renamed_rex", "tamper_tom")

PERTURB = '''
def _demo_perturb(v):
    import numpy as _np
    if isinstance(v, tuple) and v:
        return (_demo_perturb(v[0]),) + v[1:]
    if isinstance(v, list) and v:
        return [_demo_perturb(v[0])] + v[1:]
    if isinstance(v, dict):
        return {k: _demo_perturb(x) for k, x in v.items()}
    if isinstance(v, (int, float, _np.ndarray, _np.generic)) and not isinstance(v, bool):
        return _np.asarray(v) * 0.9 + 0.1 if isinstance(v, _np.ndarray) else v * 0.9 + 0.1
    return v
'''
LOOP = ('\nimport time as _time\nwhile True:  # ignores the grader\'s interrupt\n    try:\n'
        '        _time.sleep(0.01)\n    except KeyboardInterrupt:\n        pass\n')
EXIT = "\nimport os as _os\n_os._exit(1)\n"
HUGE = "\nprint('x' * 50_000_000)  # one 50 MB line\n"
# every written answer of a student who answers (the blank one leaves the placeholder)
WRITTEN = ("A demo answer: the few lines of reasoning a student would write, for a person "
           "to grade against the mark scheme in the formgrader.")


class DemoError(RuntimeError):
    """The course is not ready for a demo class (not released, ...)."""


def solution_code(source: str) -> str:
    """A solution cell's code as a student who got it right would hand it in."""
    return markers.answer(source)


def first_function(code: str) -> str | None:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            return node.name
    return None


def wrap(code: str, body: str, prelude: str = "") -> str:
    """``code`` whose first function ``f`` is replaced by ``def f(*a, **k): <body>`` with
    the original reachable as ``_demo_orig_f``."""
    name = first_function(code)
    if name is None:
        return code
    inner = f"_demo_orig_{name}"
    return (f"{code}\n{prelude}\n{inner} = {name}\n\ndef {name}(*args, **kwargs):\n"
            + "".join(f"    {line}\n" for line in body.format(f=inner).splitlines()))


def perturbed(code: str) -> str:
    return wrap(code, "return _demo_perturb({f}(*args, **kwargs))", PERTURB)


def _exercises(nb) -> list[str]:
    return [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if c.cell_type == "code"
            and c.metadata.get("nbgrader", {}).get("solution")]


def _answered(released, solutions: dict[str, str], change: dict | None = None,
              answer: bool = True):
    """The released notebook with every exercise answered (``answer``), then
    ``change[grade_id](code) -> code`` applied."""
    nb = nbformat.from_dict(json.loads(json.dumps(released)))
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution"):
            code = solutions.get(gid, cell.source) if answer else cell.source
            if change and gid in change:
                code = change[gid](code)
            cell.source = code
        elif answer and markers.is_written_answer(cell):
            cell.source = WRITTEN
    return nb


def class_notebooks(released, solution) -> dict[str, tuple[str, bytes, bool]]:
    """{student: (file name inside their folder, bytes, late)} for one notebook."""
    solutions = {c.metadata["nbgrader"]["grade_id"]: solution_code(c.source)
                 for c in solution.cells if c.cell_type == "code"
                 and c.metadata.get("nbgrader", {}).get("solution")}
    ex = _exercises(released)
    first, second, last = ex[0], ex[min(1, len(ex) - 1)], ex[-1]
    rng = random.Random(len(ex))
    third = set(rng.sample(ex, max(1, len(ex) // 3)))

    def dump(nb) -> bytes:
        return nbformat.writes(nb).encode("utf-8")

    def deleted_test(nb):
        for cell in nb.cells:
            if cell.metadata.get("nbgrader", {}).get("grade"):
                nb.cells.remove(cell)
                break
        return nb

    perfect = dump(_answered(released, solutions))
    return {
        "perfect_ada": (None, perfect, False),
        "perfect_alan": ("flat", perfect, False),
        "blank_bo": (None, dump(_answered(released, solutions, answer=False)), False),
        "wrong_wu": (None, dump(_answered(released, solutions, {
            g: perturbed for g in ex[0::2]})), False),
        "wrong_wei": (None, dump(_answered(released, solutions, {
            g: perturbed for g in ex[1::2]})), False),
        "wrong_wanda": (None, dump(_answered(released, solutions, {
            g: perturbed for g in third})), False),
        "tardy_tess": (None, perfect, True),
        "loop_lou": (None, dump(_answered(released, solutions, {last: lambda c: c + LOOP})),
                     False),
        "exit_eve": (None, dump(_answered(released, solutions, {second: lambda c: c + EXIT})),
                     False),
        "huge_hu": (None, dump(_answered(released, solutions, {first: lambda c: c + HUGE})),
                    False),
        "warn_wim": (None, dump(_answered(released, solutions, {first: lambda c: wrap(
            c, "import warnings\nwarnings.warn('demo: a harmless warning')\n"
               "return {f}(*args, **kwargs)")})), False),
        "exc_ezra": (None, dump(_answered(released, solutions, {second: lambda c: wrap(
            c, "raise ValueError('demo: this answer raises')")})), False),
        "broken_bea": (None, perfect[: len(perfect) * 3 // 5], False),
        "renamed_rex": ("renamed", perfect, False),
        "tamper_tom": (None, dump(deleted_test(_answered(released, solutions))), False),
    }


def _zip_date(when: datetime) -> tuple:
    local = when.astimezone()  # collect reads zip dates as local time
    return (local.year, local.month, local.day, local.hour, local.minute, local.second)


def build_demo(*, root: Path | None = None, output: Path | None = None,
               assignments: list[str] | None = None, db_url: str | None = None) -> list[Path]:
    """Write one ``<assignment>.zip`` per released assignment; set each due date."""
    from nbgrader.api import Gradebook

    from workbook_grading.autograde import ensure_in_gradebook
    from workbook_grading.release import assignments as all_assignments

    root = Path(root) if root is not None else repo_root()
    db_url = db_url or course_config(root).CourseDirectory.db_url
    output = Path(output) if output is not None else root / "grading" / "demo" / "build" / "inbox"
    names = assignments or all_assignments(root)
    written = []
    for name in names:
        sources = sorted((root / "solutions" / name).glob("*.ipynb"))
        if not sources:
            raise DemoError(f"no notebooks in {root / 'solutions' / name}")
        ensure_in_gradebook(root, db_url, name)
        with Gradebook(db_url, COURSE_ID) as gb:
            gb.update_or_create_assignment(name, duedate=DUE.replace(tzinfo=None))
        output.mkdir(parents=True, exist_ok=True)
        target = output / f"{name}.zip"
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for src in sources:
                released_path = root / "notebooks" / name / src.name
                if not released_path.is_file():
                    raise DemoError(f"{released_path} is missing: run `workbook release` "
                                    f"for this course first")
                released = nbformat.read(released_path, as_version=4)
                solution = nbformat.read(src, as_version=4)
                stem = src.stem
                for i, (student, (layout, data, late)) in enumerate(
                        class_notebooks(released, solution).items()):
                    if layout == "flat":
                        entry = f"{student}_{stem}.ipynb"
                    elif layout == "renamed":
                        entry = f"{student}/{stem.capitalize()} (1).ipynb"
                    else:
                        entry = f"{student}/{stem}.ipynb"
                    when = LATE if late else ON_TIME + timedelta(minutes=7 * i)
                    info = zipfile.ZipInfo(entry, date_time=_zip_date(when))
                    info.compress_type = zipfile.ZIP_DEFLATED
                    zf.writestr(info, data)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_bytes(buf.getvalue())
        tmp.replace(target)
        written.append(target)
    return written
