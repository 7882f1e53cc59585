"""Written answers graded by hand: unanswered ones flagged by ``workbook autograde``, the
formgrader started by ``workbook formgrader`` on any course, feedback without the mark
scheme. One tiny course (tests/written_course.py), graded once for the module."""

from __future__ import annotations

import csv
import json
import urllib.error
import urllib.request

import pytest

import written_course as wc
from helpers import ROOT
from workbook_grading import markers

STUDENTS = {
    "good": lambda r: wc.answered(r),
    "placeholder": lambda r: wc.answered(r, None),
    "emptied": lambda r: wc.answered(r, " \n\n"),
    "deleted": lambda r: wc.answered(r, delete_answer=True),
    "broken": '{"cells": [',  # not a notebook: nothing for the formgrader to show
}


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("written") / "course"
    wc.graded_written_course(root, STUDENTS)
    return root


def _written_grades(root) -> dict[str, tuple]:
    """{student: (auto_score, manual_score, needs_manual_grade, comment)} of the answer."""
    from nbgrader.api import Gradebook

    from workbook_grading.config import COURSE_ID

    out = {}
    with Gradebook(f"sqlite:///{root / 'grading' / 'gradebook.db'}", COURSE_ID) as gb:
        for sub in gb.assignment_submissions(wc.ASSIGNMENT):
            (nb,) = sub.notebooks
            (g,) = [g for g in nb.grades if g.name == wc.ANSWER]
            (c,) = [c for c in nb.comments if c.name == wc.ANSWER]
            out[sub.student.id] = (g.auto_score, g.manual_score, g.needs_manual_grade,
                                   c.comment)
    return out


@pytest.mark.parametrize("source, why", [
    ("*Write your answer here.*", markers.NO_ANSWER_PLACEHOLDER),
    ("  *Write your\nanswer here.*  \n", markers.NO_ANSWER_PLACEHOLDER),
    ("", markers.NO_ANSWER_EMPTY),
    (" \n\t", markers.NO_ANSWER_EMPTY),
    (None, markers.NO_ANSWER_EMPTY),
    ("This cell (id:written-x) was missing from the submission. It was added back by "
     "nbgrader.\n\n*Write your answer here.*", markers.NO_ANSWER_DELETED),
    ("This cell (id:written-x) was missing from the submission. It was added back by "
     "nbgrader.\n\nBecause the sum.", None),
    ("Write your answer here: it is the sum.", None),
    ("*Write your answer here.* The sum.", None),
    ("x", None),
])
def test_unanswered(source, why):
    assert markers.unanswered(source) == why
    assert markers.is_unanswered(source) == (why is not None)


def test_autograde_flags_unanswered_written_answers(course):
    grades = _written_grades(course)
    assert grades["good"] == (None, None, True, None)  # waits for a person
    assert grades["placeholder"] == (0.0, None, False, markers.NO_ANSWER_PLACEHOLDER)
    assert grades["emptied"] == (0.0, None, False, markers.NO_ANSWER_EMPTY)
    assert grades["deleted"] == (0.0, None, False, markers.NO_ANSWER_DELETED)
    assert grades["broken"][2] is True  # nothing graded: the report flags it instead


def test_export_shows_written_scores_and_what_waits(course, tmp_path):
    out = tmp_path / "grades.csv"
    run = wc.workbook("export", "--output", str(out), root=course)
    assert run.returncode == 0, run.stderr
    with open(out, newline="") as fh:
        rows = {r["student"]: r for r in csv.DictReader(fh)}
    assert rows["good"][wc.ANSWER] == "" and rows["good"]["needs_manual_grade"] == "1"
    for student in ("placeholder", "emptied", "deleted"):
        assert float(rows[student][wc.ANSWER]) == 0, student
        assert rows[student]["needs_manual_grade"] == "0", student
    assert rows["broken"]["status"] == "invalid-notebook"


