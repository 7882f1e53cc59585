"""Notebook 10 ``gpt``: every graded cell re-checked on new inputs outside the kernel.

Models are the library's ``GPT``, made from a secret seed in the runner and, identically,
here (``Lib``). A dict with tuple keys (BPE merges, pair counts) crosses in its order.

Not stubbed although it could answer an exercise, because the library's ``GPT`` calls it:
``lm_loss`` (its loss, for ``parallel_next_token_loss``).
"""

import itertools

import numpy as np

from workbook import checks, tokenize
from workbook.nn import gpt
from workbook_grading.verify import FnOf, Lib, Plan, Tensor, Verifier

ASSIGNMENT = "10_gpt"
VERIFIER = Verifier({}, references=(
    "workbook.tokenize:CharTokenizer", "workbook.tokenize:count_pairs", "workbook.tokenize:merge",
    "workbook.tokenize:BPETokenizer", "workbook.nn.char_rnn:bigram_val_loss",
    "workbook.nn.gpt:gpt_param_count", "workbook.nn.gpt:lm_log_prob", "workbook.nn.gpt:apply_temperature",
    "workbook.nn.gpt:top_k_filter", "workbook.nn.gpt:top_p_filter", "workbook.nn.gpt:sample_next",
    "workbook.nn.gpt:beam_search_lm"))
cell = VERIFIER.cell


def _t(a, dtype="float64"):
    import torch

    return torch.tensor(np.asarray(a), dtype=getattr(torch, dtype))


def _ids(p: Plan, n: int, V: int) -> list[int]:
    return [int(v) for v in p.rng.integers(0, V, size=n)]


def _text(p: Plan, n: int, alphabet="abcde xyz,.\nhéllo wörld ☃") -> str:
    return "".join(p.rng.choice(list(alphabet), size=n))


@cell("test-char-tokenizer")
def _char(p: Plan):
    for n in (int(p.rng.integers(20, 300)), 1):
        text = _text(p, n)
        ref = tokenize.CharTokenizer.from_text(text)
        p.call("char_vocab", text).then(lambda got, *_, ref=ref: checks.assert_equal(
            [str(c) for c in got] == ref.chars, True, name=f"char_vocab of {len(text)} characters is sorted "
                                                         "and holds each character once"))
        p.call("char_encode", text, ref.chars).equal(ref.encode(text), f"char_encode of {n} characters")
        p.call("char_decode", ref.encode(text), ref.chars).then(
            lambda got, *_, text=text: checks.assert_equal(got == text, True, name="char_decode gives the text back"))


def _pairs_in_order(got) -> list:
    """A returned dict (crossed as its (key, value) pairs) as [((a, b), n), ...]."""
    if isinstance(got, dict):  # empty: nothing told it from a dict with string keys
        got = list(got.items())
    if not isinstance(got, list):
        raise AssertionError(f"expected a dict, got {type(got).__name__}")
    return [((int(k[0]), int(k[1])), int(v)) for k, v in got]


@cell("test-count-pairs")
def _count_pairs(p: Plan):
    for n, V in [(int(p.rng.integers(20, 200)), int(p.rng.integers(2, 12))), (2, 2), (1, 3)]:
        ids = _ids(p, n, V)
        want = list(tokenize.count_pairs(ids).items())
        p.call("count_pairs", ids).then(lambda got, *_, want=want, n=n: checks.assert_equal(
            _pairs_in_order(got) == want, True,
            name=f"count_pairs of {n} random ids: the counts, keys in order of first occurrence"))


@cell("test-merge")
def _merge(p: Plan):
    for n, V in [(int(p.rng.integers(30, 300)), 2), (int(p.rng.integers(5, 60)), 4), (1, 3)]:
        ids = _ids(p, n, V)
        for pair in [(0, 1), (1, 1), (0, 0)]:
            call = p.call("merge", ids, pair, 99).equal(tokenize.merge(ids, pair, 99),
                                                        f"merge of {pair} in {n} random ids")
            call.check_inputs = True
            call.then(lambda got, after, ids=list(ids): checks.assert_equal(
                [int(v) for v in after[0]] == ids, True, name="the ids passed to merge are left unchanged"))


