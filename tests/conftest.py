"""Shared fixtures and the run's summary. Every test, and every kernel it starts, runs the
quick ``ci`` profile unless WORKBOOK_PROFILE says otherwise."""

import os

import pytest

from helpers import NOTEBOOK_SECONDS, ROOT, record_notebook_time

os.environ.setdefault("WORKBOOK_PROFILE", "ci")
# Matplotlib must never try to open a window from a test.
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def root():
    return ROOT


@pytest.fixture
def rng():
    """A fresh, seeded NumPy generator for each test."""
    import numpy as np

    return np.random.default_rng(0)


def pytest_runtest_logreport(report):
    # nbval reports one item per cell (its first cell's setup starts the kernel)
    if ".ipynb::" in report.nodeid:
        record_notebook_time(f"nbval {report.nodeid.split('::')[0]}", report.duration)


def pytest_terminal_summary(terminalreporter):
    if NOTEBOOK_SECONDS:
        terminalreporter.section("slowest notebooks")
        for label, seconds in sorted(NOTEBOOK_SECONDS.items(), key=lambda kv: -kv[1])[:15]:
            terminalreporter.write_line(f"{seconds:7.1f}s  {label}")
