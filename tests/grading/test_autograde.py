"""`workbook autograde` on every kind of bad submission (tests/grading/bad_submissions.py):
each one gets its status, its unaffected cells keep their points, nobody else is touched,
and the command exits 0 with a summary of the problems."""

import nbformat
import pytest

from bad_submissions import CASES, grade
from tiny_course import ASSIGNMENT, NOTEBOOK, scores, state


def autograded_nb(graded, student):
    path = graded.root / "grading" / "autograded" / student / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    return path, nbformat.read(path, as_version=4)


def cell(nb, grade_id):
    (c,) = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id]
    return c


def test_grading_completes_with_exit_0_and_a_summary(autograded):
    run = autograded.run
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"graded {len(CASES)} submission(s)" in run.stdout
    for case in CASES:
        if case.status != "ok":
            assert f"{case.student} {ASSIGNMENT}/{NOTEBOOK}: {case.status}" in run.stdout
    assert not (graded_cwd := autograded.root.parent / "elsewhere" / "gradebook.db").exists(), \
        f"nbgrader created a stray {graded_cwd}"


@pytest.mark.parametrize("case", CASES, ids=[c.student for c in CASES])
def test_each_submission_gets_its_scores_and_status(autograded, case):
    got = scores(autograded.root)
    assert got[case.student] == case.scores, case.why
    assert state(autograded.root)[case.student]["status"] == case.status, (
        case.why, state(autograded.root)[case.student]["detail"])


def test_no_grade_is_lost_or_mixed_up(autograded):
    assert scores(autograded.root) == {c.student: c.scores for c in CASES}


def test_unstoppable_loop_is_skipped_and_the_rest_still_graded(autograded):
    detail = state(autograded.root)["loop"]["detail"]
    assert "could not be interrupted" in detail
    _, nb = autograded_nb(autograded, "loop")
    assert "while True" in cell(nb, "ex-double").source  # the student's code, kept for feedback
    assert cell(nb, "ex-double").outputs[0].ename == "CellTimeoutError"


def test_dead_kernel_is_reported_per_cell(autograded):
    assert "kernel died" in state(autograded.root)["exit"]["detail"]
    _, nb = autograded_nb(autograded, "exit")
    assert cell(nb, "ex-double").outputs[0].ename == "KernelDied"


def test_huge_output_is_capped_in_bytes(autograded):
    path, nb = autograded_nb(autograded, "huge")
    assert path.stat().st_size < 300_000
    text = "".join(o.get("text", "") for o in cell(nb, "ex-add").outputs)
    assert "output truncated" in text


def test_warning_does_not_fail_a_right_answer_but_an_exception_does(autograded):
    _, nb = autograded_nb(autograded, "warn")
    assert not any(o.get("name") == "stderr" for o in cell(nb, "test-add").outputs)
    detail = state(autograded.root)["warn"]["detail"]
    assert "test-add: wrote to stderr (a warning?); ignored, the test passed" in detail
    assert state(autograded.root)["good"]["detail"] is None  # nothing to say
    path, nb = autograded_nb(autograded, "exc")
    assert cell(nb, "test-add").outputs[-1].ename == "ValueError"  # kept, though over the cap
    assert path.stat().st_size < 300_000


def test_memory_cap_stops_a_huge_allocation(autograded):
    _, nb = autograded_nb(autograded, "memory")
    assert cell(nb, "test-double").outputs[-1].ename == "MemoryError"


def test_tampered_tests_are_restored(autograded):
    _, nb = autograded_nb(autograded, "tampered")
    assert "assert add(-1, 1) == 0" in cell(nb, "test-add").source  # hidden test back
    assert "assert double(-3) == -6" in cell(nb, "test-double").source


def test_deleted_cells_are_put_back_in_place(autograded):
    # nbgrader 0.9.6 itself raises KeyError on this submission (see RestoreMissingCells)
    assert "put back: test-add, test-double" in state(autograded.root)["cut"]["detail"]
    _, nb = autograded_nb(autograded, "cut")
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
    assert ids.index("ex-add") < ids.index("test-add") < ids.index("test-double")
    assert cell(nb, "test-double").outputs[-1].ename == "NameError"


def test_broken_notebook_is_reported(autograded):
    assert "NotJSONError" in state(autograded.root)["broken"]["detail"]


def test_kernels_run_the_ci_profile(autograded):
    # the command ran with WORKBOOK_PROFILE=full; the kernels must still see ci
    _, nb = autograded_nb(autograded, "good")
    assert "profile=ci" in "".join(o.get("text", "") for o in cell(nb, "ex-add").outputs)


def test_rerun_grades_nothing_unchanged(autograded):
    run = grade(autograded.root)
    assert run.returncode == 0, run.stderr
    assert f"graded 0 submission(s), {len(CASES)} unchanged" in run.stdout
    assert all(row["writes"] == 1 for row in state(autograded.root).values())


def test_grading_kernels_draw_readable_figures_unless_told_otherwise():
    from workbook import plots
    from workbook_grading.launcher import kernel_env

    assert int(kernel_env({})[plots.DPI_ENV]) >= 100  # what the feedback pages show
    assert kernel_env({plots.DPI_ENV: "40"})[plots.DPI_ENV] == "40"  # the test suite's