def _merges(text: str, n: int) -> list:
    return list(tokenize.BPETokenizer.train(text, 256 + n, pattern=None).merges.items())


@cell("test-train-bpe")
def _train_bpe(p: Plan):
    for text, n in [(_text(p, int(p.rng.integers(200, 800)), "abcd "), int(p.rng.integers(5, 25))),
                    (_text(p, 40), 8), ("ab", 5)]:
        want = _merges(text, n)
        p.call("train_bpe", text, n).then(lambda got, *_, want=want, n=n: checks.assert_equal(
            _pairs_in_order(got) == want, True, name=f"{n} merges learned, in order"))


@cell("test-bpe-encode")
def _bpe_encode(p: Plan):
    train = _text(p, 600, "abcd e")
    ref = tokenize.BPETokenizer.train(train, 256 + 20, pattern=None)
    merges = dict(ref.merges)
    shuffled = dict(sorted(merges.items(), key=lambda kv: -kv[1]))  # learned order not the dict's
    for sample in [_text(p, 200, "abcd e"), "Zounds! héllo", ""]:
        p.call("bpe_encode", sample, shuffled).equal(ref.encode(sample), f"bpe_encode of {len(sample)} characters")


@cell("test-bigram")
def _bigram(p: Plan):
    for V, n, alpha in [(int(p.rng.integers(3, 12)), int(p.rng.integers(100, 2000)), 1.0),
                        (int(p.rng.integers(20, 90)), 3000, float(p.rng.uniform(0.01, 0.5)))]:
        tr, va = p.rng.integers(0, V, size=n), p.rng.integers(0, V, size=n // 4)
        counts = np.full((V, V), alpha)
        np.add.at(counts, (tr[:-1], tr[1:]), 1.0)
        P = counts / counts.sum(axis=1, keepdims=True)
        want = float(-np.mean(np.log(P[va[:-1], va[1:]])))
        p.call("bigram_val_loss", tr, va, V, alpha=alpha).close(want, f"bigram loss, V={V}, alpha={alpha:.2g}",
                                                                rtol=1e-9)


def _config(p: Plan, **kw) -> Lib:
    return Lib("workbook.nn.gpt:GPTConfig", (), kw)


@cell("test-gpt-params")
def _gpt_params(p: Plan):
    for _ in range(4):
        h = int(p.rng.integers(1, 5))
        kw = dict(vocab_size=int(p.rng.integers(2, 300)), block_size=int(p.rng.integers(1, 300)),
                  num_layers=int(p.rng.integers(1, 13)), num_heads=h, d_model=h * int(p.rng.integers(1, 40)),
                  bias=bool(p.rng.integers(2)), positions=["learned", "sinusoidal"][int(p.rng.integers(2))])
        config = _config(p, **kw)
        want = gpt.gpt_param_count(config.make())
        p.call("gpt_params", config).then(lambda got, *_, want=want, kw=kw: checks.assert_equal(
            int(got), want, name=f"gpt_params for {kw}"))


def _model(p: Plan, V: int) -> Lib:
    config = _config(p, vocab_size=V, block_size=16, num_layers=int(p.rng.integers(1, 3)), num_heads=2,
                     d_model=8 * int(p.rng.integers(1, 3)), dropout=0.0)
    return Lib("workbook.nn.gpt:GPT", (config,), seed=int(p.rng.integers(2**31)))


def _mean_next_token_loss(model, idx):
    import torch
    import torch.nn.functional as F

    with torch.no_grad():
        logits, _ = model(idx[:, :-1])
        return F.cross_entropy(logits.double().flatten(0, 1), idx[:, 1:].flatten()).item()


@cell("test-parallel-loss")
def _parallel(p: Plan):
    V = int(p.rng.integers(5, 20))
    model = _model(p, V)
    for B, L in [(int(p.rng.integers(1, 5)), int(p.rng.integers(3, 17))), (1, 2)]:
        idx = p.rng.integers(0, V, size=(B, L))
        p.call("parallel_next_token_loss", model, Tensor(idx, "int64")).close(
            _mean_next_token_loss(model.make(), _t(idx, "int64")), f"parallel loss for B={B}, L={L}", rtol=1e-5)


@cell("test-prefix-loss")
def _prefix(p: Plan):
    V = int(p.rng.integers(5, 20))
    model = _model(p, V)
    for B, L in [(int(p.rng.integers(1, 4)), int(p.rng.integers(3, 12))), (2, 2)]:
        idx = p.rng.integers(0, V, size=(B, L))
        p.call("prefix_next_token_loss", model, Tensor(idx, "int64")).close(
            _mean_next_token_loss(model.make(), _t(idx, "int64")), f"prefix loss for B={B}, L={L}", rtol=1e-5)


@cell("test-greedy")
def _greedy(p: Plan):
    x = p.rng.normal(size=(int(p.rng.integers(1, 8)), int(p.rng.integers(2, 60))))
    p.call("greedy_next", Tensor(x, "float32")).equal(x.astype(np.float32).argmax(axis=-1), "greedy_next on random logits")
    ties = p.rng.integers(0, 2, size=(5, 6)).astype(float)
    p.call("greedy_next", Tensor(ties, "float32")).equal(ties.argmax(axis=-1), "greedy_next on logits with ties")


@cell("test-temperature")
def _temperature(p: Plan):
    x = 3 * p.rng.normal(size=(int(p.rng.integers(1, 5)), 3, int(p.rng.integers(2, 30))))
    for t in (float(p.rng.uniform(0.1, 0.9)), 1.0, float(p.rng.uniform(1.5, 4))):
        p.call("apply_temperature", Tensor(x, "float64"), t).close(x / t, f"logits at temperature {t:.2g}",
                                                                   rtol=1e-9)


@cell("test-top-k")
def _top_k(p: Plan):
    V = int(p.rng.integers(5, 40))
    x = p.rng.normal(size=(int(p.rng.integers(1, 4)), 3, V))
    for k in (1, int(p.rng.integers(2, V)), V, V + 5):
        p.call("top_k_filter", Tensor(x, "float32"), k).close(
            gpt.top_k_filter(_t(x, "float32"), k), f"top_k_filter on {x.shape} logits, k={k}")
    ties = p.rng.integers(0, 3, size=(5, 12)).astype(float)
    for k in (1, int(p.rng.integers(2, 11))):
        p.call("top_k_filter", Tensor(ties, "float32"), k).close(
            gpt.top_k_filter(_t(ties, "float32"), k), f"top_k_filter on logits with ties, k={k}")


@cell("test-top-p")
def _top_p(p: Plan):
    V = int(p.rng.integers(5, 40))
    x = 2 * p.rng.normal(size=(int(p.rng.integers(1, 4)), 3, V))
    for prob in (float(p.rng.uniform(0.05, 0.5)), float(p.rng.uniform(0.5, 0.99)), 1.0):
        p.call("top_p_filter", Tensor(x, "float32"), prob).close(
            gpt.top_p_filter(_t(x, "float32"), prob), f"top_p_filter on {x.shape} logits, p={prob:.2g}")
    ties = p.rng.integers(0, 3, size=(5, 12)).astype(float)
    prob = float(p.rng.uniform(0.2, 0.9))
    p.call("top_p_filter", Tensor(ties, "float32"), prob).close(
        gpt.top_p_filter(_t(ties, "float32"), prob), f"top_p_filter on logits with ties, p={prob:.2g}")


def _brute_force(table, prefix, n, eos_id=None):
    """The exact best continuation of a bigram table model: (seq, score), as the notebook's."""
    log_probs = table - np.log(np.exp(table).sum(axis=1, keepdims=True))
    best = None
    V = len(table)
    for length in range(1, n + 1):
        for body in itertools.product(range(V), repeat=length):
            if eos_id is not None and eos_id in body[:-1]:
                continue
            if length < n and (eos_id is None or body[-1] != eos_id):
                continue
            seq = list(prefix) + list(body)
            score = sum(log_probs[seq[i - 1], seq[i]] for i in range(len(prefix), len(seq)))
            if best is None or score > best[1]:
                best = (seq, score)
    return best


@cell("test-beam")
def _beam(p: Plan):
    for V, n, eos in [(3, 4, None), (4, 3, 0), (5, 3, 2)]:
        table = 2 * p.rng.normal(size=(V, V))
        want_seq, want_score = _brute_force(table, [1], n, eos_id=eos)

        def check(got, *_, want_seq=want_seq, want_score=want_score, what=f"V={V}, {n} steps, eos={eos}"):
            seq, score = got
            checks.assert_equal([int(t) for t in seq] == want_seq, True,
                                name=f"a beam as large as the search space finds the best sequence ({what})")
            checks.assert_close(float(score), want_score, name=f"its score ({what})", rtol=1e-9)
        kwargs = {} if eos is None else {"eos_id": eos}
        p.call("beam_search", FnOf("table_log_probs", (table,)), [1], n, V ** n, **kwargs).then(check)
    V = int(p.rng.integers(4, 8))
    model = _model(p, V)
    prefix = _ids(p, 2, V)
    for k in (1, 2, 4):
        want = gpt.beam_search_lm(model.make(), _t([prefix], "int64"), 4, k)[0].tolist()
        p.call("beam_search", FnOf("lm_log_probs", (model,)), prefix, 4, k).then(
            lambda got, *_, want=want, k=k: checks.assert_equal(
                [int(t) for t in got[0]] == want, True, name=f"beam_size={k} on a tiny GPT finds the reference's sequence"))


@cell("test-kv-step")
def _kv_step(p: Plan):
    import torch.nn.functional as F

    B, nh, T, hs = (int(v) for v in p.rng.integers(1, 5, size=4))
    T += 2
    q, k, v = (p.rng.normal(size=(B, nh, T, hs)) for _ in range(3))
    full = F.scaled_dot_product_attention(_t(q), _t(k), _t(v), is_causal=True).numpy()
    for t in (0, int(p.rng.integers(1, T))):
        cache = None if t == 0 else (Tensor(k[:, :, :t], "float64"), Tensor(v[:, :, :t], "float64"))
        step = [Tensor(a[:, :, t:t + 1], "float64") for a in (q, k, v)]

        def check(got, *_, t=t):
            out, (K, V) = got
            checks.assert_close(out, full[:, :, t:t + 1], name=f"out at step {t}", rtol=1e-9, atol=1e-12)
            checks.assert_close(K, k[:, :, :t + 1], name=f"cached K after step {t}", rtol=1e-12)
            checks.assert_close(V, v[:, :, :t + 1], name=f"cached V after step {t}", rtol=1e-12)
        p.call("cached_attention_step", *step, cache).then(check)


@cell("test-kv-memory")
def _kv_memory(p: Plan):
    for _ in range(3):
        h = int(p.rng.integers(1, 7))
        layers, C = int(p.rng.integers(1, 13)), h * int(p.rng.integers(1, 65))
        config = _config(p, vocab_size=65, block_size=256, num_layers=layers, num_heads=h, d_model=C)
        n, batch, width = int(p.rng.integers(1, 257)), int(p.rng.integers(1, 9)), int(p.rng.choice([2, 4]))
        p.call("kv_cache_bytes", config, n, batch_size=batch, bytes_per_value=width).then(
            lambda got, *_, want=2 * layers * batch * n * C * width: checks.assert_equal(
                int(got), want, name="bytes of the KV cache of a random configuration"))
