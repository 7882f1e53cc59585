"""The instructor's last mile in one pass, on the tiny course: collect -> autograde -> a
written answer graded by a person (through nbgrader's public ``Gradebook`` API, as the
formgrader does) -> export (detailed and both LMS layouts) -> feedback (pages and one zip
per student) -> report. Before the manual grade, every output says the written answer is
pending (the LMS total blank, not a score that counts it as 0); after it, the manual score
is in each."""

import csv
import html
import re
import zipfile

import nbformat

from bad_submissions import grade
from tiny_course import (ASSIGNMENT, NOTEBOOK, db_url, released_course, submission,
                         workbook)

STUDENTS = {  # id: (first, last, email, LMS user id)
    "ada": ("Ada", "Lovelace", "ada@example.org", "1001"),
    "bob": ("Bob", "Stone", "bob@example.org", "1002"),
    "cy": ("Cy", "Young", "cy@example.org", "1003"),   # on the roll, hands in nothing
}
COMMENT = "Right: the perceptron's boundary is a line."


def _text(page: str) -> str:
    """What a reader sees of an HTML page: no style, no tags, entities decoded."""
    page = re.sub(r"<style>.*?</style>", "", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def _csv(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def _cli(capsys, *args, root) -> str:
    """``workbook ARGS --root ROOT`` in this process (the verbs after autograde only read
    the gradebook: a subprocess each would cost seconds of imports); its stdout."""
    from workbook_grading.cli import main

    capsys.readouterr()
    assert main([*args, "--root", str(root)]) == 0, capsys.readouterr()
    return capsys.readouterr().out


def _export_all(capsys, root, out):
    """Detailed, Canvas (per question) and Moodle exports into ``out``; their rows."""
    _cli(capsys, "export", "-o", str(out / "grades.csv"), root=root)
    canvas_stdout = _cli(capsys, "export", "--format", "lms", "--lms", "canvas",
                         "--per-question", "-o", str(out / "canvas.csv"), root=root)
    _cli(capsys, "export", "--lms", "moodle", "-o", str(out / "moodle.csv"), root=root)
    with open(out / "grades.csv", newline="") as fh:
        detailed = {r["student"]: r for r in csv.DictReader(fh)}
    return detailed, _csv(out / "canvas.csv"), _csv(out / "moodle.csv"), canvas_stdout


def test_collect_autograde_manual_grade_export_feedback_report(tmp_path, capsys):
    from nbgrader.api import Gradebook

    from workbook_grading.config import COURSE_ID

    root = tmp_path / "course"
    released = released_course(root)
    with Gradebook(db_url(root), COURSE_ID) as gb:
        for sid, (first, last, email, lms_id) in STUDENTS.items():
            gb.update_or_create_student(sid, first_name=first, last_name=last, email=email,
                                        lms_user_id=lms_id)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    nbformat.write(submission(released), inbox / f"ada_{NOTEBOOK}.ipynb")
    nbformat.write(submission(released, add="def add(a, b):\n    return a - b"),
                   inbox / f"bob_{NOTEBOOK}.ipynb")
    run = workbook("collect", str(inbox), "--assignment", ASSIGNMENT, root=root)
    assert run.returncode == 0, run.stderr
    run = grade(root, workers=1)
    assert run.returncode == 0, run.stdout + run.stderr

    # -- before a person grades the written answer: pending everywhere, never 0
    before = tmp_path / "before"
    detailed, canvas, moodle, said = _export_all(capsys, root, before)
    assert detailed["ada"]["task-why"] == "" and detailed["ada"]["pending_points"] == "1"
    assert detailed["ada"]["score"] == "3"
    assert canvas[0][:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert canvas[1][0] == "Points Possible"
    ada = next(r for r in canvas if r[3] == "ada")
    assert ada[:5] == ["Lovelace, Ada", "1001", "", "ada", ""]
    col = canvas[0].index(ASSIGNMENT)
    assert ada[col] == ""                                   # pending: left blank
    assert "left blank" in said
    report = tmp_path / "report-before"
    _cli(capsys, "report", "-o", str(report), root=root)
    page = _text((report / "index.html").read_text())
    assert "needs manual grading" in page and "(1 pending)" in page

    # -- a person grades the written answers, as the formgrader's API does
    with Gradebook(db_url(root), COURSE_ID) as gb:
        for sid, points in (("ada", 1.0), ("bob", 0.5)):
            g = gb.find_grade("task-why", NOTEBOOK, ASSIGNMENT, sid)
            assert g.needs_manual_grade and g.auto_score is None
            g.manual_score = points
            g.needs_manual_grade = False
        gb.find_comment("task-why", NOTEBOOK, ASSIGNMENT, "ada").manual_comment = COMMENT
        gb.db.commit()

    after = tmp_path / "after"
    detailed, canvas, moodle, said = _export_all(capsys, root, after)
    assert detailed["ada"]["task-why"] == "1" and detailed["ada"]["score"] == "4"
    assert detailed["bob"]["task-why"] == "0.5" and detailed["bob"]["score"] == "1.5"
    assert detailed["cy"]["status"] == "missing"
    header, points, *body = canvas
    rows = {r[3]: dict(zip(header, r)) for r in body}
    assert set(rows) == set(STUDENTS)
    assert dict(zip(header, points))[ASSIGNMENT] == "4"
    assert rows["ada"][ASSIGNMENT] == "4" and rows["bob"][ASSIGNMENT] == "1.5"
    assert rows["cy"][ASSIGNMENT] == "0"
    assert rows["bob"][f"{ASSIGNMENT}: task-why"] == "0.5"
    assert rows["bob"][f"{ASSIGNMENT}: test-add"] == "0"
    assert "left blank" not in said
    assert moodle[0] == ["Username", "Full name", "Email address", ASSIGNMENT]
    assert ["ada", "Ada Lovelace", "ada@example.org", "4"] in moodle
    assert ["bob", "Bob Stone", "bob@example.org", "1.5"] in moodle

    feedback = tmp_path / "feedback"
    _cli(capsys, "feedback", "--zip", "-o", str(feedback), root=root)
    ada_page = _text((feedback / "ada" / ASSIGNMENT / f"{NOTEBOOK}.html").read_text())
    assert "task-why: graded" in ada_page and "1 / 1 points" in ada_page
    assert COMMENT in ada_page and "Score: 4 / 4" in ada_page and "pending" not in ada_page
    bob_page = _text((feedback / "bob" / ASSIGNMENT / f"{NOTEBOOK}.html").read_text())
    assert "0.5 / 1 points" in bob_page and "Score: 1.5 / 4" in bob_page
    with zipfile.ZipFile(feedback / "ada.zip") as zf:
        assert zf.namelist() == [f"ada/{ASSIGNMENT}/{NOTEBOOK}.html"]
        assert COMMENT in html.unescape(zf.read(zf.namelist()[0]).decode())
    assert not (feedback / "cy.zip").exists()               # nothing handed in

    report = tmp_path / "report"
    _cli(capsys, "report", "-o", str(report), "--feedback", str(feedback), root=root)
    source = (report / "index.html").read_text()
    page = _text(source)
    assert "needs manual grading" not in page and "pending)" not in page
    assert "4 / 4" in page and "1.5 / 4" in page            # the manual points counted
    page = source
    assert f'href="../feedback/ada/{ASSIGNMENT}/{NOTEBOOK}.html"' in page
