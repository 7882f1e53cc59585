"""Notebook 07 ``seq2seq_attention``: every graded cell re-checked on new inputs outside the
kernel.

Models are the library's ``Seq2Seq``, made from a secret seed in the runner and, identically,
here (``Lib``); an encoded source is the model's own ``encode`` (``Method``).

Not stubbed although they answer exercises here, because the library's ``Seq2Seq`` (which
the decoding exercises drive) calls them: ``dot_scores``, ``general_scores``,
``additive_scores`` and ``attend``. The in-notebook tests are what catch an answer that
delegates to those.
"""

import math

import numpy as np

from workbook import checks
from workbook.data.seq2seq import BOS_ID, EOS_ID, PAD_ID
from workbook.nn import seq2seq
from workbook_grading.verify import Lib, Method, Plan, Tensor, Verifier

ASSIGNMENT = "07_seq2seq_attention"
VERIFIER = Verifier({}, references=(
    "workbook.nn.seq2seq:greedy_decode", "workbook.nn.seq2seq:beam_step",
    "workbook.nn.seq2seq:normalised_score"))
cell = VERIFIER.cell

TIGHT = dict(rtol=1e-10, atol=1e-13)


def _ints(p: Plan, low: int, high: int, n: int) -> list[int]:
    return [int(v) for v in p.rng.integers(low, high, size=n)]


def _t(a, dtype="float64"):
    import torch

    return torch.tensor(np.asarray(a), dtype=getattr(torch, dtype))


def _dtype_is(name, dtype):
    def check(got, *_):
        if str(np.asarray(got).dtype) != dtype:
            raise AssertionError(f"{name}: your output is {np.asarray(got).dtype}; expected {dtype}")
    return check


@cell("test-dot-scores")
def _dot(p: Plan):
    for dtype, tol in [("float64", TIGHT), ("float32", dict(rtol=1e-5, atol=1e-5))]:
        B, S, H = _ints(p, 1, 8, 3)
        q, k = p.rng.normal(size=(B, H)), p.rng.normal(size=(B, S, H))
        want = seq2seq.dot_scores(_t(q, dtype), _t(k, dtype)).double().numpy()
        p.call("dot_scores", Tensor(q, dtype), Tensor(k, dtype)).then(
            _dtype_is("scores", dtype)).close(want, f"scores ({dtype}, B={B}, S={S}, H={H})", **tol)


def _pad_mask(p: Plan, B: int, S: int):
    lengths = p.rng.integers(1, S + 1, size=B)
    lengths[0] = S
    return np.arange(S)[None, :] >= lengths[:, None]


@cell("test-attention-weights")
def _weights(p: Plan):
    import torch

    B, S = _ints(p, 2, 8, 2)
    s = 3 * p.rng.normal(size=(B, S))
    p.call("attention_weights", Tensor(s, "float64")).close(
        torch.softmax(_t(s), dim=-1), f"weights (B={B}, S={S})", **TIGHT)
    big = 1000 + p.rng.normal(size=(1, S))
    p.call("attention_weights", Tensor(big, "float64")).close(
        torch.softmax(_t(big), dim=-1), "weights of scores near 1000", **TIGHT)
    p.call("attention_weights", Tensor(s, "float32")).then(_dtype_is("weights", "float32")).close(
        torch.softmax(_t(s), dim=-1), "weights (float32)", rtol=1e-5, atol=1e-6)


@cell("test-attention-weights-mask")
def _weights_mask(p: Plan):
    B, S = _ints(p, 2, 9, 2)
    s = 3 * p.rng.normal(size=(B, S))
    pad = _pad_mask(p, B, S)
    _, want = seq2seq.attend(_t(s), _t(np.zeros((B, S, 1))), _t(pad, "bool"))
    p.call("attention_weights", Tensor(s, "float64"), Tensor(pad, "bool")).close(
        want, f"masked weights (B={B}, S={S})", rtol=1e-10, atol=1e-15)


@cell("test-context")
def _context(p: Plan):
    B, S, H = _ints(p, 1, 8, 3)
    w = p.rng.dirichlet(np.ones(S), size=B)
    v = p.rng.normal(size=(B, S, H))
    want = np.einsum("bs,bsh->bh", w, v)
    p.call("context_vector", Tensor(w, "float64"), Tensor(v, "float64")).close(
        want, f"context (B={B}, S={S}, H={H})", **TIGHT)
    p.call("context_vector", Tensor(w, "float32"), Tensor(v, "float32")).then(
        _dtype_is("context", "float32")).close(want, "context (float32)", rtol=1e-5, atol=1e-6)


@cell("test-general-scores")
def _general(p: Plan):
    B, S, Hq, Hk = _ints(p, 1, 7, 4)
    q, k, W = p.rng.normal(size=(B, Hq)), p.rng.normal(size=(B, S, Hk)), p.rng.normal(size=(Hq, Hk))
    p.call("general_scores", Tensor(q, "float64"), Tensor(k, "float64"), Tensor(W, "float64")).close(
        np.einsum("bq,qk,bsk->bs", q, W, k), f"scores (B={B}, S={S}, Hq={Hq}, Hk={Hk})", **TIGHT)
    W = p.rng.normal(size=(Hq, Hq))  # square, not symmetric
    k = p.rng.normal(size=(B, S, Hq))
    p.call("general_scores", Tensor(q, "float64"), Tensor(k, "float64"), Tensor(W, "float64")).close(
        np.einsum("bq,qk,bsk->bs", q, W, k), "scores with a square W", **TIGHT)


