"""A new gradebook is stamped with nbgrader's schema version in-process
(workbook.grading.config.prepare_gradebook) exactly as nbgrader's own ``alembic`` run
would stamp it; workers share an engine per gradebook, do not wait for the disk on their
scratch gradebooks and check nbgrader's metadata schema once; the grading command's writer
puts the results at hand into the gradebook in one transaction, all of them or none."""

import os
import sqlite3
import sys

import pytest
from nbgrader.api import Gradebook, MissingEntry
from sqlalchemy import event

from tiny_course import ASSIGNMENT, NOTEBOOK, db_url, released_course, scores, state
from workbook.grading import autograde
from workbook.grading.autograde import Recorder
from workbook.grading.config import COURSE_ID, alembic_head, prepare_gradebook


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


def test_a_worker_opens_one_engine_per_gradebook_url(tmp_path, monkeypatch):
    """nbgrader opens about ten Gradebooks per submission; in a worker they share one
    SQLAlchemy engine (and its compiled-statement cache) per URL -- nested ones too, and
    each ``close`` (which disposes of the engine's connections) leaves the others working."""
    import nbgrader.api

    from workbook.grading.autograde import _share_engines

    monkeypatch.setattr(nbgrader.api, "create_engine", nbgrader.api.create_engine)  # undo
    _share_engines()
    _share_engines()  # once per process, however often it is called
    url, other = (f"sqlite:///{tmp_path / name}" for name in ("a.db", "b.db"))
    prepare_gradebook(url)
    prepare_gradebook(other)
    with Gradebook(url, COURSE_ID) as outer:
        outer.add_student("s1")
        with Gradebook(url, COURSE_ID) as inner:  # as nbgrader nests them
            assert inner.engine is outer.engine
            inner.add_student("s2")
        outer.add_student("s3")
        with Gradebook(other, COURSE_ID) as elsewhere:
            assert elsewhere.engine is not outer.engine
            assert elsewhere.students == []
    with Gradebook(url, COURSE_ID) as again:
        assert sorted(s.id for s in again.students) == ["s1", "s2", "s3"]


def test_a_worker_does_not_wait_for_the_disk_on_its_scratch_gradebooks_only(tmp_path,
                                                                            monkeypatch):
    import nbgrader.api
    from sqlalchemy import text

    monkeypatch.setattr(nbgrader.api, "create_engine", nbgrader.api.create_engine)  # undo
    monkeypatch.setitem(autograde._WORKER, "base", tmp_path / "scratch")
    autograde._share_engines()
    (tmp_path / "scratch" / "c0").mkdir(parents=True)
    scratch = f"sqlite:///{tmp_path / 'scratch' / 'c0' / 'gradebook.db'}"
    real = f"sqlite:///{tmp_path / 'gradebook.db'}"
    assert autograde._is_scratch(scratch) and not autograde._is_scratch(real)
    assert not autograde._is_scratch(f"sqlite:///{tmp_path / 'scratch-other.db'}")
    synchronous = {}
    for url in (scratch, real):
        prepare_gradebook(url)
        with Gradebook(url, COURSE_ID) as gb:
            gb.add_student("s1")  # works as ever
            synchronous[url] = gb.db.execute(text("PRAGMA synchronous")).scalar()
    assert synchronous == {scratch: 0, real: 2}  # OFF; SQLite's default FULL


