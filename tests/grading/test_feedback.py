"""`workbook feedback`: per-student HTML with each test's points and message; hidden tests
and mark schemes never shown, tracebacks never shown.

The renderer is checked on a hand-made autograded notebook (a hidden check failing with
a message, a traceback through the hidden code, a mark scheme), then the command on the
tiny course with every bad submission (the shared ``autograded`` fixture)."""

import concurrent.futures
import html
import os
import re
from pathlib import Path
from types import SimpleNamespace as NS

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from bad_submissions import CASES
from helpers import ROOT
from tiny_course import ASSIGNMENT, NOTEBOOK, workbook
from workbook_grading.feedback import (FeedbackError, check_view, notebook_view, render,
                                       secret_lines, strip_regions)

HIDDEN_LINE = "checks.assert_close(sigmoid(np.array([-1000.0])), [0.0], name='sigmoid(-1000)')"
SCHEME = "Full marks only for the word 'linearly separable'."
TEST_SRC = ("checks.assert_close(sigmoid(0.0), 0.5, name='sigmoid(0)')\n"
            "### BEGIN HIDDEN TESTS\n" + HIDDEN_LINE + "\n### END HIDDEN TESTS")
TASK_SRC = "Why can't a perceptron learn XOR?\n=== BEGIN MARK SCHEME ===\n" + SCHEME + \
           "\n=== END MARK SCHEME ==="


def _meta(gid, **flags):
    return {"nbgrader": {"grade_id": gid, "schema_version": 3, **flags}}


def _fake(tmp_path):
    """An autograded notebook and the gradebook records of its submission."""
    error = new_output("error", ename="AssertionError",
                       evalue="sigmoid(-1000): expected [0.], got [nan]",
                       traceback=["Traceback (most recent call last)", f"----> 2 {HIDDEN_LINE}",
                                  "AssertionError: sigmoid(-1000): expected [0.], got [nan]"])
    leak_print = new_output("stream", name="stdout", text="secret expected value 0.0\n")
    cells = [
        new_markdown_cell("# Sigmoid"),
        new_code_cell("def sigmoid(z):\n    return 1 / (1 + np.exp(-z))",
                      metadata=_meta("ex-sigmoid", solution=True),
                      outputs=[new_output("stream", name="stdout", text="my debug print\n")]),
        new_code_cell(TEST_SRC, metadata=_meta("test-sigmoid", grade=True, locked=True, points=2),
                      outputs=[leak_print, error]),
        new_code_cell("assert True", metadata=_meta("test-ok", grade=True, points=1)),
        new_markdown_cell(TASK_SRC, metadata=_meta("task-xor", task=True, points=2)),
    ]
    path = tmp_path / "nb.ipynb"
    nbformat.write(new_notebook(cells=cells), path)
    grade = lambda name, score, max_score, kind="code", manual=False: NS(  # noqa: E731
        name=name, score=score, auto_score=score, manual_score=None, max_score=max_score,
        cell_type=kind, needs_manual_grade=manual, extra_credit=0)
    sn = NS(student=NS(id="zoe"), assignment=NS(name="01_neurons"), notebook=NS(name="neurons"),
            grades=[grade("test-sigmoid", 0, 2), grade("test-ok", 1, 1),
                    grade("task-xor", None, 2, "markdown", manual=True)],
            comments=[NS(name="test-sigmoid", manual_comment="Look at overflow.")],
            late_submission_penalty=0, max_score=5)
    source_cells = [NS(source=TEST_SRC), NS(source=TASK_SRC),
                    NS(source="def sigmoid(z):\n    ### BEGIN SOLUTION\n    return 0\n"
                              "    ### END SOLUTION")]
    return sn, path, source_cells


def test_page_shows_points_and_the_checks_message_but_no_hidden_code(tmp_path):
    sn, path, source_cells = _fake(tmp_path)
    view = notebook_view(None, sn, path, "ok", "")
    page = render(view)
    text = html.unescape(page)
    assert "1 / 5" in text                                     # total
    assert "test-sigmoid: failed" in text and "0 / 2 points" in text
    assert "test-ok: passed" in text and "1 / 1 points" in text
    assert "task-xor: pending: awaiting manual grading" in text
    assert "AssertionError: sigmoid(-1000): expected [0.], got [nan]" in text
    assert "Look at overflow." in text                         # the grader's comment
    assert "my debug print" in text                            # the student's own output
    assert "name='sigmoid(0)'" in text                         # the visible test
    for secret in (HIDDEN_LINE, "sigmoid(np.array([-1000.0]))", SCHEME, "linearly separable",
                   "Traceback", "BEGIN HIDDEN", "MARK SCHEME", "secret expected value"):
        assert secret not in text, secret
    assert check_view(view, secret_lines(source_cells)) == []


