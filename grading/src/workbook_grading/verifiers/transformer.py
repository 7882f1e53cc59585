"""Notebook 09 ``transformer``: every graded cell re-checked on new inputs outside the kernel.

Models are the library's ``Transformer``, made from a secret seed in the runner and,
identically, here (``Lib``). ``train_step`` is driven with ``torch.optim.SGD``, whose
momentum rule is the notebook's ``PlainSGD``'s.

Not stubbed although they could answer an exercise, because the library's ``Transformer``
calls them: ``DecoderLayer`` (the decoder's layers) and ``sequence_loss``.
"""

import itertools

import numpy as np

from workbook import checks
from workbook.data.seq2seq import BOS_ID, EOS_ID, PAD_ID
from workbook.nn import transformer
from workbook_grading.verify import Lib, Plan, Student, Tensor, Verifier

ASSIGNMENT = "09_transformer"
VERIFIER = Verifier({}, references=(
    "workbook.nn.transformer:greedy_decode", "workbook.nn.transformer:beam_search",
    "workbook.nn.transformer:_beam_search_one"))
cell = VERIFIER.cell


def _t(a, dtype="float64"):
    import torch

    return torch.tensor(np.asarray(a), dtype=getattr(torch, dtype))


def _ints(p: Plan, low: int, high: int, n: int) -> list[int]:
    return [int(v) for v in p.rng.integers(low, high, size=n)]


def _padded(p: Plan, B: int, L: int, low: int, high: int):
    ids = p.rng.integers(low, high, size=(B, L))
    lengths = p.rng.integers(1, L + 1, size=B)
    lengths[0] = L
    ids[np.arange(L)[None, :] >= lengths[:, None]] = PAD_ID
    return ids


def _pair(name):
    def check(got):
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            raise AssertionError(f"{name}: expected a pair")
    return check


@cell("test-teacher-forcing")
def _teacher_forcing(p: Plan):
    for special in [(BOS_ID, EOS_ID, PAD_ID), (11, 12, 13)]:
        targets = [[int(t) for t in p.rng.integers(3, 9, size=int(p.rng.integers(1, 8)))]
                   for _ in range(int(p.rng.integers(1, 6)))]
        bos, eos, pad = special
        T = max(map(len, targets)) + 1
        dec_in, dec_out = np.full((len(targets), T), pad), np.full((len(targets), T), pad)
        for b, y in enumerate(targets):
            dec_in[b, :len(y) + 1], dec_out[b, :len(y) + 1] = [bos, *y], [*y, eos]
        scored = dec_out != pad

        def check(got, *_, dec_in=dec_in, dec_out=dec_out, scored=scored, special=special):
            _pair("teacher_forcing")(got)
            for name, g in zip(["dec_in", "dec_out"], got):
                if np.asarray(g).dtype != np.int64:
                    raise AssertionError(f"{name}: your output is {np.asarray(g).dtype}; expected int64")
            checks.assert_equal(got[1], dec_out, name=f"dec_out (special ids {special})")
            checks.assert_equal(np.asarray(got[0])[scored], dec_in[scored],
                                name=f"dec_in at the scored positions (special ids {special})")
        if special == (BOS_ID, EOS_ID, PAD_ID):
            p.call("teacher_forcing", targets).then(check)
        else:
            p.call("teacher_forcing", targets, bos_id=bos, eos_id=eos, pad_id=pad).then(check)


@cell("test-masks")
def _masks(p: Plan):
    for B, S, T in [tuple(_ints(p, 1, 9, 3)), (1, 1, 1)]:
        src, dec_in = _padded(p, B, S, 3, 20), _padded(p, B, T, 3, 20)
        causal = np.tril(np.ones((T, T), dtype=bool))
        tgt = causal[None] & (dec_in != PAD_ID)[:, None, :]
        mem = (src != PAD_ID)[:, None, :]

        def check(got, *_, tgt=tgt, mem=mem, name=f"B={B}, S={S}, T={T}"):
            _pair("decoder_masks")(got)
            for label, g, w in zip(["tgt_mask", "memory_mask"], got, [tgt, mem]):
                if np.asarray(g).dtype != bool:
                    raise AssertionError(f"{label}: your output is {np.asarray(g).dtype}; expected bool")
                checks.assert_equal(g, w, name=f"{label}, {name}")
        p.call("decoder_masks", Tensor(src, "int64"), Tensor(dec_in, "int64")).then(check)
    src, dec_in = np.array([[3, 9, 9]]), np.array([[1, 9, 4]])
    p.call("decoder_masks", Tensor(src, "int64"), Tensor(dec_in, "int64"), pad_id=9).then(
        lambda got, *_: checks.assert_equal(np.asarray(got[1]), [[[True, False, False]]],
                                            name="memory_mask with pad_id=9"))


