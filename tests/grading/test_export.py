"""`workbook export`: one CSV row per student x notebook, a column per graded cell."""

import csv

from bad_submissions import CASES
from tiny_course import NOTEBOOK, db_url, workbook


def test_export_has_a_row_per_student_and_notebook(autograded, tmp_path):
    from nbgrader.api import Gradebook

    from workbook_grading.config import COURSE_ID

    with Gradebook(db_url(autograded.root), COURSE_ID) as gb:
        gb.update_or_create_student("absent")  # on the roll, never submitted
    out = tmp_path / "grades.csv"
    run = workbook("export", "--output", str(out), root=autograded.root)
    assert run.returncode == 0, run.stderr
    with open(out, newline="") as fh:
        reader = csv.DictReader(fh)
        header, rows = reader.fieldnames, {r["student"]: r for r in reader}
    assert header[:6] == ["student", "assignment", "notebook", "status", "score", "max_score"]
    assert {"test-add", "test-double", "task-why"} <= set(header)
    assert set(rows) == {c.student for c in CASES} | {"absent"}
    for case in CASES:
        row = rows[case.student]
        assert row["notebook"] == NOTEBOOK
        assert row["status"] == case.status, case.student
        assert float(row["test-add"]) == case.scores["test-add"]
        assert float(row["test-double"]) == case.scores["test-double"]
        assert float(row["score"]) == sum(case.scores.values())
        assert row["max_score"] == "4"
        if case.status in ("missing", "invalid-notebook", "error"):
            assert row["task-why"] == "0"    # no notebook: nothing for a person to grade
            assert row["needs_manual_grade"] == "0" and row["pending_points"] == "0"
        else:
            assert row["task-why"] == ""     # written answer: waits for a person
            assert row["needs_manual_grade"] == "1" and row["pending_points"] == "1"
    assert rows["absent"]["status"] == "missing"
    assert rows["absent"]["score"] == "0"