@pytest.mark.parametrize("meta", [
    {"grade": True, "solution": False, "locked": True, "points": 2, "grade_id": "t",
     "schema_version": 3},
    {"grade": True, "solution": False, "locked": True, "grade_id": "t", "schema_version": 3},
    {"grade": "yes", "solution": False, "locked": True, "points": 2, "grade_id": "t",
     "schema_version": 3},
    {"grade": True, "solution": False, "locked": True, "points": -1, "grade_id": 7,
     "schema_version": 3},
], ids=["valid", "no-points", "grade-not-bool", "two-errors"])
def test_metadata_checked_with_one_validator_as_jsonschema_would(meta, monkeypatch):
    """nbgrader's metadata check, with the schema checked once instead of per cell: the
    same verdict and the same error as nbgrader's own check with ``jsonschema.validate``."""
    import jsonschema
    from nbformat.v4 import new_code_cell
    from nbgrader.nbgraderformat import common
    from nbgrader.nbgraderformat.v3 import MetadataValidatorV3

    def verdict(cell):
        try:
            MetadataValidatorV3().validate_cell(cell)
        except jsonschema.ValidationError as err:
            return err.message
        return None

    cell = new_code_cell("pass", metadata={"nbgrader": meta})
    monkeypatch.setattr(common, "jsonschema", common.jsonschema)  # undo
    expected = verdict(cell)
    assert (expected is None) == (meta["grade_id"] == "t" and "points" in meta
                                  and meta["grade"] is True)
    autograde._check_schemas_once()
    autograde._check_schemas_once()  # once per process
    assert isinstance(common.jsonschema, autograde._SchemaCache)
    assert not isinstance(common.jsonschema._jsonschema, autograde._SchemaCache)
    checks = []
    monkeypatch.setattr(jsonschema.validators.validator_for(MetadataValidatorV3().schema),
                        "check_schema", lambda *a: checks.append(1))
    assert [verdict(cell) for _ in range(3)] == [expected] * 3
    assert checks == [1]  # the schema checked once, not per cell
    assert common.jsonschema.ValidationError is jsonschema.ValidationError  # the rest as is


def result(student, add=2.0, notebook=NOTEBOOK):
    """What a worker hands back for ``student``: test-add scored ``add``, test-double 1."""
    grades = {"test-add": add, "test-double": 1.0}
    return {"assignment": ASSIGNMENT, "student": student, "hash": f"h-{student}",
            "timestamp": None, "extra_files": [], "seconds": 0.5, "worker": 1,
            "notebooks": {notebook: {
                "status": "ok", "problems": [], "comments": {}, "late_penalty": None,
                "autograded": b"{}",
                "grades": {k: {"auto_score": v, "needs_manual_grade": False}
                           for k, v in grades.items()}}}}


@pytest.fixture
def recorder(tmp_path):
    root = tmp_path / "course"
    released_course(root)
    rec = Recorder(root, db_url(root))
    yield rec
    rec.close()


def test_results_arriving_together_are_written_in_one_commit(recorder):
    commits = []
    event.listen(recorder.gb.engine, "commit", lambda conn: commits.append(1))
    statuses = recorder.record_batch([result("ann"), result("bob", add=0.0), result("cy")])
    assert statuses == [{NOTEBOOK: "ok"}] * 3
    assert len(commits) == 1  # nbgrader's own commits (student, submission) deferred
    root = recorder.root
    assert scores(root) == {"ann": {"test-add": 2.0, "test-double": 1.0},
                            "bob": {"test-add": 0.0, "test-double": 1.0},
                            "cy": {"test-add": 2.0, "test-double": 1.0}}
    assert {s: r["writes"] for s, r in state(root).items()} == {"ann": 1, "bob": 1, "cy": 1}
    assert (root / "grading" / "autograded" / "bob" / ASSIGNMENT / f"{NOTEBOOK}.ipynb").is_file()


def test_a_result_that_cannot_be_written_leaves_nothing_of_its_batch(recorder):
    """The second result names a notebook the assignment lacks: the batch fails as a
    whole -- not even the student rows nbgrader would have committed on its own remain --
    and the writer goes on working (its commits are real again)."""
    with pytest.raises(MissingEntry):
        recorder.record_batch([result("ann"), result("bob", notebook="nonesuch")])
    assert "commit" not in vars(recorder.gb.db)
    with Gradebook(db_url(recorder.root), COURSE_ID) as gb:
        assert gb.students == []
    assert state(recorder.root) == {}
    assert recorder.record(result("ann")) == {NOTEBOOK: "ok"}
    assert recorder.record(result("ann", add=0.0)) == {NOTEBOOK: "ok"}  # graded again
    assert scores(recorder.root) == {"ann": {"test-add": 0.0, "test-double": 1.0}}
    assert state(recorder.root)["ann"]["writes"] == 2