@cell("test-additive-scores")
def _additive(p: Plan):
    B, S, Hq, Hk, A = _ints(p, 1, 7, 5)
    q, k = p.rng.normal(size=(B, Hq)), p.rng.normal(size=(B, S, Hk))
    Wq, Wk, v = p.rng.normal(size=(A, Hq)), p.rng.normal(size=(A, Hk)), p.rng.normal(size=A)
    want = np.tanh((q @ Wq.T)[:, None, :] + k @ Wk.T) @ v
    p.call("additive_scores", *(Tensor(a, "float64") for a in (q, k, Wq, Wk, v))).close(
        want, f"scores (B={B}, S={S}, Hq={Hq}, Hk={Hk}, A={A})", **TIGHT)


def _model(p: Plan, attention, *, confident=False, eos_bias=0.0, source_scale=1.0, V_src=9,
           V_tgt=7) -> Lib:
    """An untrained float64 Seq2Seq from a secret seed; ``confident``: sharper predictions that
    never choose PAD or BOS (for decoding); ``source_scale``: the source's embeddings and the
    bridge to s_0 scaled, so that what the decoder writes depends more on the source."""
    config = Lib("workbook.nn.seq2seq:Seq2SeqConfig", (V_src, V_tgt),
                 {"emb_size": int(p.rng.integers(3, 7)), "hidden_size": int(p.rng.integers(4, 9)),
                  "attention": attention})
    seeded = Lib("workbook.nn.seq2seq:Seq2Seq", (config,), dtype="float64",
                 seed=int(p.rng.integers(2**31)))
    if not confident:
        return seeded
    state = {k: v.detach().numpy().copy() for k, v in seeded.make().state_dict().items()}
    state["out.weight"] *= 3.0
    state["out.bias"][EOS_ID] += eos_bias
    state["out.bias"][[PAD_ID, BOS_ID]] -= 100.0
    state["encoder.embed.weight"] *= source_scale
    state["bridge.weight"] *= source_scale
    return Lib("workbook.nn.seq2seq:Seq2Seq", (config,), dtype="float64", state=state)


def _source(p: Plan, B: int, S: int, V_src=9):
    src = p.rng.integers(4, V_src, size=(B, S))
    src[_pad_mask(p, B, S)] = PAD_ID
    return src


@cell("test-decoder-step")
def _decoder_step(p: Plan):
    import torch

    for kind in ("dot", "general", "additive"):
        model = _model(p, kind)
        B, S = _ints(p, 2, 6, 2)
        src = _source(p, B, S)
        enc = Method(model, "encode", (Tensor(src, "int64"),))
        prev = p.rng.integers(3, 7, size=B)
        ref = model.make()
        with torch.no_grad():
            ref_enc = ref.encode(_t(src, "int64"))
            H = ref_enc.state.shape[-1]
            s = p.rng.normal(size=(B, H))
            want = ref.step(_t(prev, "int64"), _t(s), ref_enc)

        def check(got, *_, want=want, kind=kind):
            if not isinstance(got, (tuple, list)) or len(got) != 3:
                raise AssertionError("expected (logits, s_t, weights)")
            for name, g, w in zip(["logits", "state", "weights"], got, want):
                checks.assert_close(g, w.numpy(), name=f"{name} ({kind} attention)", rtol=1e-10, atol=1e-14)
        p.call("decoder_step", model, Tensor(prev, "int64"), Tensor(s, "float64"), enc).then(check)


@cell("test-teacher-forcing")
def _teacher_forcing(p: Plan):
    import torch

    for kind in (None, str(p.rng.choice(["dot", "general", "additive"]))):
        model = _model(p, kind)
        B, S, T = _ints(p, 2, 6, 3)
        src = _source(p, B, S)
        tgt = np.concatenate([np.full((B, 1), BOS_ID), p.rng.integers(3, 7, size=(B, T - 1))], axis=1)
        with torch.no_grad():
            want = model.make()(_t(src, "int64"), _t(tgt, "int64"))[0].numpy()
        p.call("teacher_forced_logits", model, Tensor(src, "int64"), Tensor(tgt, "int64")).close(
            want, f"logits of every step ({kind} attention)", rtol=1e-10, atol=1e-13)


def _trim(ids):
    ids = np.asarray(ids)
    keep = np.nonzero((ids != PAD_ID).any(axis=0))[0]
    return ids[:, : int(keep.max()) + 1] if len(keep) else ids[:, :0]


