"""`workbook report`: grading/reports/index.html -- per-notebook figures that keep pending
written answers apart from zeros, a roster with links to feedback, one chart per question
-- checked against the gradebook read independently (nbgrader's API, not export.py)."""

import html
import re
import statistics

from bad_submissions import CASES
from tiny_course import ASSIGNMENT, NOTEBOOK, workbook

NOT_GRADED = ("missing", "invalid-notebook", "error")
AUTO_MAX = 3      # test-add 2 + test-double 1; task-why (1 point) is written


def _from_gradebook(root):
    """{student: (auto points, pending points, manual points or None)} straight from
    nbgrader's Gradebook, and the roll."""
    from nbgrader.api import Gradebook

    from workbook_grading.config import COURSE_ID

    out = {}
    with Gradebook(f"sqlite:///{root / 'grading' / 'gradebook.db'}", COURSE_ID) as gb:
        roll = sorted(s.id for s in gb.students)
        for sub in gb.assignment_submissions(ASSIGNMENT):
            (nb,) = sub.notebooks
            auto = sum(g.auto_score or 0 for g in nb.grades if g.auto_score is not None)
            pending = sum(g.max_score for g in nb.grades if g.needs_manual_grade)
            out[sub.student.id] = (auto, pending)
    return out, roll


def test_report_figures_match_the_gradebook(autograded):
    from workbook_grading.course import Course
    from workbook_grading.report import gather

    data = gather(Course.at(autograded.root))
    book, roll = _from_gradebook(autograded.root)
    submitted = {c.student for c in CASES if c.status != "missing"}
    assert set(book) >= submitted

    (row,) = data["notebooks"]
    pct = [100 * book[s][0] / AUTO_MAX for s in sorted(submitted)]
    assert row["name"] == f"{ASSIGNMENT}/{NOTEBOOK}"
    assert row["submitted"] == len(submitted)
    assert row["missing"] == len(roll) - len(submitted)
    assert abs(row["auto_mean"] - statistics.mean(pct)) < 1e-9
    assert abs(row["auto_median"] - statistics.median(pct)) < 1e-9
    # so far: autograded points only (every written answer pending), of the whole maximum
    assert abs(row["total_mean"] - statistics.mean(100 * book[s][0] / (AUTO_MAX + 1)
                                                   for s in submitted)) < 1e-9
    assert row["full_auto"] == sum(book[s][0] == AUTO_MAX for s in submitted)
    assert row["full_auto"] == sum(sum(c.scores.values()) == AUTO_MAX for c in CASES
                                   if c.status != "missing") > 0
    # the written answer is pending for every submission that ran: none is complete,
    # so no "full marks" is claimed -- and none counted as zero
    # ... except in notebooks the grader could not run: nothing there for a person, 0
    not_run = {c.student for c in CASES if c.status in NOT_GRADED}
    pending = {s for s in submitted if book[s][1] > 0} - not_run
    assert not_run & submitted and all(book[s][1] > 0 for s in not_run & submitted)
    assert row["pending"] == len(pending) and row["complete"] == len(submitted) - len(pending)
    assert row["full"] == 0
    assert sorted(data["scores"][row["name"]]) == sorted(pct)

    questions = data["questions"][row["name"]]
    graded = [c for c in CASES if c.status not in NOT_GRADED]
    for cell, full in (("test-add", 2), ("test-double", 1)):
        q = questions[cell]
        assert q["full"] == sum(c.scores[cell] == full for c in graded)
        assert q["zero"] == sum(c.scores[cell] == 0 for c in graded)
        assert q["pending"] == 0
    assert questions["task-why"]["pending"] == len(graded)
    assert questions["task-why"]["full"] == questions["task-why"]["zero"] == 0
    rates = {p["cell"]: p for p in data["pass_rate"]}
    assert set(rates) == {"test-add", "test-double"}                  # autograded only
    assert data["pass_rate"][0]["rate"] <= data["pass_rate"][-1]["rate"]   # hardest first

    roster = data["roster"]
    assert sorted(roster) == roll
    for case in CASES:
        labels = roster[case.student][ASSIGNMENT]["labels"]
        if case.status == "missing":
            assert labels == ["missing"], case.student
            continue
        assert labels[0] == "submitted"
        assert ("late" in labels) == (case.status == "late"), case.student
        assert ("invalid notebook" in labels) == (case.status == "invalid-notebook")
        assert ("needs manual grading" in labels) == (case.student in pending)
        assert roster[case.student][ASSIGNMENT]["pending_points"] == (
            book[case.student][1] if case.student in pending else 0)
    assert {st for _, st in data["timing"]} == {c.student for c in CASES}
    assert all(s >= 0 for s in data["timing"].values())


