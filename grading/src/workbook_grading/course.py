"""One course the ``workbook`` command manages: its folders, its gradebook, its nbgrader
configuration, in one object.

    course = Course.at(root, db_url=None)      # the checkout when root is None
    course.autograded / "alice" / "01_neurons" / "neurons.ipynb"
    with course.gradebook() as gb:             # nbgrader's Gradebook, state table ensured
        ...

``export``, ``feedback`` and ``report`` take a ``Course`` instead of passing ``root`` and
``db_url`` separately, so every command reads the same folders and the same database.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from workbook_grading.config import COURSE_ID, course_config, repo_root


@dataclass(frozen=True)
class Course:
    root: Path            # the course checkout (solutions/, notebooks/, grading/)
    db_url: str           # nbgrader's gradebook URL

    @classmethod
    def at(cls, root: str | Path | None = None, *, db_url: str | None = None) -> "Course":
        """The course at ``root`` (default: this checkout or $WORKBOOK_ROOT); its gradebook
        is ``db_url`` or ``grading/gradebook.db``."""
        root = Path(root).resolve() if root is not None else repo_root()
        return cls(root, db_url or course_config(root).CourseDirectory.db_url)

    @property
    def config(self):
        """nbgrader's traitlets ``Config`` for this course (``config.course_config``)."""
        return course_config(self.root, db_url=self.db_url)

    @property
    def grading(self) -> Path:
        return self.root / "grading"

    @property
    def submitted(self) -> Path:
        return self.grading / "submitted"

    @property
    def autograded(self) -> Path:
        return self.grading / "autograded"

    @property
    def feedback(self) -> Path:
        return self.grading / "feedback"

    @property
    def reports(self) -> Path:
        return self.grading / "reports"

    @property
    def exports(self) -> Path:
        return self.grading / "exports"

    def autograded_notebook(self, student: str, assignment: str, notebook: str) -> Path:
        return self.autograded / student / assignment / f"{notebook}.ipynb"

    @contextlib.contextmanager
    def gradebook(self):
        """nbgrader's ``Gradebook`` of the course, with ``workbook autograde``'s state table
        created if missing; closed on exit."""
        from nbgrader.api import Gradebook

        from workbook_grading.autograde import STATE, quiet_warnings

        quiet_warnings()
        with Gradebook(self.db_url, COURSE_ID) as gb:
            STATE.create(gb.engine, checkfirst=True)
            yield gb
