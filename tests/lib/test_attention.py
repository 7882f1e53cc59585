"""Attention pieces against PyTorch's own, in float64: scaled dot-product attention,
multi-head attention, positions (sinusoidal, RoPE), LayerNorm, FeedForward."""

import math

import pytest
import torch
import torch.nn as tnn
import torch.nn.functional as F

from workbook.checks import assert_close, assert_equal
from workbook.nn.attention import (
    MultiHeadAttention,
    RotaryEmbedding,
    causal_mask,
    copy_from_torch,
    copy_to_torch,
    padding_mask,
    scaled_dot_product_attention,
    sinusoidal_positions,
    to_torch_attn_mask,
)
from workbook.nn.layers import FeedForward, LayerNorm, count_parameters

f64 = torch.float64


def randn(*shape):
    return torch.randn(*shape, dtype=f64)


# ------------------------------------------------------ scaled dot-product attention

# (batch dims, Tq, Tk, d, dv): Tq != Tk, batch 1, length 1, extra batch dims
SDPA_SHAPES = [((2,), 5, 5, 8, 8), ((3,), 4, 7, 6, 5), ((1,), 1, 1, 4, 4),
               ((2, 3), 1, 6, 4, 2), ((), 6, 3, 5, 7)]


@pytest.mark.parametrize("batch,Tq,Tk,d,dv", SDPA_SHAPES)
@pytest.mark.parametrize("masking", ["none", "random", "causal"])
def test_sdpa_matches_torch(batch, Tq, Tk, d, dv, masking):
    q, k, v = randn(*batch, Tq, d), randn(*batch, Tk, d), randn(*batch, Tk, dv)
    mask = {"none": None,
            "random": torch.rand(*batch, Tq, Tk) > 0.4,  # some rows fully masked
            "causal": causal_mask(Tq, Tk)}[masking]
    out, weights = scaled_dot_product_attention(q, k, v, mask)
    assert out.shape == (*batch, Tq, dv) and weights.shape == (*batch, Tq, Tk)
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert_close(out, expected, name="attention output", rtol=1e-10, atol=1e-12)
    ref_weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(d), dim=-1)
    if mask is None:
        assert_close(weights, ref_weights, name="weights", rtol=1e-10)
    else:
        assert (weights[~mask.expand_as(weights)] == 0).all()


def test_fully_masked_rows_give_zeros_not_nan_and_finite_gradients():
    q, k, v = (randn(2, 4, 3).requires_grad_() for _ in range(3))
    mask = torch.ones(2, 4, 4, dtype=torch.bool)
    mask[0, 1] = False  # query 1 of batch 0 may attend to nothing
    mask[1] = False  # batch 1: nothing at all
    out, weights = scaled_dot_product_attention(q, k, v, mask)
    assert_equal(out[0, 1], torch.zeros(3), name="output of a fully masked row")
    assert_equal(out[1], torch.zeros(4, 3), name="output of a fully masked batch")
    assert_equal(weights[0, 1], torch.zeros(4), name="weights of a fully masked row")
    assert_close(weights[0, 0].sum(), 1.0, name="weights of a normal row sum to")
    out.sum().backward()
    for name, x in (("q", q), ("k", k), ("v", v)):
        assert torch.isfinite(x.grad).all(), f"gradient of {name} has NaN or inf"


def test_mask_may_have_more_batch_dims_than_q():
    q, k, v = randn(3, 4), randn(5, 4), randn(5, 2)
    mask = torch.rand(2, 3, 5) > 0.3  # (B, Tq, Tk) while q has no batch dim
    out, _ = scaled_dot_product_attention(q, k, v, mask)
    expected = F.scaled_dot_product_attention(q.expand(2, 3, 4), k.expand(2, 5, 4),
                                              v.expand(2, 5, 2), attn_mask=mask)
    assert_close(out, expected, name="broadcast output", rtol=1e-10, atol=1e-12)


