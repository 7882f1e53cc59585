"""Grading round trip of 05_word2vec: plausible mistakes score 0, other correct answers full marks."""

from harness import Right, RoundTrip, Wrong


def pairs_code(*, upper="i + span + 1", keep_self=False, value="ids[j]"):
    """A loop skipgram_pairs with one part changed: the skeleton of its wrong answers."""
    check = "" if keep_self else "            if j != i:\n    "
    return ("def skipgram_pairs(ids, spans):\n    pairs = []\n"
            "    for i, span in enumerate(spans):\n"
            f"        for j in range(max(0, i - span), min(len(ids), {upper})):\n"
            f"{check}            pairs.append((ids[i], {value}))\n"
            "    return np.array(pairs, dtype=np.int64).reshape(-1, 2)\n")


def sgns_loss_code(*, neg_sign="-", reduce="sum"):
    return ("def sgns_loss(v, u_pos, u_neg):\n"
            "    s_pos = np.sum(u_pos * v, axis=1)\n"
            "    s_neg = np.einsum('bkd,bd->bk', u_neg, v)\n"
            "    log_sig = lambda x: -np.logaddexp(0, -x)\n"
            f"    return float(-(log_sig(s_pos).{reduce}() + log_sig({neg_sign}s_neg).sum(axis=1).{reduce}()))\n")


def sgns_grads_code(*, g_pos="sig(s_pos) - 1.0", g_neg="sig(s_neg)", cast="v.dtype", pre=""):
    return ("def sgns_gradients(v, u_pos, u_neg):\n" + pre +
            "    sig = lambda x: 1.0 / (1.0 + np.exp(-x))\n"
            "    s_pos = np.sum(u_pos * v, axis=1)\n"
            "    s_neg = np.einsum('bkd,bd->bk', u_neg, v)\n"
            f"    g_pos = {g_pos}\n    g_neg = {g_neg}\n"
            "    dv = g_pos[:, None] * u_pos + np.einsum('bk,bkd->bd', g_neg, u_neg)\n"
            "    du_pos = g_pos[:, None] * v\n"
            "    du_neg = g_neg[:, :, None] * v[:, None, :]\n"
            f"    return dv.astype({cast}), du_pos.astype({cast}), du_neg.astype({cast})\n")


def analogy_code(*, normalise=True, exclude=True):
    lines = ["def analogy(E, vocab, a, b, c):"]
    lines.append("    En = E / np.linalg.norm(E, axis=1, keepdims=True)" if normalise else "    En = E")
    lines += ["    ia, ib, ic = vocab.index[a], vocab.index[b], vocab.index[c]",
              "    scores = En @ (En[ib] - En[ia] + En[ic])"]
    if exclude:
        lines.append("    scores[[ia, ib, ic]] = -np.inf")
    lines.append("    return vocab.words[int(np.argmax(scores))]")
    return "\n".join(lines) + "\n"


