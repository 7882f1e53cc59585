"""The instructor's overview of a grading run: ``grading/reports/index.html`` and its plots.

What it shows, all read from the gradebook (``export.records``: grades, whether a person
still has to grade a cell, and the ``workbook_autograde`` table):

- per notebook: submissions, missing, the autograded points (mean and median percent of
  the autograded maximum), the mean score so far (percent of the whole maximum, pending
  answers not counted yet), how many have full marks on the autograded parts, how many
  still wait for manual grading (*pending*: never counted as zero), how many are complete
  and how many of those have full marks;
- a roster: per student and assignment, submitted / missing / late / needs manual
  grading / invalid notebook (and any other flag), the score with its pending points, and
  links to the student's feedback pages;
- charts a table would say less well: the distribution of autograded scores per notebook
  (``scores.png``), and per notebook one small chart per question -- how many
  submissions earned full, partial or no points and how many wait for a person
  (``questions-<assignment>-<notebook>.png``); the seconds of grading per submission as a
  histogram (``grading_time.png``);
- per autograded test: how many earned its full points, hardest first (a table);
- the flagged submissions with the reason ``workbook autograde`` recorded.

Plots are drawn with matplotlib's Agg backend (no display needed).
"""

from __future__ import annotations

import os
import statistics
from collections import defaultdict
from pathlib import Path

from workbook_grading import templates
from workbook_grading.autograde import STATE, UNSANDBOXED_NOTE
from workbook_grading.course import Course
from workbook_grading.export import NO_SUBMISSION, records
from workbook_grading.status import NOT_RUN, Status

NOT_GRADED = NOT_RUN
EPS = 1e-9
OUTCOMES = ("full", "partial", "zero", "pending")   # of one question, one submission
COLOURS = {"full": "#2a9d4b", "partial": "#e9a400", "zero": "#d33", "pending": "#999"}


def outcome(max_score: float, score: float | None, pending: bool) -> str:
    if pending or score is None:
        return "pending"
    if score >= max_score - EPS:
        return "full"
    return "partial" if score > EPS else "zero"


def roster_labels(statuses: list[str], pending: bool, unanswered: int = 0) -> list[str]:
    """What the roster says of one student's assignment (its notebooks' statuses, whether
    a written answer waits for a person, how many were left unanswered)."""
    if all(s == Status.MISSING for s in statuses):
        return ["missing"]
    labels = ["submitted"]
    if Status.LATE in statuses:
        labels.append("late")
    if pending:
        labels.append("needs manual grading")
    if unanswered:
        labels.append(f"{unanswered} written answer(s) unanswered")
    if Status.INVALID in statuses:
        labels.append("invalid notebook")
    if Status.MISSING in statuses:
        labels.append("notebook missing")
    labels.extend(sorted({s for s in statuses if Status(s).flagged
                          and s not in (Status.INVALID, Status.MISSING)}))
    return labels


