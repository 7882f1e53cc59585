"""word2vec from scratch in NumPy: skip-gram with negative sampling (SGNS).

The pieces, in the order the data flows through them:

* ``Vocab.build``: the words seen at least ``min_count`` times, most frequent first;
* ``keep_probabilities`` / ``subsample``: frequent words ("the", "of") are dropped at random;
* ``pairs_from_spans`` / ``skipgram_pairs``: (center, context) pairs from a dynamic window;
* ``noise_distribution`` / ``sample_negatives``: negatives drawn from unigram^0.75;
* ``sgns_loss_and_grads``: the loss of a batch of pairs and its gradients;
* ``sgd_step`` and ``train_sgns``: vectorised SGD over the whole corpus.

Conventions. ``W_in`` (V, d) holds the word ("input", center) vectors, one row per word of
the vocabulary, and ``W_out`` (V, d) the context ("output") vectors; the embedding is
``W_in``. A batch has B pairs and K negatives per pair. The loss of one pair is

    -log sigma(u_o . v_c) - sum_k log sigma(-u_k . v_c)

and the loss of a batch is the **sum** over its pairs (word2vec gives every pair its own
SGD update with the same learning rate, so a batch's update is the sum of theirs).
Hyper-parameters and their defaults follow word2vec's C code and gensim.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

__all__ = ["Vocab", "keep_probabilities", "subsample", "pairs_from_spans",
           "skipgram_pairs", "noise_distribution", "sample_negatives", "log_sigmoid",
           "sgns_loss_and_grads", "scatter_add", "sgd_step", "SGNSConfig", "TrainResult",
           "epoch_pairs", "init_embeddings", "train_sgns", "cooccurrence_counts"]


# ---------------------------------------------------------------------------- vocabulary
@dataclass
class Vocab:
    """Words kept for training, most frequent first (ties in alphabetical order).

    words: list of V words; counts: (V,) int64, their counts in the corpus; index: word -> id.
    """

    words: list[str]
    counts: np.ndarray
    index: dict[str, int] = field(repr=False)

    @classmethod
    def build(cls, sentences: Iterable[Sequence[str]], min_count: int = 5) -> "Vocab":
        """Count the words of ``sentences``; keep those seen at least ``min_count`` times."""
        counter = Counter(word for sentence in sentences for word in sentence)
        kept = sorted((w for w, n in counter.items() if n >= min_count),
                      key=lambda w: (-counter[w], w))
        counts = np.array([counter[w] for w in kept], dtype=np.int64)
        return cls(kept, counts, {w: i for i, w in enumerate(kept)})

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: str) -> bool:
        return word in self.index

    def encode(self, sentences: Iterable[Sequence[str]]) -> list[np.ndarray]:
        """Each sentence as an int64 array of ids; words outside the vocabulary are dropped
        (so their neighbours become neighbours, as in word2vec and gensim)."""
        return [np.array([self.index[w] for w in s if w in self.index], dtype=np.int64)
                for s in sentences]


# --------------------------------------------------------------------------- subsampling
def keep_probabilities(counts: np.ndarray, sample: float = 1e-3) -> np.ndarray:
    """Probability of keeping each occurrence of a word: (sqrt(f/t) + 1) * t/f, at most 1.

    counts: (V,) word counts; f = count / total is the word's frequency and t = ``sample``.
    This is the formula of word2vec's C code and gensim (the paper's 1 - sqrt(t/f) is
    the probability of *discarding*, a slightly different curve). Words rarer than about
    t are always kept. sample=0 keeps everything. Returns (V,) float64.
    """
    counts = np.asarray(counts, dtype=np.float64)
    if sample <= 0:
        return np.ones_like(counts)
    f = counts / counts.sum()
    return np.minimum(1.0, (np.sqrt(f / sample) + 1.0) * sample / f)


def subsample(ids: np.ndarray, keep: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Keep each token of ``ids`` (n,) with probability ``keep[id]``; the order is kept."""
    return ids[rng.random(len(ids)) < keep[ids]]


# ----------------------------------------------------------------------- skip-gram pairs
def pairs_from_spans(ids: np.ndarray, spans: np.ndarray) -> np.ndarray:
    """All (center, context) pairs of one sentence, given each position's window.

    ids: (n,) word ids; spans: (n,) ints >= 1: the center at position i sees the words at
    positions i - spans[i] .. i + spans[i], itself excluded, clipped to the sentence.
    Returns (P, 2) int64 pairs [center id, context id], ordered by center position, then
    context position.
    """
    ids, spans = np.asarray(ids, dtype=np.int64), np.asarray(spans, dtype=np.int64)
    n = len(ids)
    if n == 0:
        return np.zeros((0, 2), dtype=np.int64)
    window = int(spans.max())
    offsets = np.concatenate([np.arange(-window, 0), np.arange(1, window + 1)])  # (2w,)
    pos = np.arange(n)[:, None]  # (n, 1)
    ctx = pos + offsets[None, :]  # (n, 2w) context positions
    ok = (np.abs(offsets)[None, :] <= spans[:, None]) & (ctx >= 0) & (ctx < n)
    centers = np.broadcast_to(pos, ctx.shape)[ok]  # row-major: by center, then offset
    return np.stack([ids[centers], ids[ctx[ok]]], axis=1)


