"""Grading round trip of 10_gpt: plausible mistakes score 0, other correct answers full marks."""

from harness import Right, RoundTrip, Wrong

# --- correct answers reused inside wrong answers of multi-function cells ---------------------
CHAR_ENCODE_DECODE = """
def char_encode(text, chars):
    return [chars.index(c) for c in text]

def char_decode(ids, chars):
    return "".join(chars[i] for i in ids)
"""


class TestGPTRoundTrip(RoundTrip):
    assignment = "10_gpt"

    WRONG = [
        Wrong("ex-char-tokenizer",
              "def char_vocab(text):\n    return list(dict.fromkeys(text))\n" + CHAR_ENCODE_DECODE,
              fails=["test-char-tokenizer"],
              why="vocabulary in order of first appearance instead of sorted"),
        Wrong("ex-count-pairs",
              "def count_pairs(ids):\n    counts = {}\n"
              "    for pair in zip(ids[::2], ids[1::2]):\n"
              "        counts[pair] = counts.get(pair, 0) + 1\n    return counts\n",
              fails=["test-count-pairs"], why="counts only non-overlapping pairs (0-1, 2-3, ...)"),
        Wrong("ex-count-pairs",
              "def count_pairs(ids):\n    counts = {}\n"
              "    for pair in zip(ids, ids[1:]):\n"
              "        counts[pair] = counts.get(pair, 0) + 1\n    return dict(sorted(counts.items()))\n",
              fails=["test-count-pairs"], why="sorts the pairs, losing the order of first occurrence"),
        Wrong("ex-merge",
              "def merge(ids, pair, new_id):\n    out = []\n"
              "    for i in range(len(ids)):\n"
              "        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == tuple(pair):\n"
              "            out.append(new_id)\n"
              "        elif i > 0 and (ids[i - 1], ids[i]) == tuple(pair):\n"
              "            continue\n"
              "        else:\n            out.append(ids[i])\n    return out\n",
              fails=["test-merge"], why="does not skip overlapping pairs: [5, 5, 5] -> [9, 9]"),
        Wrong("ex-train-bpe",
              "def train_bpe(text, num_merges):\n    ids = list(text.encode('utf-8'))\n"
              "    merges = {}\n    for i in range(num_merges):\n        counts = count_pairs(ids)\n"
              "        if not counts:\n            break\n"
              "        pair = max(sorted(counts), key=counts.get)\n"
              "        ids = merge(ids, pair, 256 + i)\n        merges[pair] = 256 + i\n"
              "    return merges\n",
              fails=["test-train-bpe"], why="breaks ties by the smallest pair (sorted) instead of the first occurrence"),
        Wrong("ex-train-bpe",
              "def train_bpe(text, num_merges):\n    ids = list(text.encode('utf-8'))\n"
              "    merges = {}\n    counts = count_pairs(ids)\n"
              "    for i in range(num_merges):\n        if not counts:\n            break\n"
              "        pair = max(counts, key=counts.get)\n"
              "        ids = merge(ids, pair, 256 + i)\n        merges[pair] = 256 + i\n"
              "        del counts[pair]\n    return merges\n",
              fails=["test-train-bpe"], why="counts the pairs once, never after a merge"),
        Wrong("ex-bpe-encode",
              "def bpe_encode(text, merges):\n    ids = list(text.encode('utf-8'))\n"
              "    for pair, new_id in merges.items():\n        ids = merge(ids, pair, new_id)\n"
              "    return ids\n",
              fails=["test-bpe-encode"], why="applies the merges in dict order, not the order learned"),
        Wrong("ex-bigram",
              "def bigram_val_loss(train_ids, val_ids, vocab_size, alpha=0.1):\n"
              "    counts = np.full((vocab_size, vocab_size), float(alpha))\n"
              "    np.add.at(counts, (train_ids[:-1], train_ids[1:]), 1.0)\n"
              "    P = counts / counts.sum(axis=0, keepdims=True)\n"
              "    return float(-np.mean(np.log(P[val_ids[:-1], val_ids[1:]])))\n",
              fails=["test-bigram"], why="normalises the columns instead of the rows"),
        Wrong("ex-bigram",
              "def bigram_val_loss(train_ids, val_ids, vocab_size, alpha=0.1):\n"
              "    counts = np.zeros((vocab_size, vocab_size))\n"
              "    np.add.at(counts, (train_ids[:-1], train_ids[1:]), 1.0)\n"
              "    P = (counts + 1e-10) / (counts + 1e-10).sum(axis=1, keepdims=True)\n"
              "    return float(-np.mean(np.log(P[val_ids[:-1], val_ids[1:]])))\n",
              fails=["test-bigram"], why="ignores alpha (no smoothing)"),
        Wrong("ex-gpt-params",
              "def gpt_params(config):\n"
              "    V, T, C, L = config.vocab_size, config.block_size, config.d_model, config.num_layers\n"
              "    b = 1 if config.bias else 0\n"
              "    block = 2 * (C + b * C) + 4 * (C * C + b * C) + 8 * C * C + b * 5 * C\n"
              "    return 2 * V * C + T * C + L * block + C + b * C\n",
              fails=["test-gpt-params"], why="counts the tied head as a second V x C matrix"),
        Wrong("ex-gpt-params",
              "def gpt_params(config):\n"
              "    V, T, C, L = config.vocab_size, config.block_size, config.d_model, config.num_layers\n"
              "    return V * C + T * C + L * (2 * C + 12 * C * C) + C\n",
              fails=["test-gpt-params"], why="ignores bias=True and sinusoidal positions"),
        Wrong("ex-parallel-loss",
              "def parallel_next_token_loss(model, idx):\n"
              "    logits, _ = model(idx[:, :-1])\n    B, T, V = logits.shape\n"
              "    return F.cross_entropy(logits.reshape(B * T, V), idx[:, :-1].reshape(B * T))\n",
              fails=["test-parallel-loss"], why="off by one: predicts the current token, not the next"),
        Wrong("ex-parallel-loss",
              "def parallel_next_token_loss(model, idx):\n"
              "    logits, _ = model(idx[:, :-1])\n"
              "    return F.cross_entropy(logits[:, -1], idx[:, -1])\n",
              fails=["test-parallel-loss"], why="scores only the last position"),
        Wrong("ex-prefix-loss",
              "def prefix_next_token_loss(model, idx):\n    B, L = idx.shape\n    losses = []\n"
              "    for t in range(1, L):\n        logits, _ = model(idx[:, :t + 1])\n"
              "        losses.append(F.cross_entropy(logits[:, -1], idx[:, t]))\n"
              "    return torch.stack(losses).mean()\n",
              fails=["test-prefix-loss"], why="the prefix includes the token to predict"),
        Wrong("ex-prefix-loss",
              "def prefix_next_token_loss(model, idx):\n    B, L = idx.shape\n    losses = []\n"
              "    for t in range(1, L):\n        logits, _ = model(idx[:, :t])\n"
              "        losses.append(F.cross_entropy(logits[:, 0], idx[:, t]))\n"
              "    return torch.stack(losses).mean()\n",
              fails=["test-prefix-loss"], why="scores the first position of each prefix, not the last"),
        Wrong("ex-greedy",
              "def greedy_next(logits):\n    return torch.argmax(logits, dim=0)\n",
              fails=["test-greedy"], why="argmax over the batch axis"),
        Wrong("ex-temperature",
              "def apply_temperature(logits, temperature):\n    return logits * temperature\n",
              fails=["test-temperature"], why="multiplies by the temperature instead of dividing"),
        Wrong("ex-top-k",
              "def top_k_filter(logits, k):\n    if k >= logits.size(-1):\n        return logits.clone()\n"
              "    v, _ = torch.topk(logits, k, dim=-1)\n"
              "    return logits.masked_fill(logits < v[..., -1:], float('-inf'))\n",
              fails=["test-top-k"], why="nanoGPT's filter: keeps every token tied with the k-th (k+1 here)"),
        Wrong("ex-top-k",
              "def top_k_filter(logits, k):\n    if k >= logits.size(-1):\n        return logits.clone()\n"
              "    _, order = torch.sort(logits, dim=-1, descending=True, stable=True)\n"
              "    keep = torch.zeros_like(logits, dtype=torch.bool).scatter(-1, order[..., :k], True)\n"
              "    return logits.masked_fill(~keep, 0.0)\n",
              fails=["test-top-k"], why="sets dropped logits to 0, so the softmax does not renormalise over k"),
        Wrong("ex-top-p",
              "def top_p_filter(logits, p):\n    if p >= 1.0:\n        return logits.clone()\n"
              "    sorted_logits, order = torch.sort(logits, dim=-1, descending=True, stable=True)\n"
              "    cum = torch.cumsum(torch.softmax(sorted_logits, dim=-1), dim=-1)\n"
              "    keep_sorted = cum < p\n    keep_sorted[..., 0] = True\n"
              "    keep = torch.zeros_like(keep_sorted).scatter(-1, order, keep_sorted)\n"
              "    return logits.masked_fill(~keep, float('-inf'))\n",
              fails=["test-top-p"], why="excludes the token that crosses p"),
        Wrong("ex-top-p",
              "def top_p_filter(logits, p):\n    if p >= 1.0:\n        return logits.clone()\n"
              "    probs = torch.softmax(logits, dim=-1)\n"
              "    keep = torch.cumsum(probs, dim=-1) - probs < p\n"
              "    return logits.masked_fill(~keep, float('-inf'))\n",
              fails=["test-top-p"], why="accumulates in token order without sorting by probability"),
        Wrong("ex-beam",
              "def beam_search(next_log_probs, prefix, max_new_tokens, beam_size, eos_id=None):\n"
              "    beams = [(0.0, list(prefix))]\n"
              "    for _ in range(max_new_tokens):\n"
              "        cands = [(s + float(lp), seq + [t]) for s, seq in beams\n"
              "                 for t, lp in enumerate(next_log_probs(seq))]\n"
              "        cands.sort(key=lambda c: -c[0])\n"
              "        beams = [c for c in cands[:beam_size] if eos_id is None or c[1][-1] != eos_id]\n"
              "        if not beams:\n            return list(prefix), 0.0\n"
              "    score, seq = max(beams, key=lambda c: c[0])\n    return seq, score\n",
              fails=["test-beam"], why="drops finished beams instead of keeping them"),
        Wrong("ex-beam",
              "def beam_search(next_log_probs, prefix, max_new_tokens, beam_size, eos_id=None):\n"
              "    beams = [(0.0, list(prefix))]\n"
              "    for _ in range(max_new_tokens):\n"
              "        cands = []\n"
              "        for s, seq in beams:\n"
              "            lp = next_log_probs(seq)\n"
                            "            cands += [(s + float(lp[i]), seq + [i]) for i in torch.topk(lp, min(beam_size, len(lp))).indices.tolist()]\n"
              "        cands.sort(key=lambda c: -c[0])\n        beams = cands[:beam_size]\n"
              "    score, seq = max(beams, key=lambda c: c[0])\n    return seq, score\n",
              fails=["test-beam"], why="ignores the end token: finished beams are extended past eos"),
        Wrong("ex-kv-step",
              "def cached_attention_step(q_new, k_new, v_new, cache=None):\n"
              "    if cache is None:\n        K, V = k_new, v_new\n    else:\n"
              "        K = torch.cat([cache[0], k_new], dim=-1)\n"
              "        V = torch.cat([cache[1], v_new], dim=-1)\n"
              "    scores = q_new @ K.transpose(-2, -1) / math.sqrt(q_new.size(-1))\n"
              "    return torch.softmax(scores, dim=-1) @ V, (K, V)\n",
              fails=["test-kv-step"], why="appends the new key and value on the feature axis, not time"),
        Wrong("ex-kv-step",
              "def cached_attention_step(q_new, k_new, v_new, cache=None):\n"
              "    if cache is None:\n        K, V = k_new, v_new\n    else:\n"
              "        K = torch.cat([cache[0], k_new], dim=-2)\n"
              "        V = torch.cat([cache[1], v_new], dim=-2)\n"
              "    scores = q_new @ K.transpose(-2, -1)\n"
              "    return torch.softmax(scores, dim=-1) @ V, (K, V)\n",
              fails=["test-kv-step"], why="forgets the 1/sqrt(hs) scaling"),
        Wrong("ex-kv-memory",
              "def kv_cache_bytes(config, seq_len, batch_size=1, bytes_per_value=2):\n"
              "    return config.num_layers * batch_size * seq_len * config.d_model * bytes_per_value\n",
              fails=["test-kv-memory"], why="counts the keys but not the values"),
    ]

    RIGHT = [
        Right("ex-char-tokenizer",
              "def char_vocab(text):\n    chars = []\n    for c in text:\n"
              "        if c not in chars:\n            chars.append(c)\n    chars.sort()\n    return chars\n"
              + CHAR_ENCODE_DECODE,
              why="a loop, list.index and sort"),
        Right("ex-count-pairs",
              "from collections import Counter\n\n"
              "def count_pairs(ids):\n    return Counter(zip(ids, ids[1:]))\n",
              why="a Counter keeps the order of first occurrence"),
        Right("ex-merge",
              "def merge(ids, pair, new_id):\n    out, skip = [], False\n"
              "    for i, x in enumerate(ids):\n        if skip:\n            skip = False\n            continue\n"
              "        if i + 1 < len(ids) and (x, ids[i + 1]) == tuple(pair):\n"
              "            out.append(new_id)\n            skip = True\n"
              "        else:\n            out.append(x)\n    return out\n",
              why="a for loop with a skip flag"),
        Right("ex-train-bpe",
              "def train_bpe(text, num_merges):\n    ids = list(text.encode('utf-8'))\n    merges = {}\n"
              "    while len(merges) < num_merges and len(ids) > 1:\n"
              "        counts = count_pairs(ids)\n        best = max(counts.values())\n"
              "        pair = next(p for p, c in counts.items() if c == best)\n"
              "        merges[pair] = 256 + len(merges)\n        ids = merge(ids, pair, merges[pair])\n"
              "    return merges\n",
              why="a while loop and an explicit first-of-the-maxima search"),
        Right("ex-bpe-encode",
              "def bpe_encode(text, merges):\n    ids = list(text.encode('utf-8'))\n"
              "    while len(ids) >= 2:\n"
              "        pair = min(zip(ids, ids[1:]), key=lambda p: merges.get(p, float('inf')))\n"
              "        if pair not in merges:\n            break\n"
              "        ids = merge(ids, pair, merges[pair])\n    return ids\n",
              why="minbpe's loop: the present pair with the lowest rank, until none is left"),
        Right("ex-bigram",
              "def bigram_val_loss(train_ids, val_ids, vocab_size, alpha=0.1):\n"
              "    t = torch.as_tensor(np.asarray(train_ids)); v = torch.as_tensor(np.asarray(val_ids))\n"
              "    counts = torch.zeros(vocab_size * vocab_size, dtype=torch.float64)\n"
              "    counts.index_add_(0, t[:-1] * vocab_size + t[1:], torch.ones(len(t) - 1, dtype=torch.float64))\n"
              "    logp = torch.log_softmax(torch.log(counts.view(vocab_size, vocab_size) + alpha), dim=1)\n"
              "    return -logp[v[:-1], v[1:]].mean().item()\n",
              why="torch, flat indices and log_softmax of log counts"),
        Right("ex-gpt-params",
              "def gpt_params(config):\n"
              "    C, L = config.d_model, config.num_layers\n    b = int(config.bias)\n"
              "    def linear(n_in, n_out):\n        return n_in * n_out + b * n_out\n"
              "    def layer_norm():\n        return C + b * C\n"
              "    block = 2 * layer_norm() + 4 * linear(C, C) + linear(C, 4 * C) + linear(4 * C, C)\n"
              "    pos = config.block_size * C if config.positions == 'learned' else 0\n"
              "    return config.vocab_size * C + pos + L * block + layer_norm()\n",
              why="built from per-layer helper functions"),
        Right("ex-parallel-loss",
              "def parallel_next_token_loss(model, idx):\n"
              "    logits, _ = model(idx[:, :-1])\n"
              "    logp = torch.log_softmax(logits, dim=-1)\n"
              "    return -logp.gather(-1, idx[:, 1:].unsqueeze(-1)).mean()\n",
              why="log_softmax and gather instead of F.cross_entropy"),
        Right("ex-prefix-loss",
              "def prefix_next_token_loss(model, idx):\n    B, L = idx.shape\n    losses = []\n"
              "    for b in range(B):\n        for t in range(1, L):\n"
              "            logits, _ = model(idx[b:b + 1, :t])\n"
              "            losses.append(-torch.log_softmax(logits[0, -1], dim=-1)[idx[b, t]])\n"
              "    return torch.stack(losses).mean()\n",
              why="one sequence and one prefix at a time"),
        Right("ex-greedy",
              "def greedy_next(logits):\n"
              "    return torch.tensor([max(range(row.numel()), key=lambda i: (row[i].item(), -i)) for row in logits])\n",
              why="a Python max per row, lowest id on ties"),
        Right("ex-temperature",
              "def apply_temperature(logits, temperature):\n    return logits * (1.0 / temperature)\n",
              why="multiply by the inverse"),
        Right("ex-top-k",
              "def top_k_filter(logits, k):\n    out = logits.clone()\n"
              "    flat = out.reshape(-1, out.size(-1))\n"
              "    for row in flat:\n"
              "        order = sorted(range(row.numel()), key=lambda i: (-row[i].item(), i))\n"
              "        row[order[k:]] = float('-inf')\n"
              "    return flat.reshape(logits.shape)\n",
              why="a Python sort per row"),
        Right("ex-top-p",
              "def top_p_filter(logits, p):\n    out = logits.clone()\n"
              "    flat = out.reshape(-1, out.size(-1))\n"
              "    for row in flat:\n        probs = torch.softmax(row, dim=0)\n"
              "        order = sorted(range(row.numel()), key=lambda i: (-probs[i].item(), i))\n"
              "        total = 0.0\n"
              "        for i in order:\n            if total >= p:\n                row[i] = float('-inf')\n"
              "            total += probs[i].item()\n"
              "    return flat.reshape(logits.shape)\n",
              why="a Python loop per row with a running total"),
        Right("ex-beam",
              "def beam_search(next_log_probs, prefix, max_new_tokens, beam_size, eos_id=None):\n"
              "    seqs = torch.tensor([list(prefix)])\n"
              "    scores = torch.zeros(1, dtype=torch.float64)\n"
              "    done = []\n"
              "    for _ in range(max_new_tokens):\n"
              "        lp = torch.stack([next_log_probs(s.tolist()).double() for s in seqs])\n"
              "        V = lp.size(1)\n"
              "        cand = (scores[:, None] + lp).reshape(-1)\n"
              "        top_scores, top = torch.sort(cand, descending=True, stable=True)\n"
              "        top_scores, top = top_scores[:beam_size], top[:beam_size]\n"
              "        seqs = torch.cat([seqs[top // V], (top % V)[:, None]], dim=1)\n"
              "        ended = seqs[:, -1] == eos_id if eos_id is not None else torch.zeros(len(seqs), dtype=torch.bool)\n"
              "        done += [(float(s), q.tolist()) for s, q in zip(top_scores[ended], seqs[ended])]\n"
              "        seqs, scores = seqs[~ended], top_scores[~ended]\n"
              "        if len(seqs) == 0:\n            break\n"
              "    pool = done + [(float(s), q.tolist()) for s, q in zip(scores, seqs)]\n"
              "    best = max(pool, key=lambda c: c[0])\n"
              "    return best[1], best[0]\n",
              why="vectorised with tensors, as the library does"),
        Right("ex-kv-step",
              "def cached_attention_step(q_new, k_new, v_new, cache=None):\n"
              "    K = k_new if cache is None else torch.cat((cache[0], k_new), dim=2)\n"
              "    V = v_new if cache is None else torch.cat((cache[1], v_new), dim=2)\n"
              "    w = torch.softmax(torch.einsum('bhqd,bhkd->bhqk', q_new, K) * q_new.shape[-1] ** -0.5, dim=-1)\n"
              "    return torch.einsum('bhqk,bhkd->bhqd', w, V), (K, V)\n",
              why="einsum and dim=2"),
        Right("ex-kv-memory",
              "def kv_cache_bytes(config, seq_len, batch_size=1, bytes_per_value=2):\n"
              "    per_token_per_layer = 2 * config.num_heads * config.head_dim\n"
              "    return int(per_token_per_layer * config.num_layers * seq_len * batch_size * bytes_per_value)\n",
              why="per head: 2 x nh x hs"),
    ]