def test_leak_guard_catches_a_hidden_line():
    secrets = secret_lines([NS(source=TEST_SRC), NS(source=TASK_SRC)])
    assert HIDDEN_LINE in secrets and SCHEME in secrets
    assert "checks.assert_close(sigmoid(0.0), 0.5, name='sigmoid(0)')" not in secrets
    from workbook_grading.feedback import CellView, NotebookView

    leaky = NotebookView("zoe", "a", "nb", "ok", "", 0, 1, 0,
                         [CellView("test", TEST_SRC, "test-sigmoid", 0, 1, "failed")])
    assert check_view(leaky, secrets) == [f"test-sigmoid: {HIDDEN_LINE}"]
    assert FeedbackError  # raised by generate_feedback on such a page


@pytest.mark.parametrize("source, kept, cut", [
    ("a = 1\n### BEGIN HIDDEN TESTS\nsecret()\n### END HIDDEN TESTS\nb = 2",
     ["a = 1", "b = 2", "hidden tests ran here"], ["secret", "BEGIN", "END"]),
    ("Q?\n=== BEGIN MARK SCHEME ===\nscheme\n=== END MARK SCHEME ===\nafter", ["Q?", "after"],
     ["scheme"]),
    ("x\n### BEGIN HIDDEN TESTS\nnever closed", ["x"], ["never closed"]),
])
def test_strip_regions(source, kept, cut):
    out = strip_regions(source)
    assert all(k in out for k in kept) and not any(c in out for c in cut)


def test_feedback_command_on_every_bad_submission(autograded, tmp_path):
    out = tmp_path / "feedback"
    run = workbook("feedback", "-o", str(out), root=autograded.root)
    assert run.returncode == 0, run.stdout + run.stderr
    pages = {p.parts[-3]: p for p in out.glob(f"*/{ASSIGNMENT}/{NOTEBOOK}.html")}
    assert set(pages) == {c.student for c in CASES}
    for student, page in pages.items():
        text = html.unescape(page.read_text())
        for secret in ("add(-1, 1)", "double(-3)", "Because.", "HIDDEN TESTS", "MARK SCHEME",
                       "Traceback", "BEGIN SOLUTION"):
            assert secret not in text, (student, secret)
        case = next(c for c in CASES if c.student == student)
        for cell, points in case.scores.items():
            max_points = {"test-add": 2, "test-double": 1}[cell]
            assert f"{points} / {max_points} points" in text, (student, cell)
        if case.status != "ok":
            assert case.status in text, student
    exc = html.unescape(pages["exc"].read_text())
    assert "ValueError: not today not today" in exc
    assert pages["exc"].stat().st_size < 20_000                # a 2 MB message, capped
    broken = html.unescape(pages["broken"].read_text())
    assert "NotJSONError" in broken
    assert "task-why: graded" in broken and "0 / 1 points" in broken
    assert "no notebook could be graded" in broken
    assert "test-add: failed" in html.unescape(pages["tampered"].read_text())


# ------------------------------------------------------- a real notebook, in a browser