def test_masks():
    assert_equal(causal_mask(3), [[1, 0, 0], [1, 1, 0], [1, 1, 1]], name="causal_mask(3)")
    # queries are the last 2 of 4 positions: the last one sees all 4 keys
    assert_equal(causal_mask(2, 4), [[1, 1, 1, 0], [1, 1, 1, 1]], name="causal_mask(2, 4)")
    is_pad = torch.tensor([[False, False, True], [False, True, True]])
    assert_equal(padding_mask(is_pad), [[[1, 1, 0]], [[1, 0, 0]]], name="padding_mask")
    assert_equal(to_torch_attn_mask(causal_mask(2)), [[0, 1], [0, 0]], name="torch convention")


# ------------------------------------------------------------------ multi-head attention

def make_pair(d_model, num_heads, bias=True):
    torch_mha = tnn.MultiheadAttention(d_model, num_heads, bias=bias, batch_first=True, dtype=f64)
    if bias:  # torch starts its biases at zero: make them count
        with torch.no_grad():
            torch_mha.in_proj_bias.normal_()
            torch_mha.out_proj.bias.normal_()
    mha = copy_from_torch(MultiHeadAttention(d_model, num_heads, bias=bias).double(), torch_mha)
    return mha, torch_mha


# (B, Tq, Tk, d_model, num_heads, kind); Tk is ignored for self-attention
MHA_CASES = [(2, 5, 5, 12, 3, "self"), (3, 4, 6, 8, 2, "cross"), (1, 1, 1, 8, 4, "self"),
             (1, 1, 4, 6, 1, "cross"), (2, 6, 6, 16, 4, "causal"), (3, 3, 5, 8, 2, "padding"),
             (2, 5, 5, 8, 2, "causal+padding")]


@pytest.mark.parametrize("B,Tq,Tk,d_model,num_heads,kind", MHA_CASES)
@pytest.mark.parametrize("bias", [True, False])
def test_multi_head_attention_matches_torch(B, Tq, Tk, d_model, num_heads, kind, bias):
    mha, torch_mha = make_pair(d_model, num_heads, bias)
    x = randn(B, Tq, d_model)
    self_attention = kind in ("self", "causal", "causal+padding")
    memory = x if self_attention else randn(B, Tk, d_model)
    Tk = memory.size(1)
    mask, torch_kwargs = None, {}
    if "causal" in kind:
        mask = causal_mask(Tq)  # (Tq, Tk)
        torch_kwargs["attn_mask"] = to_torch_attn_mask(mask)
    if "padding" in kind:
        lengths = torch.randint(1, Tk + 1, (B,))
        lengths[0] = Tk  # keep one row unpadded
        is_pad = torch.arange(Tk) >= lengths.unsqueeze(1)  # (B, Tk)
        pad = padding_mask(is_pad)  # (B, 1, Tk)
        mask = pad if mask is None else mask & pad
        torch_kwargs["key_padding_mask"] = is_pad  # torch: True = padding, ignore it
    out, weights = mha(x, memory, memory, mask)
    expected, expected_weights = torch_mha(x, memory, memory, **torch_kwargs)
    assert out.shape == (B, Tq, d_model) and weights.shape == (B, num_heads, Tq, Tk)
    assert_close(out, expected, name="MultiHeadAttention output", rtol=1e-6, atol=1e-9)
    # torch returns the weights averaged over heads
    assert_close(weights.mean(dim=1), expected_weights, name="weights", rtol=1e-6, atol=1e-9)


def test_copy_to_torch_round_trip():
    mha = MultiHeadAttention(8, 2).double()
    torch_mha = copy_to_torch(mha, tnn.MultiheadAttention(8, 2, batch_first=True, dtype=f64))
    x = randn(2, 3, 8)
    assert_close(mha(x, x, x)[0], torch_mha(x, x, x)[0], name="after copy_to_torch", rtol=1e-6)