def gather(course: Course, feedback: Path | None = None) -> dict:
    """What the report shows, as plain data (tested directly against the gradebook).
    ``feedback``: the folder of the feedback pages the roster links to."""
    recs = records(course)
    feedback = Path(feedback).resolve() if feedback is not None else course.feedback
    submitted = [r for r in recs if r.submitted]

    notebooks = []
    by_nb: dict[str, list] = defaultdict(list)
    for r in recs:
        by_nb[f"{r.assignment}/{r.notebook}"].append(r)
    scores: dict[str, list[float]] = {}
    for name, rs in sorted(by_nb.items()):
        subs = [r for r in rs if r.submitted]
        pct = [100.0 * r.auto_score / r.auto_max if r.auto_max else 100.0 for r in subs]
        scores[name] = pct
        complete = [r for r in subs if r.complete]
        notebooks.append({
            "name": name, "submitted": len(subs), "missing": len(rs) - len(subs),
            "auto_mean": statistics.mean(pct) if pct else None,
            "auto_median": statistics.median(pct) if pct else None,
            # everything scored so far (written answers once a person graded them)
            "total_mean": (statistics.mean(100.0 * r.score / (r.max_score or 1) for r in subs)
                           if subs else None),
            "full_auto": sum(r.auto_score >= r.auto_max - EPS for r in subs),
            "pending": sum(bool(r.pending) for r in subs),
            "unanswered": sum(any(q.unanswered for q in r.questions) for r in subs),
            "complete": len(complete),
            "full": sum(r.score >= r.max_score - EPS for r in complete)})

    questions: dict[str, dict[str, dict]] = {}   # notebook -> cell -> outcome counts
    for name, rs in sorted(by_nb.items()):
        qs: dict[str, dict] = {}
        for r in rs:
            if not r.submitted or r.status in NOT_GRADED:
                continue
            for q in r.questions:
                entry = qs.setdefault(q.name, {"max": q.max_score, "autograded": q.autograded,
                                               **{o: 0 for o in OUTCOMES}})
                entry[outcome(q.max_score, q.score, q.pending)] += 1
                entry["autograded"] = entry["autograded"] or q.autograded
        questions[name] = qs

    pass_rate = []
    for name, qs in questions.items():
        assignment, notebook = name.split("/", 1)
        for cell, q in qs.items():
            graded = q["full"] + q["partial"] + q["zero"]
            if q["autograded"] and graded:
                pass_rate.append({"assignment": assignment, "notebook": notebook,
                                  "cell": cell, "passed": q["full"], "graded": graded,
                                  "rate": q["full"] / graded})
    pass_rate.sort(key=lambda p: (p["rate"], p["assignment"], p["cell"]))

    roster: dict[str, dict[str, dict]] = defaultdict(dict)
    for student_assignment, rs in _group(recs).items():
        student, assignment = student_assignment
        pending = any(r.pending for r in rs if r.submitted)
        links = []
        for r in rs:
            page = feedback / r.student / r.assignment / f"{r.notebook}.html"
            if r.submitted and page.is_file():
                links.append((r.notebook, page))
        unanswered = sum(q.unanswered for r in rs if r.submitted for q in r.questions)
        roster[student][assignment] = {
            "labels": roster_labels([r.status for r in rs], pending, unanswered),
            "score": sum(r.score for r in rs if r.submitted),
            "max": sum(r.max_score for r in rs),
            "pending_points": sum(r.pending_points for r in rs if r.submitted),
            "links": links}

    flagged = [{"student": r.student, "assignment": r.assignment, "notebook": r.notebook,
                "status": r.status, "detail": r.detail} for r in recs
               if r.status != Status.OK and r.detail != NO_SUBMISSION]
    unsandboxed = sorted({(r.student, r.assignment) for r in submitted
                          if UNSANDBOXED_NOTE in (r.detail or "")})
    timing: dict[tuple[str, str], float] = {}
    with course.gradebook() as gb:
        for row in gb.db.execute(STATE.select()):
            if row.seconds is not None and row.status != Status.ERROR:
                timing[(row.assignment, row.student)] = row.seconds
    return {"notebooks": notebooks, "scores": scores, "questions": questions,
            "pass_rate": pass_rate, "roster": dict(roster),
            "assignments": sorted({r.assignment for r in recs}), "flagged": flagged,
            "timing": timing, "unsandboxed": unsandboxed}


def _group(recs) -> dict[tuple[str, str], list]:
    out: dict[tuple[str, str], list] = defaultdict(list)
    for r in recs:
        out[(r.student, r.assignment)].append(r)
    return out


# ------------------------------------------------------------------------------ plots