CHROMIUM = os.environ.get("WORKBOOK_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "feedback"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
RAW_MATH = re.compile(r"\$[^$\s][^$]*?\$")     # a formula left as TeX


def _neurons_view():
    """The view of notebook 01 as its solution (LaTeX, markdown tables, plots): one test
    failed, the others passed, the written answers pending."""
    path = ROOT / "solutions" / "01_neurons" / "neurons.ipynb"
    nb = nbformat.read(path, as_version=4)
    grades, first = [], True
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") or meta.get("task"):
            written = cell.cell_type == "markdown"
            score = None if written else (0 if first else meta["points"])
            first = first and written
            grades.append(NS(name=meta["grade_id"], score=score, auto_score=score,
                             manual_score=None, max_score=meta["points"],
                             cell_type=cell.cell_type, needs_manual_grade=written,
                             extra_credit=0))
    sn = NS(student=NS(id="zoe"), assignment=NS(name="01_neurons"),
            notebook=NS(name="neurons"), grades=grades, comments=[],
            late_submission_penalty=0, max_score=sum(g.max_score for g in grades))
    return notebook_view(None, sn, path, "ok", ""), grades


def test_math_and_tables_are_rendered_when_the_page_is_built():
    view, grades = _neurons_view()
    page = render(view)
    assert page.count("<math") > 100 and "<table>\n<thead>" in page
    shown = re.sub(r"<pre>.*?</pre>|<code[^>]*>.*?</code>", "", page, flags=re.S)
    assert not RAW_MATH.search(html.unescape(re.sub(r"<[^>]+>", "", shown)))
    assert "<script" not in page and "http" not in page.split("</style>")[0]
    nb = nbformat.read(ROOT / "solutions" / "01_neurons" / "neurons.ipynb", as_version=4)
    assert check_view(view, secret_lines(nb.cells)) == []      # no hidden test, no scheme
    assert "MARK SCHEME" not in page and "HIDDEN TESTS" not in page
    summary = page.index('class="points"')
    assert summary < page.index('class="cell')                 # the summary comes first
    for g in grades:
        assert f'<a href="#{g.name}">' in page and f'id="{g.name}"' in page
    failed = next(g.name for g in grades if g.score == 0)
    assert re.search(rf'href="#{failed}">.*?failed.*?no result', page[summary:], re.S)


@pytest.mark.parametrize("tex", [r"\text{<img src=x onerror=alert(1)>}",
                                 r"\text{</math><script>alert(1)</script>}"])
def test_math_cannot_inject_html(tex):
    from workbook_grading.mathml import markdown

    out = markdown()(f"see ${tex}$ here")
    assert "<img" not in out and "<script" not in out and "alert(1)" in html.unescape(out)


@pytest.mark.skipif(os.environ.get("WORKBOOK_BROWSER_TESTS", "1") == "0",
                    reason="browser tests switched off by WORKBOOK_BROWSER_TESTS=0")
def test_feedback_page_in_chromium_offline(tmp_path):
    """Opened from disk with the network off: math laid out as MathML, tables, plots
    decoded, the summary first and its links jumping to the cells; nothing requested but
    the page. The screenshot is kept in test-artifacts/feedback/."""
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    view, grades = _neurons_view()
    page_file = tmp_path / "neurons.html"
    page_file.write_text(render(view), encoding="utf-8")
    (tmp_path / "home").mkdir()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    requested = []

    def look():  # on a thread of its own: a session-wide playwright (tests/browser) may
        # hold this worker's thread, and the sync API refuses to run beside its event loop
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                        env={**os.environ, "HOME": str(tmp_path / "home")})
            try:
                ctx = browser.new_context(offline=True, viewport={"width": 1280, "height": 900})
                ctx.on("request", lambda r: requested.append(r.url))
                page = ctx.new_page()
                page.goto(page_file.as_uri(), wait_until="load")
                assert page.locator("math").count() > 100
                # MathML laid out, not shown as a run of text: a fraction stacks its parts
                frac = page.locator("mfrac").first
                num, den = (frac.locator(":scope > *").nth(i).bounding_box() for i in (0, 1))
                assert den["y"] >= num["y"] + num["height"] - 1, (num, den)
                visible = page.evaluate("""() => { const b = document.body.cloneNode(true);
                    b.querySelectorAll('pre, code').forEach(e => e.remove());
                    return b.innerText; }""")
                assert not RAW_MATH.search(visible), RAW_MATH.search(visible).group()
                assert page.locator(".md table").count() >= 2
                widths = page.eval_on_selector_all("img", "els => els.map(e => e.naturalWidth)")
                assert widths and min(widths) > 0
                summary = page.locator("table.points").bounding_box()
                assert summary["y"] < page.locator(".cell").first.bounding_box()["y"]
                page.screenshot(path=str(ARTIFACTS / "feedback-summary.png"))
                page.screenshot(path=str(ARTIFACTS / "feedback-page.png"), full_page=True)
                target = grades[-1].name
                page.click(f'table.points a[href="#{target}"]')
                page.wait_for_function(f"location.hash === '#{target}'")
                box = page.locator(f"[id='{target}']").bounding_box()
                assert 0 <= box["y"] < 900                          # scrolled into view
            finally:
                browser.close()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(look).result()
    assert requested == [page_file.as_uri()], requested


def test_a_plot_drawn_by_the_ci_profile_is_shown_at_twice_its_size():
    import base64
    import io

    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    from workbook_grading.feedback import CellView, NotebookView

    def png(dpi):
        fig, ax = plt.subplots(figsize=(5, 4), dpi=dpi)
        ax.plot([0, 1])
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        plt.close(fig)
        return base64.b64encode(buf.getvalue()).decode()

    view = NotebookView("zoe", "a", "nb", "ok", "", 0, 0, 0, [
        CellView("code", "plot()", outputs=[("png", png(40))]),
        CellView("code", "plot()", outputs=[("png", png(100))])])
    page = render(view)
    assert page.count("<img") == 2 and page.count('width="400"') == 1   # 200 px -> 400
    assert page.count("drawn small by the grader's quick profile") == 1


def test_every_formula_of_the_course_converts_to_mathml():
    """The solutions' markdown: no formula falls back to code, none is left as TeX."""
    from workbook_grading.mathml import markdown

    md, formulas = markdown(), 0
    for path in sorted((ROOT / "solutions").glob("*/*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "markdown":
                continue
            out = md(cell.source)
            formulas += out.count("<math")
            assert '<code class="tex">' not in out, (path.name, cell.source[:200])
            text = html.unescape(re.sub(r"<pre>.*?</pre>|<code>.*?</code>|<[^>]+>", "",
                                        out, flags=re.S))
            assert not RAW_MATH.search(text), (path.name, RAW_MATH.search(text).group())
    assert formulas > 1000
