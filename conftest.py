"""Applies to every test, including the solution notebooks nbval collects from solutions/.

Every test, and every kernel a test starts, runs the quick ``ci`` profile unless
WORKBOOK_PROFILE says otherwise; the run ends with the time spent per notebook.
"""

import os
import re

import pytest

from helpers import NOTEBOOK_SECONDS, SUMMARY_SECTIONS, record_notebook_time  # tests/ is on pythonpath

os.environ.setdefault("WORKBOOK_PROFILE", "ci")
os.environ.setdefault("MPLBACKEND", "Agg")  # never open a window from a test
# the round trips grade for scores: small figures, as the ci profile's (the grader's own
# default is 100 dpi, for the feedback pages)
os.environ.setdefault("WORKBOOK_FIGURE_DPI", "40")
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    # pytest-xdist workers share the cores: each one's kernels (nbval, the round trips'
    # graders, the browser's JupyterLab) get their share of threads, not every core --
    # torch's OpenMP threads on an oversubscribed machine wait for each other.
    from workbook_grading.launcher import KERNEL_THREADS_ENV, THREAD_VARS

    _threads = str(max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"])))
    for _var in (KERNEL_THREADS_ENV, *THREAD_VARS):
        os.environ.setdefault(_var, _threads)


def pytest_runtest_logreport(report):
    # nbval reports one item per cell; the first cell's setup starts the kernel
    if ".ipynb::" in report.nodeid and not hasattr(report, "node"):  # not an xdist relay
        record_notebook_time(f"nbval {report.nodeid.split('::')[0]}", report.duration)


def _cost_rank(nodeid: str) -> tuple:
    """The longest groups first (pytest-xdist hands groups out in this order, `make test`):
    the browser session, then the round trips, later notebooks (heavier) first."""
    path = nodeid.split("::")[0]
    if path.startswith("tests/browser/"):
        return (0, 0)
    number = re.search(r"/test_roundtrip_(\d+)_", path)
    if number:
        return (1, -int(number.group(1)))
    return (2, 0)


def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: _cost_rank(item.nodeid))  # stable: the rest keeps its order


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's `-n auto` (`make test`)
def pytest_xdist_auto_num_workers(config):
    """One worker more than cores: the browser tests spend much of their time waiting on
    the page. Measured on 2 cores: 3 workers 9.2 min, 2 workers 10.2 min."""
    return (os.cpu_count() or 1) + 1


@pytest.hookimpl(trylast=True)  # after the sections other conftests add at session end
def pytest_sessionfinish(session):
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # a pytest-xdist worker: hand the summary to the controller
        workeroutput["workbook_summary"] = {"notebooks": dict(NOTEBOOK_SECONDS),
                                            "sections": dict(SUMMARY_SECTIONS)}


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook, on the controller
def pytest_testnodedown(node, error):
    summary = getattr(node, "workeroutput", {}).get("workbook_summary", {})
    for label, seconds in summary.get("notebooks", {}).items():
        record_notebook_time(label, seconds)
    for title, lines in summary.get("sections", {}).items():
        SUMMARY_SECTIONS.setdefault(title, []).extend(lines)


def pytest_terminal_summary(terminalreporter):
    for title, lines in SUMMARY_SECTIONS.items():
        terminalreporter.section(title)
        for line in lines:
            terminalreporter.write_line(line)
    if NOTEBOOK_SECONDS:
        terminalreporter.section("slowest notebooks")
        for label, seconds in sorted(NOTEBOOK_SECONDS.items(), key=lambda kv: -kv[1])[:15]:
            terminalreporter.write_line(f"{seconds:7.1f}s  {label}")
