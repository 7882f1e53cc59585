"""What a grading worker hands back for one submission, typed (travels through Dask)."""

from __future__ import annotations

from dataclasses import dataclass, field

from workbook_grading.status import Status


@dataclass
class Grade:
    """One graded cell: its automatic score (None for a written answer), and whether a
    person still has to grade it."""

    auto_score: float | None
    needs_manual_grade: bool = False


@dataclass
class NotebookResult:
    """One notebook of a submission."""

    status: Status = Status.OK
    problems: list[str] = field(default_factory=list)      # what the detail says, in order
    grades: dict[str, Grade] = field(default_factory=dict)  # grade id -> Grade
    comments: dict[str, str | None] = field(default_factory=dict)  # nbgrader's auto comments
    late_penalty: float | None = None
    autograded: bytes | None = None                         # the executed notebook


@dataclass
class SubmissionResult:
    """One student's submission of one assignment."""

    assignment: str
    student: str
    hash: str
    timestamp: str | None
    notebooks: dict[str, NotebookResult]
    extra_files: list[str] = field(default_factory=list)   # notebooks it should not have held
    seconds: float = 0.0
    worker: int | None = None
