"""Per-student feedback as HTML, rendered from the autograded notebook and the gradebook.

    grading/feedback/<student>/<assignment>/<notebook>.html

Written here rather than by nbgrader's ``generate_feedback``, whose HTML is the whole
autograded notebook: test cells restored from the gradebook carry their hidden tests,
task cells their mark schemes, and tracebacks run through the hidden code. This renderer
shows, per cell:

- markdown: the text, with any ``BEGIN MARK SCHEME`` ... ``END MARK SCHEME`` region cut;
- the student's code, with its text/image outputs (capped);
- a graded test cell: its visible source (the ``BEGIN HIDDEN TESTS`` region replaced by
  one line saying hidden tests ran), points, passed/failed and, when it failed, only the
  exception's type and message -- the check's diagnostic (``AssertionError: relu(...)``),
  never a traceback;
- a task (written answer): points, or "awaiting manual grading"; the instructor's
  comment when there is one.

Before a page is written, its test and task cells are checked against every line of the
notebook's hidden tests and mark schemes (from the gradebook) that is not also visible;
a match stops the command (``FeedbackError``) rather than publish it.

A notebook that could not be graded (``missing``, ``invalid-notebook``, ``error``) gets a
page saying so, with the autograder's reason. Nothing is read from cells' metadata that a
student could forge: the cells that count come from the gradebook.
"""

from __future__ import annotations

import base64
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from workbook_grading import markers, mathml, templates
from workbook_grading.autograde import STATE
from workbook_grading.course import Course
from workbook_grading.status import Status

MAX_MESSAGE = 2000       # characters of an exception message shown
MAX_TEXT = 5000          # characters of a cell's text output shown
MAX_IMAGE_BYTES = 300_000
# Grading kernels draw at 100 dpi (launcher.kernel_env); at 40 dpi, the test suite's, a 5x4
# inch plot is 200 px wide, its labels 5 px high: narrower images are shown at twice their
# size, with a note.
SMALL_IMAGE_PX = 400

HIDDEN_NOTE = "# (hidden tests ran here)"
NO_NOTEBOOK = "no notebook could be graded, so there is no answer to read"


def strip_regions(source: str) -> str:
    """``source`` without its hidden-test, mark-scheme and solution regions (markers
    included); a region left open runs to the end of the cell."""
    return markers.strip(source, {markers.HIDDEN_TESTS: HIDDEN_NOTE})


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f"\n... ({len(text) - limit} more characters)"


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _error_line(out) -> str:
    ename = str(out.get("ename", "Error"))
    evalue = _ANSI.sub("", str(out.get("evalue", "")))
    return _clip(f"{ename}: {evalue}" if evalue else ename, MAX_MESSAGE)


# ------------------------------------------------------------------------------ model

@dataclass
class CellView:
    kind: str                 # markdown | code | test | task
    source: str
    grade_id: str | None = None
    score: float | None = None
    max_score: float | None = None
    result: str | None = None  # passed | partial | failed | manual
    message: str | None = None
    outputs: list = field(default_factory=list)  # ("text", str) | ("png", b64) | ("error", str)
    comment: str | None = None
    auto: bool = False        # scored by the grader's tests (not by a person)


@dataclass
class NotebookView:
    student: str
    assignment: str
    notebook: str
    status: str
    detail: str
    score: float
    max_score: float
    late_penalty: float
    cells: list[CellView]

    @property
    def graded(self) -> list[CellView]:
        """The cells that carry points (tests and written answers), in notebook order."""
        return [c for c in self.cells if c.kind in ("test", "task")]

    @property
    def pending_points(self) -> float:
        return sum(c.max_score or 0 for c in self.graded if c.result == "manual")

    @property
    def auto(self) -> tuple[float, float]:
        """(points, maximum) of the autograded tests."""
        tests = [c for c in self.graded if c.auto]
        return sum(c.score or 0 for c in tests), sum(c.max_score or 0 for c in tests)


def _score_view(grade) -> tuple[float | None, str]:
    score = grade.score if not grade.needs_manual_grade else None
    if grade.needs_manual_grade:
        return None, "manual"
    if score >= grade.max_score:
        return score, "passed"
    return score, ("partial" if score > 0 else "failed")


def _autograded(grade) -> bool:
    """Scored by the grader's tests: a code cell (a written answer is markdown, graded by
    a person even when the grader gave an unanswered one 0)."""
    return grade.cell_type == "code"


