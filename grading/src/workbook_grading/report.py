"""The instructor's overview of a grading run: ``grading/reports/index.html`` and its plots.

- ``scores.png``: the distribution of scores (percent of the maximum) per notebook;
- ``pass_rate.png``: per graded test cell, the share of graded submissions that earned
  its full points, hardest first -- which exercises the class finds hard;
- ``grading_time.png``: seconds ``workbook autograde`` spent per submission;
- a table per notebook (submissions, mean, median) and the flagged submissions with the
  reason ``workbook autograde`` recorded (timeout, kernel died, invalid notebook, ...).

Everything is read from the gradebook (grades and the ``workbook_autograde`` table);
plots are drawn with matplotlib's Agg backend (no display needed).
"""

from __future__ import annotations

import os
import statistics
from collections import defaultdict
from pathlib import Path

from workbook_grading import templates
from workbook_grading.autograde import STATE, UNSANDBOXED_NOTE, quiet_warnings
from workbook_grading.config import COURSE_ID, course_config, repo_root
from workbook_grading.export import rows as export_rows
from workbook_grading.status import NOT_RUN, Status

NOT_GRADED = NOT_RUN


def gather(db_url: str) -> dict:
    """What the report shows, as plain data (tested directly)."""
    from nbgrader.api import Gradebook

    quiet_warnings()
    _, data = export_rows(db_url)
    submitted = [r for r in data if r.get("detail") != "no submission"]
    cells: dict[tuple[str, str], list[tuple[str, float]]] = {}
    timing: dict[tuple[str, str], float] = {}
    with Gradebook(db_url, COURSE_ID) as gb:
        STATE.create(gb.engine, checkfirst=True)
        for a in sorted(gb.assignments, key=lambda a: a.name):
            for nb in a.notebooks:
                cells[(a.name, nb.name)] = [(c.name, c.max_score) for c in nb.grade_cells
                                            if c.cell_type == "code"]
        for r in gb.db.execute(STATE.select()):
            if r.seconds is not None and r.status != Status.ERROR:
                timing[(r.assignment, r.student)] = r.seconds
    scores: dict[str, list[float]] = defaultdict(list)
    for r in submitted:
        key = f"{r['assignment']}/{r['notebook']}"
        scores[key].append(100.0 * float(r["score"]) / float(r["max_score"] or 1))
    pass_rate = []
    for (assignment, notebook), tests in cells.items():
        graded = [r for r in submitted if r["assignment"] == assignment
                  and r["notebook"] == notebook and r["status"] not in NOT_GRADED]
        for name, max_score in tests:
            got = [r.get(name, "") for r in graded]
            got = [float(x) for x in got if x != ""]
            if got:
                passed = sum(x >= max_score for x in got)
                pass_rate.append({"assignment": assignment, "notebook": notebook,
                                  "cell": name, "passed": passed, "graded": len(got),
                                  "rate": passed / len(got)})
    pass_rate.sort(key=lambda p: (p["rate"], p["assignment"], p["cell"]))
    flagged = [{k: r[k] for k in ("student", "assignment", "notebook", "status", "detail")}
               for r in submitted if r["status"] != Status.OK]
    unsandboxed = sorted({(r["student"], r["assignment"]) for r in submitted
                          if UNSANDBOXED_NOTE in (r.get("detail") or "")})
    return {"scores": dict(scores), "pass_rate": pass_rate, "flagged": flagged,
            "timing": timing, "rows": submitted, "unsandboxed": unsandboxed}


def _plots(data: dict, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    made = []
    scores = data["scores"]
    if scores:
        n = len(scores)
        fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.2), squeeze=False)
        for ax, (name, values) in zip(axes[0], sorted(scores.items())):
            ax.hist(values, bins=[i * 10 for i in range(11)], color="#4c72b0", edgecolor="white")
            ax.set_title(f"{name} (n={len(values)})", fontsize=10)
            ax.set_xlabel("score, % of maximum")
            ax.set_ylabel("submissions")
            ax.set_xlim(0, 100)
        fig.tight_layout()
        fig.savefig(out / "scores.png", dpi=100)
        plt.close(fig)
        made.append("scores.png")
    rates = data["pass_rate"]
    if rates:
        fig, ax = plt.subplots(figsize=(7.5, 0.28 * len(rates) + 1.2))
        labels = [f"{p['assignment']}: {p['cell']}" for p in rates]
        ax.barh(range(len(rates)), [100 * p["rate"] for p in rates], color="#55a868")
        ax.set_yticks(range(len(rates)), labels, fontsize=8)
        ax.invert_yaxis()  # hardest on top
        ax.set_xlim(0, 100)
        ax.set_xlabel("% of graded submissions with full points")
        fig.tight_layout()
        fig.savefig(out / "pass_rate.png", dpi=100)
        plt.close(fig)
        made.append("pass_rate.png")
    timing = data["timing"]
    if timing:
        items = sorted(timing.items(), key=lambda kv: -kv[1])
        fig, ax = plt.subplots(figsize=(7.5, 0.25 * len(items) + 1.2))
        ax.barh(range(len(items)), [s for _, s in items], color="#c44e52")
        ax.set_yticks(range(len(items)), [f"{st} ({a})" for (a, st), _ in items], fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel("seconds to grade (kernel start, run, re-runs)")
        fig.tight_layout()
        fig.savefig(out / "grading_time.png", dpi=100)
        plt.close(fig)
        made.append("grading_time.png")
    return made


def render(data: dict, images: list[str]) -> str:
    """``index.html`` (templates/report.html.j2, autoescaped) for ``gather``'s data."""
    score_rows = [{"name": name, "n": len(v), "mean": statistics.mean(v),
                   "median": statistics.median(v), "full": sum(x >= 100 - 1e-9 for x in v)}
                  for name, v in sorted(data["scores"].items())]
    times = list(data["timing"].values())
    timing = ({"n": len(times), "median": statistics.median(times), "max": max(times),
               "total": sum(times)} if times else None)
    flagged = [dict(f, detail=f["detail"] or "")
               for f in sorted(data["flagged"], key=lambda f: (f["status"], f["student"]))]
    return templates.render("report.html.j2", images=images, score_rows=score_rows,
                            pass_rate=data["pass_rate"], timing=timing, flagged=flagged,
                            unsandboxed=data.get("unsandboxed", [])) + "\n"


def report(*, root: Path | None = None, db_url: str | None = None,
           output: Path | None = None) -> Path:
    """Write ``index.html`` and its PNGs into ``output`` (default grading/reports)."""
    root = Path(root) if root is not None else repo_root()
    db_url = db_url or course_config(root).CourseDirectory.db_url
    out = Path(output) if output is not None else root / "grading" / "reports"
    out.mkdir(parents=True, exist_ok=True)
    data = gather(db_url)
    images = _plots(data, out)
    index = out / "index.html"
    tmp = out / "index.html.tmp"
    tmp.write_text(render(data, images), encoding="utf-8")
    os.replace(tmp, index)
    return index
