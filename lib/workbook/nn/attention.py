"""Attention from its parts: scaled dot-product attention, masks, multi-head attention,
and the two ways of telling attention where a token is (sinusoidal and rotary positions).

Mask convention, everywhere in this module: a boolean ``mask`` is True where a query
MAY attend to a key. (PyTorch's ``nn.MultiheadAttention`` uses the opposite: True means
"not allowed"; ``to_torch_attn_mask`` converts.) Shapes: B batch, T time, C = d_model,
nh heads, hs = head size = C // nh.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = [
    "scaled_dot_product_attention",
    "causal_mask",
    "padding_mask",
    "to_torch_attn_mask",
    "MultiHeadAttention",
    "KVCache",
    "copy_from_torch",
    "copy_to_torch",
    "sinusoidal_positions",
    "RotaryEmbedding",
]


def scaled_dot_product_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                                 mask: torch.Tensor | None = None,
                                 dropout_p: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(q k^T / sqrt(d)) v.

    q: (..., Tq, d), k: (..., Tk, d), v: (..., Tk, dv); mask: bool, broadcastable to
    (..., Tq, Tk), True where the query may attend to the key. Returns
    out (..., Tq, dv) and weights (..., Tq, Tk) (before dropout, for plotting).
    A query row with nothing to attend to gets zero weights and a zero output, not NaN.
    """
    d = q.size(-1)
    # dividing by sqrt(d) keeps the scores at unit variance for unit-variance q and k,
    # so the softmax does not saturate as d grows
    scores = q @ k.transpose(-2, -1) / math.sqrt(d)  # (..., Tq, Tk)
    if mask is not None:
        # torch.where (not masked_fill) so that the mask may have more batch dims than q
        scores = torch.where(mask, scores, float("-inf"))  # exp(-inf) = 0: no weight
        # a row that is all -inf would give softmax 0/0 = NaN; give it finite scores
        # here and zero its weights below
        empty_row = ~mask.any(dim=-1, keepdim=True)  # (..., Tq, 1)
        scores = scores.masked_fill(empty_row, 0.0)
    weights = torch.softmax(scores, dim=-1)  # (..., Tq, Tk)
    if mask is not None:
        weights = weights.masked_fill(~mask, 0.0)  # changes only the fully masked rows
    dropped = F.dropout(weights, p=dropout_p) if dropout_p > 0 else weights
    return dropped @ v, weights  # (..., Tq, dv), (..., Tq, Tk)


def causal_mask(Tq: int, Tk: int | None = None,
                device: torch.device | str | None = None) -> torch.Tensor:
    """(Tq, Tk) bool, True on and below the diagonal: position t may attend to 0..t.

    With Tk > Tq (queries are the last Tq of Tk positions, as with a KV cache) the
    diagonal is shifted so that the last query sees every key.
    """
    Tk = Tq if Tk is None else Tk
    ones = torch.ones(Tq, Tk, dtype=torch.bool, device=device)
    return torch.tril(ones, diagonal=Tk - Tq)


def padding_mask(is_pad: torch.Tensor) -> torch.Tensor:
    """Key padding (B, Tk) bool, True at padding -> attention mask (B, 1, Tk), True where
    a query may attend (broadcasts over queries, and over heads in MultiHeadAttention)."""
    return (~is_pad).unsqueeze(1)  # (B, 1, Tk)


def to_torch_attn_mask(mask: torch.Tensor) -> torch.Tensor:
    """Our convention (True = may attend) -> torch.nn's (True = may NOT attend)."""
    return ~mask


