"""A new gradebook is stamped with nbgrader's schema version in-process
(workbook.grading.config.prepare_gradebook) exactly as nbgrader's own ``alembic`` run
would stamp it."""

import os
import sqlite3
import sys

from nbgrader.api import Gradebook

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