def skipgram_pairs(ids: np.ndarray, window: int, rng: np.random.Generator) -> np.ndarray:
    """Pairs from a dynamic window: each center draws its span uniformly from 1..window.

    Near words are thus used more often than far ones (a word at distance k is inside the
    window with probability (window - k + 1) / window), as in word2vec. Returns (P, 2).
    """
    spans = rng.integers(1, window + 1, size=len(ids))
    return pairs_from_spans(ids, spans)


def cooccurrence_counts(sentences: Sequence[np.ndarray], window: int,
                        vocab_size: int) -> np.ndarray:
    """Dense (V, V) counts of (center, context) pairs within a fixed ``window``: C[i, j] is
    how often word j occurs within ``window`` positions of word i. Symmetric. For small V."""
    C = np.zeros((vocab_size, vocab_size), dtype=np.int64)
    for ids in sentences:
        pairs = pairs_from_spans(ids, np.full(len(ids), window))
        np.add.at(C, (pairs[:, 0], pairs[:, 1]), 1)
    return C


# ---------------------------------------------------------------------------------- noise
def noise_distribution(counts: np.ndarray, power: float = 0.75) -> np.ndarray:
    """P_n(w) proportional to count(w)^power: (V,) float64 summing to 1.

    power=1 is the unigram distribution, 0 the uniform one; 0.75 (the paper's choice) lifts
    rare words a little, so that they are drawn as negatives more often than their
    frequency alone would say.
    """
    weights = np.asarray(counts, dtype=np.float64) ** power
    return weights / weights.sum()


def sample_negatives(noise: np.ndarray, shape: tuple[int, ...],
                     rng: np.random.Generator) -> np.ndarray:
    """Word ids drawn independently from the distribution ``noise`` (V,): an int64 array
    of ``shape``. Inverse-CDF sampling: a binary search in the cumulative sum."""
    cdf = np.cumsum(noise)
    ids = np.searchsorted(cdf, rng.random(shape) * cdf[-1], side="right")
    return np.minimum(ids, len(noise) - 1)  # rounding at the very top


# ----------------------------------------------------------------------- loss, gradients
def log_sigmoid(x: np.ndarray) -> np.ndarray:
    """log sigma(x) = -log(1 + e^-x), without overflow for large |x|."""
    return -np.logaddexp(0.0, -x)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.exp(log_sigmoid(x))


def sgns_loss_and_grads(v: np.ndarray, u_pos: np.ndarray, u_neg: np.ndarray):
    """Skip-gram negative-sampling loss of B pairs, and its gradients.

    v: (B, d) center (input) vectors; u_pos: (B, d) the true contexts' output vectors;
    u_neg: (B, K, d) the K negatives' output vectors.
    loss = sum_b [ -log sigma(u_pos[b] . v[b]) - sum_k log sigma(-u_neg[b, k] . v[b]) ]
    Returns (loss: float, dv (B, d), du_pos (B, d), du_neg (B, K, d)), in v's dtype.
    """
    s_pos = np.einsum("bd,bd->b", u_pos, v)  # (B,)
    s_neg = np.einsum("bkd,bd->bk", u_neg, v)  # (B, K)
    loss = -(log_sigmoid(s_pos).sum() + log_sigmoid(-s_neg).sum())
    # d/ds [-log sigma(s)] = sigma(s) - 1 and d/ds [-log sigma(-s)] = sigma(s)
    g_pos = _sigmoid(s_pos) - 1.0  # (B,)
    g_neg = _sigmoid(s_neg)  # (B, K)
    dv = g_pos[:, None] * u_pos + np.einsum("bk,bkd->bd", g_neg, u_neg)  # (B, d)
    du_pos = g_pos[:, None] * v  # (B, d)
    du_neg = g_neg[:, :, None] * v[:, None, :]  # (B, K, d)
    dtype = np.result_type(v, u_pos, u_neg)
    return float(loss), dv.astype(dtype, copy=False), du_pos.astype(dtype, copy=False), \
        du_neg.astype(dtype, copy=False)


# ------------------------------------------------------------------------------ training
def scatter_add(W: np.ndarray, rows: np.ndarray, values: np.ndarray) -> None:
    """W[rows[i]] += values[i] for every i, in place, summing over repeated rows.

    ``W[rows] += values`` would keep only one of the updates of a repeated row. Same as
    ``np.add.at(W, rows, values)``, done as a sparse matrix product (about 6x faster).
    rows: (n,) ints; values: (n, d).
    """
    import scipy.sparse as sp

    unique, inverse = np.unique(rows, return_inverse=True)
    n = len(rows)
    onehot = sp.csr_matrix((np.ones(n, dtype=values.dtype), (inverse, np.arange(n))),
                           shape=(len(unique), n))  # (U, n): which row each value goes to
    W[unique] += onehot @ values  # (U, d)