def test_feedback_shows_the_answer_never_the_mark_scheme(course, tmp_path):
    run = wc.workbook("feedback", "--output", str(tmp_path), root=course)
    assert run.returncode == 0, run.stdout + run.stderr
    good = (tmp_path / "good" / wc.ASSIGNMENT / f"{wc.NOTEBOOK}.html").read_text()
    assert "<strong>sum</strong>" in good  # the student's answer, rendered
    placeholder = (tmp_path / "placeholder" / wc.ASSIGNMENT / f"{wc.NOTEBOOK}.html").read_text()
    assert "0 / 3 points" in placeholder  # scored, not "awaiting manual grading"
    for page in tmp_path.rglob("*.html"):
        text = page.read_text()
        for secret in (wc.MARK_SCHEME, wc.RUBRIC_LINE, *markers.ALL_MARKERS):
            assert secret not in text, (page, secret)


def test_formgrader_config_is_the_checkouts():
    """Every course gets the checkout's grading/nbgrader_config.py: the formgrader's
    configuration is ``course_config`` of the course it serves."""
    from workbook_grading.formgrader import CONFIG_TEXT

    assert (ROOT / "grading" / "nbgrader_config.py").read_text() == CONFIG_TEXT


def test_formgrader_config_file_gives_course_config(tmp_path):
    from traitlets.config.loader import PyFileConfigLoader

    from workbook_grading.config import course_config
    from workbook_grading.formgrader import ensure_config

    path = ensure_config(tmp_path)
    loaded = PyFileConfigLoader(path.name, str(path.parent)).load_config()
    expected = course_config(tmp_path)
    for section in ("CourseDirectory", "ClearSolutions", "ClearMarkScheme", "Exchange"):
        assert dict(loaded[section]) == dict(expected[section]), section
    assert (tmp_path / "grading" / "exchange").is_dir()
    assert ensure_config(tmp_path).read_text() == path.read_text()  # idempotent


def test_not_in_formgrader_names_the_ungradable(course):
    from workbook_grading.formgrader import not_in_formgrader

    (hidden,) = not_in_formgrader(course)
    assert (hidden.student, hidden.status) == ("broken", "invalid-notebook")
    assert "cannot be read" in hidden.describe()


def test_workbook_formgrader_serves_the_course(course, tmp_path):
    proc, url, lines = wc.start_formgrader(course, tmp_path / "jupyter")
    try:
        assert url.startswith("http://127.0.0.1:") and "/formgrader?token=" in url
        assert any("1 submitted notebook(s) could not be graded" in l for l in lines), lines
        assert any(l.strip().startswith("broken 00_written/written: invalid-notebook")
                   for l in lines), lines
        base, token = url.split("/formgrader?token=")
        (assignment,) = json.loads(wc.get(f"{base}/formgrader/api/assignments?token={token}"))
        assert assignment["name"] == wc.ASSIGNMENT
        assert assignment["num_submissions"] == len(STUDENTS)
        notebooks = json.loads(wc.get(f"{base}/formgrader/api/submitted_notebooks/"
                                    f"{wc.ASSIGNMENT}/{wc.NOTEBOOK}?token={token}"))
        assert len(notebooks) == len(STUDENTS) - 1  # the one the command named
        page = wc.get(f"{base}/formgrader/manage_assignments?token={token}")
        assert "warning-exchange" not in page and "does not exist" not in page
        try:  # without the token: refused, or the login page
            assert wc.ASSIGNMENT not in wc.get(f"{base}/formgrader/api/assignments")
        except urllib.error.HTTPError as err:
            assert err.code in (401, 403)
    finally:
        wc.stop_formgrader(proc, url)


def test_demo_students_answer_the_written_questions_but_the_blank_one(tmp_path):
    import nbformat

    from workbook_grading.demo import WRITTEN, class_notebooks

    released = wc.released_written_course(tmp_path / "course")
    solution = nbformat.read(tmp_path / "course" / "solutions" / wc.ASSIGNMENT
                             / f"{wc.NOTEBOOK}.ipynb", as_version=4)
    for student, (_, data, _) in class_notebooks(nbformat.read(released, as_version=4),
                                                 solution).items():
        if student == "broken_bea":  # truncated JSON
            continue
        nb = nbformat.reads(data.decode(), as_version=4)
        (answer,) = [c.source for c in nb.cells if markers.is_written_answer(c)]
        assert markers.is_unanswered(answer) == (student == "blank_bo"), student
        assert student == "blank_bo" or answer == WRITTEN