class KVCache:
    """The keys and values one attention layer has computed so far, (B, nh, T, hs) each.

    Generating token t+1 needs the keys and values of tokens 0..t; they do not change
    once computed (attention is causal), so keep them instead of recomputing the whole
    prefix at every step. ``MultiHeadAttention(..., kv_cache=cache)`` appends the new
    tokens' keys and values and attends over all of them.
    """

    def __init__(self) -> None:
        self.k: torch.Tensor | None = None  # (B, nh, T, hs)
        self.v: torch.Tensor | None = None  # (B, nh, T, hs)

    def __len__(self) -> int:
        """Number of cached positions."""
        return 0 if self.k is None else self.k.size(-2)

    def update(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Append k, v (B, nh, T_new, hs); return all keys and values (B, nh, T, hs)."""
        if self.k is None:
            self.k, self.v = k, v
        else:
            self.k = torch.cat([self.k, k], dim=-2)
            self.v = torch.cat([self.v, v], dim=-2)
        return self.k, self.v

    def reset(self) -> None:
        self.k = self.v = None


class MultiHeadAttention(nn.Module):
    """num_heads attentions of size d_model // num_heads side by side, then a projection.

    forward(query (B, Tq, C), key (B, Tk, C), value (B, Tk, C), mask) -> out (B, Tq, C),
    weights (B, nh, Tq, Tk). mask: bool, broadcastable to (B, Tq, Tk) (e.g. (Tq, Tk)
    causal, (B, 1, Tk) padding), True where the query may attend; shared by all heads.

    Options for decoder-only models (GPT), all off by default:
    is_causal=True adds the causal mask (query i of Tq sees keys up to Tk - Tq + i, so the
    queries are the last Tq positions, as with a KV cache). need_weights=False returns
    (out, None) and runs ``torch.nn.functional.scaled_dot_product_attention`` -- the same
    arithmetic as ``scaled_dot_product_attention`` above, but on a GPU a fused
    flash/memory-efficient kernel that never stores the (T, T) weights. kv_cache: a
    ``KVCache``; the new keys/values are appended to it and the queries attend to all of
    them (with RoPE, the new tokens' positions continue after the cached ones).
    """

    def __init__(self, d_model: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 rotary: bool = False):
        super().__init__()
        if d_model % num_heads != 0:
            raise ValueError(f"d_model={d_model} must be divisible by num_heads={num_heads}")
        self.d_model = d_model
        self.num_heads = num_heads
        self.head_dim = d_model // num_heads
        self.dropout = dropout
        # separate projections (torch packs them into one in_proj_weight): clearer for
        # cross-attention, where queries come from a different sequence than keys/values
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.k_proj = nn.Linear(d_model, d_model, bias=bias)
        self.v_proj = nn.Linear(d_model, d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)
        self.rope = RotaryEmbedding(self.head_dim) if rotary else None

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        return x.view(B, T, self.num_heads, self.head_dim).transpose(1, 2)  # (B, nh, T, hs)

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                mask: torch.Tensor | None = None, *, is_causal: bool = False,
                need_weights: bool = True, kv_cache: KVCache | None = None
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        B, Tq, C = query.shape
        q = self._split_heads(self.q_proj(query))  # (B, nh, Tq, hs)
        k = self._split_heads(self.k_proj(key))  # (B, nh, Tk_new, hs)
        v = self._split_heads(self.v_proj(value))  # (B, nh, Tk_new, hs)
        if self.rope is not None:
            past = len(kv_cache) if kv_cache is not None else 0  # positions continue
            q = self.rope(q, torch.arange(past, past + Tq, device=q.device))
            k = self.rope(k, torch.arange(past, past + k.size(-2), device=k.device))
        if kv_cache is not None:
            k, v = kv_cache.update(k, v)  # (B, nh, Tk, hs): cached and new positions
        Tk = k.size(-2)
        if mask is not None:
            mask = mask.unsqueeze(-3)  # (B, 1, Tq, Tk) or (1, Tq, Tk): one mask for all heads
        p = self.dropout if self.training else 0.0
        if need_weights:
            if is_causal:
                causal = causal_mask(Tq, Tk, device=q.device)  # (Tq, Tk)
                mask = causal if mask is None else mask & causal
            # (B, nh, Tq, hs), (B, nh, Tq, Tk)
            out, weights = scaled_dot_product_attention(q, k, v, mask, dropout_p=p)
        else:
            out, weights = _fused_attention(q, k, v, mask, is_causal, p), None
        out = out.transpose(1, 2).contiguous().view(B, Tq, C)  # (B, Tq, C): heads side by side
        return self.out_proj(out), weights


def _fused_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                     mask: torch.Tensor | None, is_causal: bool, dropout_p: float) -> torch.Tensor:
    """torch's scaled_dot_product_attention with our mask convention (True = may attend,
    which is also torch's for a boolean attn_mask). q (..., Tq, d), k, v (..., Tk, d)."""
    Tq, Tk = q.size(-2), k.size(-2)
    if is_causal and mask is None and Tq == Tk:
        # no mask tensor at all: lets torch pick the flash kernel on a GPU
        return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, is_causal=True)
    if is_causal and Tq > 1:
        # torch's is_causal aligns the diagonal top-left; with cached keys (Tk > Tq)
        # the queries are the LAST Tq positions, so build the shifted mask ourselves.
        # (One query, Tq == 1, is the newest token: it may see every key; no mask.)
        causal = causal_mask(Tq, Tk, device=q.device)
        mask = causal if mask is None else mask & causal
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p)