@cell("test-decoder-layer")
def _decoder_layer(p: Plan):
    import torch

    for C, nh, ff, T, S in [(12, 3, int(p.rng.integers(8, 24)), *_ints(p, 1, 8, 2)), (8, 1, 8, 1, 7)]:
        ref = Lib("workbook.nn.transformer:DecoderLayer", (C,), {"num_heads": nh, "d_ff": ff},
                  dtype="float64", seed=int(p.rng.integers(2**31))).make()
        with torch.no_grad():
            for prm in ref.parameters():
                prm.normal_(std=0.5, generator=torch.Generator().manual_seed(int(p.rng.integers(2**31))))
        B = 3
        x, m = p.rng.normal(size=(B, T, C)), p.rng.normal(size=(B, S, C))
        tm = np.tril(np.ones((T, T), dtype=bool))[None] & (np.arange(T) < np.array([T, 1, T])[:, None])[:, None, :]
        mm = (np.arange(S) < np.array([S, 1, min(2, S)])[:, None])[:, None, :]
        state = {k: v.detach().numpy().copy() for k, v in ref.state_dict().items()}
        for masks in ((), (tm, mm)):
            with torch.no_grad():
                want = ref(_t(x), _t(m), *(_t(a, "bool") for a in masks)).numpy()
            inputs = (Tensor(x, "float64"), Tensor(m, "float64")) + tuple(Tensor(a, "bool") for a in masks)
            p.call("@build", Student("MyDecoderLayer"), (C,), {"num_heads": nh, "d_ff": ff}, state=state,
                   dtype="float64", inputs=inputs).close(
                want, f"MyDecoderLayer C={C}, T={T}, S={S}" + (" with masks" if masks else ""),
                rtol=1e-7, atol=1e-10)


