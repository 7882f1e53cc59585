"""Layers as pure forward/backward pairs, in the style of cs231n's ``layers.py``.

``x_forward(...) -> (out, cache)`` computes the output and keeps what the backward
pass needs; ``x_backward(dout, cache)`` returns the gradient of the loss with respect
to each input, given ``dout``, the gradient with respect to ``out``.
Shapes: ``x`` is (N, D) -- N examples of D features; ``w`` is (D, M); ``b`` is (M,).
"""

from __future__ import annotations

import numpy as np


def affine_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray):
    """out = x @ w + b.  x: (N, D), w: (D, M), b: (M,) -> out: (N, M)."""
    out = x @ w + b
    return out, (x, w)


def affine_backward(dout: np.ndarray, cache):
    """dout: (N, M) -> dx: (N, D), dw: (D, M), db: (M,)."""
    x, w = cache
    dx = dout @ w.T
    dw = x.T @ dout
    db = dout.sum(axis=0)
    return dx, dw, db


def relu_forward(x: np.ndarray):
    """max(0, x), elementwise; any shape."""
    out = np.maximum(x, 0)
    return out, x


def relu_backward(dout: np.ndarray, cache):
    """The gradient flows where the input was positive (0 at x == 0, like torch)."""
    x = cache
    return dout * (x > 0)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)) without overflow for large |x|."""
    x = np.asarray(x, dtype=float)
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    ex = np.exp(x[~pos])  # x < 0 here, so exp(x) cannot overflow
    out[~pos] = ex / (1.0 + ex)
    return out


def sigmoid_forward(x: np.ndarray):
    """sigma(x), elementwise; any shape. Caches the output: sigma' = sigma (1 - sigma)."""
    out = sigmoid(x)
    return out, out


def sigmoid_backward(dout: np.ndarray, cache):
    out = cache
    return dout * out * (1.0 - out)


def tanh_forward(x: np.ndarray):
    """tanh(x), elementwise; any shape. Caches the output: tanh' = 1 - tanh^2."""
    out = np.tanh(x)
    return out, out


def tanh_backward(dout: np.ndarray, cache):
    out = cache
    return dout * (1.0 - out**2)


def leaky_relu_forward(x: np.ndarray, negative_slope: float = 0.01):
    """x where x > 0, else negative_slope * x; any shape."""
    out = np.where(x > 0, x, negative_slope * x)
    return out, (x, negative_slope)


def leaky_relu_backward(dout: np.ndarray, cache):
    x, negative_slope = cache
    return dout * np.where(x > 0, 1.0, negative_slope)
