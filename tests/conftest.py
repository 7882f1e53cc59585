"""Shared fixtures. Every test, and every kernel it starts, runs the quick ``ci`` profile."""

import os
from pathlib import Path

import pytest

os.environ.setdefault("WORKBOOK_PROFILE", "ci")
# Matplotlib must never try to open a window from a test.
os.environ.setdefault("MPLBACKEND", "Agg")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


def assignments() -> list[str]:
    return sorted(p.name for p in (ROOT / "solutions").iterdir()
                  if p.is_dir() and any(p.glob("*.ipynb")))


@pytest.fixture
def rng():
    """A fresh, seeded NumPy generator for each test."""
    import numpy as np

    return np.random.default_rng(0)
