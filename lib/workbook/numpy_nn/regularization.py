"""Regularisers: inverted dropout as a forward/backward pair, and an L2 weight penalty.

``dropout_forward`` follows ``torch.nn.functional.dropout``: in training each unit is
zeroed with probability ``p`` and the survivors are scaled by 1 / (1 - p), so the
expected activation is unchanged and evaluation needs no rescaling (it is the identity).
"""

from __future__ import annotations

from typing import Iterable, Mapping

import numpy as np

__all__ = ["dropout_forward", "dropout_backward", "l2_penalty"]


def dropout_forward(x: np.ndarray, p: float, train: bool = True,
                    rng: np.random.Generator | None = None):
    """Inverted dropout. x: any shape -> (out: x's shape, cache).

    p: probability of dropping a unit, in [0, 1]. train=False (evaluation) returns x
    unchanged. In training, rng draws the mask (pass a seeded ``np.random.default_rng``
    so runs repeat); p=0 keeps everything, p=1 drops everything (out is all zeros, as in
    torch, rather than 0 * inf). The cache holds the scaled mask (None at evaluation).
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability must be in [0, 1], got {p}")
    x = np.asarray(x)
    if x.dtype.kind != "f":
        x = x.astype(float)
    if not train or p == 0.0:
        return x, None
    if p == 1.0:
        mask = np.zeros_like(x)  # every unit dropped; 1 / (1 - p) would be inf
    else:
        if rng is None:
            raise ValueError("dropout_forward needs rng in training, e.g. "
                             "rng=np.random.default_rng(0), so that the mask is reproducible")
        keep = rng.random(x.shape) >= p  # True with probability 1 - p
        # kept units scaled by 1 / (1 - p); in x's dtype, so float32 stays float32
        mask = (keep / (1.0 - p)).astype(x.dtype)
    return x * mask, mask


def dropout_backward(dout: np.ndarray, cache):
    """dout: out's shape -> dx: x's shape. Gradient flows only through kept units, scaled."""
    mask = cache
    return dout if mask is None else dout * mask


def l2_penalty(params: Mapping[str, np.ndarray], weight_decay: float,
               names: Iterable[str] | None = None):
    """L2 penalty 0.5 * weight_decay * sum of squared entries, and its gradient.

    params: name -> array; names: which ones to penalise (default: all; pass the
    weights only, e.g. ``[k for k in params if k.startswith("W")]``, to spare the
    biases). Returns (loss: float, grads: dict name -> weight_decay * param) for those
    names; add them to the data gradients. The factor 0.5 makes the gradient exactly
    what ``weight_decay`` adds in SGD (ours and ``torch.optim.SGD``).
    """
    if weight_decay < 0:
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")
    names = list(params) if names is None else list(names)
    missing = [n for n in names if n not in params]
    if missing:
        raise KeyError(f"l2_penalty: no parameters named {missing}; have {sorted(params)}")
    loss = 0.5 * weight_decay * sum(float(np.sum(params[n] ** 2)) for n in names)
    grads = {n: weight_decay * params[n] for n in names}
    return loss, grads