def _plots(data: dict, out: Path) -> dict[str, list[str]]:
    """The PNGs, by section: {"scores": [...], "questions": [...], "timing": [...]}."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    made: dict[str, list[str]] = {"scores": [], "questions": [], "timing": []}
    scores = {k: v for k, v in data["scores"].items() if v}
    if scores:
        cols = min(5, len(scores))   # ten notebooks: two rows, not one 42-inch strip
        rows = -(-len(scores) // cols)
        fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
        for ax in axes.flat[len(scores):]:
            ax.axis("off")
        for ax, (name, values) in zip(axes.flat, sorted(scores.items())):
            ax.hist(values, bins=[i * 10 for i in range(11)], color="#4c72b0", edgecolor="white")
            ax.set_title(f"{name} (n={len(values)})", fontsize=10)
            ax.set_xlabel("autograded score, % of its maximum")
            ax.set_ylabel("submissions")
            ax.set_xlim(0, 100)
        fig.tight_layout()
        fig.savefig(out / "scores.png", dpi=100)
        plt.close(fig)
        made["scores"].append("scores.png")
    for name, qs in data["questions"].items():
        if not qs:
            continue
        cols = min(5, len(qs))
        rows = -(-len(qs) // cols)
        fig, axes = plt.subplots(rows, cols, figsize=(2.3 * cols, 1.9 * rows + 0.4),
                                 squeeze=False, sharey=True)
        for ax in axes.flat[len(qs):]:
            ax.axis("off")
        for ax, (cell, q) in zip(axes.flat, qs.items()):
            counts = [q[o] for o in OUTCOMES]
            ax.bar(range(len(OUTCOMES)), counts, color=[COLOURS[o] for o in OUTCOMES])
            ax.set_xticks(range(len(OUTCOMES)), OUTCOMES, fontsize=7)
            ax.set_title(f"{cell} ({q['max']:g} pt)", fontsize=8)
            ax.tick_params(axis="y", labelsize=7)
        fig.suptitle(f"{name}: submissions per outcome, one chart per question", fontsize=10)
        fig.tight_layout()
        png = "questions-" + name.replace("/", "-") + ".png"
        fig.savefig(out / png, dpi=100)
        plt.close(fig)
        made["questions"].append(png)
    times = list(data["timing"].values())
    if times:
        fig, ax = plt.subplots(figsize=(6, 2.8))
        ax.hist(times, bins=min(20, max(5, len(times) // 3)), color="#c44e52", edgecolor="white")
        ax.set_xlabel("seconds to grade one submission (kernel start, run, re-runs)")
        ax.set_ylabel("submissions")
        fig.tight_layout()
        fig.savefig(out / "grading_time.png", dpi=100)
        plt.close(fig)
        made["timing"].append("grading_time.png")
    return made


# ------------------------------------------------------------------------------- page

def render(data: dict, images: dict[str, list[str]], out: Path) -> str:
    """``index.html`` (templates/report.html.j2, autoescaped) for ``gather``'s data; links
    relative to ``out``."""
    times = list(data["timing"].values())
    timing = ({"n": len(times), "median": statistics.median(times), "max": max(times),
               "total": sum(times)} if times else None)
    flagged = [dict(f, detail=f["detail"] or "")
               for f in sorted(data["flagged"], key=lambda f: (f["status"], f["student"]))]
    roster = []
    for student, per in sorted(data["roster"].items()):
        cells = []
        for a in data["assignments"]:
            entry = per.get(a)
            if entry is not None:
                entry = dict(entry, links=[(nb, Path(os.path.relpath(p, out)).as_posix())
                                           for nb, p in entry["links"]])
            cells.append(entry)
        roster.append({"student": student, "cells": cells})
    return templates.render("report.html.j2", images=images, notebooks=data["notebooks"],
                            pass_rate=data["pass_rate"], timing=timing, flagged=flagged,
                            unsandboxed=data.get("unsandboxed", []), roster=roster,
                            assignments=data["assignments"], num=_num) + "\n"


def _num(x) -> str:
    return f"{x:g}" if isinstance(x, (int, float)) else str(x)


def report(course: Course, *, output: Path | None = None,
           feedback: Path | None = None) -> Path:
    """Write ``index.html`` and its PNGs into ``output`` (default grading/reports)."""
    out = Path(output) if output is not None else course.reports
    out.mkdir(parents=True, exist_ok=True)
    data = gather(course, feedback)
    images = _plots(data, out)
    index = out / "index.html"
    tmp = out / "index.html.tmp"
    tmp.write_text(render(data, images, out.resolve()), encoding="utf-8")
    os.replace(tmp, index)
    return index