def _outputs(cell) -> list:
    shown, text = [], []
    for out in cell.get("outputs", []):
        kind = out.get("output_type")
        if kind == "stream":
            text.append(str(out.get("text", "")))
        elif kind in ("execute_result", "display_data"):
            data = out.get("data", {})
            png = data.get("image/png")
            if png and len(png) <= MAX_IMAGE_BYTES * 4 // 3:
                shown.append(("png", png.replace("\n", "")))
            elif "text/plain" in data:
                text.append(str(data["text/plain"]) + "\n")
        elif kind == "error":
            shown.append(("error", _error_line(out)))
    joined = _ANSI.sub("", "".join(text))
    if joined.strip():
        shown.insert(0, ("text", _clip(joined, MAX_TEXT)))
    return shown


def notebook_view(gb, sn, path: Path | None, status: str, detail: str) -> NotebookView:
    """The feedback of submitted notebook ``sn`` (nbgrader's SubmittedNotebook);
    ``path``: its autograded .ipynb, or None when there is none."""
    import nbformat

    grades = {g.name: g for g in sn.grades}
    # a person's comment, else the grader's (an unanswered written answer says so)
    comments = {c.name: (c.manual_comment or getattr(c, "auto_comment", None) or "")
                for c in sn.comments}
    penalty = sn.late_submission_penalty or 0.0
    total = sum((g.score or 0.0) + (g.extra_credit or 0.0) for g in sn.grades)
    view = NotebookView(sn.student.id, sn.assignment.name, sn.notebook.name, status, detail,
                        total - penalty, sn.max_score, penalty, [])
    if path is None or not path.is_file():
        for name, g in grades.items():  # the scores, without a notebook to show
            score, result = _score_view(g)
            kind = "task" if g.cell_type == "markdown" else "test"
            cv = CellView(kind, "", name, score, g.max_score, result,
                          comment=comments.get(name) or None, auto=_autograded(g))
            if result == "manual":  # no notebook: nothing for a person to grade (export.py)
                cv.score, cv.result, cv.message = 0, "failed", NO_NOTEBOOK
            view.cells.append(cv)
        return view
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        gid = meta.get("grade_id")
        grade = grades.get(gid) if gid else None
        source = strip_regions(cell.source)
        if grade is not None:  # a graded cell of the gradebook: test or written task
            score, result = _score_view(grade)
            kind = "task" if grade.cell_type == "markdown" else "test"
            cv = CellView(kind, source, gid, score, grade.max_score, result,
                          comment=comments.get(gid) or None, auto=_autograded(grade))
            if kind == "test":
                errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
                if errors:
                    cv.message = _error_line(errors[-1])
                elif result == "failed":
                    cv.message = "no result (the cell printed to stderr or did not run)"
            view.cells.append(cv)
        elif cell.cell_type == "markdown":
            view.cells.append(CellView("markdown", source))
        elif cell.cell_type == "code":
            view.cells.append(CellView("code", source, gid, outputs=_outputs(cell)))
    return view


# ---------------------------------------------------------------------------- HTML

def _num(x) -> str:
    return "" if x is None else (f"{x:g}" if isinstance(x, (int, float)) else str(x))


_LABELS = {"passed": "passed", "partial": "partly passed", "failed": "failed",
           "manual": "pending: awaiting manual grading"}


def _label(c: CellView) -> str:
    return "graded" if c.kind == "task" and c.result != "manual" else _LABELS[c.result]


def _reason(c: CellView) -> str:
    """One line for the summary table: why a test failed, or the grader's comment."""
    if c.result == "manual":
        return "a person grades this written answer; its points are not counted yet"
    text = c.message if c.message and c.result != "passed" else c.comment or ""
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first if len(first) <= 160 else first[:157] + "..."


def render(view: NotebookView) -> str:
    """The page of ``view``: templates/feedback.html.j2, everything HTML-escaped (markdown
    rendered escaped by mistune; images only as validated base64 PNG)."""
    from markupsafe import Markup

    md = mathml.markdown()
    for c in view.cells:  # only valid base64 reaches an <img>
        c.outputs = [(k, v) for k, v in c.outputs if k != "png" or _is_base64(v)]
    return templates.render("feedback.html.j2", view=view, num=_num, label=_label,
                            reason=_reason, markdown=lambda text: Markup(md(text)),
                            png_width=_png_width, small=SMALL_IMAGE_PX) + "\n"


