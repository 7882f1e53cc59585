"""The grades as CSV: the detailed table, and the tables an LMS grade import takes.

Everything is read from nbgrader's gradebook (``records``): per student x notebook, per
graded cell, its score and whether it still waits for a person (``needs_manual_grade``).
Nothing depends on how a written answer is laid out in the notebook.

Detailed (``--format detailed``, the default): one row per student x notebook.
Columns: ``student, assignment, notebook, status, score, max_score`` then one column per
graded cell (its grade id; the score, blank when it still needs manual grading or does not
belong to the row's notebook), ``needs_manual_grade`` (how many cells still wait for a
person), ``pending_points`` (their points), ``late_penalty``, ``detail`` (what the
autograder reported).

``status``: what ``workbook autograde`` recorded (``ok``, ``timeout``, ``kernel-died``,
``invalid-notebook``, ``missing``, ``late``, ``error``); ``missing`` for a student of the
gradebook with no submission; for submissions graded outside ``workbook autograde``,
``ok`` or ``late`` from nbgrader's own record.

LMS (``--format lms --lms canvas|moodle``): one row per student, one column per
assignment (its total after any late penalty; with ``per_question`` also one column per
graded cell). An assignment with a written answer still waiting for a person is left
blank (an LMS import leaves a blank grade alone), never counted as 0; a missing
submission is 0, and so are the written answers of a notebook the grader could not run
(``invalid-notebook``, ``error``: there is nothing for a person to grade, and the
formgrader cannot show it). The column layouts are in docs/grading.md.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path

from workbook_grading.autograde import STATE
from workbook_grading.course import Course
from workbook_grading.status import NOT_RUN, Status

FIXED = ["student", "assignment", "notebook", "status", "score", "max_score"]
TRAILING = ["needs_manual_grade", "pending_points", "late_penalty", "detail"]
LMS = ("canvas", "moodle")
NO_SUBMISSION = "no submission"   # the detail of a student the gradebook has nothing of


@dataclass
class Question:
    """One graded cell of one submitted notebook."""

    name: str                 # grade id
    max_score: float
    score: float | None       # None while pending, or when nothing was submitted
    autograded: bool          # a code cell scored by the grader's tests (not a written answer)
    pending: bool = False     # a person still has to grade it
    unanswered: bool = False  # a written answer the grader scored 0 itself: left empty or
                              # as released (nbgrader's "No response.", workbook's "No answer")


@dataclass
class Record:
    """One student x notebook, as the gradebook holds it."""

    student: str
    assignment: str
    notebook: str
    status: str
    detail: str
    max_score: float
    questions: list[Question] = field(default_factory=list)
    late_penalty: float = 0.0
    extra_credit: float = 0.0

    @property
    def submitted(self) -> bool:
        return self.status != Status.MISSING

    @property
    def score(self) -> float:
        """Points so far (pending cells count nothing yet), after the late penalty."""
        return (sum(q.score or 0.0 for q in self.questions) + self.extra_credit
                - self.late_penalty)

    @property
    def pending(self) -> list[Question]:
        return [q for q in self.questions if q.pending]

    @property
    def pending_points(self) -> float:
        return sum(q.max_score for q in self.pending)

    @property
    def complete(self) -> bool:
        """Every cell has its score: nothing waits for a person."""
        return self.submitted and not self.pending

    @property
    def auto_score(self) -> float:
        return sum(q.score or 0.0 for q in self.questions if q.autograded)

    @property
    def auto_max(self) -> float:
        return sum(q.max_score for q in self.questions if q.autograded)


def records(course: Course, assignments: list[str] | None = None) -> list[Record]:
    """Every student of the gradebook x every notebook of the (chosen) assignments."""
    from nbgrader.api import MissingEntry

    out: list[Record] = []
    with course.gradebook() as gb:
        state = {(r.assignment, r.student, r.notebook): r for r in gb.db.execute(STATE.select())}
        students = sorted(s.id for s in gb.students)
        for a in sorted(gb.assignments, key=lambda a: a.name):
            if assignments and a.name not in assignments:
                continue
            for nb in a.notebooks:
                cells = list(nb.grade_cells) + list(nb.task_cells)
                for student in students:
                    rec = Record(student, a.name, nb.name, Status.MISSING, NO_SUBMISSION,
                                 float(nb.max_score))
                    try:
                        sn = gb.find_submission_notebook(nb.name, a.name, student)
                    except MissingEntry:
                        rec.questions = [Question(c.name, float(c.max_score), None,
                                                  c.cell_type == "code") for c in cells]
                        out.append(rec)
                        continue
                    for g in sn.grades:
                        written = g.cell_type != "code"
                        rec.questions.append(Question(
                            g.name, float(g.max_score),
                            None if g.needs_manual_grade else float(g.score or 0.0),
                            not written, bool(g.needs_manual_grade),
                            written and not g.needs_manual_grade and g.manual_score is None
                            and g.auto_score is not None and g.auto_score <= 0))
                        rec.extra_credit += g.extra_credit or 0.0
                    rec.late_penalty = sn.late_submission_penalty or 0.0
                    row = state.get((a.name, student, nb.name))
                    if row is not None:
                        rec.status, rec.detail = row.status, row.detail or ""
                    else:
                        late = (sn.assignment.total_seconds_late or 0) > 0
                        rec.status, rec.detail = (Status.LATE if late else Status.OK), ""
                    if rec.status in NOT_RUN:  # no notebook a person could grade: 0, final
                        for q in rec.questions:
                            q.score, q.pending = (0.0 if q.pending else q.score), False
                    out.append(rec)
    return out


def rows(course: Course, assignments: list[str] | None = None) -> tuple[list[str], list[dict]]:
    """(header, rows) of the detailed export."""
    cells: list[str] = []
    out = []
    for r in records(course, assignments):
        cells.extend(q.name for q in r.questions if q.name not in cells)
        row = {"student": r.student, "assignment": r.assignment, "notebook": r.notebook,
               "status": r.status, "score": _num(r.score), "max_score": _num(r.max_score),
               "needs_manual_grade": len(r.pending), "pending_points": _num(r.pending_points),
               "late_penalty": _num(r.late_penalty), "detail": r.detail}
        row.update({q.name: "" if q.score is None else _num(q.score) for q in r.questions})
        out.append(row)
    return FIXED + cells + TRAILING, out


def lms_rows(course: Course, lms: str, *, per_question: bool = False,
             assignments: list[str] | None = None) -> list[list[str]]:
    """The rows (header first) of the grade import of ``lms`` (``canvas`` or ``moodle``)."""
    if lms not in LMS:
        raise ValueError(f"unknown LMS {lms!r}: choose one of {', '.join(LMS)}")
    recs = records(course, assignments)
    by_student: dict[str, dict[str, list[Record]]] = {}
    notebooks: dict[tuple[str, str], float] = {}
    columns: dict[str, float] = {}            # column -> points possible
    for r in recs:
        by_student.setdefault(r.student, {}).setdefault(r.assignment, []).append(r)
        notebooks[(r.assignment, r.notebook)] = r.max_score
        columns.setdefault(r.assignment, 0.0)
        if per_question:
            for q in r.questions:
                columns[_question_column(r, q)] = q.max_score
    for (assignment, _), max_score in notebooks.items():
        columns[assignment] += max_score
    names = _names(course)
    if lms == "canvas":
        header = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *columns]
        table = [header, ["Points Possible", "", "", "", "", *map(_num, columns.values())]]
    else:
        header = ["Username", "Full name", "Email address", *columns]
        table = [header]
    for student, per_assignment in sorted(by_student.items()):
        values = {}
        for assignment, rs in per_assignment.items():
            values[assignment] = _total(rs)
            if per_question:
                for r in rs:
                    for q in r.questions:
                        values[_question_column(r, q)] = (
                            "0" if not r.submitted else "" if q.score is None else _num(q.score))
        first, last, email, lms_id = names.get(student, ("", "", "", ""))
        grades = [values.get(c, "") for c in columns]
        if lms == "canvas":
            display = f"{last}, {first}" if first and last else student
            table.append([display, lms_id, "", student, "", *grades])
        else:
            full = " ".join(x for x in (first, last) if x) or student
            table.append([student, full, email, *grades])
    return table


def _question_column(r: Record, q: Question) -> str:
    return f"{r.assignment}: {q.name}"


def _total(rs: list[Record]) -> str:
    """An assignment's total for the LMS: blank while anything is pending."""
    if any(r.pending for r in rs if r.submitted):
        return ""
    return _num(sum(r.score for r in rs if r.submitted))


