"""Kullback-Leibler divergence between discrete distributions.

KL(p || q) = sum_i p_i (log p_i - log q_i) >= 0, zero only when p == q. Terms with
p_i = 0 contribute 0 (the limit of x log x as x -> 0); q_i = 0 where p_i > 0 gives inf.
"""

from __future__ import annotations

import numpy as np

from workbook.numpy_nn.losses import log_softmax

__all__ = ["kl_divergence", "kl_divergence_with_logits"]


def _xlogy_ratio(p: np.ndarray, log_q: np.ndarray) -> np.ndarray:
    """p * (log p - log q) elementwise, with 0 wherever p == 0 (0 log 0 = 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = p * (np.log(p) - log_q)
    return np.where(p > 0, terms, 0.0)


def _check(p: np.ndarray, other: np.ndarray, other_name: str) -> None:
    if p.shape != other.shape:
        raise ValueError(f"p {p.shape} and {other_name} {other.shape} must have the same shape")
    if np.any(p < 0):
        raise ValueError("p has negative entries: it must hold probabilities")


def kl_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Mean over the batch of KL(p || q), distributions along the last axis.

    p, q: (..., C), each row non-negative and summing to 1. A single distribution (C,)
    gives its KL; a batch (N, C) gives the mean of the N row KLs, which is
    ``F.kl_div(q.log(), p, reduction='batchmean')`` in torch (note its reversed order:
    log-probabilities of q first, then the target p). Returns a float >= 0.
    """
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    _check(p, q, "q")
    if np.any(q < 0):
        raise ValueError("q has negative entries: it must hold probabilities")
    with np.errstate(divide="ignore"):
        log_q = np.log(q)
    per_row = _xlogy_ratio(p, log_q).sum(axis=-1)
    return float(np.mean(per_row))


def kl_divergence_with_logits(p: np.ndarray, logits: np.ndarray):
    """KL(p || softmax(logits)), mean over the batch, and its gradient.

    p, logits: (N, C) -> (loss: float, dlogits: (N, C)). The gradient is
    (softmax(logits) - p) / N, as for cross-entropy: the two differ only by the
    entropy of p, which does not depend on the logits. Used for distillation
    (p from a teacher) and label smoothing.
    """
    p = np.asarray(p, dtype=float)
    logits = np.asarray(logits, dtype=float)
    _check(p, logits, "logits")
    if logits.ndim != 2:
        raise ValueError(f"logits must be (N, C), got shape {logits.shape}")
    n = logits.shape[0]
    log_q = log_softmax(logits, axis=-1)
    loss = float(_xlogy_ratio(p, log_q).sum() / n)
    # d/dz of -sum_c p_c log softmax(z)_c is softmax(z) * sum(p) - p; sum(p) = 1 for a
    # distribution, but keeping the factor makes the gradient exact for any p.
    dlogits = (np.exp(log_q) * p.sum(axis=-1, keepdims=True) - p) / n
    return loss, dlogits
