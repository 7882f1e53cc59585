"""workbook.nn.seq2seq: scores against hand computations, the encoder against torch's GRU,
the decoder step written out, masks, greedy and beam search against exhaustive search, and
the bottleneck: attention beats the plain encoder-decoder on long inputs."""

import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from workbook import runtime
from workbook.nn import rnn as wrnn
from workbook.nn import seq2seq as s2s

BOS, EOS, PAD = 1, 2, 0
KINDS = [None, "dot", "general", "additive"]


def _model(attention, seed=0, V_src=9, V=6, E=5, H=4, eos_bias=1.0):
    torch.manual_seed(seed)
    model = s2s.Seq2Seq(s2s.Seq2SeqConfig(V_src, V, E, H, attention)).double().eval()
    with torch.no_grad():
        model.out.weight.mul_(3.0)  # confident, varied predictions
        model.out.bias[EOS] += eos_bias
    return model


def _src():
    return torch.tensor([[4, 5, 6, 7, 8], [8, 6, 4, PAD, PAD], [5, 7, PAD, PAD, PAD]])


# ----------------------------------------------------------------------------- scores

def test_scores_equal_the_formulas_written_with_loops():
    g = torch.Generator().manual_seed(0)
    B, S, H, A = 2, 4, 3, 5
    q = torch.randn(B, H, generator=g, dtype=torch.float64)
    k = torch.randn(B, S, H, generator=g, dtype=torch.float64)
    W = torch.randn(H, H, generator=g, dtype=torch.float64)
    W_q = torch.randn(A, H, generator=g, dtype=torch.float64)
    W_k = torch.randn(A, H, generator=g, dtype=torch.float64)
    v = torch.randn(A, generator=g, dtype=torch.float64)
    dot, general, additive = (torch.zeros(B, S, dtype=torch.float64) for _ in range(3))
    for b in range(B):
        for i in range(S):
            dot[b, i] = sum(q[b, j] * k[b, i, j] for j in range(H))
            general[b, i] = sum(q[b, j] * W[j, l] * k[b, i, l] for j in range(H) for l in range(H))
            additive[b, i] = sum(v[a] * math.tanh(sum(W_q[a, j] * q[b, j] + W_k[a, j] * k[b, i, j]
                                                      for j in range(H))) for a in range(A))
    torch.testing.assert_close(s2s.dot_scores(q, k), dot, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(s2s.general_scores(q, k, W), general, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(s2s.additive_scores(q, k, W_q, W_k, v), additive,
                               rtol=1e-12, atol=1e-12)
    # the modules compute the same functions of their parameters
    scorer = s2s.GeneralScorer(H).double()
    torch.testing.assert_close(scorer(q, k), s2s.general_scores(q, k, scorer.W))
    scorer = s2s.AdditiveScorer(H, A).double()
    torch.testing.assert_close(scorer(q, k), s2s.additive_scores(q, k, scorer.W_q, scorer.W_k, scorer.v))
    torch.testing.assert_close(s2s.DotScorer(H)(q, k), dot)
    with pytest.raises(ValueError, match="unknown attention"):
        s2s.make_scorer("cosine", H)


def test_attend_softmaxes_over_the_source_and_gives_padding_zero_weight():
    scores = torch.tensor([[1.0, 2.0, 3.0, 9.0], [0.5, -1.0, 7.0, 7.0]], dtype=torch.float64)
    values = torch.arange(2 * 4 * 3, dtype=torch.float64).view(2, 4, 3)
    pad = torch.tensor([[False, False, False, True], [False, False, True, True]])
    context, weights = s2s.attend(scores, values, pad)
    e = torch.exp(torch.tensor([[1.0, 2.0, 3.0], [0.5, -1.0, 0.0]], dtype=torch.float64))
    expected = torch.zeros(2, 4, dtype=torch.float64)
    expected[0, :3] = e[0] / e[0].sum()
    expected[1, :2] = e[1, :2] / e[1, :2].sum()
    torch.testing.assert_close(weights, expected, rtol=1e-12, atol=0)
    assert (weights[pad] == 0).all()
    torch.testing.assert_close(context, (weights.unsqueeze(-1) * values).sum(1), rtol=1e-12, atol=0)
    # without a mask: a plain softmax; a row of padding only: zero weights, not NaN
    _, plain = s2s.attend(scores, values)
    torch.testing.assert_close(plain, torch.softmax(scores, dim=1))
    _, none = s2s.attend(scores, values, torch.ones(2, 4, dtype=torch.bool))
    assert (none == 0).all()


# ----------------------------------------------------------------------------- model

def test_encoder_equals_torch_bidirectional_gru_on_packed_sequences():
    model = _model("general")
    src = _src()
    pad = src == PAD
    outputs, final = model.encoder(src, pad)
    twin = torch.nn.GRU(5, 4, batch_first=True, bidirectional=True).double()
    wrnn.copy_to_torch(model.encoder.rnn, twin)
    lengths = (~pad).sum(1)
    packed = torch.nn.utils.rnn.pack_padded_sequence(model.encoder.embed(src), lengths,
                                                     batch_first=True, enforce_sorted=False)
    out_t, h_t = twin(packed)
    out_t, _ = torch.nn.utils.rnn.pad_packed_sequence(out_t, batch_first=True)
    torch.testing.assert_close(outputs, out_t)
    torch.testing.assert_close(final, torch.cat([h_t[0], h_t[1]], dim=-1))
    assert outputs.shape == (3, 5, 8) and final.shape == (3, 8)


def test_fast_model_equals_the_from_scratch_one():
    model = _model("additive", seed=5)
    fast = s2s.Seq2Seq(s2s.Seq2SeqConfig(9, 6, 5, 4, "additive", fast=True)).double().eval()
    fast.load_state_dict(model.state_dict())
    assert isinstance(fast.encoder.rnn, torch.nn.GRU) and isinstance(fast.cell, torch.nn.GRUCell)
    tgt_in = torch.tensor([[BOS, 4, 5], [BOS, 3, 3], [BOS, 5, 4]])
    for a, b in zip(model(_src(), tgt_in), fast(_src(), tgt_in)):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("kind", KINDS)
def test_decoder_step_written_out(kind):
    model = _model(kind, seed=1)
    src = _src()
    enc = model.encode(src)
    cell = torch.nn.GRUCell(5, 4).double()
    cell.load_state_dict(model.cell.state_dict())
    prev = torch.tensor([BOS, 4, 5])
    s = cell(model.embed.weight[prev], enc.state)  # (B, H)
    logits, state, weights = model.step(prev, enc.state, enc)
    torch.testing.assert_close(state, s)
    if kind is None:
        assert weights is None and enc.memory.shape == (3, 5, 0)
        torch.testing.assert_close(logits, s @ model.out.weight.T + model.out.bias)
        return
    memory = model.keys(model.encoder(src, src == PAD)[0])  # (B, S, H)
    scores = {"dot": lambda: s2s.dot_scores(s, memory),
              "general": lambda: s2s.general_scores(s, memory, model.scorer.W),
              "additive": lambda: s2s.additive_scores(s, memory, model.scorer.W_q,
                                                      model.scorer.W_k, model.scorer.v)}[kind]()
    scores = scores.masked_fill(src == PAD, -math.inf)
    w = torch.softmax(scores, dim=1)
    c = torch.einsum("bs,bsh->bh", w, memory)
    h = torch.tanh(torch.cat([s, c], 1) @ model.combine.weight.T + model.combine.bias)
    torch.testing.assert_close(weights, w)
    torch.testing.assert_close(logits, h @ model.out.weight.T + model.out.bias)
    assert (weights[src == PAD] == 0).all()


@pytest.mark.parametrize("kind", KINDS)
def test_teacher_forcing_feeds_the_true_tokens_and_padding_changes_nothing(kind):
    model = _model(kind, seed=2)
    src = _src()
    tgt_in = torch.tensor([[BOS, 4, 5, 3], [BOS, 3, 3, 4], [BOS, 5, 4, 4]])
    logits, weights = model(src, tgt_in)
    assert logits.shape == (3, 4, 6)
    enc = model.encode(src)
    state = enc.state
    for t in range(4):
        step_logits, state, w = model.step(tgt_in[:, t], state, enc)
        torch.testing.assert_close(logits[:, t], step_logits)
    # more padding on the right of the sources: the same outputs, zero weight on the pads
    wider = torch.cat([src, torch.full((3, 3), PAD)], dim=1)
    logits2, weights2 = model(wider, tgt_in)
    torch.testing.assert_close(logits2, logits)
    if kind is not None:
        assert weights.shape == (3, 4, 5)
        torch.testing.assert_close(weights2[..., :5], weights)
        assert (weights2[..., 5:] == 0).all() and (weights[1, :, 3:] == 0).all()
        torch.testing.assert_close(weights.sum(-1), torch.ones(3, 4, dtype=torch.float64))


# ----------------------------------------------------------------------------- decoding

def test_beam_step_by_hand():
    scores = torch.tensor([-1.0, -2.0], dtype=torch.float64)
    log_probs = torch.log(torch.tensor([[0.1, 0.6, 0.3], [0.8, 0.1, 0.1]], dtype=torch.float64))
    top, parents, tokens = s2s.beam_step(scores, log_probs, 3)
    # -1 + log .6 = -1.51, -1 + log .3 = -2.20, -2 + log .8 = -2.22, -1 + log .1 = -3.30
    torch.testing.assert_close(top, torch.tensor([-1 + math.log(.6), -1 + math.log(.3),
                                                  -2 + math.log(.8)], dtype=torch.float64))
    assert parents.tolist() == [0, 0, 1] and tokens.tolist() == [1, 2, 0]
    assert s2s.beam_step(scores, log_probs, 10)[0].shape == (6,)


def test_normalised_score():
    assert s2s.normalised_score(-6.0, 3, 0.0) == -6.0
    assert s2s.normalised_score(-6.0, 3, 1.0) == -2.0
    assert s2s.normalised_score(-8.0, 4, 0.5) == -4.0


@pytest.mark.parametrize("kind", KINDS)
def test_beam_of_one_is_greedy(kind):
    model = _model(kind, seed=3)
    src = _src()
    greedy, weights = s2s.greedy_decode(model, src, BOS, EOS, 7, return_weights=True)
    torch.testing.assert_close(s2s.beam_search(model, src, BOS, EOS, 7, beam_size=1), greedy)
    assert greedy[:, 0].eq(BOS).all()
    if kind is not None:
        assert weights.shape == (3, greedy.size(1) - 1, 5)
        assert (weights[1, :, 3:] == 0).all()
    else:
        assert weights is None


def _all_outputs(V, max_len):
    """Every possible output as a list, BOS first: ended by EOS within max_len tokens, or
    max_len tokens without EOS (cut)."""
    tokens = [t for t in range(V) if t not in (PAD, BOS, EOS)]
    ended = [[BOS, *body, EOS] for n in range(max_len) for body in itertools.product(tokens, repeat=n)]
    return ended + [[BOS, *body] for body in itertools.product(tokens, repeat=max_len)]


def _exhaustive(model, src, max_len, alpha):
    seqs = _all_outputs(model.config.tgt_vocab_size, max_len)
    width = max(map(len, seqs))
    batch = torch.tensor([s + [PAD] * (width - len(s)) for s in seqs])
    lp = s2s.sequence_log_prob(model, src.expand(len(seqs), -1), batch)
    score = [s2s.normalised_score(float(x), len(s) - 1, alpha) for x, s in zip(lp, seqs)]
    best = max(range(len(seqs)), key=score.__getitem__)
    return seqs[best], score[best]


@pytest.mark.parametrize("alpha", [0.0, 1.0])
@pytest.mark.parametrize("kind", ["general", None])
def test_a_wide_beam_finds_the_best_sequence(kind, alpha):
    model = _model(kind, seed=4, eos_bias=0.0)
    src = _src()[1:2]
    want, _ = _exhaustive(model, src, 4, alpha)
    got = s2s.beam_search(model, src, BOS, EOS, 4, beam_size=2 ** 4, length_penalty=alpha)
    assert [t for t in got[0].tolist()] == want + [PAD] * (got.size(1) - len(want))


def test_beam_search_beats_greedy_somewhere_and_never_loses():
    gains = []
    for seed in range(12):
        model = _model("dot", seed=seed, eos_bias=0.5)
        src = _src()
        greedy = s2s.greedy_decode(model, src, BOS, EOS, 5)
        beam = s2s.beam_search(model, src, BOS, EOS, 5, beam_size=4)
        gain = s2s.sequence_log_prob(model, src, beam) - s2s.sequence_log_prob(model, src, greedy)
        assert (gain > -1e-9).all(), f"seed {seed}: beam found a less likely sequence than greedy"
        gains.append(gain.max().item())
    assert max(gains) > 0.01, "beam search never found a more likely sequence than greedy"


# ----------------------------------------------------------------------------- the bottleneck

def _copy_batch(g, B, lo, hi, V):
    """Copy random strings of lengths lo..hi: src (B, S), tgt (B, S + 2) as BOS ... EOS."""
    L = torch.randint(lo, hi + 1, (B,), generator=g)
    S = int(L.max())
    src = torch.randint(EOS + 2, V, (B, S), generator=g)
    src[torch.arange(S)[None] >= L[:, None]] = PAD
    tgt = torch.full((B, S + 2), PAD)
    tgt[:, 0] = BOS
    for b in range(B):
        tgt[b, 1:L[b] + 1] = src[b, :L[b]]
        tgt[b, L[b] + 1] = EOS
    return src, tgt


def _copy_accuracy(attention, steps):
    """Train on copying strings of 2..14 tokens; token accuracy on strings of 11..14."""
    V = 10
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    model = s2s.Seq2Seq(s2s.Seq2SeqConfig(V, V, emb_size=16, hidden_size=32, attention=attention))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(steps):
        src, tgt = _copy_batch(g, 32, 2, 14, V)
        logits, _ = model(src, tgt[:, :-1])
        loss = F.cross_entropy(logits.flatten(0, 1), tgt[:, 1:].flatten(), ignore_index=PAD)
        opt.zero_grad()
        loss.backward()
        opt.step()
    src, tgt = _copy_batch(torch.Generator().manual_seed(123), 200, 11, 14, V)
    out = s2s.greedy_decode(model.eval(), src, BOS, EOS, max_len=tgt.size(1))
    n = min(out.size(1), tgt.size(1))
    real = tgt[:, 1:n] != PAD
    return ((out[:, 1:n] == tgt[:, 1:n]) & real).sum().item() / real.sum().item()


def test_attention_beats_the_bottleneck_on_long_inputs():
    """Same data, same steps, same sizes: only the attention differs. The plain model must
    squeeze 11-14 random digits through one 32-number state; attention reads them back."""
    steps = runtime.pick(ci=120, full=400)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        plain = _copy_accuracy(None, steps)
        attention = _copy_accuracy("general", steps)
    finally:
        torch.set_num_threads(threads)
    assert attention > plain + 0.25, (plain, attention)
    assert attention > 0.6, (plain, attention)


class _BigramModel(torch.nn.Module):
    """A constructed decoder: the next token's probabilities depend on the previous token
    only (a table), whatever the source; it has the interface the decoders use."""

    def __init__(self, table):
        super().__init__()
        self.config = s2s.Seq2SeqConfig(3, len(table), attention=None, pad_id=PAD)
        self.log_table = torch.log(torch.tensor(table, dtype=torch.float64))  # (V, V)
        self.has_attention = False

    def encode(self, src, src_pad_mask=None):
        B, S = src.shape
        pad = src == PAD if src_pad_mask is None else src_pad_mask
        return s2s.Encoded(torch.zeros(B, S, 0), pad, torch.zeros(B, 1))

    def step(self, prev, state, enc):
        return self.log_table[prev], state, None


def test_beam_search_beats_greedy_on_a_constructed_case():
    """After BOS, A (0.6) beats B (0.4), so greedy takes A; but A is followed by EOS with 0.4
    at best, B by EOS with 0.9: p(A EOS) = 0.24 < p(B EOS) = 0.36, which a beam of 2 finds.
    A length penalty alpha = 1 prefers a long, likely-per-token sequence instead."""
    A, B = 3, 4
    #         PAD  BOS  EOS  A     B
    table = [[.2, .2, .2, .2, .2],  # after PAD (never fed)
             [.0, .0, .0, .6, .4],  # after BOS
             [.2, .2, .2, .2, .2],  # after EOS (never fed)
             [.0, .0, .4, .35, .25],  # after A
             [.0, .0, .9, .05, .05]]  # after B
    model = _BigramModel(table)
    src = torch.tensor([[5, 6]])
    assert s2s.greedy_decode(model, src, BOS, EOS, 6).tolist() == [[BOS, A, EOS]]
    assert s2s.beam_search(model, src, BOS, EOS, 6, beam_size=1).tolist() == [[BOS, A, EOS]]
    assert s2s.beam_search(model, src, BOS, EOS, 6, beam_size=2).tolist() == [[BOS, B, EOS]]
    # the length penalty, where it changes the answer: after A, A again is likely (0.8)
    long_table = [row[:] for row in table]
    long_table[A] = [.0, .0, .15, .8, .05]
    model = _BigramModel(long_table)
    plain = s2s.beam_search(model, src, BOS, EOS, 4, beam_size=4, length_penalty=0.0)
    normalised = s2s.beam_search(model, src, BOS, EOS, 4, beam_size=4, length_penalty=1.0)
    assert plain.tolist() == [[BOS, B, EOS]]  # log .36 = -1.02 beats A A A A (cut): log(.6 * .8^3) = -1.18
    assert normalised.tolist() == [[BOS, A, A, A, A]]  # per token -1.18 / 4 = -0.30 beats -1.02 / 2
