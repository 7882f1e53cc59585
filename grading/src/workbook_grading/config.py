"""The nbgrader configuration of the course, in one place.

``grading/nbgrader_config.py`` (read by ``nbgrader`` and the formgrader when they run
in ``grading/``) and the ``workbook`` command both build their configuration here, so
the two can never disagree. Layout (relative to the repository root):

    solutions/<assignment>/<notebook>.ipynb    nbgrader's source
    notebooks/<assignment>/<notebook>.ipynb    nbgrader's release (committed)
    grading/submitted|autograded|feedback/...  per-student work (git-ignored)
    grading/gradebook.db                       the gradebook (git-ignored)
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

from traitlets.config import Config

COURSE_ID = "deep-learning-workbook"

# The student-facing stub nbgrader puts where solutions were.
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
# What a written answer cell holds in the release (an unchanged one scores 0, flagged).
TEXT_STUB = "*Write your answer here.*"


def repo_root() -> Path:
    """The checkout this package was installed from (``pip install -e .``)."""
    env = os.environ.get("WORKBOOK_ROOT")
    if env:
        return Path(env).resolve()
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "solutions").is_dir() and (parent / "pyproject.toml").is_file():
            return parent
    raise RuntimeError(
        "could not find the workbook checkout (a folder with solutions/ and pyproject.toml); "
        "install the package with `pip install -e .` from the checkout, or set WORKBOOK_ROOT"
    )


def course_config(root: str | os.PathLike | None = None, *, db_url: str | None = None,
                  release_directory: str = "notebooks",
                  grading_dir: str = "grading") -> Config:
    """A traitlets ``Config`` for nbgrader rooted at ``root`` (default: the checkout)."""
    _scripts_on_path()
    root = Path(root) if root is not None else repo_root()
    grading = root / grading_dir
    c = Config()
    c.CourseDirectory.root = str(root)
    c.CourseDirectory.course_id = COURSE_ID
    c.CourseDirectory.source_directory = "solutions"
    c.CourseDirectory.release_directory = release_directory
    c.CourseDirectory.submitted_directory = f"{grading_dir}/submitted"
    c.CourseDirectory.autograded_directory = f"{grading_dir}/autograded"
    c.CourseDirectory.feedback_directory = f"{grading_dir}/feedback"
    c.CourseDirectory.db_url = db_url or f"sqlite:///{grading / 'gradebook.db'}"
    c.ClearSolutions.code_stub = {"python": CODE_STUB}
    c.ClearSolutions.text_stub = TEXT_STUB
    # A written question's mark scheme sits in its read-only question cell, next to the
    # graded answer cell (docs/authoring.md), not in a task cell with a score of its own.
    c.ClearMarkScheme.enforce_metadata = False
    # The formgrader's release/collect pages need an exchange: one per course, never
    # the system-wide /usr/local/share/nbgrader/exchange (`workbook formgrader` creates it).
    c.Exchange.root = str(grading / "exchange")
    # A student who deletes a test cell gets it back at grading time, graded as usual.
    c.OverwriteCells.add_missing_cells = True
    # Autograding runs every notebook under the quick profile (see workbook.runtime).
    c.ExecutePreprocessor.timeout = 300
    c.Execute.timeout = 300
    return c


@functools.lru_cache(maxsize=None)
def alembic_head() -> str:
    """The gradebook schema version of the installed nbgrader (what ``alembic heads``
    prints for nbgrader's migrations), read in this process."""
    import nbgrader
    from alembic.config import Config as AlembicConfig
    from alembic.script import ScriptDirectory

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", os.path.join(os.path.dirname(nbgrader.__file__),
                                                        "alembic"))
    return ScriptDirectory.from_config(cfg).get_current_head()


def prepare_gradebook(db_url: str) -> None:
    """Stamp a gradebook database that has no tables yet with nbgrader's schema version.

    nbgrader's ``Gradebook`` does that itself by running the ``alembic`` command: a new
    Python process that imports nbgrader, 2-3 s here, paid by every grading worker's
    scratch gradebook and every new course. Stamped here, ``Gradebook`` only creates the
    tables. A database that has tables is left alone.
    """
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(db_url, future=True)
    try:
        with engine.begin() as con:
            if inspect(con).get_table_names():
                return
            con.execute(text("CREATE TABLE alembic_version "
                             "(version_num VARCHAR(32) NOT NULL)"))
            con.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"),
                        {"v": alembic_head()})
    finally:
        engine.dispose()


def _scripts_on_path() -> None:
    """Put this interpreter's scripts folder on PATH.

    nbgrader runs the ``alembic`` executable to set up its gradebook; called as
    ``.venv/bin/python`` without an activated environment, it would not be found.
    """
    scripts = os.path.dirname(sys.executable)
    path = os.environ.get("PATH", "").split(os.pathsep)
    if scripts not in path:
        os.environ["PATH"] = os.pathsep.join([scripts, *path])
