"""notebooks/ is nbgrader's release of solutions/, up to date, with nothing for instructors' eyes."""

import nbformat
import pytest

from helpers import ROOT, assignments
from workbook_grading.release import FORBIDDEN_MARKERS, release, verify_release


def _comparable(nb):
    """What a student sees and nbgrader checks: cell types, sources and metadata."""
    cells = [(c.cell_type, c.source, dict(c.metadata)) for c in nb.cells]
    return cells, nb.metadata.get("kernelspec")


@pytest.fixture(scope="module")
def fresh_release(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("release")
    paths = release(root=ROOT, release_directory=tmp / "notebooks",
                    db_url=f"sqlite:///{tmp / 'gradebook.db'}")
    return {p.relative_to(tmp / "notebooks"): p for p in paths}


def test_every_solution_has_its_release_and_nothing_else_is_released(fresh_release):
    committed = {p.relative_to(ROOT / "notebooks") for p in (ROOT / "notebooks").rglob("*.ipynb")
                 if ".ipynb_checkpoints" not in p.parts}
    assert committed == set(fresh_release), (
        "notebooks/ does not match solutions/: run `make release` and commit notebooks/")


@pytest.mark.parametrize("assignment", assignments())
def test_committed_release_is_up_to_date(assignment, fresh_release):
    for rel, fresh in fresh_release.items():
        if rel.parts[0] != assignment:
            continue
        committed = nbformat.read(ROOT / "notebooks" / rel, as_version=4)
        assert _comparable(committed) == _comparable(nbformat.read(fresh, as_version=4)), (
            f"notebooks/{rel} is out of date with solutions/: run `make release` and commit it")


@pytest.mark.parametrize("assignment", assignments())
def test_release_is_fit_for_students(assignment):
    for path in sorted((ROOT / "notebooks" / assignment).glob("*.ipynb")):
        assert verify_release(path) == []


def test_no_instructor_text_anywhere_under_notebooks():
    leaks = [f"{p.relative_to(ROOT)}: {m}" for p in (ROOT / "notebooks").rglob("*") if p.is_file()
             for m in FORBIDDEN_MARKERS if m in p.read_text(errors="ignore")]
    assert not leaks, "solution, hidden-test or mark-scheme text reached students:\n" + "\n".join(leaks)


@pytest.mark.parametrize("assignment", assignments())
def test_source_notebook_keeps_outputs_as_the_instructor_reference(assignment):
    for path in (ROOT / "solutions" / assignment).glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(c.execution_count for c in code), (
            f"{path.name}: run the solution notebook top to bottom and save it with its outputs")


SECRET_REGIONS = [("BEGIN SOLUTION", "END SOLUTION"), ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS"),
                  ("BEGIN MARK SCHEME", "END MARK SCHEME")]


def _secret_lines(source: str) -> set[str]:
    """Substantial lines found only inside solution, hidden-test and mark-scheme regions
    (a line that also appears in the cell's visible part, e.g. a docstring, is public)."""
    secret, public, inside = set(), [], False
    for line in source.splitlines():
        if any(begin in line for begin, _ in SECRET_REGIONS):
            inside = True
        elif any(end in line for _, end in SECRET_REGIONS):
            inside = False
        elif inside:
            if len(line.strip()) >= 12 and not line.strip().startswith("#"):
                secret.add(line.strip())
        else:
            public.append(line)
    visible = "\n".join(public)
    return {line for line in secret if line not in visible}


@pytest.mark.parametrize("assignment", assignments())
def test_no_solution_or_hidden_test_line_survives_in_its_released_cell(assignment):
    for source_path in sorted((ROOT / "solutions" / assignment).glob("*.ipynb")):
        source = nbformat.read(source_path, as_version=4)
        released = nbformat.read(ROOT / "notebooks" / assignment / source_path.name, as_version=4)
        released_by_id = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source
                          for c in released.cells}
        leaks = []
        for cell in source.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            for line in _secret_lines(cell.source):
                if line in released_by_id.get(grade_id, ""):
                    leaks.append(f"{grade_id}: {line}")
        assert not leaks, "instructor-only lines reached students:\n" + "\n".join(leaks)


# What IPython shows after a cell: the value of its last top-level statement when that is an
# expression (and the cell does not end with `;`), unless the value is None. These calls
# return None (test_quiet_calls_return_none), so a test cell may end with them.
QUIET_CALLS = {"checks.assert_close", "checks.assert_equal", "checks.assert_shape", "print"}


def test_quiet_calls_return_none():
    import numpy as np

    from workbook import checks

    x = np.ones(3)
    assert checks.assert_close(x, x, name="x") is None
    assert checks.assert_equal(x, x, name="x") is None
    assert checks.assert_shape(x, (3,), name="x") is None