def test_multi_head_attention_rejects_indivisible_width():
    with pytest.raises(ValueError, match="divisible"):
        MultiHeadAttention(10, 3)


# ------------------------------------------------------------------------- positions

def test_sinusoidal_positions():
    T, d = 7, 6
    P = sinusoidal_positions(T, d)
    assert P.shape == (T, d)
    for t in (0, 3, 6):
        for i in range(d // 2):
            angle = t / 10000 ** (2 * i / d)
            assert_close(P[t, 2 * i], math.sin(angle), name=f"P[{t}, {2 * i}]", rtol=1e-6)
            assert_close(P[t, 2 * i + 1], math.cos(angle), name=f"P[{t}, {2 * i + 1}]", rtol=1e-6)
    assert sinusoidal_positions(4, 5).shape == (4, 5)  # odd width works too


def test_rotary_scores_depend_only_on_offset():
    rope = RotaryEmbedding(8).double()
    q, k = randn(8), randn(8)
    T = 12
    Q = rope(q.expand(T, 8))  # (T, hs): the same query at positions 0..T-1
    K = rope(k.expand(T, 8))
    scores = Q @ K.T  # scores[m, n] = q at m . k at n
    for offset in (-3, 0, 2, 5):
        diagonal = torch.diagonal(scores, offset=-offset)  # all (m, n) with m - n = offset
        assert_close(diagonal, diagonal[0].expand_as(diagonal), rtol=1e-10,
                     name=f"scores with m - n = {offset}")
    assert not torch.allclose(scores[0, 0], scores[1, 0])  # but they do depend on the offset


def test_rotary_is_a_rotation_and_identity_at_position_0():
    rope = RotaryEmbedding(6).double()
    x = randn(2, 3, 5, 6)  # (B, nh, T, hs)
    y = rope(x)
    assert_close(y.norm(dim=-1), x.norm(dim=-1), name="norms after RoPE", rtol=1e-12)
    assert_close(y[..., 0, :], x[..., 0, :], name="position 0", rtol=1e-12)
    # explicit positions, as with a KV cache: positions 2..4 of the same sequence
    assert_close(rope(x[..., 2:, :], positions=torch.arange(2, 5)), y[..., 2:, :],
                 name="positions=2..4", rtol=1e-12)


def test_rotary_multi_head_attention_runs():
    mha = MultiHeadAttention(8, 2, rotary=True).double()
    x = randn(2, 5, 8)
    out, _ = mha(x, x, x, causal_mask(5))
    assert out.shape == (2, 5, 8)


# ------------------------------------------------------------- LayerNorm, FeedForward

@pytest.mark.parametrize("shape", [(2, 5, 8), (1, 1, 4), (3, 6)])
def test_layer_norm_matches_torch(shape):
    C = shape[-1]
    ours, theirs = LayerNorm(C).double(), tnn.LayerNorm(C, dtype=f64)
    with torch.no_grad():
        theirs.weight.normal_()
        theirs.bias.normal_()
    ours.load_state_dict(theirs.state_dict())
    x = (randn(*shape) * 3 + 1).requires_grad_()
    x2 = x.detach().clone().requires_grad_()
    assert_close(ours(x), theirs(x2), name="LayerNorm", rtol=1e-10, atol=1e-12)
    ours(x).pow(2).sum().backward()
    theirs(x2).pow(2).sum().backward()
    assert_close(x.grad, x2.grad, name="LayerNorm input gradient", rtol=1e-8, atol=1e-10)


def test_feed_forward_and_parameter_count():
    ff = FeedForward(8, 32).double()
    x = randn(2, 3, 8)
    expected = ff.linear2(torch.relu(ff.linear1(x)))
    assert_close(ff(x), expected, name="FeedForward", rtol=1e-12)
    assert count_parameters(ff) == 8 * 32 + 32 + 32 * 8 + 8
    assert count_parameters(MultiHeadAttention(8, 2)) == 4 * (8 * 8 + 8)
