"""word2vec, GloVe and their evaluation: hand-counted tiny corpora, finite differences in
float64, PyTorch's autograd, and one real training run that must beat random vectors."""

import builtins
import math

import numpy as np
import pytest
import torch

from workbook import checks
from workbook.data import wiki
from workbook.nn.word2vec import SkipGramNS, train_sgns_torch
from workbook.numpy_nn import embeddings as ev
from workbook.numpy_nn import glove as gl
from workbook.numpy_nn import word2vec as w2v

TOY = [["the", "cat", "sat", "on", "the", "mat"],
       ["the", "dog", "sat", "on", "the", "log"],
       ["a", "cat"]]


# ------------------------------------------------------------------------------ data
def test_wiki_corpus_is_gensims_extract_cleaned_and_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBOOK_CACHE_DIR", str(tmp_path))
    wiki._all_sentences.cache_clear()
    try:
        sentences = wiki.load_wiki()
        assert sum(map(len, sentences)) == 453_267
        assert max(map(len, sentences)) == wiki.SENTENCE_LENGTH
        assert all(t == t.lower() and t.isalpha() and 2 <= len(t) <= 15 for t in sentences[0])
        cached = list(tmp_path.glob("wiki-tokens-*.txt"))
        assert len(cached) == 1, "the cleaned tokens are cached in $WORKBOOK_CACHE_DIR"
        wiki._all_sentences.cache_clear()
        assert wiki.load_wiki() == sentences, "the cache gives back the same tokens"
        small = wiki.load_wiki(limit_tokens=5_000)
        assert 5_000 <= sum(map(len, small)) < 5_000 + wiki.SENTENCE_LENGTH
        assert small == sentences[:len(small)]
    finally:
        wiki._all_sentences.cache_clear()


def test_cache_dir_defaults_to_the_user_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("WORKBOOK_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert wiki.cache_dir() == tmp_path / "workbook"


def test_missing_gensim_names_the_install_command(monkeypatch):
    real_import = builtins.__import__

    def no_gensim(name, *args, **kwargs):
        if name.startswith("gensim"):
            raise ModuleNotFoundError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_gensim)
    with pytest.raises(ModuleNotFoundError, match="pip install gensim"):
        wiki.gensim_datapath("wordsim353.tsv")


def test_evaluation_sets():
    assert len(wiki.load_wordsim()) == 353
    assert wiki.load_wordsim()[1] == ("tiger", "cat", 7.35)
    assert len(wiki.load_simlex()) == 999
    analogies = wiki.load_analogies()
    assert len(analogies) == 19_544
    assert analogies[0] == ("capital-common-countries", "athens", "greece", "baghdad", "iraq")
    assert len({q[0] for q in analogies}) == 14


# ------------------------------------------------------------------- vocab, subsampling
def test_vocab_counts_by_hand():
    vocab = w2v.Vocab.build(TOY, min_count=2)
    # the: 4, cat/on/sat: 2 each (alphabetical among ties); dog, mat, log, a: 1 -> dropped
    assert vocab.words == ["the", "cat", "on", "sat"]
    assert vocab.counts.tolist() == [4, 2, 2, 2]
    assert "dog" not in vocab and len(vocab) == 4
    encoded = vocab.encode(TOY)
    assert [e.tolist() for e in encoded] == [[0, 1, 3, 2, 0], [0, 3, 2, 0], [1]]
    assert w2v.Vocab.build(TOY, min_count=1).counts.sum() == 14


def test_keep_probabilities_by_hand():
    counts = np.array([900, 90, 9, 1])  # frequencies 0.9, 0.09, 0.009, 0.001
    keep = w2v.keep_probabilities(counts, sample=1e-2)
    f = counts / 1000
    expected = np.minimum(1, (np.sqrt(f / 1e-2) + 1) * 1e-2 / f)
    checks.assert_close(keep, expected)
    assert keep[0] == pytest.approx((math.sqrt(90) + 1) / 90)
    assert keep[2] == keep[3] == 1.0, "words rarer than the threshold are always kept"
    assert np.all(w2v.keep_probabilities(counts, sample=0) == 1)


