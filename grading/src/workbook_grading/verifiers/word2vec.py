"""Notebook 05 ``word2vec``: every graded cell re-checked on new inputs outside the kernel.

Not stubbed although it answers an exercise here (``sgns_loss``, ``sgns_gradients``):
``sgns_loss_and_grads``, which the notebook hands the student for ``sgd_step``. The
in-notebook tests of those two cells are the ones that catch a delegating answer.
"""

import types

import numpy as np

from workbook import checks
from workbook.numpy_nn import embeddings, glove, word2vec
from workbook_grading.verify import Obj, Plan, Verifier

ASSIGNMENT = "05_word2vec"
VERIFIER = Verifier({}, references=(
    "workbook.numpy_nn.embeddings:cosine_similarity", "workbook.numpy_nn.embeddings:analogy",
    "workbook.numpy_nn.word2vec:cooccurrence_counts", "workbook.numpy_nn.word2vec:pairs_from_spans",
    "workbook.numpy_nn.word2vec:Vocab", "workbook.numpy_nn.word2vec:keep_probabilities",
    "workbook.numpy_nn.word2vec:noise_distribution", "workbook.numpy_nn.word2vec:sgd_step",
    "workbook.numpy_nn.glove:glove_weight"))
cell = VERIFIER.cell

# Tolerances are the notebook's hidden tests' own: float64 where the contract asks for it,
# float32-sized where a float32 computation is a right answer (keep and noise probabilities)
TIGHT = dict(rtol=1e-9, atol=1e-12)


def _int(p: Plan, low: int, high: int) -> int:
    return int(p.rng.integers(low, high))


@cell("test-cosine")
def _cosine(p: Plan):
    for V, d in [(_int(p, 2, 30), _int(p, 2, 40)), (1, _int(p, 1, 5))]:
        E = p.rng.normal(size=(V, d)) * p.rng.uniform(0.1, 9, size=(V, 1))
        x = 3 * p.rng.normal(size=d)
        p.call("cosine_similarities", E, x).close(
            embeddings.cosine_similarity(E, x), f"cosines of {V} random rows of size {d}", **TIGHT)


def _sorted_pairs(pairs):
    pairs = np.asarray(pairs).reshape(-1, 2)
    return pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]


@cell("test-cooccurrence")
def _cooccurrence(p: Plan):
    V = _int(p, 3, 9)
    for window in (1, _int(p, 2, 6)):
        sentences = [p.rng.integers(0, V, size=_int(p, 1, 15)) for _ in range(_int(p, 3, 7))]
        p.call("cooccurrence", sentences, window, V).equal(
            word2vec.cooccurrence_counts(sentences, window, V),
            f"counts for {len(sentences)} random sentences, window {window}")


@cell("test-pairs")
def _pairs(p: Plan):
    for n, w in [(_int(p, 5, 20), _int(p, 1, 6)), (_int(p, 2, 5), 9), (1, 2)]:
        ids, spans = p.rng.integers(0, 6, size=n), p.rng.integers(1, w + 1, size=n)
        want = _sorted_pairs(word2vec.pairs_from_spans(ids, spans))
        p.call("skipgram_pairs", ids, spans).then(
            lambda got, *_, want=want, n=n: checks.assert_equal(
                _sorted_pairs(got), want, name=f"pairs of {n} random ids, sorted"))


@cell("test-vocab")
def _vocab(p: Plan):
    pool = [f"w{i}" for i in range(_int(p, 5, 25))]
    weights = np.arange(1, len(pool) + 1, dtype=float)
    sentences = [[str(w) for w in p.rng.choice(pool, size=_int(p, 1, 15), p=weights / weights.sum())]
                 for _ in range(_int(p, 10, 40))]
    for min_count in (1, _int(p, 2, 6)):
        # words seen exactly min_count times, first seen in reverse alphabetical order: the
        # boundary (>=, not >) and the tie rule (alphabetical) both decide the answer
        ties = [f"z{i}" for i in range(3, 0, -1)]
        sentences = sentences + [ties] * min_count
        ref = word2vec.Vocab.build(sentences, min_count=min_count)

        def check(got, *_, ref=ref, m=min_count):
            if not isinstance(got, (tuple, list)) or len(got) != 2:
                raise AssertionError("expected a pair (words, counts)")
            words, counts = got
            if [str(w) for w in np.asarray(words).tolist()] != ref.words:
                raise AssertionError(f"words (min_count={m}) are not the expected words in the "
                                     "expected order")
            checks.assert_equal(counts, ref.counts, name=f"counts with min_count={m}")
        p.call("build_vocab", sentences, min_count).then(check)


@cell("test-keep")
def _keep(p: Plan):
    for t in (float(p.rng.uniform(1e-4, 1e-2)), 0.05):
        counts = p.rng.integers(1, 5000, size=_int(p, 5, 60))
        p.call("keep_probability", counts, t).close(
            word2vec.keep_probabilities(counts, t), f"keep probabilities, t = {t:.3g}", rtol=1e-5)