@cell("test-greedy")
def _greedy(p: Plan):
    # thirty models: on one untrained model a decoder that is not fed its own output, or that
    # drops its state, writes the same ids as a right one about every other time, and rows
    # that end at different steps (which show a row writing on after its EOS) are rare
    # unless the source weighs more (about every other model with source_scale 3; measured)
    for i in range(30):
        kind = [None, "dot", "general", "additive"][i % 4]
        eos_bias, scale = ([-2.0, -1.0, 0.0, 1.0, -3.0][i % 5], 1.0) if i < 10 else (0.5, 3.0)
        model = _model(p, kind, confident=True, eos_bias=eos_bias, source_scale=scale)
        B, S = _ints(p, 2, 6, 2)
        src = _source(p, B, S)
        max_len = int(p.rng.integers(3, 9))
        want = _trim(seq2seq.greedy_decode(model.make(), _t(src, "int64"), BOS_ID, EOS_ID,
                                           max_len=max_len).numpy())

        def check(got, *_, want=want, kind=kind):
            got = np.asarray(got)
            if got.dtype != np.int64:
                raise AssertionError(f"decoded ids: your output is {got.dtype}; expected int64")
            checks.assert_equal(_trim(got), want, name=f"decoded ids ({kind} attention)")
        p.call("greedy", model, Tensor(src, "int64"), max_len).then(check)


@cell("test-beam-step")
def _beam_step(p: Plan):
    k, V = _ints(p, 2, 6, 1)[0], _ints(p, 3, 10, 1)[0]
    scores = -3 * p.rng.random(k)
    logits = p.rng.normal(size=(k, V))
    lp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    for beam in (1, int(p.rng.integers(2, k * V)), k * V + 3):
        top, parents, tokens = seq2seq.beam_step(_t(scores), _t(lp), beam)

        def check(got, *_, want=(top, parents, tokens), beam=beam):
            if not isinstance(got, (tuple, list)) or len(got) != 3:
                raise AssertionError("expected (top_scores, parents, tokens)")
            checks.assert_close(got[0], want[0].numpy(), name=f"top_scores (beam_size={beam})", **TIGHT)
            for name, g, w in zip(["parents", "tokens"], got[1:], want[1:]):
                if np.asarray(g).dtype != np.int64:
                    raise AssertionError(f"{name}: your output is {np.asarray(g).dtype}; expected int64")
                checks.assert_equal(g, w.numpy(), name=f"{name} (beam_size={beam})")
        p.call("beam_step", Tensor(scores, "float64"), Tensor(lp, "float64"), beam).then(check)


@cell("test-best-hypothesis")
def _best(p: Plan):
    def call(finished, alpha):
        want = max(finished, key=lambda h: h[0] / len(h[1]) ** alpha)[1]
        p.call("best_hypothesis", finished, alpha).then(
            lambda got, *_, want=want, a=alpha, n=len(finished): checks.assert_equal(
                [int(t) for t in np.asarray(got).tolist()], want,
                name=f"best of {n} hypotheses, alpha {a:.2g}"))

    for alpha in (0.0, float(p.rng.uniform(0.3, 0.9)), 1.0):
        for _ in range(3):
            call([(-float(p.rng.uniform(0.5, 6)),
                   [int(t) for t in p.rng.integers(4, 9, size=int(p.rng.integers(1, 8)))] + [EOS_ID])
                  for _ in range(int(p.rng.integers(3, 8)))], alpha)
    # scores and lengths for which alpha = 0, 0.5 and 1 choose three different hypotheses
    # (any positive scale keeps that), in a random order
    scale = float(p.rng.uniform(0.5, 3))
    hyps = [(-2.0 * scale, 2), (-2.6 * scale, 4), (-5.0 * scale, 8)]
    finished = [(score, [int(t) for t in p.rng.integers(4, 9, size=n - 1)] + [EOS_ID])
                for score, n in (hyps[i] for i in p.rng.permutation(3))]
    for alpha in (0.0, 0.5, 1.0):
        call(finished, alpha)


@cell("test-accuracy-by-length")
def _accuracy(p: Plan):
    n = int(p.rng.integers(50, 300))
    lengths = p.rng.integers(5, 40, size=n)
    correct = p.rng.random(n) < 0.7
    edges = sorted({5, 41, *(int(e) for e in p.rng.integers(6, 40, size=4))})
    want = np.array([correct[(lengths >= a) & (lengths < b)].mean()
                     if ((lengths >= a) & (lengths < b)).any() else math.nan
                     for a, b in zip(edges[:-1], edges[1:])])
    lengths_list = [int(v) for v in lengths]
    p.call("accuracy_by_length", lengths_list, [bool(c) for c in correct], edges).close(
        want, f"accuracy of {n} random examples", rtol=1e-6)  # the hidden test's: float32 is right
    # an empty bin must read NaN: edges with a bin beyond every length
    p.call("accuracy_by_length", lengths_list, [bool(c) for c in correct], [0, 50, 60]).then(_nan_bin)


def _nan_bin(got, *_):
    if np.asarray(got, dtype=float).shape != (2,) or not np.isnan(np.asarray(got, dtype=float)[1]):
        raise AssertionError("accuracy with edges [0, 50, 60]: the bin [50, 60) has no example and "
                             "must be NaN")