def _png_width(b64: str) -> int:
    """The pixel width in a PNG's header (0 when it is not a PNG)."""
    head = base64.b64decode(b64[:44])
    return int.from_bytes(head[16:20], "big") if head[:8] == b"\x89PNG\r\n\x1a\n" else 0


def _is_base64(value: str) -> bool:
    try:
        base64.b64decode(value, validate=True)
    except ValueError:
        return False
    return True


# ------------------------------------------------------------------------ leak guard

class FeedbackError(RuntimeError):
    """A page would show something a student must not see (a renderer bug): not written."""


def secret_lines(source_cells) -> set[str]:
    """Lines of the hidden-test and mark-scheme regions of a notebook's source cells (from
    the gradebook) that appear nowhere in the visible parts: what a page must not show."""
    return markers.secret_lines(cell.source for cell in source_cells)


def check_view(view: NotebookView, secrets: set[str]) -> list[str]:
    """Secret lines shown by the instructor's parts of ``view`` (tests, tasks, messages)."""
    found = []
    for c in view.cells:
        if c.kind not in ("test", "task"):
            continue  # the student's own code and outputs: theirs to see
        shown = {line.strip() for text in (c.source, c.message or "") for line in text.splitlines()}
        found.extend(f"{c.grade_id}: {line}" for line in sorted(shown & secrets))
    return found


# ----------------------------------------------------------------------------- command

def generate_feedback(course: Course, assignments: list[str] | None = None, *,
                      students: list[str] | None = None,
                      output: Path | None = None) -> list[Path]:
    """Write the feedback pages of every graded submission into ``output`` (default
    ``grading/feedback``); return their paths."""
    output = Path(output) if output is not None else course.feedback
    written = []
    secrets: dict[int, set[str]] = {}
    with course.gradebook() as gb:
        state = {(r.assignment, r.student, r.notebook): r for r in gb.db.execute(STATE.select())}
        for a in sorted(gb.assignments, key=lambda a: a.name):
            if assignments and a.name not in assignments:
                continue
            for sub in gb.assignment_submissions(a.name):
                student = sub.student.id
                if students and student not in students:
                    continue
                for sn in sub.notebooks:
                    rec = state.get((a.name, student, sn.name))
                    status = rec.status if rec is not None else (
                        Status.LATE if (sub.total_seconds_late or 0) > 0 else Status.OK)
                    detail = _short_detail(rec.detail if rec is not None else "")
                    path = course.autograded_notebook(student, a.name, sn.name)
                    graded = Status(status).ran
                    view = notebook_view(gb, sn, path if graded else None, status, detail)
                    if sn.notebook.id not in secrets:
                        secrets[sn.notebook.id] = secret_lines(sn.notebook.source_cells)
                    leaks = check_view(view, secrets[sn.notebook.id])
                    if leaks:
                        raise FeedbackError(
                            f"feedback of {student} {a.name}/{sn.name} would show hidden "
                            f"tests or mark schemes; nothing written for it:\n  "
                            + "\n  ".join(leaks[:10]))
                    dest = output / student / a.name / f"{sn.name}.html"
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    tmp = dest.with_name(dest.name + ".tmp")
                    tmp.write_text(render(view), encoding="utf-8")
                    os.replace(tmp, dest)
                    written.append(dest)
    return written


def zip_per_student(pages: list[Path], output: Path) -> list[Path]:
    """One archive per student with a page in ``pages``, ``output/<student>.zip``: every
    page of that student under ``output`` (``<student>/<assignment>/<notebook>.html``,
    this run's and earlier ones'). Pages are self-contained (images inline, math as
    MathML), so nothing else is needed to read them."""
    import zipfile

    output = Path(output)
    archives = []
    for student in sorted({page.relative_to(output).parts[0] for page in pages}):
        dest = output / f"{student}.zip"
        tmp = dest.with_name(dest.name + ".tmp")
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            for page in sorted((output / student).glob("*/*.html")):
                zf.write(page, page.relative_to(output).as_posix())
        os.replace(tmp, dest)
        archives.append(dest)
    return archives


def _short_detail(detail: str | None) -> str:
    """The autograder's problems, first line of each (no nbgrader log, no traceback)."""
    lines = []
    for problem in (detail or "").split("\n"):
        problem = problem.strip()
        if not problem or problem.startswith(("Traceback", "File ", "[")):
            continue
        if problem.startswith("nbgrader failed"):
            lines.append("the grader failed on this notebook; your instructor will look at it")
            break
        lines.append(_clip(problem, 300))
    return "\n".join(dict.fromkeys(lines))
