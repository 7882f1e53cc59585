"""Centred finite differences, the ground truth every backward pass is checked against."""

from __future__ import annotations

from typing import Callable

import numpy as np


def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray,
                       h: float = 1e-5) -> np.ndarray:
    """d f / d x by centred differences (f(x + h) - f(x - h)) / 2h, entry by entry.

    ``x`` is perturbed in place and restored, so ``f`` may close over it; use float64
    (with float32 the rounding error of f swamps a step of 1e-5). Returns x's shape.
    """
    if x.dtype != np.float64:
        raise TypeError(f"numerical_gradient needs a float64 array, got {x.dtype}: "
                        "call it with x.astype(np.float64)")
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        f_plus = float(f(x))
        x[i] = old - h
        f_minus = float(f(x))
        x[i] = old
        grad[i] = (f_plus - f_minus) / (2 * h)
        it.iternext()
    return grad


def numerical_gradient_array(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray,
                             dout: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Numerical gradient of sum(f(x) * dout): what a layer's backward pass must return."""
    return numerical_gradient(lambda v: float(np.sum(f(v) * dout)), x, h)


def relative_error(a: np.ndarray, b: np.ndarray, elementwise: bool = False):
    """|a - b| / max(|a| + |b|, 1e-12): near 1e-7 or below means the gradients agree."""
    err = np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), 1e-12)
    return err if elementwise else float(np.max(err))
