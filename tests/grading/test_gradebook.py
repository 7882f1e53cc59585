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
