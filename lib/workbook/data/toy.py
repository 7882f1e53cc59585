"""Small synthetic 2-D data sets, generated from a seed (nothing to download)."""

from __future__ import annotations

import numpy as np


def linearly_separable(n: int = 100, *, margin: float = 0.5, seed: int = 0):
    """Two Gaussian blobs split by the line x1 + x2 = 0 with a gap of ``margin``.

    Returns X: (n, 2) float64 and y: (n,) in {0, 1}.
    """
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    X = rng.normal(size=(n, 2))
    normal = np.array([1.0, 1.0]) / np.sqrt(2.0)
    side = np.where(y == 1, 1.0, -1.0)
    # push each point to its side of the boundary, at least margin / 2 away from it
    dist = X @ normal
    X += np.outer(side * (np.abs(dist) + margin / 2) - dist, normal)
    return X, y


def xor(n: int = 200, *, noise: float = 0.15, seed: int = 0):
    """The XOR problem: four clusters at (+-1, +-1), label 1 where the signs differ.

    Returns X: (n, 2) and y: (n,) in {0, 1}.
    """
    rng = np.random.default_rng(seed)
    corners = np.array([[-1, -1], [-1, 1], [1, -1], [1, 1]], dtype=float)
    which = np.arange(n) % 4
    X = corners[which] + noise * rng.normal(size=(n, 2))
    y = (np.sign(corners[which, 0]) != np.sign(corners[which, 1])).astype(int)
    return X, y


def spirals(n: int = 300, *, classes: int = 3, noise: float = 0.2, seed: int = 0):
    """``classes`` interleaved spiral arms (cs231n's toy set): X: (n, 2), y: (n,)."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    r = np.linspace(0.0, 1.0, n)[rng.permutation(n)]
    theta = 4.0 * r + y * (2 * np.pi / classes) + noise * rng.normal(size=n)
    X = np.column_stack([r * np.sin(theta), r * np.cos(theta)])
    return X, y


def moons(n: int = 300, *, noise: float = 0.1, seed: int = 0):
    """Two interleaving half circles (scikit-learn's ``make_moons``): X: (n, 2), y: (n,)."""
    from sklearn.datasets import make_moons

    return make_moons(n_samples=n, noise=noise, random_state=seed)
