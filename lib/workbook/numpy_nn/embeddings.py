"""Evaluating word vectors: cosine similarity, nearest neighbours, analogies, and Spearman
correlation with human judgements (WordSim-353, SimLex-999).

Every function takes an embedding matrix E (V, d), one row per word of a vocabulary (any
object with ``words`` and ``index``, e.g. ``workbook.numpy_nn.word2vec.Vocab``), so that our
vectors, GloVe's and gensim's (``gensim_matrix``) are scored by the same code.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

__all__ = ["normalize_rows", "cosine_similarity", "nearest", "analogy", "analogy_accuracy",
           "spearman", "similarity_spearman", "random_embedding", "gensim_matrix"]


def normalize_rows(E: np.ndarray) -> np.ndarray:
    """E with every row scaled to length 1 (a zero row stays zero). (V, d) -> (V, d)."""
    norms = np.linalg.norm(E, axis=-1, keepdims=True)
    return E / np.maximum(norms, 1e-12)


def cosine_similarity(E: np.ndarray, a: np.ndarray) -> np.ndarray:
    """cos(E[i], a) for every row i: (V, d), (d,) -> (V,)."""
    return normalize_rows(E) @ (a / max(float(np.linalg.norm(a)), 1e-12))


def nearest(E: np.ndarray, vocab: Any, word: str, k: int = 10) -> list[tuple[str, float]]:
    """The k words whose vectors have the largest cosine with ``word``'s (itself excluded),
    as (word, cosine) pairs, best first."""
    i = vocab.index[word]
    sims = cosine_similarity(E, E[i])
    sims[i] = -np.inf
    best = np.argsort(-sims)[:k]
    return [(vocab.words[j], float(sims[j])) for j in best]


def analogy(E: np.ndarray, vocab: Any, a: str, b: str, c: str, k: int = 1) -> list[str]:
    """a : b :: c : ?  by 3CosAdd: the words closest (cosine) to b - a + c, on unit vectors,
    never a, b or c themselves (b - a + c is usually closest to c). Returns k words."""
    En = normalize_rows(E)
    ia, ib, ic = vocab.index[a], vocab.index[b], vocab.index[c]
    scores = En @ (En[ib] - En[ia] + En[ic])  # (V,): proportional to the cosine
    scores[[ia, ib, ic]] = -np.inf
    return [vocab.words[j] for j in np.argsort(-scores)[:k]]


def analogy_accuracy(E: np.ndarray, vocab: Any, questions: Sequence[tuple],
                     batch: int = 2048) -> tuple[float, int]:
    """Fraction of analogies answered exactly by 3CosAdd, over the questions whose four
    words are all in the vocabulary; returns (accuracy, number of questions used).

    questions: (section, a, b, c, d) tuples (``workbook.data.wiki.load_analogies``).
    """
    usable = [q[1:] for q in questions if all(w in vocab.index for w in q[1:])]
    if not usable:
        return 0.0, 0
    ids = np.array([[vocab.index[w] for w in q] for q in usable])  # (Q, 4)
    En = normalize_rows(np.asarray(E, dtype=np.float64))
    correct = 0
    for s in range(0, len(ids), batch):
        a, b, c, d = ids[s:s + batch].T
        scores = (En[b] - En[a] + En[c]) @ En.T  # (q, V)
        rows = np.arange(len(a))
        scores[rows, a] = scores[rows, b] = scores[rows, c] = -np.inf
        correct += int((scores.argmax(axis=1) == d).sum())
    return correct / len(ids), len(ids)


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rank correlation (ties get their average rank)."""
    from scipy.stats import spearmanr

    return float(spearmanr(x, y).statistic)


def similarity_spearman(E: np.ndarray, vocab: Any,
                        pairs: Sequence[tuple[str, str, float]]) -> tuple[float, int]:
    """Spearman correlation between cos(E[w1], E[w2]) and the human scores, over the
    pairs whose two words are in the vocabulary; returns (rho, number of pairs used)."""
    used = [(w1, w2, s) for w1, w2, s in pairs if w1 in vocab.index and w2 in vocab.index]
    if len(used) < 2:
        return float("nan"), len(used)
    En = normalize_rows(np.asarray(E, dtype=np.float64))
    cos = [float(En[vocab.index[w1]] @ En[vocab.index[w2]]) for w1, w2, _ in used]
    return spearman(cos, [s for _, _, s in used]), len(used)


def random_embedding(V: int, d: int, seed: int = 0) -> np.ndarray:
    """A baseline: (V, d) standard normal vectors, which know nothing about words."""
    return np.random.default_rng(seed).standard_normal((V, d))


def gensim_matrix(keyed_vectors: Any, vocab: Any) -> np.ndarray:
    """gensim's vectors (``model.wv``) as rows in our vocabulary's order: (V, d).

    Words gensim does not have (it should have them all when trained on the same tokens
    with the same min_count) get zero vectors.
    """
    E = np.zeros((len(vocab.words), keyed_vectors.vector_size), dtype=np.float32)
    for i, w in enumerate(vocab.words):
        if w in keyed_vectors.key_to_index:
            E[i] = keyed_vectors[w]
    return E