class TestWord2VecRoundTrip(RoundTrip):
    assignment = "05_word2vec"

    WRONG = [
        Wrong("ex-cosine", "def cosine_similarities(E, x):\n    return E @ x\n",
              fails=["test-cosine"], why="the dot product: cosine without normalisation"),
        Wrong("ex-cosine",
              "def cosine_similarities(E, x):\n    return E @ x / np.linalg.norm(x)\n",
              fails=["test-cosine"], why="normalises x but not the rows of E"),
        Wrong("ex-cooccurrence",
              "def cooccurrence(sentences, window, V):\n"
              "    C = np.zeros((V, V), dtype=np.int64)\n"
              "    for ids in sentences:\n        for k in range(1, window):\n"
              "            np.add.at(C, (ids[:-k], ids[k:]), 1)\n"
              "            np.add.at(C, (ids[k:], ids[:-k]), 1)\n    return C\n",
              fails=["test-cooccurrence"], why="the window off by one: distance `window` left out"),
        Wrong("ex-cooccurrence",
              "def cooccurrence(sentences, window, V):\n"
              "    C = np.zeros((V, V), dtype=np.int64)\n"
              "    for ids in sentences:\n        for k in range(1, window + 1):\n"
              "            np.add.at(C, (ids[:-k], ids[k:]), 1)\n    return C\n",
              fails=["test-cooccurrence"], why="counts only the words to the right: not symmetric"),
        Wrong("ex-cooccurrence",
              "def cooccurrence(sentences, window, V):\n"
              "    ids = np.concatenate(sentences)\n    C = np.zeros((V, V), dtype=np.int64)\n"
              "    for k in range(1, window + 1):\n"
              "        np.add.at(C, (ids[:-k], ids[k:]), 1)\n"
              "        np.add.at(C, (ids[k:], ids[:-k]), 1)\n    return C\n",
              fails=["test-cooccurrence"], why="windows cross from one sentence into the next"),
        Wrong("ex-pairs", pairs_code(upper="i + span"),
              fails=["test-pairs"], why="the window off by one: misses the right neighbour at distance span"),
        Wrong("ex-pairs", pairs_code(keep_self=True),
              fails=["test-pairs"], why="a word is its own context"),
        Wrong("ex-pairs", pairs_code(value="j"),
              fails=["test-pairs"], why="context positions instead of context ids"),
        Wrong("ex-vocab",
              "def build_vocab(sentences, min_count):\n    from collections import Counter\n"
              "    c = Counter(w for s in sentences for w in s)\n"
              "    words = sorted((w for w in c if c[w] > min_count), key=lambda w: (-c[w], w))\n"
              "    return words, np.array([c[w] for w in words])\n",
              fails=["test-vocab"], why="count > min_count drops the words seen exactly min_count times"),
        Wrong("ex-vocab",
              "def build_vocab(sentences, min_count):\n    from collections import Counter\n"
              "    c = Counter(w for s in sentences for w in s)\n"
              "    words = [w for w, n in c.most_common() if n >= min_count]\n"
              "    return words, np.array([c[w] for w in words])\n",
              fails=["test-vocab"], why="ties in order of first appearance, not alphabetical"),
        Wrong("ex-keep",
              "def keep_probability(counts, sample):\n    f = counts / counts.sum()\n"
              "    return np.clip(1 - np.sqrt(sample / f), 0, 1)\n",
              fails=["test-keep"], why="the paper's discard probability 1 - sqrt(t/f) used as the keep probability"),
        Wrong("ex-keep",
              "def keep_probability(counts, sample):\n    f = counts / counts.sum()\n"
              "    return (np.sqrt(f / sample) + 1) * sample / f\n",
              fails=["test-keep"], why="not capped at 1: rare words get 'probabilities' above 1"),
        Wrong("ex-keep",
              "def keep_probability(counts, sample):\n    f = counts / counts.sum()\n"
              "    return np.where(f <= sample, 1.0, (np.sqrt(f / sample) + 1) * sample / f)\n",
              fails=["test-keep"], why="caps only words rarer than t; the formula exceeds 1 up to f = 2.6 t"),
        Wrong("ex-noise",
              "def noise_distribution(counts, power=0.75):\n    return counts / counts.sum()\n",
              fails=["test-noise"], why="the noise table without the 0.75 power (plain unigram)"),
        Wrong("ex-noise",
              "def noise_distribution(counts, power=0.75):\n    w = counts ** 0.75\n    return w / w.sum()\n",
              fails=["test-noise"], why="hard-codes 0.75 and ignores the power argument"),
        Wrong("ex-noise",
              "def noise_distribution(counts, power=0.75):\n    p = counts / counts.sum()\n    return p ** power\n",
              fails=["test-noise"], why="raises the probabilities to the power, then forgets to renormalise"),
        Wrong("ex-sgns-loss", sgns_loss_code(neg_sign=""),
              fails=["test-sgns-loss"], why="the sigmoid's sign flipped in the negative term"),
        Wrong("ex-sgns-loss", sgns_loss_code(reduce="mean"),
              fails=["test-sgns-loss"], why="the mean over the batch instead of the sum"),
        Wrong("ex-sgns-grads", sgns_grads_code(g_pos="sig(s_pos)"),
              fails=["test-sgns-grads"], why="sigma(s) instead of sigma(s) - 1 for the true context"),
        Wrong("ex-sgns-grads", sgns_grads_code(g_neg="sig(s_neg) - 1.0"),
              fails=["test-sgns-grads"], why="the negatives get the positive term's coefficient"),
        Wrong("ex-sgns-grads",
              sgns_grads_code(pre="    v, u_pos, u_neg = (np.asarray(a, dtype=float) for a in (v, u_pos, u_neg))\n",
                              cast="np.float64"),
              fails=["test-sgns-grads"], why="computes in float64 and returns float64 for float32 inputs"),
        Wrong("ex-sgd-step",
              "def sgd_step(W_in, W_out, centers, contexts, negatives, lr):\n"
              "    loss, dv, du_pos, du_neg = sgns_loss_and_grads(W_in[centers], W_out[contexts], W_out[negatives])\n"
              "    W_in[centers] -= lr * dv\n    W_out[contexts] -= lr * du_pos\n"
              "    W_out[negatives] -= lr * du_neg\n    return loss\n",
              fails=["test-sgd-step"], why="fancy-index -= keeps one update of a repeated row"),
        Wrong("ex-sgd-step",
              "def sgd_step(W_in, W_out, centers, contexts, negatives, lr):\n"
              "    loss, dv, du_pos, du_neg = sgns_loss_and_grads(W_in[centers], W_out[contexts], W_out[negatives])\n"
              "    np.add.at(W_in, centers, -lr * dv)\n    np.add.at(W_out, contexts, -lr * du_pos)\n"
              "    return loss\n",
              fails=["test-sgd-step"], why="forgets to update the negatives' vectors"),
        Wrong("ex-sgd-step",
              "def sgd_step(W_in, W_out, centers, contexts, negatives, lr):\n"
              "    loss, dv, du_pos, du_neg = sgns_loss_and_grads(W_in[centers], W_out[contexts], W_out[negatives])\n"
              "    np.add.at(W_in, centers, lr * dv)\n    np.add.at(W_out, contexts, lr * du_pos)\n"
              "    np.add.at(W_out, negatives, lr * du_neg)\n    return loss\n",
              fails=["test-sgd-step"], why="steps up the gradient (+ instead of -)"),
        Wrong("ex-analogy", analogy_code(exclude=False),
              fails=["test-analogy"], why="returns one of its input words (no exclusion of a, b, c)"),
        Wrong("ex-analogy", analogy_code(normalise=False),
              fails=["test-analogy"], why="raw dot products: no normalisation, long vectors win"),
        Wrong("ex-glove-weight",
              "def glove_weight(x, x_max=100.0, alpha=0.75):\n    return (x / x_max) ** alpha\n",
              fails=["test-glove-weight"], why="not capped at 1 above x_max"),
        Wrong("ex-glove-weight",
              "def glove_weight(x, x_max=100.0, alpha=0.75):\n    return np.minimum(1.0, (x / 100.0) ** 0.75)\n",
              fails=["test-glove-weight"], why="ignores the x_max and alpha arguments"),
    ]

    RIGHT = [
        Right("ex-cosine",
              "def cosine_similarities(E, x):\n    out = []\n    for row in E:\n"
              "        out.append(float(row @ x) / (np.sqrt(row @ row) * np.sqrt(x @ x)))\n"
              "    return np.array(out)\n",
              why="a loop over the rows, lengths by sqrt of dot products"),
        Right("ex-cooccurrence",
              "def cooccurrence(sentences, window, V):\n    C = np.zeros((V, V), dtype=int)\n"
              "    for ids in sentences:\n        for p in range(len(ids)):\n"
              "            for q in range(len(ids)):\n"
              "                if 1 <= abs(p - q) <= window:\n"
              "                    C[ids[p], ids[q]] += 1\n    return C\n",
              why="two loops over positions"),
        Right("ex-pairs",
              "def skipgram_pairs(ids, spans):\n    n, w = len(ids), int(max(spans, default=1))\n"
              "    offsets = np.array([o for o in range(-w, w + 1) if o != 0])\n"
              "    ctx = np.arange(n)[:, None] + offsets[None, :]\n"
              "    ok = (np.abs(offsets)[None, :] <= np.asarray(spans)[:, None]) & (ctx >= 0) & (ctx < n)\n"
              "    centers = np.nonzero(ok)[0]\n"
              "    return np.stack([ids[centers], ids[ctx[ok]]], axis=1)\n",
              why="vectorised with a boolean mask over offsets, in another order"),
        Right("ex-vocab",
              "def build_vocab(sentences, min_count):\n    from collections import Counter\n"
              "    c = Counter(w for s in sentences for w in s)\n"
              "    pairs = sorted(((-n, w) for w, n in c.items() if n >= min_count))\n"
              "    return [w for _, w in pairs], np.array([-n for n, _ in pairs])\n",
              why="Counter and a sort of (-count, word) tuples"),
        Right("ex-keep",
              "def keep_probability(counts, sample):\n"
              "    counts = np.asarray(counts, dtype=np.float32)\n    f = counts / counts.sum()\n"
              "    ratio = sample / f\n    return np.minimum(1.0, np.sqrt(ratio) + ratio)\n",
              why="float32 and the expanded form sqrt(t/f) + t/f"),
        Right("ex-noise",
              "def noise_distribution(counts, power=0.75):\n"
              "    w = np.exp(power * np.log(np.asarray(counts, dtype=float)))\n    return w / np.sum(w)\n",
              why="the power through exp and log"),
        Right("ex-sgns-loss",
              "def sgns_loss(v, u_pos, u_neg):\n    import math\n    total = 0.0\n"
              "    for b in range(len(v)):\n"
              "        total -= math.log(1 / (1 + math.exp(-float(u_pos[b] @ v[b]))))\n"
              "        for k in range(u_neg.shape[1]):\n"
              "            total -= math.log(1 / (1 + math.exp(float(u_neg[b, k] @ v[b]))))\n"
              "    return total\n",
              why="loops over pairs and negatives with math.log"),
        Right("ex-sgns-grads",
              "def sgns_gradients(v, u_pos, u_neg):\n"
              "    dv, du_pos, du_neg = np.zeros_like(v), np.zeros_like(u_pos), np.zeros_like(u_neg)\n"
              "    sig = lambda x: 1 / (1 + np.exp(-x))\n"
              "    for b in range(v.shape[0]):\n"
              "        e = sig(u_pos[b] @ v[b]) - 1\n"
              "        dv[b] += e * u_pos[b]\n        du_pos[b] = e * v[b]\n"
              "        for k in range(u_neg.shape[1]):\n"
              "            s = sig(u_neg[b, k] @ v[b])\n"
              "            dv[b] += s * u_neg[b, k]\n            du_neg[b, k] = s * v[b]\n"
              "    return dv, du_pos, du_neg\n",
              why="loops, accumulating into zeros_like (keeps float32)"),
        Right("ex-sgd-step",
              "def sgd_step(W_in, W_out, centers, contexts, negatives, lr):\n"
              "    loss, dv, du_pos, du_neg = sgns_loss_and_grads(W_in[centers], W_out[contexts], W_out[negatives])\n"
              "    for b in range(len(centers)):\n"
              "        W_in[centers[b]] -= lr * dv[b]\n        W_out[contexts[b]] -= lr * du_pos[b]\n"
              "        for k in range(negatives.shape[1]):\n"
              "            W_out[negatives[b, k]] -= lr * du_neg[b, k]\n"
              "    return loss\n",
              why="a loop over the pairs, with gradients taken before any update"),
        Right("ex-analogy",
              "def analogy(E, vocab, a, b, c):\n"
              "    unit = {w: E[i] / np.linalg.norm(E[i]) for w, i in vocab.index.items()}\n"
              "    target = unit[b] - unit[a] + unit[c]\n"
              "    candidates = [w for w in vocab.words if w not in (a, b, c)]\n"
              "    return max(candidates, key=lambda w: float(unit[w] @ target))\n",
              why="a dict of unit vectors and max over the candidates"),
        Right("ex-glove-weight",
              "def glove_weight(x, x_max=100.0, alpha=0.75):\n"
              "    x = np.asarray(x, dtype=float)\n"
              "    return np.where(x < x_max, (x / x_max) ** alpha, 1.0)\n",
              why="np.where instead of np.minimum"),
    ]