def _names(course: Course) -> dict[str, tuple[str, str, str, str]]:
    """student id -> (first name, last name, email, LMS user id) from the gradebook."""
    with course.gradebook() as gb:
        return {s.id: (s.first_name or "", s.last_name or "", s.email or "",
                       s.lms_user_id or "") for s in gb.students}


def _num(x) -> str | int | float:
    return int(x) if float(x).is_integer() else round(float(x), 4)


def _write(output: Path, write) -> None:
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        write(fh)
    os.replace(tmp, output)


def export(output: Path, course: Course, *, assignments: list[str] | None = None) -> int:
    """Write the detailed CSV to ``output``; return the number of rows."""
    header, data = rows(course, assignments)

    def write(fh):
        writer = csv.DictWriter(fh, fieldnames=header, restval="")
        writer.writeheader()
        writer.writerows(data)

    _write(output, write)
    return len(data)


def export_lms(output: Path, course: Course, lms: str, *, per_question: bool = False,
               assignments: list[str] | None = None) -> tuple[int, int]:
    """Write the grade import of ``lms`` to ``output``; return (students, blank totals)."""
    table = lms_rows(course, lms, per_question=per_question, assignments=assignments)
    pending = {(r.student, r.assignment) for r in records(course, assignments)
               if r.submitted and r.pending}
    _write(output, lambda fh: csv.writer(fh).writerows(table))
    return len(table) - (2 if lms == "canvas" else 1), len(pending)
