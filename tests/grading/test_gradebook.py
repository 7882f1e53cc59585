"""A new gradebook is stamped with nbgrader's schema version in-process
(workbook_grading.config.prepare_gradebook) exactly as nbgrader's own ``alembic`` run
would stamp it; the grading command's writer puts each result into the gradebook in a
transaction of its own, grades and state together, and a result it cannot write spares the
others."""

import os
import sqlite3
import sys

import pytest
from nbgrader.api import Gradebook, MissingEntry

from tiny_course import ASSIGNMENT, NOTEBOOK, db_url, released_course, scores, state
from workbook_grading.autograde import Recorder
from workbook_grading.results import Grade, NotebookResult, SubmissionResult
from workbook_grading.config import COURSE_ID, alembic_head, prepare_gradebook


def schema(path):
    with sqlite3.connect(path) as con:
        tables = sorted(r[0] for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"))
        (version,) = con.execute("SELECT version_num FROM alembic_version").fetchone()
    return tables, version


def test_prepared_gradebook_equals_the_one_nbgrader_makes(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", os.pathsep.join([os.path.dirname(sys.executable),
                                                os.environ.get("PATH", "")]))  # `alembic`
    with Gradebook(f"sqlite:///{tmp_path / 'nbgrader.db'}", COURSE_ID):
        pass  # nbgrader runs `alembic heads` in a subprocess for a new database
    url = f"sqlite:///{tmp_path / 'prepared.db'}"
    prepare_gradebook(url)
    with Gradebook(url, COURSE_ID):
        pass
    assert schema(tmp_path / "prepared.db") == schema(tmp_path / "nbgrader.db")
    assert schema(tmp_path / "prepared.db")[1] == alembic_head()


def test_a_gradebook_with_tables_is_left_alone(tmp_path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        con.execute("INSERT INTO alembic_version VALUES ('older')")
    prepare_gradebook(f"sqlite:///{path}")
    with sqlite3.connect(path) as con:
        assert con.execute("SELECT version_num FROM alembic_version").fetchall() == [("older",)]


def result(student, add=2.0, notebook=NOTEBOOK):
    """What a worker hands back for ``student``: test-add scored ``add``, test-double 1."""
    grades = {"test-add": Grade(add), "test-double": Grade(1.0)}
    return SubmissionResult(ASSIGNMENT, student, f"h-{student}", None,
                            {notebook: NotebookResult(grades=grades, autograded=b"{}")},
                            seconds=0.5, worker=1)


@pytest.fixture
def recorder(tmp_path):
    root = tmp_path / "course"
    released_course(root)
    rec = Recorder(root, db_url(root))
    yield rec
    rec.close()


def test_each_result_is_written_with_its_grades_and_state(recorder):
    statuses = recorder.record_batch([result("ann"), result("bob", add=0.0), result("cy")])
    assert statuses == [{NOTEBOOK: "ok"}] * 3
    root = recorder.root
    assert scores(root) == {"ann": {"test-add": 2.0, "test-double": 1.0},
                            "bob": {"test-add": 0.0, "test-double": 1.0},
                            "cy": {"test-add": 2.0, "test-double": 1.0}}
    assert {s: r["writes"] for s, r in state(root).items()} == {"ann": 1, "bob": 1, "cy": 1}
    assert (root / "grading" / "autograded" / "bob" / ASSIGNMENT / f"{NOTEBOOK}.ipynb").is_file()


def test_a_result_that_cannot_be_written_leaves_no_state_and_spares_the_others(recorder):
    """The second result names a notebook the assignment lacks: it is rolled back and
    handed back as the error (no state row: graded again next run); the first and third
    are written, and the writer goes on working."""
    statuses = recorder.record_batch([result("ann"), result("bob", notebook="nonesuch"),
                                      result("cy")])
    assert statuses[0] == statuses[2] == {NOTEBOOK: "ok"}
    assert isinstance(statuses[1], MissingEntry)
    assert set(state(recorder.root)) == {"ann", "cy"}
    with pytest.raises(MissingEntry):
        recorder.record(result("bob", notebook="nonesuch"))
    assert recorder.record(result("ann", add=0.0)) == {NOTEBOOK: "ok"}  # graded again
    assert scores(recorder.root)["ann"] == {"test-add": 0.0, "test-double": 1.0}
    assert state(recorder.root)["ann"]["writes"] == 2
