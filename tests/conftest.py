"""Fixtures shared by the test folders (the run-wide set-up is in the root conftest.py)."""

import pytest

from helpers import ROOT


@pytest.fixture(scope="session")
def root():
    return ROOT


@pytest.fixture
def rng():
    """A fresh, seeded NumPy generator for each test."""
    import numpy as np

    return np.random.default_rng(0)