@cell("test-noise")
def _noise(p: Plan):
    for power in (0.75, float(p.rng.uniform(0, 1))):
        counts = p.rng.integers(1, 10_000, size=_int(p, 3, 50))
        p.call("noise_distribution", counts, power).close(
            word2vec.noise_distribution(counts, power), f"noise distribution, power {power:.3g}",
            rtol=1e-5)
    counts = p.rng.integers(1, 100, size=5)
    p.call("noise_distribution", counts).close(
        word2vec.noise_distribution(counts), "noise distribution, default power", rtol=1e-5)


def _sgns_inputs(p: Plan):
    B, K, d = _int(p, 1, 20), _int(p, 1, 8), _int(p, 1, 12)
    return B, K, d, [2 * p.rng.normal(size=s) for s in ((B, d), (B, d), (B, K, d))]


@cell("test-sgns-loss")
def _sgns_loss(p: Plan):
    for _ in range(2):
        B, K, d, (v, up, un) = _sgns_inputs(p)
        p.call("sgns_loss", v, up, un).close(
            word2vec.sgns_loss_and_grads(v, up, un)[0], f"loss of a random batch, B={B}, K={K}, d={d}",
            rtol=1e-9)


@cell("test-sgns-grads")
def _sgns_grads(p: Plan):
    for _ in range(2):
        B, K, d, (v, up, un) = _sgns_inputs(p)
        _, *want = word2vec.sgns_loss_and_grads(v, up, un)

        def check(got, *_, want=want, name=f"B={B}, K={K}, d={d}"):
            if not isinstance(got, (tuple, list)) or len(got) != 3:
                raise AssertionError("expected three gradients (dv, du_pos, du_neg)")
            for label, g, w in zip(["dv", "du_pos", "du_neg"], got, want):
                checks.assert_close(g, w, name=f"{label} for {name}", rtol=1e-8, atol=1e-12)
        p.call("sgns_gradients", v, up, un).then(check)
    B, K, d, arrays = _sgns_inputs(p)
    _, *want = word2vec.sgns_loss_and_grads(*arrays)

    def check32(got, *_, want=want):
        for label, g, w in zip(["dv", "du_pos", "du_neg"], got, want):
            if np.asarray(g).dtype != np.float32:
                raise AssertionError(f"{label} of float32 inputs: dtype {np.asarray(g).dtype}, "
                                     "expected float32")
            checks.assert_close(g, w, name=f"float32 {label}", rtol=1e-4, atol=1e-5)
    p.call("sgns_gradients", *(a.astype(np.float32) for a in arrays)).then(check32)


@cell("test-sgd-step")
def _sgd_step(p: Plan):
    for V, B, K in [(_int(p, 3, 8), _int(p, 10, 30), _int(p, 2, 6)), (_int(p, 20, 60), _int(p, 2, 10), 2)]:
        W_in, W_out = p.rng.normal(size=(V, 4)), p.rng.normal(size=(V, 4))
        c, o, n = p.rng.integers(0, V, B), p.rng.integers(0, V, B), p.rng.integers(0, V, (B, K))
        lr = float(p.rng.uniform(0.01, 0.5))
        R_in, R_out = W_in.copy(), W_out.copy()
        loss = word2vec.sgd_step(R_in, R_out, c, o, n, lr)

        def check(got, after, loss=loss, R_in=R_in, R_out=R_out, name=f"V={V}, B={B}"):
            checks.assert_close(got, loss, name=f"loss, {name}", rtol=1e-9)
            checks.assert_close(after[0], R_in, name=f"W_in after a step with repeats, {name}",
                                rtol=1e-8, atol=1e-12)
            checks.assert_close(after[1], R_out, name=f"W_out after a step with repeats, {name}",
                                rtol=1e-8, atol=1e-12)
        call = p.call("sgd_step", W_in, W_out, c, o, n, lr)
        call.check_inputs = True
        call.then(check)


@cell("test-analogy")
def _analogy(p: Plan):
    V = _int(p, 8, 40)
    words = [f"w{i}" for i in range(V)]
    attrs = {"words": words, "index": {w: i for i, w in enumerate(words)}}
    vocab, ref_vocab = Obj(attrs), types.SimpleNamespace(**attrs)
    for _ in range(4):
        E = p.rng.normal(size=(V, 6)) * p.rng.uniform(0.2, 5, size=(V, 1))
        a, b, c = (words[i] for i in p.rng.choice(V, 3, replace=False))
        want = embeddings.analogy(E, ref_vocab, a, b, c)[0]

        def check(got, *_, want=want, q=(a, b, c)):
            if got != want:
                raise AssertionError(f"analogy{q} on random vectors: not the expected word")
        p.call("analogy", E, vocab, a, b, c).then(check)


@cell("test-glove-weight")
def _glove_weight(p: Plan):
    x = p.rng.uniform(0.1, 300, size=(_int(p, 1, 8), _int(p, 1, 5)))
    for x_max, alpha in [(100.0, 0.75), (float(p.rng.uniform(5, 50)), float(p.rng.uniform(0.3, 1)))]:
        p.call("glove_weight", x, x_max, alpha).close(
            glove.glove_weight(x, x_max, alpha), f"glove_weight, x_max={x_max:.3g}, alpha={alpha:.3g}",
            rtol=1e-9)
    p.call("glove_weight", x).close(glove.glove_weight(x), "glove_weight, default x_max and alpha",
                                    rtol=1e-9)
