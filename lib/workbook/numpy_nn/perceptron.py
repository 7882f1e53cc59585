"""Rosenblatt's perceptron, the reference for notebook 01.

Labels are ``y`` in {0, 1} (like every data set in ``workbook.data``). The perceptron
predicts 1 when ``w @ x + b > 0`` and 0 otherwise (a score of exactly 0 means class 0),
and on a mistake moves the boundary towards the example:

    w <- w + lr * (y - y_hat) * x,    b <- b + lr * (y - y_hat)

``y - y_hat`` is 0 on a correct prediction, so only mistakes change the weights.
"""

from __future__ import annotations

import numpy as np


def perceptron_predict(X: np.ndarray, w: np.ndarray, b: float) -> np.ndarray:
    """Predicted labels in {0, 1}: X (N, D) -> (N,) ints; or x (D,) -> a 0-d int array."""
    return (np.asarray(X, dtype=float) @ w + b > 0).astype(int)


def perceptron_update(w: np.ndarray, b: float, x: np.ndarray, y: int, lr: float = 1.0):
    """One step of the rule on one example: x (D,), y in {0, 1} -> new (w (D,), b float).

    Returns new values; ``w`` is not modified in place.
    """
    error = int(y) - int(perceptron_predict(x, w, b))
    return w + lr * error * np.asarray(x, dtype=float), float(b + lr * error)


def perceptron_train(X: np.ndarray, y: np.ndarray, *, lr: float = 1.0, epochs: int = 100,
                     rng: np.random.Generator | None = None):
    """Train from w = 0, b = 0; stop after the first epoch without a mistake.

    X: (N, D), y: (N,) in {0, 1} -> (w: (D,), b: float, history: list of ints), where
    ``history[e]`` is the number of mistakes (= updates) made during epoch e. Examples
    are visited in order 0..N-1, or in a fresh random order each epoch when ``rng`` is
    given. On linearly separable data the history reaches 0 (the perceptron convergence
    theorem); on XOR it never does and all ``epochs`` are run.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y).astype(int)
    if set(np.unique(y).tolist()) - {0, 1}:
        raise ValueError(f"labels must be 0 or 1, got {sorted(set(np.unique(y).tolist()))}")
    w, b = np.zeros(X.shape[1]), 0.0
    history: list[int] = []
    for _ in range(epochs):
        order = rng.permutation(len(X)) if rng is not None else range(len(X))
        mistakes = 0
        for i in order:
            if perceptron_predict(X[i], w, b) != y[i]:
                w, b = perceptron_update(w, b, X[i], y[i], lr)
                mistakes += 1
        history.append(mistakes)
        if mistakes == 0:
            break
    return w, b, history
