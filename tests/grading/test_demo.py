"""The demo class (workbook_grading.demo, `make grade`): built from the solutions, it
collects into one submission per student with the intended defects, and its partly
wrong answers really are wrong while its perfect ones are the solutions."""

import json
import warnings
from datetime import datetime, timezone
from pathlib import Path

import nbformat
import pytest

from tiny_course import ASSIGNMENT, NOTEBOOK, released_course
from workbook_grading.demo import DUE, STUDENTS, class_notebooks, perturbed, solution_code

ROOT = Path(__file__).resolve().parents[2]


def _cells(nb_bytes: bytes) -> dict[str, str]:
    nb = nbformat.reads(nb_bytes.decode(), as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: c.source for c in nb.cells
            if "grade_id" in c.metadata.get("nbgrader", {})}


def _run(code: str, name: str):
    env: dict = {}
    exec(code, env)  # noqa: S102 -- the demo's own generated answer
    return env[name]


def test_demo_class_collects_with_every_defect(tmp_path):
    from nbgrader.api import Gradebook

    from workbook_grading.collect import collect
    from workbook_grading.course import Course
    from workbook_grading.config import COURSE_ID
    from workbook_grading.demo import build_demo

    root = tmp_path / "course"
    root.mkdir()
    released_course(root)
    (zip_path,) = build_demo(root=root, output=tmp_path / "inbox")
    with Gradebook(f"sqlite:///{root / 'grading' / 'gradebook.db'}", COURSE_ID) as gb:
        assert gb.find_assignment(ASSIGNMENT).duedate == DUE.replace(tzinfo=None)
    report = collect(zip_path, course=Course.at(root), assignment=ASSIGNMENT)
    assert not report.unmatched and not report.duplicates
    assert report.unreadable == ["broken_bea/demo.ipynb"]
    submitted = root / "grading" / "submitted"
    assert sorted(p.name for p in submitted.iterdir()) == sorted(STUDENTS)
    for student in STUDENTS:
        stamp = (submitted / student / ASSIGNMENT / "timestamp.txt").read_text().strip()
        when = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f UTC").replace(tzinfo=timezone.utc)
        assert (when > DUE) == (student == "tardy_tess"), (student, stamp)

    def cells(student):
        return _cells((submitted / student / ASSIGNMENT / f"{NOTEBOOK}.ipynb").read_bytes())

    assert _run(cells("perfect_ada")["ex-add"], "add")(2, 3) == 5
    assert "NotImplementedError" in cells("blank_bo")["ex-add"]
    wrong = [_run(cells(s)["ex-add"], "add")(2, 3) != 5 or _run(cells(s)["ex-double"], "double")(4) != 8
             for s in ("wrong_wu", "wrong_wei", "wrong_wanda")]
    assert all(wrong)
    assert _run(cells("wrong_wu")["ex-add"], "add")(2, 3) != 5
    assert _run(cells("wrong_wei")["ex-double"], "double")(4) != 8
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert _run(cells("warn_wim")["ex-add"], "add")(2, 3) == 5
    assert caught
    with pytest.raises(ValueError):
        _run(cells("exc_ezra")["ex-double"], "double")(4)
    assert "os._exit(1)" in cells("exit_eve")["ex-double"]
    assert "except KeyboardInterrupt" in cells("loop_lou")["ex-double"]
    assert "50_000_000" in cells("huge_hu")["ex-add"]
    assert "test-add" not in cells("tamper_tom")


@pytest.mark.parametrize("src", sorted(ROOT.glob("solutions/*/*.ipynb")),
                         ids=lambda p: p.parent.name)
def test_demo_answers_for_the_real_notebooks(src):
    released_path = ROOT / "notebooks" / src.parent.name / src.name
    if not released_path.is_file():
        pytest.skip(f"{released_path} not released yet (make release)")
    released = nbformat.read(released_path, as_version=4)
    solution = nbformat.read(src, as_version=4)
    made = class_notebooks(released, solution)
    assert set(made) == set(STUDENTS)
    sol = {c.metadata["nbgrader"]["grade_id"]: solution_code(c.source) for c in solution.cells
           if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")}
    perfect = _cells(made["perfect_ada"][1])
    for gid, code in sol.items():
        assert perfect[gid] == code and "SOLUTION" not in code
    blank = _cells(made["blank_bo"][1])
    assert all("raise NotImplementedError()" in blank[g] for g in sol)
    for student in ("wrong_wu", "wrong_wei", "wrong_wanda"):
        cells = _cells(made[student][1])
        assert any(cells[g] != sol[g] for g in sol), student
        compile("\n".join(cells[g] for g in sol), student, "exec")   # still valid Python
    with pytest.raises(json.JSONDecodeError):
        json.loads(made["broken_bea"][1])
    assert made["tardy_tess"][2] is True


def test_perturbation_changes_results_but_keeps_other_functions():
    code = _run(perturbed("import numpy as np\ndef f(x):\n    return np.asarray(x) * 2\n"
                          "def g(x):\n    return x + 1"), "f")
    assert code([1.0, 2.0]).tolist() != [2.0, 4.0]
    pair = _run(perturbed("def h(a):\n    return a, 'label'"), "h")
    assert pair(1.0) == (1.0 * 0.9 + 0.1, "label")


def test_make_grade_builds_the_demo_class(tmp_path):
    """`make grade`'s first step, as the Makefile runs it: release and a class of zips."""
    import subprocess
    import sys

    course = tmp_path / "course"
    run = subprocess.run([sys.executable, str(ROOT / "grading" / "demo" / "make_demo_class.py"),
                          "--course", str(course), "01_neurons"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    assert (course / "notebooks" / "01_neurons" / "neurons.ipynb").is_file()
    assert (course / "inbox" / "01_neurons.zip").is_file()
