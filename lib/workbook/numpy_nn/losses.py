"""Losses that return ``(loss, dinput)``: the mean loss over the batch and its gradient.

Each matches the PyTorch loss of the same name with ``reduction='mean'``.
"""

from __future__ import annotations

import numpy as np

from workbook.numpy_nn.layers import sigmoid


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax along ``axis`` (fine for inputs of +-1e4).

    Subtracting the maximum leaves the result unchanged (it cancels in the ratio) but
    keeps exp() from overflowing.
    """
    x = np.asarray(x, dtype=float)
    shifted = x - np.max(x, axis=axis, keepdims=True)
    ex = np.exp(shifted)
    return ex / np.sum(ex, axis=axis, keepdims=True)


def log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """log(softmax(x)) computed without taking log of a number that underflowed to 0."""
    x = np.asarray(x, dtype=float)
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def softmax_cross_entropy(logits: np.ndarray, y: np.ndarray):
    """Mean cross-entropy of integer labels under softmax(logits).

    logits: (N, C), y: (N,) integers in [0, C) -> (loss: float, dlogits: (N, C)).
    The gradient is (p - onehot(y)) / N: the softmax and the log cancel neatly.
    """
    logits = np.asarray(logits, dtype=float)
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != logits.shape[0]:
        raise ValueError(f"y must have shape ({logits.shape[0]},), got {y.shape}")
    n = logits.shape[0]
    logp = log_softmax(logits, axis=1)
    loss = -logp[np.arange(n), y].mean()
    dlogits = np.exp(logp)
    dlogits[np.arange(n), y] -= 1.0
    return float(loss), dlogits / n


def binary_cross_entropy_with_logits(logits: np.ndarray, y: np.ndarray):
    """Mean binary cross-entropy of targets y in [0, 1] under sigmoid(logits).

    logits, y: same shape -> (loss: float, dlogits: same shape). Uses the stable form
    max(z, 0) - z*y + log(1 + exp(-|z|)), so large |z| never overflows.
    """
    z = np.asarray(logits, dtype=float)
    y = np.asarray(y, dtype=float)
    if z.shape != y.shape:
        raise ValueError(f"logits {z.shape} and targets {y.shape} must have the same shape")
    loss = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
    dz = (sigmoid(z) - y) / z.size
    return float(loss.mean()), dz


def mse(pred: np.ndarray, target: np.ndarray):
    """Mean squared error over every element. pred, target: same shape -> (loss, dpred)."""
    pred = np.asarray(pred, dtype=float)
    target = np.asarray(target, dtype=float)
    if pred.shape != target.shape:
        raise ValueError(f"pred {pred.shape} and target {target.shape} must have the same shape")
    diff = pred - target
    return float(np.mean(diff**2)), 2.0 * diff / diff.size