def test_subsample_keeps_order_and_rate():
    rng = np.random.default_rng(0)
    ids = np.tile([0, 1], 20_000)
    kept = w2v.subsample(ids, np.array([0.25, 1.0]), rng)
    assert (kept == 1).sum() == 20_000
    assert (kept == 0).sum() / 20_000 == pytest.approx(0.25, abs=0.01)


# ------------------------------------------------------------------------------- pairs
def test_pairs_from_spans_by_hand():
    ids = np.array([10, 11, 12, 13])
    pairs = w2v.pairs_from_spans(ids, np.array([1, 2, 1, 3]))
    assert pairs.tolist() == [[10, 11],
                              [11, 10], [11, 12], [11, 13],
                              [12, 11], [12, 13],
                              [13, 10], [13, 11], [13, 12]]
    assert w2v.pairs_from_spans(np.array([5]), np.array([3])).shape == (0, 2)
    assert w2v.pairs_from_spans(np.array([], dtype=int), np.array([], dtype=int)).shape == (0, 2)


def test_fixed_window_pair_count():
    n, w = 10, 3
    pairs = w2v.pairs_from_spans(np.arange(n), np.full(n, w))
    # every position sees up to w words each side: 2 * sum_{k=1..w} (n - k)
    assert len(pairs) == 2 * sum(n - k for k in range(1, w + 1))
    assert np.all(np.abs(pairs[:, 0] - pairs[:, 1]) <= w) and np.all(pairs[:, 0] != pairs[:, 1])


def test_dynamic_window_prefers_near_words():
    rng = np.random.default_rng(0)
    ids = np.arange(20_000)
    pairs = w2v.skipgram_pairs(ids, window=4, rng=rng)
    dist = np.abs(pairs[:, 0] - pairs[:, 1])
    freq = np.bincount(dist, minlength=5)[1:] / (2 * len(ids))
    # distance k is inside the window with probability (4 - k + 1) / 4
    checks.assert_close(freq, [1.0, 0.75, 0.5, 0.25], atol=0.01, rtol=0)


def test_cooccurrence_counts_by_hand():
    ids = [np.array([0, 1, 2, 0])]
    C = w2v.cooccurrence_counts(ids, window=1, vocab_size=3)
    assert C.tolist() == [[0, 1, 1], [1, 0, 1], [1, 1, 0]]
    C2 = w2v.cooccurrence_counts(ids, window=3, vocab_size=3)
    assert C2.tolist() == [[2, 2, 2], [2, 0, 1], [2, 1, 0]]
    assert (C2 == C2.T).all()


# ------------------------------------------------------------------------------- noise
def test_noise_distribution_by_hand():
    p = w2v.noise_distribution(np.array([1, 16, 81]))
    checks.assert_close(p, np.array([1, 8, 27]) / 36)
    checks.assert_close(w2v.noise_distribution(np.array([1, 3]), power=1.0), [0.25, 0.75])
    checks.assert_close(w2v.noise_distribution(np.array([1, 3]), power=0.0), [0.5, 0.5])


def test_sample_negatives_follows_the_distribution():
    rng = np.random.default_rng(1)
    p = np.array([0.1, 0.0, 0.6, 0.3])
    draws = w2v.sample_negatives(p, (200_000,), rng)
    assert draws.dtype == np.int64 and draws.min() >= 0 and draws.max() <= 3
    checks.assert_close(np.bincount(draws, minlength=4) / len(draws), p, atol=0.005, rtol=0)
    assert w2v.sample_negatives(p, (3, 5), rng).shape == (3, 5)


# --------------------------------------------------------------------- loss, gradients
def _batch(rng, B=4, K=3, d=5, dtype=np.float64):
    return (rng.standard_normal((B, d)).astype(dtype), rng.standard_normal((B, d)).astype(dtype),
            rng.standard_normal((B, K, d)).astype(dtype))


