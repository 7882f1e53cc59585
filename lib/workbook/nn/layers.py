"""Small building blocks of a transformer block: LayerNorm and the position-wise
feed-forward network, plus a parameter counter."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["LayerNorm", "FeedForward", "count_parameters"]

ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}  # FeedForward's choices


class LayerNorm(nn.Module):
    """Normalise each vector over its last dimension, then scale and shift.

    x (..., C) -> (..., C). Same parameters (weight, bias) and result as
    ``torch.nn.LayerNorm(C, eps)``.
    """

    def __init__(self, d_model: int, eps: float = 1e-5, bias: bool = True):
        super().__init__()
        self.eps = eps  # keeps the division finite for a constant vector (variance 0)
        self.weight = nn.Parameter(torch.ones(d_model))  # start as the identity map
        self.bias = nn.Parameter(torch.zeros(d_model)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=-1, keepdim=True)  # (..., 1)
        var = x.var(dim=-1, keepdim=True, unbiased=False)  # (..., 1) population variance, as torch
        x_hat = (x - mean) / torch.sqrt(var + self.eps)  # (..., C), mean 0, variance ~1
        out = x_hat * self.weight
        return out + self.bias if self.bias is not None else out


class FeedForward(nn.Module):
    """The same two-layer MLP applied to every position on its own:
    linear1 (C -> d_ff), activation, dropout, linear2 (d_ff -> C). x (B, T, C) -> (B, T, C).

    activation: "relu" (the 2017 transformer, torch's default) or "gelu" (exact, erf-based:
    GPT-2 and nanoGPT). Names match ``torch.nn.TransformerEncoderLayer`` (linear1, linear2).
    """

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.0, bias: bool = True,
                 activation: str = "relu"):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        self.linear1 = nn.Linear(d_model, d_ff, bias=bias)
        self.linear2 = nn.Linear(d_ff, d_model, bias=bias)
        self.dropout = nn.Dropout(dropout)
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        act = ACTIVATIONS[self.activation]
        return self.linear2(self.dropout(act(self.linear1(x))))  # (B, T, d_ff) inside


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of scalar parameters (shared tensors counted once)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
