"""The course in a real browser: JupyterLab started as ``make lab`` starts it, driven by
Debian's Chromium through playwright.

Student, for every released notebook: open it, wait for the kernel, run every cell
(only the exercises' NotImplementedError may fail), press Validate and see the failing
tests listed; then the same notebook with the exercises solved validates. Instructor:
the formgrader, from the Nbgrader menu and at /formgrader, lists the assignments and,
once ``workbook autograde`` has graded a demo submission, shows its score.

Screenshots of every step: test-artifacts/browser/. Needs ``apt-get install -y chromium``
and ``pip install playwright`` (skipped, saying so, without them).
"""

from __future__ import annotations

import pytest

from labdriver import DEMO_STUDENT, NOTES, missing_requirements, released_notebooks, walked_notebooks

REASON = missing_requirements()
if REASON:
    pytest.skip(REASON, allow_module_level=True)

import nbformat  # noqa: E402
from helpers import fill_submission  # noqa: E402
from helpers import record_notebook_time  # noqa: E402
from labpage import (close_dialog, expect, failed_cells, menu_command,  # noqa: E402
                     normalize, run_all_cells, validate, wait_for_code_cells,
                     wait_for_kernel_idle)

pytestmark = pytest.mark.timeout(600)


def _code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


@pytest.mark.parametrize("notebook", walked_notebooks())
def test_student_runs_the_notebook_and_validates(lab, context, steps, notebook):
    assignment = notebook.parent.name
    path = lab.root / notebook             # the server's copy (Validate saves it)
    release = nbformat.read(path, as_version=4)
    tests = [c for c in _code_cells(release) if c.metadata.get("nbgrader", {}).get("grade")]
    # written answers (graded markdown answer cells) still holding the placeholder: Validate
    # lists them too ("not answered")
    written = [c for c in release.cells if c.cell_type == "markdown"
               and c.metadata.get("nbgrader", {}).get("grade") and c.metadata["nbgrader"].get("solution")]
    page = context.new_page()
    steps.page = page
    try:
        with steps.step("open the notebook until the kernel is idle"):
            page.goto(lab.url(f"lab/tree/{notebook.as_posix()}?reset"))
            wait_for_kernel_idle(page)

        with steps.step("run all cells"):
            runs = run_all_cells(page)
        again = sum(attempts - 1 for _, _, attempts in runs)
        NOTES.append(f"{assignment}: every code cell ran in {len(runs)} runs (Run All, then "
                     f"Run Selected Cell and All Below after each failing cell)"
                     + (f"; {again} dropped by the kernel and started again" if again else ""))

        with steps.step("validate the release (exercises not done)"):
            message, outcome = validate(page)
        failed = failed_cells(message)
        text = message.inner_text()
        close_dialog(page)
        assert outcome == "validation-failed", f"{notebook}: Validate said {outcome}:\n{text}"

        # What the browser ran, as Validate saved it.
        ran = nbformat.read(path, as_version=4)
        not_run = [i for i, c in enumerate(ran.cells)
                   if c.cell_type == "code" and not c.get("execution_count")]
        assert not not_run, f"{notebook}: code cells {not_run} did not run in the browser"
        errors = [(i, o.ename) for i, c in enumerate(ran.cells) if c.cell_type == "code"
                  for o in c.get("outputs", []) if o.output_type == "error"]
        others = [e for e in errors if e[1] != "NotImplementedError"]
        assert not others, f"{notebook}: errors other than the exercises' (cell, error): {others}"
        assert errors, f"{notebook}: no exercise raised NotImplementedError"

        # Validate lists every graded test as failing, because of the exercises, and every
        # written answer, unanswered
        assert sorted(normalize(src) for src, _ in failed) == sorted(
                normalize(c.source) for c in tests + written), (
            f"{notebook}: Validate listed {len(failed)} failing cells, expected the "
            f"{len(tests)} graded tests and {len(written)} written answers")
        sources = {normalize(c.source) for c in tests}
        wrong = [src.splitlines()[0] for src, err in failed
                 if normalize(src) in sources and "NotImplementedError" not in err]
        assert not wrong, f"{notebook}: tests failing for another reason than an exercise: {wrong}"

        # The student solves every exercise (the solutions written into the file) and
        # opens it again (File > Reload from Disk left an empty notebook in 2 of 4 runs)
        source = nbformat.read(lab.root / "solutions" / assignment / notebook.name, as_version=4)
        solved = fill_submission(release, source)
        for cell in solved.cells:  # ... and writes something in every written answer
            meta = cell.metadata.get("nbgrader", {})
            if cell.cell_type == "markdown" and meta.get("grade") and meta.get("solution"):
                cell.source = "My answer, in my own words."
        lab.shutdown_sessions()
        nbformat.write(solved, path)
        with steps.step("open the solved notebook"):
            page.goto(lab.url(f"lab/tree/{notebook.as_posix()}?reset"))
            wait_for_code_cells(page, len(_code_cells(solved)))

        # ... and Validate passes
        with steps.step("validate the solved notebook"):
            message, outcome = validate(page)
        text, failed = message.inner_text(), failed_cells(message)
        close_dialog(page)
        if failed:
            text = "\n".join(f"  {src.splitlines()[0]} ...\n    -> {err.strip()[-300:]}"
                             for src, err in failed)
        assert outcome == "validation-success", (
            f"{notebook} with every exercise solved: Validate said {outcome}:\n{text}")
        assert "Success! Your notebook passes all the tests." in text, text
        validated = nbformat.read(path, as_version=4)  # Validate saved what it validated
        assert [c.source for c in validated.cells] == [c.source for c in solved.cells], (
            f"{notebook}: the notebook Validate saw is not the solved one")
    finally:
        page.close()
        lab.shutdown_sessions()
        record_notebook_time(f"browser {assignment}", steps.total)


def test_instructor_sees_the_assignments_and_the_autograded_score(lab, context, course, steps):
    from nbgrader.api import Gradebook

    assignments = sorted({p.parent.name for p in released_notebooks()})
    page = context.new_page()
    steps.page = page
    try:
        with steps.step("open the formgrader from the Nbgrader menu"):
            page.goto(lab.url("lab?reset"))
            menu_command(page, "Nbgrader", "nbgrader:open-formgrader")
            table = page.frame_locator("#formgrader iframe").locator("#main-table")
            expect(table).to_be_visible()
            for name in assignments:
                expect(table).to_contain_text(name)

        with steps.step("wait for workbook autograde (started with the session)", shot=False):
            course.wait_for_grading()
        NOTES.append(f"workbook autograde of the demo submission: "
                     f"{course.grading_seconds:.1f}s in the background")

        direct = context.new_page()
        steps.page = direct
        with steps.step("open /formgrader directly"):
            direct.goto(lab.url("formgrader"))
            table = direct.locator("#main-table")
            expect(table).to_be_visible()
            for name in assignments:
                expect(table).to_contain_text(name)

        with Gradebook(f"sqlite:///{course.root / 'grading' / 'gradebook.db'}") as gb:
            sub = gb.find_submission(course.demo_assignment, DEMO_STUDENT)
            score, max_score = sub.score, sub.max_score
        assert 0 < score <= max_score, (score, max_score)
        with steps.step("the demo submission's score in Manage Submissions"):
            direct.goto(lab.url(f"formgrader/manage_submissions/{course.demo_assignment}"))
            row = direct.locator("#main-table tr", has_text=DEMO_STUDENT)
            expect(row).to_be_visible()
            expect(row).to_contain_text(f"{score:g} / {max_score:g}")
        direct.close()
    finally:
        page.close()
