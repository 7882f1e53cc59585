"""Each student notebook runs end to end; every error it raises is an exercise stub's."""

import time

import nbformat
import pytest
from nbclient import NotebookClient

from helpers import ROOT, assignments, fill_submission, record_notebook_time


@pytest.mark.parametrize("assignment", assignments())
def test_student_notebook_fails_only_at_the_exercises(assignment, tmp_path):
    for path in sorted((ROOT / "notebooks" / assignment).glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        start = time.perf_counter()
        NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True,
                       resources={"metadata": {"path": str(tmp_path)}}).execute()
        record_notebook_time(f"student {assignment}/{path.name}", time.perf_counter() - start)
        code = [c for c in nb.cells if c.cell_type == "code"]
        not_run = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and not c.execution_count]
        assert not not_run, f"{path.name}: cells {not_run} did not run"
        errors = [(i, o.ename, o.evalue) for i, c in enumerate(nb.cells) if c.cell_type == "code"
                  for o in c.outputs if o.output_type == "error"]
        others = [e for e in errors if e[1] != "NotImplementedError"]
        assert not others, (
            f"{path.name}: the student version raises errors other than NotImplementedError "
            f"(cell index, error, message): {others}")
        stubs = sum(1 for c in code if c.metadata.get("nbgrader", {}).get("solution"))
        assert len(errors) >= stubs, f"{path.name}: {stubs} exercises but only {len(errors)} errors"


@pytest.mark.parametrize("assignment", assignments())
def test_solution_test_cells_pass_without_writing_to_stderr(assignment, tmp_path):
    """Plain `nbgrader autograde` scores a test cell that writes to stderr as failed."""
    for path in sorted((ROOT / "solutions" / assignment).glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        start = time.perf_counter()
        NotebookClient(nb, timeout=300, kernel_name="python3",
                       resources={"metadata": {"path": str(tmp_path)}}).execute()
        record_notebook_time(f"solution {assignment}/{path.name}", time.perf_counter() - start)
        noisy = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells
                 if c.metadata.get("nbgrader", {}).get("grade")
                 and any(o.output_type == "stream" and o.name == "stderr" for o in c.outputs)]
        assert not noisy, f"{path.name}: graded cells write to stderr: {noisy}"


@pytest.mark.parametrize("assignment", assignments())
def test_answered_release_test_cells_end_without_a_value(assignment, tmp_path):
    """What a student with correct answers validates: the release with hidden tests stripped.

    A test cell whose last visible line is an expression (say ``check_gradient(...)``, which
    returns the error) shows a value; nbgrader reads a number there as partial credit, and
    Validate tells a student with correct answers "Partial credit".
    """
    for path in sorted((ROOT / "notebooks" / assignment).glob("*.ipynb")):
        source = nbformat.read(ROOT / "solutions" / assignment / path.name, as_version=4)
        nb = fill_submission(nbformat.read(path, as_version=4), source)
        start = time.perf_counter()
        NotebookClient(nb, timeout=300, kernel_name="python3",
                       resources={"metadata": {"path": str(tmp_path)}}).execute()
        record_notebook_time(f"answered {assignment}/{path.name}", time.perf_counter() - start)
        valued = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells
                  if c.metadata.get("nbgrader", {}).get("grade")
                  and any(o.output_type == "execute_result" for o in c.outputs)]
        assert not valued, (f"{path.name}: graded cells end with a value (end the line with `;` "
                            f"or assign it): {valued}")
