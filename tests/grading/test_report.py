"""`workbook report`: grading/reports/index.html with PNG plots (scores per notebook, pass
rate per test cell, grading time per submission) and the flagged submissions."""

import html

from bad_submissions import CASES
from tiny_course import ASSIGNMENT, db_url, workbook

NOT_GRADED = ("missing", "invalid-notebook", "error")


def test_report_page_and_plots(autograded, tmp_path):
    out = tmp_path / "reports"
    run = workbook("report", "-o", str(out), root=autograded.root)
    assert run.returncode == 0, run.stdout + run.stderr
    page = html.unescape((out / "index.html").read_text())
    for png in ("scores.png", "pass_rate.png", "grading_time.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
        assert f'src="{png}"' in page
    flagged = [c for c in CASES if c.status != "ok"]
    assert f"Flagged submissions ({len(flagged)})" in page
    for case in flagged:
        assert f"<td>{case.student}</td><td>{ASSIGNMENT}/demo</td><td>{case.status}</td>" in page
    assert "could not be interrupted" in page          # loop's reason
    assert "NotJSONError" in page                      # broken's reason


def test_report_figures(autograded):
    from workbook_grading.report import gather

    data = gather(db_url(autograded.root))
    graded = [c for c in CASES if c.status not in NOT_GRADED]
    rates = {p["cell"]: p for p in data["pass_rate"]}
    for cell, full in (("test-add", 2), ("test-double", 1)):
        assert rates[cell]["graded"] == len(graded)
        assert rates[cell]["passed"] == sum(c.scores[cell] == full for c in graded)
    assert data["pass_rate"][0]["rate"] <= data["pass_rate"][-1]["rate"]   # hardest first
    (scores,) = data["scores"].values()
    assert sorted(scores) == sorted(100 * sum(c.scores.values()) / 4 for c in CASES)
    assert {st for _, st in data["timing"]} == {c.student for c in CASES}
    assert all(s >= 0 for s in data["timing"].values())