def sgd_step(W_in: np.ndarray, W_out: np.ndarray, centers: np.ndarray, contexts: np.ndarray,
             negatives: np.ndarray, lr: float) -> float:
    """One SGD step on a batch, in place; returns the batch's loss (before the step).

    centers, contexts: (B,) ids; negatives: (B, K) ids. Every pair's gradient is applied
    with the same ``lr`` (the sum over the batch), repeated rows accumulate.
    """
    loss, dv, du_pos, du_neg = sgns_loss_and_grads(W_in[centers], W_out[contexts],
                                                  W_out[negatives])
    d = W_in.shape[1]
    scatter_add(W_in, centers, -lr * dv)
    rows = np.concatenate([contexts, negatives.ravel()])  # (B + B K,)
    scatter_add(W_out, rows, -lr * np.concatenate([du_pos, du_neg.reshape(-1, d)]))
    return loss


@dataclass
class SGNSConfig:
    """Hyper-parameters shared by our trainers and gensim's, with gensim's defaults."""

    dim: int = 100  # embedding size d
    window: int = 5  # the largest window span (the dynamic window draws 1..window)
    negative: int = 5  # K negatives per pair
    min_count: int = 5  # words seen fewer times are dropped
    sample: float = 1e-3  # subsampling threshold t (0: keep every token)
    epochs: int = 5
    lr: float = 0.025  # decays linearly to lr * min_lr_fraction over the run
    min_lr_fraction: float = 1e-4
    batch_size: int = 1024  # pairs per vectorised step (word2vec itself uses 1)
    power: float = 0.75  # of the noise distribution
    seed: int = 0


@dataclass
class TrainResult:
    """W_in (V, d), the embedding; W_out (V, d); losses: mean loss per pair, one value per
    ``log_every`` steps; words: corpus tokens processed (before subsampling); seconds."""

    W_in: np.ndarray
    W_out: np.ndarray
    losses: list[float]
    words: int
    seconds: float

    @property
    def words_per_second(self) -> float:
        return self.words / max(self.seconds, 1e-9)


def epoch_pairs(sentences: Sequence[np.ndarray], keep: np.ndarray, window: int,
                rng: np.random.Generator) -> np.ndarray:
    """One epoch's (P, 2) pairs: each sentence subsampled, then a dynamic window."""
    pairs = [skipgram_pairs(subsample(ids, keep, rng), window, rng) for ids in sentences]
    return np.concatenate(pairs) if pairs else np.zeros((0, 2), dtype=np.int64)


def init_embeddings(V: int, d: int, rng: np.random.Generator, dtype=np.float32):
    """word2vec's start: W_in uniform in [-0.5/d, 0.5/d), W_out zeros."""
    W_in = ((rng.random((V, d)) - 0.5) / d).astype(dtype)
    return W_in, np.zeros((V, d), dtype=dtype)


def train_sgns(sentences: Sequence[np.ndarray], counts: np.ndarray, cfg: SGNSConfig, *,
               progress: bool = False, log_every: int = 100) -> TrainResult:
    """Train SGNS with vectorised NumPy SGD (float32).

    sentences: encoded sentences (``Vocab.encode``); counts: (V,) word counts. Each epoch
    subsamples the corpus, draws the pairs, shuffles them and runs ``sgd_step`` on
    batches of ``cfg.batch_size`` pairs, the learning rate decaying linearly (per batch)
    from ``cfg.lr`` to ``cfg.lr * cfg.min_lr_fraction``.
    """
    rng = np.random.default_rng(cfg.seed)
    V = len(counts)
    W_in, W_out = init_embeddings(V, cfg.dim, rng)
    keep = keep_probabilities(counts, cfg.sample)
    noise = noise_distribution(counts, cfg.power)
    n_words = int(sum(len(s) for s in sentences))
    bar = _progress(cfg.epochs * n_words, progress)
    losses, running, steps = [], 0.0, 0
    start = time.perf_counter()
    for epoch in range(cfg.epochs):
        pairs = epoch_pairs(sentences, keep, cfg.window, rng)
        pairs = pairs[rng.permutation(len(pairs))]
        negatives = sample_negatives(noise, (len(pairs), cfg.negative), rng)
        n_batches = max(1, -(-len(pairs) // cfg.batch_size))
        for b in range(n_batches):
            done = (epoch + b / n_batches) / cfg.epochs  # fraction of the run
            lr = cfg.lr * max(cfg.min_lr_fraction, 1.0 - done)
            rows = slice(b * cfg.batch_size, (b + 1) * cfg.batch_size)
            batch = pairs[rows]
            if len(batch) == 0:
                continue
            running += sgd_step(W_in, W_out, batch[:, 0], batch[:, 1], negatives[rows], lr) / len(batch)
            steps += 1
            if steps % log_every == 0:
                losses.append(running / log_every)
                running = 0.0
            if bar is not None:
                bar.update(n_words // n_batches)
    if bar is not None:
        bar.close()
    return TrainResult(W_in, W_out, losses, cfg.epochs * n_words, time.perf_counter() - start)


def _progress(total: int, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit=" words", unit_scale=True, smoothing=0.1)
