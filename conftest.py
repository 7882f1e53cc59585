"""Applies to every test, including the solution notebooks nbval collects from solutions/.

Every test, and every kernel a test starts, runs the quick ``ci`` profile unless
WORKBOOK_PROFILE says otherwise; the run ends with the time spent per notebook.
"""

import os

from helpers import NOTEBOOK_SECONDS, record_notebook_time  # tests/ is on pythonpath

os.environ.setdefault("WORKBOOK_PROFILE", "ci")
os.environ.setdefault("MPLBACKEND", "Agg")  # never open a window from a test


def pytest_runtest_logreport(report):
    # nbval reports one item per cell; the first cell's setup starts the kernel
    if ".ipynb::" in report.nodeid:
        record_notebook_time(f"nbval {report.nodeid.split('::')[0]}", report.duration)


def pytest_terminal_summary(terminalreporter):
    if NOTEBOOK_SECONDS:
        terminalreporter.section("slowest notebooks")
        for label, seconds in sorted(NOTEBOOK_SECONDS.items(), key=lambda kv: -kv[1])[:15]:
            terminalreporter.write_line(f"{seconds:7.1f}s  {label}")
