"""The grades as CSV: one row per student x notebook.

Columns: ``student, assignment, notebook, status, score, max_score`` then one column per
graded cell (its grade id; the score, blank when it still needs manual grading or does not
belong to the row's notebook), ``needs_manual_grade`` (how many cells still wait for a
person), ``late_penalty``, ``detail`` (what the autograder reported).

``status``: what ``workbook autograde`` recorded (``ok``, ``timeout``, ``kernel-died``,
``invalid-notebook``, ``missing``, ``late``, ``error``); ``missing`` for a student of the
gradebook with no submission; for submissions graded outside ``workbook autograde``,
``ok`` or ``late`` from nbgrader's own record.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from workbook_grading.autograde import STATE, quiet_warnings
from workbook_grading.config import COURSE_ID, course_config, repo_root
from workbook_grading.status import Status

FIXED = ["student", "assignment", "notebook", "status", "score", "max_score"]
TRAILING = ["needs_manual_grade", "late_penalty", "detail"]


def rows(db_url: str, assignments: list[str] | None = None) -> tuple[list[str], list[dict]]:
    """(header, rows) of the export."""
    from nbgrader.api import Gradebook, MissingEntry

    quiet_warnings()
    out: list[dict] = []
    cells: list[str] = []
    with Gradebook(db_url, COURSE_ID) as gb:
        STATE.create(gb.engine, checkfirst=True)
        state = {(r.assignment, r.student, r.notebook): r for r in gb.db.execute(STATE.select())}
        students = sorted(s.id for s in gb.students)
        for a in sorted(gb.assignments, key=lambda a: a.name):
            if assignments and a.name not in assignments:
                continue
            for nb in a.notebooks:
                graded = [c.name for c in nb.grade_cells] + [c.name for c in nb.task_cells]
                cells.extend(c for c in graded if c not in cells)
                for student in students:
                    row = {"student": student, "assignment": a.name, "notebook": nb.name,
                           "max_score": _num(nb.max_score)}
                    try:
                        sn = gb.find_submission_notebook(nb.name, a.name, student)
                    except MissingEntry:
                        out.append({**row, "status": Status.MISSING, "score": 0,
                                    "needs_manual_grade": 0, "late_penalty": 0,
                                    "detail": "no submission"})
                        continue
                    total, manual = 0.0, 0
                    for g in sn.grades:
                        score = g.manual_score if g.manual_score is not None else g.auto_score
                        row[g.name] = "" if score is None else _num(score)
                        total += (score or 0.0) + (g.extra_credit or 0.0)
                        manual += bool(g.needs_manual_grade)
                    penalty = sn.late_submission_penalty or 0.0
                    rec = state.get((a.name, student, nb.name))
                    if rec is not None:
                        status, detail = rec.status, rec.detail or ""
                    else:
                        late = (sn.assignment.total_seconds_late or 0) > 0
                        status, detail = (Status.LATE if late else Status.OK), ""
                    out.append({**row, "status": status, "score": _num(total - penalty),
                                "needs_manual_grade": manual, "late_penalty": _num(penalty),
                                "detail": detail})
    return FIXED + cells + TRAILING, out


def _num(x):
    return int(x) if float(x).is_integer() else round(float(x), 4)


def export(output: Path, *, root: Path | None = None, db_url: str | None = None,
           assignments: list[str] | None = None) -> int:
    """Write the CSV to ``output``; return the number of rows."""
    root = Path(root) if root is not None else repo_root()
    db_url = db_url or course_config(root).CourseDirectory.db_url
    header, data = rows(db_url, assignments)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".tmp")
    with open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=header, restval="")
        writer.writeheader()
        writer.writerows(data)
    os.replace(tmp, output)
    return len(data)