def test_report_page_and_plots(autograded, tmp_path):
    feedback = tmp_path / "feedback"
    run = workbook("feedback", "-o", str(feedback), root=autograded.root)
    assert run.returncode == 0, run.stderr
    out = tmp_path / "reports"
    run = workbook("report", "-o", str(out), "--feedback", str(feedback), root=autograded.root)
    assert run.returncode == 0, run.stdout + run.stderr
    source = (out / "index.html").read_text()
    page = html.unescape(source)
    pngs = ["scores.png", f"questions-{ASSIGNMENT}-{NOTEBOOK}.png", "grading_time.png"]
    for png in pngs:
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
        assert f'src="{png}"' in page
    assert sorted(p.name for p in out.glob("*.png")) == sorted(pngs)
    assert "pending manual grading" in page and "full marks on autograded parts" in page
    flagged = [c for c in CASES if c.status != "ok"]
    assert f"Flagged submissions ({len(flagged)})" in page
    for case in flagged:
        assert f"<td>{case.student}</td><td>{ASSIGNMENT}/demo</td><td>{case.status}</td>" in page
    assert "could not be interrupted" in page          # loop's reason
    assert "NotJSONError" in page                      # broken's reason
    for case in CASES:                                 # the roster links each page
        link = f'href="../feedback/{case.student}/{ASSIGNMENT}/{NOTEBOOK}.html"'
        assert (link in source) == (case.status != "missing"), case.student
    nofile = re.search(r"<td>nofile</td>\s*<td>(.*?)</td>", source, re.S).group(1)
    assert "missing" in nofile and "href" not in nofile


def test_an_unanswered_written_answer_is_counted_and_shown(autograded, tmp_path):
    """A written answer the grader itself scored 0 (nbgrader's "No response." for an
    unchanged answer cell): complete, not pending, flagged in the roster; not counted
    among the autograded points; its comment is the feedback's reason."""
    import shutil

    from nbgrader.api import Gradebook

    from workbook_grading.config import COURSE_ID
    from workbook_grading.course import Course
    from workbook_grading.feedback import generate_feedback
    from workbook_grading.report import gather

    db = tmp_path / "gradebook.db"   # a copy: the shared fixture's gradebook stays as is
    shutil.copy(autograded.root / "grading" / "gradebook.db", db)
    with Gradebook(f"sqlite:///{db}", COURSE_ID) as gb:
        g = gb.find_grade("task-why", NOTEBOOK, ASSIGNMENT, "good")
        g.auto_score, g.needs_manual_grade = 0.0, False
        gb.find_comment("task-why", NOTEBOOK, ASSIGNMENT, "good").auto_comment = "No response."
        gb.db.commit()
    course = Course.at(autograded.root, db_url=f"sqlite:///{db}")
    data = gather(course, feedback=tmp_path / "feedback")
    (row,) = data["notebooks"]
    not_run = sum(c.status in NOT_GRADED and c.status != "missing" for c in CASES)
    assert row["unanswered"] == 1 and row["complete"] == 1 + not_run and row["full"] == 0
    good = data["roster"]["good"][ASSIGNMENT]
    assert good["labels"] == ["submitted", "1 written answer(s) unanswered"]
    assert good["pending_points"] == 0 and good["score"] == 3
    assert data["questions"][row["name"]]["task-why"]["zero"] == 1
    assert row["full_auto"] == len([s for s in data["scores"][row["name"]] if s == 100])

    (page,) = generate_feedback(course, students=["good"], output=tmp_path / "feedback")
    text = html.unescape(re.sub(r"<style>.*?</style>|<[^>]+>", "", page.read_text(), flags=re.S))
    assert "No response." in text and "pending" not in text.split("Your notebook")[0]
