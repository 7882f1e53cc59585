"""The grading round trip, through nbgrader itself.

For one assignment, in a temporary course: release the solution notebook with nbgrader,
build submissions from the release (the solution filled in, the blank release, the wrong
answers -- several to a submission where they cannot affect each other's test cells, see
batching.py -- and one with every differently written correct answer),
autograde them with the course's grader (``workbook_grading.autograde``: nbgrader's
Python API in parallel workers) and read each test cell's score from the gradebook. ``RoundTrip`` turns a notebook's cases into tests:

    class TestNeuronsRoundTrip(RoundTrip):
        assignment = "01_neurons"
        WRONG = [Wrong("ex-softmax", "def softmax(z): ...", fails=["test-softmax"], why="...")]
        RIGHT = [Right("ex-softmax", "def softmax(z): ...", why="...")]
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest

from batching import batches
from helpers import cells_by_id, fill_submission, record_notebook_time, strip_solution_markers
from workbook_grading.autograde import autograde, read_state
from workbook_grading.config import repo_root
from workbook_grading.course import Course
from workbook_grading.limits import STDERR_FORGIVEN
from workbook_grading.release import release

# Two grading processes, or fewer when pytest-xdist (`make test`) runs other tests on the
# same cores: four kernels on two cores took longer in all than two or three.
GRADING_WORKERS = max(1, min(2, (os.cpu_count() or 1)
                             // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))))


@dataclass(frozen=True)
class Wrong:
    """A plausible mistake: ``code`` replaces exercise cell ``cell``; each of ``fails`` must score 0."""

    cell: str
    code: str
    fails: tuple[str, ...] | list[str]
    why: str = ""


@dataclass(frozen=True)
class Right:
    """A differently written correct answer for exercise cell ``cell``: must score full marks."""

    cell: str
    code: str
    why: str = ""


@dataclass
class Graded:
    """Scores of every submission: ``scores[student][test_cell] = (score, max_score)``."""

    test_cells: list[str]
    exercise_cells: list[str]
    scores: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)
    wrong_student: dict[int, str] = field(default_factory=dict)  # Wrong case -> submission
    errors: dict[str, dict[str, str]] = field(default_factory=dict)  # what each failing cell raised
    notes: dict[str, str] = field(default_factory=dict)  # the grader's notes on each submission
    blank_not_run: list[int] = field(default_factory=list)  # code cells of the blank not run
    blank_raised: list[tuple[int, str, str]] = field(default_factory=list)  # (cell, error, message)

    def describe(self, student: str, cell: str) -> str:
        score, max_score = self.scores[student][cell]
        err = self.errors.get(student, {}).get(cell, "")
        return f"{cell}: {score:g}/{max_score:g}" + (f" -- {err}" if err else "")


def grade_cases(assignment: str, wrong: list[Wrong], right: list[Right], workdir: Path,
                *, root: Path | None = None, batch: bool = True,
                statuses: frozenset[str] = frozenset({"ok"}), verify_wrong: bool = False
                ) -> Graded:
    """Release ``assignment`` into ``workdir``, autograde the cases there, return the scores.
    ``batch=False``: one submission per wrong answer; ``statuses``: those the grader may
    give (a clean round trip: only ``ok``); ``verify_wrong``: verify the wrong answers too."""
    from nbgrader.api import Gradebook

    root = root or repo_root()
    shutil.copytree(root / "solutions" / assignment, workdir / "solutions" / assignment)
    db_url = f"sqlite:///{workdir / 'gradebook.db'}"
    (released_path,) = release([assignment], course=Course(workdir, db_url))
    notebook = released_path.stem
    released = nbformat.read(released_path, as_version=4)
    source = nbformat.read(workdir / "solutions" / assignment / released_path.name, as_version=4)

    test_cells = [gid for gid, c in cells_by_id(source).items()
                  if c.metadata["nbgrader"].get("grade") and not c.metadata["nbgrader"].get("solution")
                  and c.cell_type == "code"]
    exercise_cells = [gid for gid, c in cells_by_id(source).items()
                      if c.metadata["nbgrader"].get("solution") and c.cell_type == "code"]

    submissions = {
        "solution": fill_submission(released, source),
        "blank": released,
        "right": fill_submission(released, source, _merge_right(right)),
    }
    code_cells = [(c.metadata.get("nbgrader", {}).get("grade_id", ""),
                   strip_solution_markers(c.source)) for c in source.cells if c.cell_type == "code"]
    groups = batches(wrong, code_cells) if batch else [[i] for i in range(len(wrong))]
    wrong_student = {}
    for g, group in enumerate(groups):
        student = f"wrong-{g:02d}"
        answers = {wrong[i].cell: wrong[i].code for i in group}
        fails = [cell for i in group for cell in wrong[i].fails]
        submissions[student] = _cut_after(fill_submission(released, source, answers), fails)
        wrong_student.update({i: student for i in group})

    for student, nb in submissions.items():
        path = workdir / "grading" / "submitted" / student / assignment / released_path.name
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, path)

    start = time.perf_counter()
    # The instructors' grader: nbgrader's API in parallel worker processes, with limits.
    # Verification can only take points away: a wrong answer already scores 0 on the cells
    # it must fail, so only the differently written right answers, which must keep full
    # marks, are verified (tests/grading/test_verifiers.py verifies the solution and checks
    # the wrong answers against the verifiers).
    summary = autograde([assignment], course=Course(workdir, db_url), workers=GRADING_WORKERS,
                        verify=lambda student: student == "right" or (
                            verify_wrong and student.startswith("wrong-")),
                        progress=False, log=lambda _: None)
    if summary.graded != len(submissions) or not set(summary.statuses) <= statuses:
        raise RuntimeError(f"the round trip's submissions did not all grade cleanly:\n"
                           f"{summary.report()}")
    record_notebook_time(f"round trip {assignment} ({len(submissions)} submissions)",
                         time.perf_counter() - start)

    graded = Graded(test_cells=test_cells, exercise_cells=exercise_cells,
                    wrong_student=wrong_student)
    with Gradebook(db_url) as gb:
        for student in submissions:
            grades = {cell: gb.find_grade(cell, notebook, assignment, student) for cell in test_cells}
            graded.scores[student] = {cell: (g.score, g.max_score) for cell, g in grades.items()}
    for student in submissions:
        autograded = workdir / "grading" / "autograded" / student / assignment / released_path.name
        nb = nbformat.read(autograded, as_version=4)
        graded.errors[student] = _cell_errors(nb)
        if student == "blank":  # the student version as handed out, executed
            code = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
            graded.blank_not_run = [i for i, c in code if not c.get("execution_count")]
            graded.blank_raised = [(i, o.ename, o.evalue) for i, c in code for o in c.outputs
                                   if o.output_type == "error"]
    graded.notes = {r["student"]: r["detail"] or "" for r in read_state(db_url)}
    return graded


def _cut_after(nb, cells):
    """``nb`` without the cells after the last of ``cells``: a wrong answer is only checked on
    its own test cells, and later cells cannot change what earlier ones scored, so executing
    them is wasted time (a third of the round trip). The grader puts the missing test cells
    back; without the answers they fail at once."""
    positions = [i for i, c in enumerate(nb.cells)
                 if c.metadata.get("nbgrader", {}).get("grade_id") in set(cells)]
    if positions:  # cells that do not exist are reported by test_every_test_cell_has_a_wrong_answer
        nb.cells = nb.cells[:max(positions) + 1]
    return nb


def _merge_right(right: list[Right]) -> dict[str, str]:
    merged: dict[str, str] = {}
    for case in right:
        merged[case.cell] = case.code  # several Rights for one cell: the last one is submitted
    return merged


def _cell_errors(nb) -> dict[str, str]:
    """The first error line (or stderr text) of each graded cell of an autograded notebook."""
    errors = {}
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        for out in cell.get("outputs", []):
            if out.output_type == "error":
                errors[gid] = f"{out.ename}: {out.evalue}".splitlines()[0][:300]
                break
            if out.output_type == "stream" and out.name == "stderr":
                errors[gid] = "wrote to stderr: " + out.text.strip()[:300]
                break
    return errors


class RoundTrip:
    """Subclass as ``Test...`` with ``assignment``, ``WRONG`` and ``RIGHT`` to get the tests."""

    assignment: str = ""
    WRONG: list[Wrong] = []
    RIGHT: list[Right] = []

    @pytest.fixture(scope="class")
    @classmethod
    def graded(cls, tmp_path_factory) -> Graded:
        return grade_cases(cls.assignment, cls.WRONG, cls.RIGHT,
                           tmp_path_factory.mktemp(cls.assignment))

    def test_solution_scores_full_marks(self, graded: Graded):
        lost = [graded.describe("solution", c) for c, (s, m) in graded.scores["solution"].items()
                if s != m]
        assert not lost, "the solution notebook lost points:\n  " + "\n  ".join(lost)

    def test_blank_release_scores_zero(self, graded: Graded):
        earned = [graded.describe("blank", c) for c, (s, _) in graded.scores["blank"].items()
                  if s != 0]
        assert not earned, "the blank release earned points:\n  " + "\n  ".join(earned)

    def test_solution_test_cells_are_silent_on_stderr(self, graded: Graded):
        """Plain nbgrader scores a test cell that writes to stderr (a warning) as failed; our
        grader forgives it but notes it, so the solution's notes must not mention stderr."""
        noisy = [line for line in graded.notes["solution"].splitlines()
                 if STDERR_FORGIVEN in line]
        assert not noisy, "graded cells of the solution write to stderr:\n  " + "\n  ".join(noisy)

    def test_blank_release_fails_only_at_the_exercises(self, graded: Graded):
        """Every code cell of the student version runs, and every error it raises is an
        exercise stub's NotImplementedError (in the stub or in a cell that calls it)."""
        assert not graded.blank_not_run, f"cells {graded.blank_not_run} of the blank did not run"
        others = [e for e in graded.blank_raised if e[1] != "NotImplementedError"]
        assert not others, ("the student version raises errors other than NotImplementedError "
                            f"(cell index, error, message): {others}")
        assert len(graded.blank_raised) >= len(graded.exercise_cells), (
            f"{len(graded.exercise_cells)} exercises but only {len(graded.blank_raised)} errors")

    def test_every_test_cell_has_a_wrong_answer(self, graded: Graded):
        covered = {cell for case in self.WRONG for cell in case.fails}
        missing = sorted(set(graded.test_cells) - covered)
        assert not missing, f"test cells no Wrong case is expected to fail: {missing}"
        unknown = sorted(covered - set(graded.test_cells))
        assert not unknown, f"Wrong cases name cells that are not graded tests: {unknown}"

    def test_every_exercise_has_a_right_answer(self, graded: Graded):
        missing = sorted(set(graded.exercise_cells) - {case.cell for case in self.RIGHT})
        assert not missing, f"exercises without a differently written correct answer: {missing}"

    def test_different_correct_answers_score_full_marks(self, graded: Graded):
        lost = [graded.describe("right", c) for c, (s, m) in graded.scores["right"].items()
                if s != m]
        assert not lost, "correct answers written differently lost points:\n  " + "\n  ".join(lost)

    def test_wrong_answer_scores_zero(self, graded: Graded, wrong_case: int):
        case = self.WRONG[wrong_case]
        student = graded.wrong_student[wrong_case]
        passed = [graded.describe(student, c) for c in case.fails if graded.scores[student][c][0] != 0]
        assert not passed, (f"a wrong answer to {case.cell} ({case.why or 'no reason given'}) "
                            f"still earned points:\n  " + "\n  ".join(passed))