@cell("test-label-smoothing")
def _label_smoothing(p: Plan):
    import torch.nn.functional as F

    for B, T, V, eps in [(*_ints(p, 1, 6, 2), int(p.rng.integers(3, 30)), float(p.rng.uniform(0, 0.6))),
                         (2, 3, 7, 0.0)]:
        z = 3 * p.rng.normal(size=(B, T, V))
        y = p.rng.integers(1, V, size=(B, T))
        y[0, T // 2:] = PAD_ID
        y[0, 0] = 1  # at least one scored position
        zt = _t(z).requires_grad_()
        loss = F.cross_entropy(zt.reshape(-1, V), _t(y, "int64").reshape(-1), ignore_index=PAD_ID,
                               label_smoothing=eps)
        loss.backward()

        def check(got, *_, loss=loss.item(), grad=zt.grad.numpy(), name=f"B={B}, T={T}, V={V}, eps={eps:.2g}"):
            checks.assert_close(got[0], loss, name=f"loss {name}", rtol=1e-7)
            checks.assert_close(got[1], grad, name=f"gradient of the loss {name}", rtol=1e-7, atol=1e-12)
        p.call("@value_and_grad", Student("label_smoothed_loss"), Tensor(z, "float64"),
               Tensor(y, "int64"), eps).then(check)
    z, y = p.rng.normal(size=(1, 3, 6)), np.array([[5, 5, 2]])
    want = F.cross_entropy(_t(z[0]), _t(y[0], "int64"), ignore_index=5, label_smoothing=0.2).item()
    p.call("label_smoothed_loss", Tensor(z, "float64"), Tensor(y, "int64"), 0.2, pad_id=5).close(
        want, "loss with pad_id=5", rtol=1e-7)


def _config(p: Plan, **kw) -> Lib:
    base = dict(src_vocab_size=8, tgt_vocab_size=6, d_model=8, num_heads=2, num_layers=1, d_ff=16,
                dropout=0.0, max_len=16)
    return Lib("workbook.nn.transformer:TransformerConfig", (), {**base, **kw})


def _reference_step(model, optimizer, batch, smoothing, clip):
    import torch
    import torch.nn.functional as F

    logits = model(batch[0], batch[1][:, :-1])
    loss = F.cross_entropy(logits.flatten(0, 1), batch[1][:, 1:].flatten(), ignore_index=PAD_ID,
                           label_smoothing=smoothing)
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    optimizer.step()
    return loss.item()


@cell("test-train-step")
def _train_step(p: Plan):
    import torch

    config = _config(p, src_vocab_size=9, tgt_vocab_size=7)
    model = Lib("workbook.nn.transformer:Transformer", (config,), dtype="float64",
                seed=int(p.rng.integers(2**31)))
    for lr, momentum, smoothing, clip in [(0.5, 0.9, 0.2, 0.05), (0.1, 0.0, 0.0, 1e3)]:
        batches, arrays = [], []
        for _ in range(3):
            src, tgt = p.rng.integers(3, 9, size=(3, 5)), p.rng.integers(3, 7, size=(3, 6))
            src[1, 3:] = PAD_ID
            tgt[:, 0] = BOS_ID
            tgt[0, 4], tgt[0, 5] = EOS_ID, PAD_ID
            arrays.append((src, tgt))
            batches.append(Lib("workbook.data.seq2seq:Batch", (Tensor(src, "int64"), Tensor(tgt, "int64"))))
        ref = model.make()
        ref.train()
        opt = torch.optim.SGD(ref.parameters(), lr=lr, momentum=momentum)
        losses = [_reference_step(ref, opt, (_t(s, "int64"), _t(t, "int64")), smoothing, clip) for s, t in arrays]
        params = {n: q.detach().numpy() for n, q in ref.named_parameters()}

        def check(got, *_, losses=losses, params=params, name=f"lr={lr}, momentum={momentum}"):
            returned, state = got
            checks.assert_close([float(v) for v in returned], losses, name=f"losses of 3 steps, {name}",
                                rtol=1e-7)
            for key, want in params.items():
                checks.assert_close(state[key], want, name=f"parameter {key} after 3 steps, {name}",
                                    rtol=1e-6, atol=1e-9)
        p.call("@train", Student("train_step"), model, batches, lr, momentum=momentum,
               smoothing=smoothing, clip=clip).then(check)


def _decoding_model(p: Plan, V: int, eos_bias: float) -> Lib:
    config = _config(p, tgt_vocab_size=V, d_model=16, num_layers=2, d_ff=32)
    seeded = Lib("workbook.nn.transformer:Transformer", (config,), dtype="float64",
                 seed=int(p.rng.integers(2**31))).make()
    state = {k: v.detach().numpy().copy() for k, v in seeded.state_dict().items()}
    state["lm_head.weight"] *= 4.0  # confident, varied predictions
    state["lm_head.bias"][EOS_ID] += eos_bias
    return Lib("workbook.nn.transformer:Transformer", (config,), dtype="float64", state=state)


@cell("test-greedy")
def _greedy(p: Plan):
    for B, S, n, bias in [(*_ints(p, 2, 7, 2), int(p.rng.integers(4, 12)), float(p.rng.uniform(-2, 3))),
                          (1, 3, 1, 0.0)]:
        model = _decoding_model(p, 7, bias)
        src = p.rng.integers(3, 8, size=(B, S))
        src[0, S // 2 + 1:] = PAD_ID
        want = transformer.greedy_decode(model.make(), _t(src, "int64"), BOS_ID, EOS_ID, n).numpy()
        p.call("greedy", model, Tensor(src, "int64"), n).equal(want, f"greedy B={B}, max_len={n}")


def _all_sequences(V, max_len):
    tokens = [t for t in range(V) if t not in (PAD_ID, BOS_ID)]
    seqs = []
    for n in range(1, max_len + 1):
        for body in itertools.product(tokens, repeat=n):
            if EOS_ID in body[:-1] or (n < max_len and body[-1] != EOS_ID):
                continue
            seqs.append([BOS_ID, *body] + [PAD_ID] * (max_len - n))
    return np.array(seqs)


def _strip(seq):
    return [int(t) for t in np.asarray(seq).tolist() if t != PAD_ID]


@cell("test-beam")
def _beam(p: Plan):
    for V, n in [(5, int(p.rng.integers(3, 6))), (int(p.rng.integers(4, 7)), 3)]:
        model = _decoding_model(p, V, float(p.rng.uniform(-0.5, 2)))
        src = p.rng.integers(3, 8, size=int(p.rng.integers(2, 6)))
        ref = model.make()
        seqs = _all_sequences(V, n)
        scores = transformer.sequence_log_prob(ref, _t(src, "int64").expand(len(seqs), -1), _t(seqs, "int64"))
        wants = {len(seqs): _strip(seqs[int(scores.argmax())])}
        for k in (1, 2, 3):
            wants[k] = _strip(transformer.beam_search(ref, _t(src, "int64")[None], BOS_ID, EOS_ID, n, k)[0])
        for k, want in wants.items():
            p.call("beam_search_one", model, Tensor(src, "int64"), k, n).then(
                lambda got, *_, want=want, k=k, V=V: checks.assert_equal(
                    [int(t) for t in got], want,
                    name=f"beam_size={k}, V={V}" + (" (every sequence: the most likely)" if k > 3 else "")))


def _distance(a, b) -> int:
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] != b[j - 1]))
        previous = current
    return previous[-1]