def test_sgns_loss_by_hand():
    v = np.array([[1.0, 0.0]])
    u_pos = np.array([[2.0, 0.0]])
    u_neg = np.array([[[0.0, 1.0], [-1.0, 0.0]]])
    loss, *_ = w2v.sgns_loss_and_grads(v, u_pos, u_neg)
    sig = lambda x: 1 / (1 + math.exp(-x))
    assert loss == pytest.approx(-math.log(sig(2)) - math.log(sig(0)) - math.log(sig(1)))


def test_sgns_gradients_match_finite_differences():
    rng = np.random.default_rng(2)
    v, u_pos, u_neg = _batch(rng)
    _, dv, du_pos, du_neg = w2v.sgns_loss_and_grads(v, u_pos, u_neg)
    checks.check_gradient(lambda x: w2v.sgns_loss_and_grads(x, u_pos, u_neg)[0], v, dv)
    checks.check_gradient(lambda x: w2v.sgns_loss_and_grads(v, x, u_neg)[0], u_pos, du_pos)
    checks.check_gradient(lambda x: w2v.sgns_loss_and_grads(v, u_pos, x)[0], u_neg, du_neg)


def test_sgns_matches_torch_autograd_and_keeps_float32():
    rng = np.random.default_rng(3)
    v, u_pos, u_neg = _batch(rng, B=6, K=4, d=8)
    loss, dv, du_pos, du_neg = w2v.sgns_loss_and_grads(v, u_pos, u_neg)
    tv, tp, tn = (torch.tensor(a, requires_grad=True) for a in (v, u_pos, u_neg))
    s_pos = (tp * tv).sum(-1)
    s_neg = torch.einsum("bkd,bd->bk", tn, tv)
    t_loss = -(torch.nn.functional.logsigmoid(s_pos).sum()
               + torch.nn.functional.logsigmoid(-s_neg).sum())
    t_loss.backward()
    assert loss == pytest.approx(t_loss.item(), rel=1e-12)
    for ours, theirs in ((dv, tv), (du_pos, tp), (du_neg, tn)):
        checks.assert_close(ours, theirs.grad, rtol=1e-10, atol=1e-12)
    out32 = w2v.sgns_loss_and_grads(*(a.astype(np.float32) for a in (v, u_pos, u_neg)))
    assert all(g.dtype == np.float32 for g in out32[1:])
    checks.assert_close(out32[1], dv, rtol=1e-4, atol=1e-5)


def test_sgns_is_stable_for_large_scores():
    v = np.array([[100.0]])
    loss, dv, *_ = w2v.sgns_loss_and_grads(v, np.array([[-100.0]]), np.array([[[100.0]]]))
    assert np.isfinite(loss) and loss == pytest.approx(2e4)
    assert np.all(np.isfinite(dv))


def test_scatter_add_sums_repeated_rows():
    rng = np.random.default_rng(4)
    W = rng.standard_normal((6, 3))
    rows = np.array([1, 4, 1, 1, 0])
    values = rng.standard_normal((5, 3))
    expected = W.copy()
    np.add.at(expected, rows, values)
    w2v.scatter_add(W, rows, values)
    checks.assert_close(W, expected, rtol=1e-12)


def test_sgd_step_applies_every_pair_gradient():
    rng = np.random.default_rng(5)
    W_in, W_out = rng.standard_normal((7, 4)), rng.standard_normal((7, 4))
    centers, contexts = np.array([0, 0, 3]), np.array([1, 2, 1])
    negatives = np.array([[4, 5], [4, 4], [6, 2]])
    lr = 0.1
    loss, dv, du_pos, du_neg = w2v.sgns_loss_and_grads(W_in[centers], W_out[contexts],
                                                      W_out[negatives])
    exp_in, exp_out = W_in.copy(), W_out.copy()
    for b in range(3):  # every pair's gradient, evaluated before the step, summed
        exp_in[centers[b]] -= lr * dv[b]
        exp_out[contexts[b]] -= lr * du_pos[b]
        for k in range(2):
            exp_out[negatives[b, k]] -= lr * du_neg[b, k]
    got = w2v.sgd_step(W_in, W_out, centers, contexts, negatives, lr)
    assert got == pytest.approx(loss)
    checks.assert_close(W_in, exp_in, rtol=1e-12)
    checks.assert_close(W_out, exp_out, rtol=1e-12)


