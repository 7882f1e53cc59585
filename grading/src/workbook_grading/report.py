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

import html
import os
import statistics
from collections import defaultdict
from pathlib import Path

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
    e = html.escape
    parts = ["<!DOCTYPE html><html><head><meta charset='utf-8'><title>Grading report</title>",
             "<style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;"
             "padding:0 1em}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
             "padding:.25em .6em;text-align:left;vertical-align:top}pre{margin:0;"
             "white-space:pre-wrap;font-size:.85em}img{max-width:100%}</style></head><body>",
             "<h1>Grading report</h1>"]
    if data.get("unsandboxed"):
        who = ", ".join(f"{st} ({a})" for st, a in data["unsandboxed"][:20])
        more = len(data["unsandboxed"]) - 20
        parts.append("<p style='background:#fdd;border:2px solid #c00;padding:.6em'>"
                     f"<b>{len(data['unsandboxed'])} submission(s) were graded WITHOUT the "
                     "sandbox</b> (<code>workbook autograde --unsandboxed</code>): their code "
                     "ran with the grader's rights and could have read the solutions or "
                     f"changed any grade. {e(who)}{f' and {more} more' if more > 0 else ''}. "
                     "Regrade them sandboxed (<code>--force</code>) before trusting these "
                     "grades.</p>")
    parts += ["<h2>Scores per notebook</h2>",
             "<table><tr><th>notebook</th><th>submissions</th><th>mean %</th>"
             "<th>median %</th><th>full marks</th></tr>"]
    for name, values in sorted(data["scores"].items()):
        parts.append(f"<tr><td>{e(name)}</td><td>{len(values)}</td>"
                     f"<td>{statistics.mean(values):.1f}</td>"
                     f"<td>{statistics.median(values):.1f}</td>"
                     f"<td>{sum(v >= 100 - 1e-9 for v in values)}</td></tr>")
    parts.append("</table>")
    if "scores.png" in images:
        parts.append("<p><img src='scores.png' alt='score distribution per notebook'></p>")
    parts.append("<h2>Pass rate per test (hardest first)</h2>")
    if "pass_rate.png" in images:
        parts.append("<p><img src='pass_rate.png' alt='pass rate per test cell'></p>")
    parts.append("<table><tr><th>test</th><th>full points</th><th>graded</th></tr>")
    for p in data["pass_rate"]:
        parts.append(f"<tr><td>{e(p['assignment'])}/{e(p['notebook'])}: {e(p['cell'])}</td>"
                     f"<td>{p['passed']} ({100 * p['rate']:.0f}%)</td><td>{p['graded']}</td></tr>")
    parts.append("</table><h2>Grading time per submission</h2>")
    timing = list(data["timing"].values())
    if timing:
        parts.append(f"<p>{len(timing)} submission(s): median {statistics.median(timing):.1f} s,"
                     f" max {max(timing):.1f} s, total {sum(timing):.0f} s of worker time.</p>")
    if "grading_time.png" in images:
        parts.append("<p><img src='grading_time.png' alt='grading time per submission'></p>")
    parts.append(f"<h2>Flagged submissions ({len(data['flagged'])})</h2>")
    if data["flagged"]:
        parts.append("<table><tr><th>student</th><th>notebook</th><th>status</th>"
                     "<th>reason</th></tr>")
        for f in sorted(data["flagged"], key=lambda f: (f["status"], f["student"])):
            detail = f["detail"] or ""
            if len(detail) > 1500:
                detail = detail[:1500] + " ..."
            parts.append(f"<tr><td>{e(f['student'])}</td><td>{e(f['assignment'])}/"
                         f"{e(f['notebook'])}</td><td>{e(f['status'])}</td>"
                         f"<td><pre>{e(detail)}</pre></td></tr>")
        parts.append("</table>")
    else:
        parts.append("<p>None.</p>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


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
