"""Manual grading in a real browser, as the README tells an instructor to do it.

A tiny class (tests/written_course.py: one exercise, one written answer) is autograded;
``workbook formgrader --no-browser`` serves it; Chromium opens the printed URL, goes to
the notebook's gradebook, opens a student's submission, checks that the grader sees the
question, the mark scheme and the student's answer with its score box, gives a score and
a comment; then ``workbook export``, ``workbook report`` and ``workbook feedback`` show
them. Screenshot: ``formgrader.png`` under the test's tmp path (and test-artifacts/browser/).
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil

import pytest

from labdriver import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, missing_requirements

REASON = missing_requirements()
if REASON:
    pytest.skip(REASON, allow_module_level=True)

import written_course as wc  # noqa: E402

pytestmark = pytest.mark.timeout(300)

SCORE = 2          # of wc.POINTS
COMMENT = "Names the sum; the reason is missing (rubric: 2 of 3)."


def test_grade_a_written_answer_in_the_formgrader(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    root = tmp_path / "course"
    wc.graded_written_course(root, {"good": lambda r: wc.answered(r),
                                    "placeholder": lambda r: wc.answered(r, None),
                                    "broken": '{"cells": ['})
    proc, url, lines = wc.start_formgrader(root, tmp_path / "jupyter")
    shot = tmp_path / "formgrader.png"
    try:
        assert any("broken 00_written/written: invalid-notebook" in l for l in lines), lines
        base, token = url.split("/formgrader?token=")
        (good,) = [n for n in json.loads(wc.get(
            f"{base}/formgrader/api/submitted_notebooks/{wc.ASSIGNMENT}/{wc.NOTEBOOK}"
            f"?token={token}")) if n["student"] == "good"]
        home = tmp_path / "chromium-home"
        home.mkdir()
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                        env={**os.environ, "HOME": str(home)})
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 1000})
                page.set_default_timeout(30_000)
                page.goto(url)  # the printed URL: its token logs the browser in
                expect(page.locator("body")).to_contain_text(wc.ASSIGNMENT)
                page.goto(f"{base}/formgrader/gradebook/{wc.ASSIGNMENT}/{wc.NOTEBOOK}")
                page.locator(f"a.name-hidden[href$='/formgrader/submissions/{good['id']}']"
                             ).click()
                # the grader sees question, mark scheme and answer; the score box is the answer's
                body = page.locator("body")
                expect(body).to_contain_text("What does add return")
                expect(body).to_contain_text(wc.MARK_SCHEME)
                expect(body).to_contain_text("BEGIN MARK SCHEME (for the grader")
                answer = page.locator(".nbgrader_cell", has=page.locator(f"input#{wc.ANSWER}"))
                expect(answer).to_contain_text("Student's answer")
                expect(answer).to_contain_text("It returns the sum of its two arguments")
                assert page.locator("h1, h2, h3", has_text="MARK SCHEME").count() == 0
                with page.expect_response(lambda r: "/formgrader/api/grade/" in r.url
                                          and r.request.method == "PUT"):
                    page.locator(f"input#{wc.ANSWER}").fill(str(SCORE))
                    page.locator(f"input#{wc.ANSWER}").press("Tab")
                with page.expect_response(lambda r: "/formgrader/api/comment/" in r.url
                                          and r.request.method == "PUT"):
                    page.locator(f"textarea#{wc.ANSWER}-comment").fill(COMMENT)
                    page.locator(f"textarea#{wc.ANSWER}-comment").press("Tab")
                answer.scroll_into_view_if_needed()
                page.screenshot(path=str(shot), full_page=True)
            finally:
                browser.close()
    finally:
        wc.stop_formgrader(proc, url)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, ARTIFACTS / "formgrader-written-answer.png")

    out = tmp_path / "grades.csv"
    assert wc.workbook("export", "--output", str(out), root=root).returncode == 0
    with open(out, newline="") as fh:
        rows = {r["student"]: r for r in csv.DictReader(fh)}
    assert float(rows["good"][wc.ANSWER]) == SCORE
    assert float(rows["good"]["score"]) == 1 + SCORE
    assert rows["good"]["needs_manual_grade"] == "0"

    run = wc.workbook("report", "--output", str(tmp_path / "report"), root=root)
    assert run.returncode == 0, run.stderr
    html = (tmp_path / "report" / "index.html").read_text()
    # good 3/4, placeholder 1/4 (its answer flagged 0), broken 0: mean 33.3 %, 16.7 before
    row = re.search(rf"<td>{wc.ASSIGNMENT}/{wc.NOTEBOOK}</td>.*?</tr>", html, re.S)
    assert row and "<td>33.3</td>" in row.group(0), row and row.group(0)

    run = wc.workbook("feedback", "--output", str(tmp_path / "feedback"), root=root)
    assert run.returncode == 0, run.stderr
    page = (tmp_path / "feedback" / "good" / wc.ASSIGNMENT / f"{wc.NOTEBOOK}.html").read_text()
    assert f"{SCORE} / {wc.POINTS} points" in page and "the reason is missing" in page
    assert wc.MARK_SCHEME not in page
