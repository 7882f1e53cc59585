"""Transformer blocks against torch.nn's (float64, dropout 0), the encoder-decoder model,
and decoding: greedy, beam search, and beam search against brute force."""

import itertools

import pytest
import torch
import torch.nn as tnn

from workbook.checks import assert_close, assert_equal
from workbook.nn.attention import causal_mask, padding_mask, to_torch_attn_mask
from workbook.nn.layers import count_parameters
from workbook.nn.transformer import (
    DecoderLayer,
    EncoderLayer,
    Transformer,
    TransformerConfig,
    beam_search,
    copy_decoder_layer_from_torch,
    copy_decoder_layer_to_torch,
    copy_encoder_layer_from_torch,
    copy_encoder_layer_to_torch,
    greedy_decode,
    sequence_log_prob,
    sequence_loss,
)

f64 = torch.float64
PAD, BOS, EOS = 0, 1, 2


def randomise(module):
    """torch starts biases and LayerNorm at 0/1: perturb everything so that each counts."""
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return module


def lengths_to_pad(lengths, T):
    return torch.arange(T) >= lengths.unsqueeze(1)  # (B, T) True at padding


# (B, S, T, d_model, num_heads, d_ff)
LAYER_CASES = [(2, 5, 4, 8, 2, 16), (1, 1, 1, 8, 4, 8), (3, 6, 7, 12, 3, 20)]


@pytest.mark.parametrize("B,S,T,d_model,num_heads,d_ff", LAYER_CASES)
def test_encoder_layer_matches_torch(B, S, T, d_model, num_heads, d_ff):
    theirs = randomise(tnn.TransformerEncoderLayer(
        d_model, num_heads, d_ff, dropout=0.0, activation="relu", batch_first=True,
        norm_first=True, dtype=f64))
    ours = copy_encoder_layer_from_torch(EncoderLayer(d_model, num_heads, d_ff).double(), theirs)
    x = torch.randn(B, S, d_model, dtype=f64)
    is_pad = lengths_to_pad(torch.randint(1, S + 1, (B,)), S)
    assert_close(ours(x, padding_mask(is_pad)), theirs(x, src_key_padding_mask=is_pad),
                 name="EncoderLayer with padding", rtol=1e-6, atol=1e-9)
    causal = causal_mask(S)
    assert_close(ours(x, causal), theirs(x, src_mask=to_torch_attn_mask(causal)),
                 name="EncoderLayer, causal", rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("B,S,T,d_model,num_heads,d_ff", LAYER_CASES)
def test_decoder_layer_matches_torch(B, S, T, d_model, num_heads, d_ff):
    theirs = randomise(tnn.TransformerDecoderLayer(
        d_model, num_heads, d_ff, dropout=0.0, activation="relu", batch_first=True,
        norm_first=True, dtype=f64))
    ours = copy_decoder_layer_from_torch(DecoderLayer(d_model, num_heads, d_ff).double(), theirs)
    x, memory = torch.randn(B, T, d_model, dtype=f64), torch.randn(B, S, d_model, dtype=f64)
    src_pad = lengths_to_pad(torch.randint(1, S + 1, (B,)), S)
    tgt_pad = lengths_to_pad(torch.randint(1, T + 1, (B,)), T)
    causal = causal_mask(T)
    out = ours(x, memory, causal & padding_mask(tgt_pad), padding_mask(src_pad))
    expected = theirs(x, memory, tgt_mask=to_torch_attn_mask(causal), tgt_key_padding_mask=tgt_pad,
                      memory_key_padding_mask=src_pad)
    assert_close(out, expected, name="DecoderLayer", rtol=1e-6, atol=1e-9)


def test_copy_layers_to_torch():
    enc, dec = EncoderLayer(8, 2, 16).double(), DecoderLayer(8, 2, 16).double()
    kwargs = dict(dropout=0.0, batch_first=True, norm_first=True, dtype=f64)
    t_enc = copy_encoder_layer_to_torch(enc, tnn.TransformerEncoderLayer(8, 2, 16, **kwargs))
    t_dec = copy_decoder_layer_to_torch(dec, tnn.TransformerDecoderLayer(8, 2, 16, **kwargs))
    x, m = torch.randn(2, 3, 8, dtype=f64), torch.randn(2, 4, 8, dtype=f64)
    assert_close(enc(x), t_enc(x), name="encoder after copy_to_torch", rtol=1e-6)
    assert_close(dec(x, m), t_dec(x, m), name="decoder after copy_to_torch", rtol=1e-6)


# ------------------------------------------------------------------------------ model

def tiny_config(**overrides):
    base = dict(src_vocab_size=7, tgt_vocab_size=6, d_model=16, num_heads=2, num_layers=2,
                d_ff=32, dropout=0.0, max_len=12, pad_id=PAD)
    return TransformerConfig(**{**base, **overrides})


def tiny_model(**overrides):
    model = Transformer(tiny_config(**overrides)).double().eval()
    with torch.no_grad():  # sharpen the output distribution so that decoding choices matter
        model.lm_head.weight.mul_(4.0)
    return model


def random_src(B, S, vocab=7, lengths=None):
    src = torch.randint(3, vocab, (B, S))
    if lengths is not None:
        src = src.masked_fill(lengths_to_pad(lengths, S), PAD)
    return src


def test_transformer_shapes_and_padding_is_ignored():
    model = tiny_model()
    src = random_src(3, 5, lengths=torch.tensor([5, 3, 1]))
    tgt = torch.randint(3, 6, (3, 4))
    tgt[:, 0] = BOS
    logits = model(src, tgt)
    assert logits.shape == (3, 4, 6)
    # appending more padding to the source changes nothing
    longer = torch.cat([src, torch.full((3, 2), PAD)], dim=1)
    assert_close(model(longer, tgt), logits, name="logits with extra source padding", rtol=1e-9)
    # the causal mask: changing a later target token leaves earlier logits unchanged
    changed = tgt.clone()
    changed[:, 3] = 5 if tgt[0, 3] != 5 else 4
    assert_close(model(src, changed)[:, :3], logits[:, :3], name="logits before the change",
                 rtol=1e-9)
    loss = sequence_loss(logits, torch.randint(0, 6, (3, 4)), PAD)
    assert loss.ndim == 0 and torch.isfinite(loss)
    assert count_parameters(model) > 0


def test_transformer_rejects_too_long_input():
    model = tiny_model(max_len=4)
    with pytest.raises(ValueError, match="max_len"):
        model(random_src(1, 5), torch.full((1, 2), BOS))


def test_transformer_trains_on_copy_task():
    """A few steps on copying the source must lower the loss: the parts are wired up."""
    model = Transformer(tiny_config(num_layers=1))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    src = random_src(16, 5)
    tgt = torch.cat([torch.full((16, 1), BOS), src - 1, torch.full((16, 1), EOS)], dim=1)
    losses = []
    for _ in range(30):
        loss = sequence_loss(model(src, tgt[:, :-1]), tgt[:, 1:], PAD)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0], losses


