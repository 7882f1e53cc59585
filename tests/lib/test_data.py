"""The small data sets: shapes, determinism, and scaling without leaks or blow-ups."""

import numpy as np
import pytest

from workbook import data


def test_digits_splits_are_stratified_disjoint_and_deterministic():
    a, b = data.load_digits(seed=0), data.load_digits(seed=0)
    assert np.array_equal(a.X_train, b.X_train) and np.array_equal(a.y_test, b.y_test)
    sizes = [len(a.y_train), len(a.y_val), len(a.y_test)]
    assert sum(sizes) == 1797 and a.X_train.shape[1] == 64
    for y in (a.y_train, a.y_val, a.y_test):
        assert set(np.unique(y)) == set(range(10))


def test_digits_scaling_never_blows_up_pixels_constant_in_training():
    split = data.load_digits(seed=0)
    for X in (split.X_train, split.X_val, split.X_test):
        assert np.abs(X).max() < 100, "a pixel constant in training was divided by ~0"
    assert np.allclose(split.X_train.mean(axis=0), 0, atol=1e-9)


@pytest.mark.parametrize("make", [data.linearly_separable, data.xor, data.spirals, data.moons])
def test_toy_sets_are_seeded_2d_binary_or_multiclass(make):
    X, y = make(60, seed=3)
    X2, y2 = make(60, seed=3)
    assert X.shape == (60, 2) and y.shape == (60,)
    assert np.array_equal(X, X2) and np.array_equal(y, y2)


def test_linearly_separable_has_the_promised_margin():
    X, y = data.linearly_separable(200, margin=0.5, seed=0)
    side = X @ np.array([1.0, 1.0]) / np.sqrt(2)
    assert (side[y == 1] >= 0.25 - 1e-12).all() and (side[y == 0] <= -0.25 + 1e-12).all()


def test_plot_setup_follows_the_profile(monkeypatch):
    import matplotlib.pyplot as plt

    from workbook import plots

    monkeypatch.delenv(plots.DPI_ENV, raising=False)  # (the suite sets it: conftest.py)
    monkeypatch.setenv("WORKBOOK_PROFILE", "ci")
    plots.setup()
    assert plt.rcParams["figure.dpi"] == plots.DPI["ci"]
    monkeypatch.setenv("WORKBOOK_PROFILE", "full")
    plots.setup()
    assert plt.rcParams["figure.dpi"] == plots.DPI["full"]