@torch.no_grad()
def copy_from_torch(mha: MultiHeadAttention,
                    torch_mha: nn.MultiheadAttention) -> MultiHeadAttention:
    """Copy the weights of ``torch.nn.MultiheadAttention`` (batch_first=True) into ``mha``."""
    C = mha.d_model
    w_q, w_k, w_v = torch_mha.in_proj_weight.split(C, dim=0)  # each (C, C)
    for proj, w in zip((mha.q_proj, mha.k_proj, mha.v_proj), (w_q, w_k, w_v)):
        proj.weight.copy_(w)
    mha.out_proj.weight.copy_(torch_mha.out_proj.weight)
    if mha.q_proj.bias is not None:
        b_q, b_k, b_v = torch_mha.in_proj_bias.split(C, dim=0)
        for proj, b in zip((mha.q_proj, mha.k_proj, mha.v_proj), (b_q, b_k, b_v)):
            proj.bias.copy_(b)
        mha.out_proj.bias.copy_(torch_mha.out_proj.bias)
    return mha


@torch.no_grad()
def copy_to_torch(mha: MultiHeadAttention,
                  torch_mha: nn.MultiheadAttention) -> nn.MultiheadAttention:
    """Copy the weights of ``mha`` into ``torch.nn.MultiheadAttention`` (batch_first=True)."""
    torch_mha.in_proj_weight.copy_(
        torch.cat([mha.q_proj.weight, mha.k_proj.weight, mha.v_proj.weight], dim=0))
    torch_mha.out_proj.weight.copy_(mha.out_proj.weight)
    if mha.q_proj.bias is not None:
        torch_mha.in_proj_bias.copy_(
            torch.cat([mha.q_proj.bias, mha.k_proj.bias, mha.v_proj.bias], dim=0))
        torch_mha.out_proj.bias.copy_(mha.out_proj.bias)
    return torch_mha


def sinusoidal_positions(T: int, d: int, base: float = 10000.0) -> torch.Tensor:
    """(T, d) fixed position codes of Vaswani et al. (2017):
    P[t, 2i] = sin(t / base^(2i/d)), P[t, 2i+1] = cos(t / base^(2i/d)).

    Each pair of dimensions is a clock at its own speed, from one turn every 2*pi
    positions down to one every 2*pi*base, so nearby and far positions both differ.
    """
    t = torch.arange(T, dtype=torch.float64).unsqueeze(1)  # (T, 1)
    freq = base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)  # (ceil(d/2),)
    angle = t * freq  # (T, ceil(d/2))
    P = torch.zeros(T, d, dtype=torch.float64)
    P[:, 0::2] = torch.sin(angle)
    P[:, 1::2] = torch.cos(angle[:, : d // 2])  # an odd d has one sine more than cosines
    return P.to(torch.get_default_dtype())


class RotaryEmbedding(nn.Module):
    """Rotary position embedding (RoPE, Su et al. 2021), applied to queries and keys.

    Dimension pairs (i, i + hs/2) of a vector at position t are rotated by angle
    t * base^(-2i/hs). A rotation by angle a*m of q and by a*n of k changes their dot
    product only through m - n, so attention scores see relative positions.
    forward(x (..., T, hs), positions (T,) = 0..T-1) -> (..., T, hs).
    """

    def __init__(self, head_dim: int, base: float = 10000.0):
        super().__init__()
        if head_dim % 2 != 0:
            raise ValueError(f"RoPE rotates pairs of dimensions; head_dim={head_dim} is odd")
        self.head_dim = head_dim
        inv_freq = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
        # not persistent: derived from head_dim and base, so no need to save it
        self.register_buffer("inv_freq", inv_freq, persistent=False)  # (hs/2,)

    def forward(self, x: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
        T = x.size(-2)
        if positions is None:
            positions = torch.arange(T, device=x.device)
        angle = positions.to(self.inv_freq.dtype).unsqueeze(-1) * self.inv_freq  # (T, hs/2)
        angle = torch.cat([angle, angle], dim=-1).to(x.dtype)  # (T, hs): pair i with i + hs/2
        half = self.head_dim // 2
        x1, x2 = x[..., :half], x[..., half:]
        rotated_half = torch.cat([-x2, x1], dim=-1)  # (x1, x2) -> (-x2, x1): a quarter turn
        return x * torch.cos(angle) + rotated_half * torch.sin(angle)