# --------------------------------------------------------------------------- decoding

def test_greedy_decode_format():
    model = tiny_model()
    src = random_src(4, 5, lengths=torch.tensor([5, 4, 2, 1]))
    out = greedy_decode(model, src, BOS, EOS, max_len=8)
    assert out.dtype == torch.long and out.shape[0] == 4 and out.shape[1] <= 9
    assert (out[:, 0] == BOS).all() and not (out[:, 1:] == BOS).any()
    for row in out.tolist():  # padding only after EOS
        if EOS in row:
            end = row.index(EOS)
            assert all(t == PAD for t in row[end + 1:]) and PAD not in row[:end]
        else:
            assert PAD not in row


def test_greedy_picks_argmax_each_step():
    model = tiny_model()
    src = random_src(2, 4)
    out = greedy_decode(model, src, BOS, EOS, max_len=6)
    logits = model(src, out[:, :-1])  # teacher-forced on greedy's own output
    logits[..., [PAD, BOS]] = float("-inf")
    for b in range(2):
        row = out[b].tolist()
        n = row.index(EOS) if EOS in row else len(row) - 1
        assert_equal(logits[b, :n].argmax(-1), out[b, 1:n + 1], name=f"greedy row {b}")


def test_beam_size_1_is_greedy():
    model = tiny_model()
    src = random_src(5, 5, lengths=torch.tensor([5, 5, 3, 2, 1]))
    assert_equal(beam_search(model, src, BOS, EOS, max_len=8, beam_size=1),
                 greedy_decode(model, src, BOS, EOS, max_len=8), name="beam_size=1 vs greedy")


def test_beam_search_is_at_least_as_likely_as_greedy():
    model = tiny_model()
    src = random_src(6, 5)
    greedy = greedy_decode(model, src, BOS, EOS, max_len=8)
    beam = beam_search(model, src, BOS, EOS, max_len=8, beam_size=4)
    lp_greedy = sequence_log_prob(model, src, greedy)
    lp_beam = sequence_log_prob(model, src, beam)
    assert (lp_beam >= lp_greedy - 1e-9).all(), (lp_beam, lp_greedy)
    assert (lp_beam > lp_greedy + 1e-3).any()  # this model is one where beam search helps


# (seed, shift of EOS's logit): at seed 0 with EOS made rarer, greedy walks into long,
# unlikely outputs while the best output is the short one; at seed 1 the best is long
BRUTE_FORCE_MODELS = [(0, -2.0), (1, 0.0), (0, -3.0)]


@pytest.mark.parametrize("seed,eos_shift", BRUTE_FORCE_MODELS)
def test_large_beam_finds_the_most_likely_sequence_by_brute_force(seed, eos_shift):
    """Vocabulary {PAD, BOS, EOS, a, b}, at most 3 generated tokens: score all 15
    possible outputs (ended by EOS after 0-2 tokens, or 3 tokens cut at max_len)."""
    torch.manual_seed(seed)
    model = tiny_model(tgt_vocab_size=5)
    with torch.no_grad():
        model.lm_head.bias[EOS] += eos_shift
    src = random_src(4, 4)
    max_len, words = 3, (3, 4)
    outputs = [[BOS, *w, EOS] for n in range(max_len) for w in itertools.product(words, repeat=n)]
    outputs += [[BOS, *w] for w in itertools.product(words, repeat=max_len)]
    width = max_len + 1
    batch = torch.tensor([seq + [PAD] * (width - len(seq)) for seq in outputs])  # (15, 4)
    beam = beam_search(model, src, BOS, EOS, max_len=max_len, beam_size=27)
    greedy = greedy_decode(model, src, BOS, EOS, max_len=max_len)
    greedy_is_best = []
    for b in range(len(src)):
        scores = sequence_log_prob(model, src[b:b + 1].expand(len(outputs), -1), batch)
        best = outputs[int(scores.argmax())]
        got = [t for t in beam[b].tolist() if t != PAD]
        assert got == best, f"source {b}: beam {got}, best {best}"
        greedy_is_best.append([t for t in greedy[b].tolist() if t != PAD] == best)
    if seed == 0 and eos_shift == -2.0:  # the test has teeth: here greedy is not enough
        assert not any(greedy_is_best)
