"""word2vec on gensim's Wikipedia extract: gensim vs our NumPy and PyTorch trainers (and GloVe).

    python bench/bench_word2vec.py                    # the whole corpus, notebook 05's full settings
    python bench/bench_word2vec.py --limit-tokens 50000 --epochs 1   # seconds (what the tests run)

Same tokens, same hyper-parameters, one run each: skip-gram with negative sampling, the
window, negatives, min_count, subsampling threshold, dimension, epochs and linear learning-
rate decay of ``SGNSConfig`` (gensim gets them as sg=1, window, negative, min_count,
sample, vector_size, epochs, alpha, min_alpha, and its default number of workers). Words/s
counts the corpus tokens in the vocabulary (before subsampling) times the epochs, over
the training wall time; every model is scored by the same code (``workbook.numpy_nn.
embeddings``): Spearman on WordSim-353 and SimLex-999, 3CosAdd accuracy on the analogies
whose four words are in the vocabulary. Ratios are against gensim. GloVe's words/s is
left out (it trains on the co-occurrence matrix, not on the text; its seconds include
counting).
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

from workbook import runtime
from workbook.data.wiki import load_analogies, load_simlex, load_wiki, load_wordsim
from workbook.numpy_nn import embeddings
from workbook.numpy_nn.glove import GloVeConfig, cooccurrence_matrix, train_glove
from workbook.numpy_nn.word2vec import SGNSConfig, Vocab, train_sgns

# the notebook's full profile
DEFAULTS = dict(dim=100, epochs=5, lr=0.05)
# GloVe as in notebook 05: x_max = 10 instead of the paper's 100 (on 0.45 M tokens the median
# count is 0.5, and with x_max = 100 almost every pair gets a weight near 0), a larger step
GLOVE = dict(x_max=10.0, lr=0.1, epochs=15)
TARGET_SPEED = 0.1  # the NumPy trainer: at least 1/10 of gensim's words/s
TARGET_QUALITY = 0.8  # and at least 80 % of its WordSim Spearman and analogy accuracy


def score(E: np.ndarray, vocab: Vocab, sets: dict) -> dict:
    ws, _ = embeddings.similarity_spearman(E, vocab, sets["wordsim"])
    sl, _ = embeddings.similarity_spearman(E, vocab, sets["simlex"])
    acc, _ = embeddings.analogy_accuracy(E, vocab, sets["analogies"])
    return dict(wordsim=ws, simlex=sl, analogies=acc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit-tokens", type=int, default=None, help="first N tokens only")
    parser.add_argument("--dim", type=int, default=DEFAULTS["dim"])
    parser.add_argument("--epochs", type=int, default=DEFAULTS["epochs"])
    parser.add_argument("--lr", type=float, default=DEFAULTS["lr"])
    parser.add_argument("--glove-epochs", type=int, default=GLOVE["epochs"])
    parser.add_argument("--skip", nargs="*", default=[], choices=["torch", "glove"],
                        help="leave these trainers out")
    args = parser.parse_args(argv)

    sentences = load_wiki(args.limit_tokens)
    cfg = SGNSConfig(dim=args.dim, epochs=args.epochs, lr=args.lr)
    vocab = Vocab.build(sentences, cfg.min_count)
    encoded = vocab.encode(sentences)
    n_words = cfg.epochs * sum(len(s) for s in encoded)
    sets = dict(wordsim=load_wordsim(), simlex=load_simlex(), analogies=load_analogies())
    print(f"corpus: {sum(map(len, sentences)):,} tokens, vocabulary {len(vocab):,} "
          f"(min_count {cfg.min_count}); {cfg}")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores")

    rows: dict[str, dict] = {}

    from gensim.models import Word2Vec
    from gensim.models.word2vec import FAST_VERSION

    t0 = time.perf_counter()
    model = Word2Vec(sentences, sg=1, vector_size=cfg.dim, window=cfg.window,
                     negative=cfg.negative, min_count=cfg.min_count, sample=cfg.sample,
                     epochs=cfg.epochs, alpha=cfg.lr, min_alpha=cfg.lr * cfg.min_lr_fraction,
                     seed=cfg.seed)
    seconds = time.perf_counter() - t0
    rows[f"gensim ({model.workers} workers, C={FAST_VERSION >= 0})"] = dict(
        seconds=seconds, words_per_s=n_words / seconds,
        **score(embeddings.gensim_matrix(model.wv, vocab), vocab, sets))

    result = train_sgns(encoded, vocab.counts, cfg)
    rows["ours, NumPy"] = dict(seconds=result.seconds, words_per_s=result.words_per_second,
                               **score(result.W_in, vocab, sets))

    if "torch" not in args.skip:
        import torch

        from workbook.nn.word2vec import train_sgns_torch

        device = runtime.get_device()
        result = train_sgns_torch(encoded, vocab.counts, cfg, device=device)
        name = torch.cuda.get_device_name(device) if device.type == "cuda" else device.type
        rows[f"ours, PyTorch ({name})"] = dict(seconds=result.seconds,
                                              words_per_s=result.words_per_second,
                                              **score(result.W_in, vocab, sets))

    if "glove" not in args.skip:
        t0 = time.perf_counter()
        X = cooccurrence_matrix(encoded, len(vocab), cfg.window)
        glove = train_glove(X, GloVeConfig(dim=cfg.dim, window=cfg.window, x_max=GLOVE["x_max"],
                                          lr=GLOVE["lr"], epochs=args.glove_epochs))
        rows[f"GloVe ({args.glove_epochs} epochs)"] = dict(
            seconds=time.perf_counter() - t0, words_per_s=float("nan"),
            **score(glove.embedding, vocab, sets))

    rows["random vectors"] = dict(seconds=float("nan"), words_per_s=float("nan"),
                                  **score(embeddings.random_embedding(len(vocab), cfg.dim),
                                          vocab, sets))

    ref = next(iter(rows.values()))
    print("\n| trainer | seconds | words/s | vs gensim | WordSim | vs gensim | SimLex | "
          "analogies | vs gensim |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, r in rows.items():
        def ratio(key):
            return f"{r[key] / ref[key]:.2f}x" if np.isfinite(r[key]) and ref[key] else "--"
        speed = f"{r['words_per_s']:,.0f}" if np.isfinite(r["words_per_s"]) else "--"
        secs = f"{r['seconds']:.1f}" if np.isfinite(r["seconds"]) else "--"
        print(f"| {name} | {secs} | {speed} | {ratio('words_per_s')} | {r['wordsim']:.3f} | "
              f"{ratio('wordsim')} | {r['simlex']:.3f} | {r['analogies']:.1%} | "
              f"{ratio('analogies')} |")
    ours = rows["ours, NumPy"]
    met = (ours["words_per_s"] >= TARGET_SPEED * ref["words_per_s"]
           and ours["wordsim"] >= TARGET_QUALITY * ref["wordsim"]
           and ours["analogies"] >= TARGET_QUALITY * ref["analogies"])
    print(f"\nNumPy targets (>= {TARGET_SPEED:.0%} of gensim's words/s, >= {TARGET_QUALITY:.0%} of "
          f"its WordSim and analogy accuracy): {'met' if met else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