def test_torch_module_matches_numpy_loss():
    rng = np.random.default_rng(6)
    model = SkipGramNS(9, 4).double()
    W_in, W_out = model.in_embed.weight.detach().numpy(), model.out_embed.weight.detach().numpy()
    c, o, n = rng.integers(0, 9, 5), rng.integers(0, 9, 5), rng.integers(0, 9, (5, 3))
    loss = model(torch.from_numpy(c), torch.from_numpy(o), torch.from_numpy(n))
    expected, *_ = w2v.sgns_loss_and_grads(W_in[c], W_out[o], W_out[n])
    assert loss.item() == pytest.approx(expected, rel=1e-12)


# ---------------------------------------------------------------------------- trainers
def _tiny_corpus(rng, n_sentences=300):
    """Two topics that never mix: words 0-4 co-occur with each other, 5-9 with each other."""
    sentences = []
    for s in range(n_sentences):
        topic = (s % 2) * 5
        sentences.append(topic + rng.integers(0, 5, size=12))
    return sentences


@pytest.mark.parametrize("trainer", ["numpy", "torch"])
def test_trainers_separate_two_topics(trainer):
    rng = np.random.default_rng(7)
    sentences = _tiny_corpus(rng)
    counts = np.bincount(np.concatenate(sentences), minlength=10)
    cfg = w2v.SGNSConfig(dim=8, window=2, negative=3, sample=0, epochs=3, lr=0.05, batch_size=64)
    if trainer == "numpy":
        result = w2v.train_sgns(sentences, counts, cfg, log_every=10)
    else:
        result = train_sgns_torch(sentences, counts, cfg, device="cpu", log_every=10)
    E = ev.normalize_rows(result.W_in)
    sims = E @ E.T
    same = np.mean([sims[i, j] for i in range(10) for j in range(10) if i != j and i // 5 == j // 5])
    other = np.mean([sims[i, j] for i in range(10) for j in range(10) if i // 5 != j // 5])
    assert same > other + 0.5, (same, other)
    assert result.losses[-1] < result.losses[0]
    assert result.W_in.shape == (10, 8) and result.W_in.dtype == np.float32
    assert result.words == 3 * 300 * 12


def test_trained_numpy_model_beats_random_on_wordsim():
    """The real corpus, a short run: a clear margin over random vectors on WordSim-353."""
    sentences = wiki.load_wiki()
    vocab = w2v.Vocab.build(sentences, min_count=5)
    cfg = w2v.SGNSConfig(dim=32, epochs=2, lr=0.1)
    result = w2v.train_sgns(vocab.encode(sentences), vocab.counts, cfg)
    pairs = wiki.load_wordsim()
    rho, n = ev.similarity_spearman(result.W_in, vocab, pairs)
    rho_random, _ = ev.similarity_spearman(ev.random_embedding(len(vocab), 32), vocab, pairs)
    assert n > 200
    assert rho > rho_random + 0.1 and rho > 0.15, (rho, rho_random)


# ------------------------------------------------------------------------------- GloVe
def test_cooccurrence_matrix_weights_by_distance():
    X = gl.cooccurrence_matrix([np.array([0, 1, 2, 0])], vocab_size=3, window=2).toarray()
    # pairs: (0,1) d1, (1,2) d1, (2,0) d1, (0,2) d2, (1,0) d2 -- each counted both ways
    checks.assert_close(X, [[0, 1.5, 1.5], [1.5, 0, 1], [1.5, 1, 0]])
    assert gl.cooccurrence_matrix([], vocab_size=3).shape == (3, 3)


def test_glove_weight():
    checks.assert_close(gl.glove_weight(np.array([1.0, 50.0, 100.0, 500.0])),
                        [0.01 ** 0.75, 0.5 ** 0.75, 1.0, 1.0])


def test_glove_gradients_match_finite_differences():
    rng = np.random.default_rng(8)
    N, d = 5, 3
    w, wc = rng.standard_normal((N, d)), rng.standard_normal((N, d))
    b, bc = rng.standard_normal(N), rng.standard_normal(N)
    x = rng.uniform(0.5, 200, N)
    loss, dw, dwc, db, dbc = gl.glove_loss_and_grads(w, wc, b, bc, x)
    f = gl.glove_weight(x)
    assert loss == pytest.approx(np.sum(f * (np.sum(w * wc, 1) + b + bc - np.log(x)) ** 2))
    checks.check_gradient(lambda p: gl.glove_loss_and_grads(p, wc, b, bc, x)[0], w, dw)
    checks.check_gradient(lambda p: gl.glove_loss_and_grads(w, p, b, bc, x)[0], wc, dwc)
    checks.check_gradient(lambda p: gl.glove_loss_and_grads(w, wc, p, bc, x)[0], b, db)
    checks.check_gradient(lambda p: gl.glove_loss_and_grads(w, wc, b, p, x)[0], bc, dbc)


def test_glove_fits_and_separates_topics():
    rng = np.random.default_rng(9)
    X = gl.cooccurrence_matrix(_tiny_corpus(rng), vocab_size=10, window=2)
    result = gl.train_glove(X, gl.GloVeConfig(dim=8, epochs=40, lr=0.1, batch_size=16))
    assert result.losses[-1] < 0.2 * result.losses[0]
    E = ev.normalize_rows(result.embedding)
    sims = E @ E.T
    assert sims[:5, :5].mean() > sims[:5, 5:].mean() + 0.3


# -------------------------------------------------------------------------- evaluation
class _Vocab:
    def __init__(self, words):
        self.words = list(words)
        self.index = {w: i for i, w in enumerate(words)}


def test_nearest_uses_the_cosine_not_the_dot_product():
    vocab = _Vocab(["a", "long", "close", "far"])
    E = np.array([[1.0, 0.0], [10.0, 10.0], [0.9, 0.1], [-1.0, 0.0]])
    top = ev.nearest(E, vocab, "a", k=3)
    assert [w for w, _ in top] == ["close", "long", "far"]
    assert top[1][1] == pytest.approx(math.sqrt(0.5))


def test_analogy_never_returns_an_input_word():
    vocab = _Vocab(["man", "woman", "king", "queen", "apple"])
    E = np.array([[1.0, 0, 0], [1, 1, 0], [1, 0, 1], [1, 1, 1], [0, -1, 0.2]])
    assert ev.analogy(E, vocab, "man", "woman", "king") == ["queen"]
    # b - a + c is closest to c itself when the offset is small: c must be excluded
    E2 = E.copy()
    E2[3] = [0, 0, -1]
    assert "king" not in ev.analogy(E2, vocab, "man", "woman", "king", k=2)
    acc, n = ev.analogy_accuracy(E, vocab, [("s", "man", "woman", "king", "queen"),
                                            ("s", "man", "king", "woman", "queen"),
                                            ("s", "man", "woman", "king", "pear")])
    assert (acc, n) == (1.0, 2)


def test_similarity_spearman_by_hand():
    vocab = _Vocab(["a", "b", "c", "d"])
    angles = np.array([0.0, 0.3, 1.0, 2.0])
    E = np.stack([np.cos(angles), np.sin(angles)], axis=1) * np.array([[1], [5], [2], [7]])
    pairs = [("a", "b", 9.0), ("a", "c", 5.0), ("a", "d", 1.0), ("a", "zzz", 3.0)]
    rho, n = ev.similarity_spearman(E, vocab, pairs)
    assert (rho, n) == (pytest.approx(1.0), 3)
    assert ev.spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)


def test_gensim_matrix_aligns_rows_with_our_vocab():
    from gensim.models import Word2Vec

    sentences = [["b", "a", "c"]] * 20
    model = Word2Vec(sentences, vector_size=4, min_count=1, workers=1, seed=0, epochs=1)
    vocab = _Vocab(["c", "a", "b", "missing"])
    E = ev.gensim_matrix(model.wv, vocab)
    checks.assert_close(E[0], model.wv["c"])
    checks.assert_close(E[2], model.wv["b"])
    assert not E[3].any()