def _words(p: Plan, n: int, alphabet="abcd"):
    return [str(c) for c in p.rng.choice(list(alphabet), size=n)]


@cell("test-edit-distance")
def _edit_distance(p: Plan):
    pairs = [(_words(p, int(p.rng.integers(0, 9))), _words(p, int(p.rng.integers(0, 9)))) for _ in range(6)]
    pairs += [([], _words(p, 3)), (_words(p, 4), [])]
    for a, b in pairs:
        p.call("edit_distance", a, b).then(
            lambda got, *_, a=a, b=b: checks.assert_equal(int(got), _distance(a, b),
                                                          name=f"edit_distance of {len(a)} and {len(b)} tokens"))
    a = "".join(_words(p, 7))
    p.call("edit_distance", a, a[::-1]).then(
        lambda got, *_: checks.assert_equal(int(got), _distance(a, a[::-1]), name="edit_distance of two strings"))


@cell("test-error-rates")
def _error_rates(p: Plan):
    n = int(p.rng.integers(10, 40))
    refs = [_words(p, int(p.rng.integers(1, 6)), "xyz") for _ in range(n)]
    preds = [r if p.rng.random() < 0.3 else _words(p, int(p.rng.integers(1, 7)), "xyz") for r in refs]
    exact = float(np.mean([a == b for a, b in zip(preds, refs)]))
    rate = sum(_distance(a, b) for a, b in zip(preds, refs)) / sum(map(len, refs))

    def check(got, *_):
        _pair("error_rates")(got)
        checks.assert_close(float(got[0]), exact, name=f"exact match on {n} random sequences", rtol=1e-9)
        checks.assert_close(float(got[1]), rate, name=f"error rate on {n} random sequences", rtol=1e-9)
    p.call("error_rates", preds, refs).then(check)


def _maps(model, src, dec_in):
    """Every decoder layer's cross-attention weights (L, B, nh, T, S), read with hooks here."""
    import torch

    maps = []
    hooks = [layer.cross_attn.register_forward_hook(lambda m, i, out: maps.append(out[1]))
             for layer in model.decoder]
    try:
        with torch.no_grad():
            logits = model(src, dec_in)
    finally:
        for hook in hooks:
            hook.remove()
    return logits, torch.stack(maps)


@cell("test-cross-attention")
def _cross_attention(p: Plan):
    for B, S, T in [tuple(_ints(p, 1, 6, 1) + _ints(p, 2, 7, 2)), (1, 2, 5)]:
        model = _decoding_model(p, 6, 1.5)
        src = p.rng.integers(3, 8, size=(B, S))
        src[0, 1:] = PAD_ID
        dec_in = p.rng.integers(3, 6, size=(B, T))
        dec_in[:, 0] = BOS_ID
        logits, weights = _maps(model.make(), _t(src, "int64"), _t(dec_in, "int64"))

        def check(got, *_, logits=logits.numpy(), weights=weights.numpy(), name=f"B={B}, S={S}, T={T}"):
            (result, after, after_failure) = got
            _pair("cross_attention_maps")(result)
            checks.assert_close(result[1], weights, name=f"cross-attention weights {name}", rtol=1e-7, atol=1e-12)
            checks.assert_close(result[0], logits, name=f"logits {name}", rtol=1e-7, atol=1e-12)
            if after:
                raise AssertionError(f"{after} hook(s) left on the model after cross_attention_maps returned")
            if after_failure:
                raise AssertionError("hooks left on the model when its forward pass failed")
        bad = np.array([[4, 99]])  # a source id outside the vocabulary: the forward pass fails
        p.call("@hooks_left", Student("cross_attention_maps"), model,
               (Tensor(src, "int64"), Tensor(dec_in, "int64")),
               (Tensor(bad, "int64"), Tensor(np.array([[BOS_ID]]), "int64"))).then(check)