def _shows_a_value(source: str) -> bool:
    import ast

    body = ast.parse(source).body
    if not body or not isinstance(body[-1], ast.Expr) or source.rstrip().endswith(";"):
        return False
    value = body[-1].value
    return not (isinstance(value, ast.Call) and ast.unparse(value.func) in QUIET_CALLS)


def test_shows_a_value_reads_the_last_statement():
    assert _shows_a_value("x = 1\nx")
    assert _shows_a_value("checks.check_gradient(f, x, g)")
    assert not _shows_a_value("checks.check_gradient(f, x, g);")
    assert not _shows_a_value("checks.assert_close(a, b, name='a')\n")
    assert not _shows_a_value("for i in range(3):\n    i")
    assert not _shows_a_value("assert x == 1")


@pytest.mark.parametrize("assignment", assignments())
def test_released_test_cells_end_without_a_value(assignment):
    """What a student validates is the release (hidden tests stripped). A test cell whose last
    line is an expression with a value (say ``check_gradient(...)``, which returns the error)
    shows it, and nbgrader reads a number there as partial credit: Validate then tells a
    student with correct answers "Partial credit"."""
    for path in sorted((ROOT / "notebooks" / assignment).glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        valued = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells
                  if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")
                  and not c.metadata["nbgrader"].get("solution") and _shows_a_value(c.source)]
        assert not valued, (f"{path.name}: graded cells end with a value (end the line with `;` "
                            f"or assign it): {valued}")


# ------------------------------------------------------------------ written answers
# docs/authoring.md: a read-only question cell holding the mark scheme, then the student's
# answer cell, nbgrader's manually graded answer (the one with the score box).

def _written_answers(nb) -> list[tuple[nbformat.NotebookNode, nbformat.NotebookNode]]:
    """(question cell, answer cell) of every written answer of ``nb``."""
    from workbook_grading import markers

    return [(nb.cells[i - 1] if i else None, c) for i, c in enumerate(nb.cells)
            if markers.is_written_answer(c)]


@pytest.mark.parametrize("assignment", assignments())
def test_written_answers_are_graded_answer_cells_after_their_question(assignment):
    from workbook_grading import markers

    for path in sorted((ROOT / "solutions" / assignment).glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        tasks = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells
                 if c.metadata.get("nbgrader", {}).get("task")]
        assert not tasks, (f"{path.name}: written answers in the old layout (task cells "
                           f"{tasks}): convert them as docs/authoring.md describes")
        for question, answer in _written_answers(nb):
            meta = answer.metadata["nbgrader"]
            gid = meta["grade_id"]
            assert meta.get("points", 0) > 0 and not meta.get("locked"), gid
            assert question is not None and question.cell_type == "markdown", gid
            qmeta = question.metadata.get("nbgrader", {})
            assert qmeta.get("locked") and not qmeta.get("grade") and not qmeta.get("solution"), (
                f"{gid}: the cell before it must be its read-only question")
            assert markers.MARK_SCHEME.begin in question.source, f"{gid}: no mark scheme"
            assert markers.is_unanswered(answer.source), f"{gid}: the source holds an answer"
            headings = [line for line in question.source.splitlines()
                        if markers.MARK_SCHEME.is_marker(line) and line.lstrip().startswith("#")]
            assert not headings, f"{gid}: a mark-scheme marker renders as a heading: {headings}"


@pytest.mark.parametrize("assignment", assignments())
def test_released_written_answers_hold_the_placeholder_and_no_mark_scheme(assignment):
    from workbook_grading import markers
    from workbook_grading.config import TEXT_STUB

    for path in sorted((ROOT / "solutions" / assignment).glob("*.ipynb")):
        source = _written_answers(nbformat.read(path, as_version=4))
        released = _written_answers(nbformat.read(ROOT / "notebooks" / assignment / path.name,
                                                  as_version=4))
        ids = [a.metadata["nbgrader"]["grade_id"] for _, a in source]
        assert [a.metadata["nbgrader"]["grade_id"] for _, a in released] == ids
        for (src_q, _), (question, answer) in zip(source, released):
            assert answer.source == TEXT_STUB
            assert question.metadata["nbgrader"].get("locked")
            assert not any(m in question.source for m in markers.ALL_MARKERS)
            assert question.source.strip(), "the question is left for students"
            leaked = [line for line in markers.secret_lines([src_q.source])
                      if line in question.source or line in answer.source]
            assert not leaked, f"mark-scheme lines reached students: {leaked}"
