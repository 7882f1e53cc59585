"""GloVe (Pennington, Socher and Manning, 2014) from scratch in NumPy.

GloVe factorises global co-occurrence counts instead of predicting one context at a time:
with X_ij the (distance-weighted) number of times word j occurs near word i, it fits

    w_i . w~_j + b_i + b~_j  ~  log X_ij

by weighted least squares over the non-zero X_ij, each pair weighted by
f(x) = min(1, (x / x_max)^alpha), so that rare (noisy) pairs count less and very frequent
ones do not dominate. Trained with AdaGrad as in the paper; the embedding is W + W~.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from workbook.numpy_nn.word2vec import scatter_add

__all__ = ["GloVeConfig", "cooccurrence_matrix", "glove_weight", "glove_loss_and_grads",
           "train_glove", "GloVeResult"]


@dataclass
class GloVeConfig:
    """The paper's defaults, except the window (set to word2vec's for a fair comparison)."""

    dim: int = 100
    window: int = 5  # symmetric, fixed
    x_max: float = 100.0  # counts above x_max get weight 1
    alpha: float = 0.75
    epochs: int = 25
    lr: float = 0.05  # AdaGrad's initial step
    batch_size: int = 4096  # non-zero entries per vectorised step
    seed: int = 0


def cooccurrence_matrix(sentences: Sequence[np.ndarray], vocab_size: int, window: int = 5):
    """X (V, V) as a scipy.sparse CSR matrix: X[i, j] = sum over the occurrences of word j
    within ``window`` positions of an occurrence of word i of 1 / distance. Symmetric."""
    import scipy.sparse as sp

    rows, cols, vals = [], [], []
    for ids in sentences:
        n = len(ids)
        for k in range(1, window + 1):  # both directions at distance k
            if n <= k:
                break
            rows += [ids[:-k], ids[k:]]
            cols += [ids[k:], ids[:-k]]
            vals.append(np.full(2 * (n - k), 1.0 / k))
    if not rows:
        return sp.csr_matrix((vocab_size, vocab_size))
    X = sp.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                      shape=(vocab_size, vocab_size))
    return X.tocsr()  # sums the duplicates


def glove_weight(x: np.ndarray, x_max: float = 100.0, alpha: float = 0.75) -> np.ndarray:
    """f(x) = (x / x_max)^alpha below x_max, 1 above."""
    return np.minimum(1.0, (np.asarray(x, dtype=np.float64) / x_max) ** alpha)


def glove_loss_and_grads(w: np.ndarray, w_ctx: np.ndarray, b: np.ndarray, b_ctx: np.ndarray,
                         x: np.ndarray, x_max: float = 100.0, alpha: float = 0.75):
    """Weighted least squares of a batch of N non-zero entries.

    w, w_ctx: (N, d) the rows of W and W~ of each entry's words; b, b_ctx: (N,) their
    biases; x: (N,) the counts X_ij > 0.
    loss = sum_n f(x_n) (w_n . w~_n + b_n + b~_n - log x_n)^2
    Returns (loss, dw (N, d), dw_ctx (N, d), db (N,), db_ctx (N,)).
    """
    err = np.einsum("nd,nd->n", w, w_ctx) + b + b_ctx - np.log(x)  # (N,)
    fw = glove_weight(x, x_max, alpha).astype(w.dtype)
    loss = float(np.sum(fw * err ** 2))
    g = 2.0 * fw * err  # (N,): d loss / d (w . w~ + b + b~)
    return loss, g[:, None] * w_ctx, g[:, None] * w, g, g


@dataclass
class GloVeResult:
    """embedding = W + W~ (V, d); losses: mean weighted loss per entry, one per epoch."""

    embedding: np.ndarray
    losses: list[float]
    seconds: float


def train_glove(X, cfg: GloVeConfig, *, progress: bool = False) -> GloVeResult:
    """Fit GloVe to the sparse co-occurrence matrix X with AdaGrad, in float32.

    Each epoch shuffles X's non-zero entries and takes AdaGrad steps on batches of them:
    every parameter's step is lr / sqrt(sum of its squared gradients so far).
    """
    rng = np.random.default_rng(cfg.seed)
    X = X.tocoo()
    I, J, x = X.row.astype(np.int64), X.col.astype(np.int64), X.data.astype(np.float32)
    V, d = X.shape[0], cfg.dim
    # the paper's initialisation: uniform in [-0.5/d, 0.5/d); AdaGrad sums start at 1
    W = ((rng.random((V, d)) - 0.5) / d).astype(np.float32)
    W_ctx = ((rng.random((V, d)) - 0.5) / d).astype(np.float32)
    b, b_ctx = np.zeros(V, np.float32), np.zeros(V, np.float32)
    G = [np.ones_like(p) for p in (W, W_ctx, b, b_ctx)]
    losses = []
    start = time.perf_counter()
    epochs = range(cfg.epochs)
    if progress:
        from tqdm.auto import tqdm

        epochs = tqdm(epochs, unit=" epoch")
    for _ in epochs:
        order = rng.permutation(len(x))
        total = 0.0
        for s in range(0, len(order), cfg.batch_size):
            n = order[s:s + cfg.batch_size]
            i, j = I[n], J[n]
            loss, dw, dwc, db, dbc = glove_loss_and_grads(W[i], W_ctx[j], b[i], b_ctx[j], x[n],
                                                          cfg.x_max, cfg.alpha)
            total += loss
            for P, Gs, rows, grad in ((W, G[0], i, dw), (W_ctx, G[1], j, dwc)):
                # AdaGrad: per-parameter steps from the squared gradients before this batch
                step = cfg.lr * grad / np.sqrt(Gs[rows])
                scatter_add(Gs, rows, grad ** 2)
                scatter_add(P, rows, -step)
            for P, Gs, rows, grad in ((b, G[2], i, db), (b_ctx, G[3], j, dbc)):
                step = cfg.lr * grad / np.sqrt(Gs[rows])
                np.add.at(Gs, rows, grad ** 2)
                np.add.at(P, rows, -step)
        losses.append(total / len(x))
    return GloVeResult(W + W_ctx, losses, time.perf_counter() - start)
