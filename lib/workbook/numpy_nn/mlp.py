"""A multi-layer perceptron assembled from the layer pairs, and a plain SGD loop."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from workbook.numpy_nn import layers as L
from workbook.numpy_nn.losses import softmax_cross_entropy

ACTIVATIONS = {
    "relu": (L.relu_forward, L.relu_backward),
    "tanh": (L.tanh_forward, L.tanh_backward),
    "sigmoid": (L.sigmoid_forward, L.sigmoid_backward),
}


class MLP:
    """affine -> activation -> ... -> affine, with softmax cross-entropy on top.

    ``sizes = (D, H1, ..., C)``; parameters live in ``self.params`` as ``W1, b1, W2, ...``
    with ``Wk`` of shape (sizes[k-1], sizes[k]). Weights start with He scaling
    (std sqrt(2 / fan_in)) for ReLU and Xavier scaling (sqrt(1 / fan_in)) otherwise,
    so activations keep roughly unit variance from layer to layer.
    """

    def __init__(self, sizes: Sequence[int], activation: str = "relu",
                 rng: np.random.Generator | None = None, dtype=np.float64):
        if len(sizes) < 2:
            raise ValueError(f"sizes needs at least (inputs, outputs), got {tuple(sizes)}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        rng = rng if rng is not None else np.random.default_rng(0)
        self.sizes = tuple(int(s) for s in sizes)
        self.activation = activation
        gain = 2.0 if activation == "relu" else 1.0
        self.params: dict[str, np.ndarray] = {}
        for k, (fan_in, fan_out) in enumerate(zip(self.sizes[:-1], self.sizes[1:]), start=1):
            std = np.sqrt(gain / fan_in)
            self.params[f"W{k}"] = (std * rng.standard_normal((fan_in, fan_out))).astype(dtype)
            self.params[f"b{k}"] = np.zeros(fan_out, dtype=dtype)

    @property
    def num_layers(self) -> int:
        return len(self.sizes) - 1

    def forward(self, X: np.ndarray):
        """X: (N, D) -> scores (N, C) and the caches for ``backward``."""
        act_forward, _ = ACTIVATIONS[self.activation]
        caches = []
        h = X
        for k in range(1, self.num_layers + 1):
            h, cache = L.affine_forward(h, self.params[f"W{k}"], self.params[f"b{k}"])
            caches.append(cache)
            if k < self.num_layers:
                h, cache = act_forward(h)
                caches.append(cache)
        return h, caches

    def backward(self, dscores: np.ndarray, caches) -> dict[str, np.ndarray]:
        """dscores: (N, C) -> gradients with the keys and shapes of ``self.params``."""
        _, act_backward = ACTIVATIONS[self.activation]
        grads = {}
        caches = list(caches)
        dh = dscores
        for k in range(self.num_layers, 0, -1):
            dh, grads[f"W{k}"], grads[f"b{k}"] = L.affine_backward(dh, caches.pop())
            if k > 1:
                dh = act_backward(dh, caches.pop())
        return grads

    def loss(self, X: np.ndarray, y: np.ndarray):
        """Mean softmax cross-entropy of integer labels y: (N,) -> (loss, grads)."""
        scores, caches = self.forward(X)
        loss, dscores = softmax_cross_entropy(scores, y)
        return loss, self.backward(dscores, caches)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predicted class per row: (N, D) -> (N,) integers."""
        return np.argmax(self.forward(X)[0], axis=1)

    def accuracy(self, X: np.ndarray, y: np.ndarray) -> float:
        return float(np.mean(self.predict(X) == y))


def sgd_step(params: dict[str, np.ndarray], grads: dict[str, np.ndarray], lr: float) -> None:
    """Vanilla SGD, in place: p <- p - lr * dp for every parameter."""
    for name, g in grads.items():
        params[name] -= lr * g


def iterate_minibatches(n: int, batch_size: int, rng: np.random.Generator):
    """Yield index arrays covering range(n) once, shuffled, in batches of batch_size."""
    order = rng.permutation(n)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]


def train_sgd(model: MLP, X: np.ndarray, y: np.ndarray, *, lr: float, epochs: int,
              batch_size: int, rng: np.random.Generator,
              on_epoch: Callable[[int, float], None] | None = None,
              progress: bool = False) -> list[float]:
    """Mini-batch SGD on (X, y); returns the mean training loss of each epoch.

    ``on_epoch(epoch, mean_loss)`` is called after every epoch (to record validation
    accuracy, say); ``progress=True`` shows a tqdm bar.
    """
    from tqdm.auto import tqdm

    history = []
    for epoch in tqdm(range(epochs), desc="epochs", disable=not progress, leave=False):
        losses = []
        for idx in iterate_minibatches(len(X), batch_size, rng):
            loss, grads = model.loss(X[idx], y[idx])
            sgd_step(model.params, grads, lr)
            losses.append(loss)
        history.append(float(np.mean(losses)))
        if on_epoch is not None:
            on_epoch(epoch, history[-1])
    return history
