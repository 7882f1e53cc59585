"""Grading round trip of 07_seq2seq_attention: plausible mistakes score 0, other correct answers full marks."""

from harness import Right, RoundTrip, Wrong


def weights_code(*, fill='float("-inf")', mask="src_pad_mask", dim=-1, zero_after=False):
    """attention_weights with one part changed: the shared skeleton of its wrong answers."""
    lines = ["def attention_weights(scores, src_pad_mask=None):"]
    if fill is not None:
        lines += ["    if src_pad_mask is not None:",
                  f"        scores = scores.masked_fill({mask}, {fill})"]
    lines.append(f"    w = torch.softmax(scores, dim={dim})")
    if zero_after:
        lines += ["    if src_pad_mask is not None:",
                  "        w = w.masked_fill(src_pad_mask, 0.0)"]
    lines.append("    return w")
    return "\n".join(lines) + "\n"


def step_code(*, query="new_state", context="context", mask="enc.src_pad_mask",
              cat="[new_state, context]", squash="torch.tanh"):
    """decoder_step with one part changed."""
    return f"""
def decoder_step(model, prev, state, enc):
    new_state = model.cell(model.embed(prev), state)
    scores = model.scorer({query}, enc.memory)
    context, weights = attend(scores, enc.memory, {mask})
    context = {context}
    attentional = {squash}(model.combine(torch.cat({cat}, dim=-1)))
    return model.out(attentional), new_state, weights
"""


def forced_code(*, prev="tgt_in[:, t]", start="enc.state", carry=True):
    """teacher_forced_logits with one part changed."""
    return f"""
def teacher_forced_logits(model, src, tgt_in):
    enc = model.encode(src)
    state, logits = {start}, []
    prev = tgt_in[:, 0]
    for t in range(tgt_in.size(1)):
        step_logits, new_state, _ = model.step({prev}, state, enc)
        if {carry}:
            state = new_state
        logits.append(step_logits)
        prev = step_logits.argmax(dim=-1)
    return torch.stack(logits, dim=1)
"""


def greedy_code(*, feed="out[:, -1]", pad_after=True, carry=True, dim=-1):
    """greedy with one part changed."""
    fill = ".masked_fill(done, PAD_ID)" if pad_after else ""
    return f"""
@torch.no_grad()
def greedy(model, src, max_len):
    enc = model.encode(src)
    B = src.size(0)
    out = torch.full((B, 1), BOS_ID, dtype=torch.long)
    state, done = enc.state, torch.zeros(B, dtype=torch.bool)
    for _ in range(max_len):
        logits, new_state, _ = model.step({feed}, state, enc)
        if {carry}:
            state = new_state
        next_id = logits.argmax(dim={dim}){fill}
        out = torch.cat([out, next_id[:, None]], dim=1)
        done |= next_id == EOS_ID
        if done.all():
            break
    return out
"""


def beam_code(*, total="scores[:, None] + log_probs", k="min(beam_size, k * V)",
              parent="flat // V", token="flat % V"):
    """beam_step with one part changed."""
    return f"""
def beam_step(scores, log_probs, beam_size):
    k, V = log_probs.shape
    total = {total}
    top_scores, flat = total.flatten().topk({k})
    return top_scores, {parent}, {token}
"""


class TestSeq2SeqAttentionRoundTrip(RoundTrip):
    assignment = "07_seq2seq_attention"

    WRONG = [
        # --- scores
        Wrong("ex-dot-scores", "def dot_scores(query, keys):\n    return (query[:, None, :] * keys).sum(dim=1)\n",
              fails=["test-dot-scores"], why="sums over the source positions instead of the hidden size"),
        Wrong("ex-dot-scores", 'def dot_scores(query, keys):\n    return torch.einsum("bh,csh->bs", query, keys)\n',
              fails=["test-dot-scores"], why="scores each query against every batch element's keys, summed"),
        Wrong("ex-dot-scores", "def dot_scores(query, keys):\n    return keys @ query.T\n",
              fails=["test-dot-scores"], why="a matrix product that mixes the batch: (B, S, B)"),
        # --- softmax weights
        Wrong("ex-attention-weights", weights_code(dim=0),
              fails=["test-attention-weights", "test-attention-weights-mask"],
              why="softmax over the batch axis instead of the source positions"),
        Wrong("ex-attention-weights",
              "def attention_weights(scores, src_pad_mask=None):\n"
              "    e = torch.exp(scores)\n"
              "    if src_pad_mask is not None:\n"
              "        e = e * ~src_pad_mask\n"
              "    return e / e.sum(dim=-1, keepdim=True)\n",
              fails=["test-attention-weights"], why="exp without subtracting the maximum: NaN for large scores"),
        Wrong("ex-attention-weights", weights_code(fill=None),
              fails=["test-attention-weights-mask"], why="padding not masked"),
        Wrong("ex-attention-weights", weights_code(mask="~src_pad_mask"),
              fails=["test-attention-weights-mask"], why="mask polarity flipped: the real positions are masked"),
        Wrong("ex-attention-weights", weights_code(fill="0.0"),
              fails=["test-attention-weights-mask"], why="padded scores set to 0 instead of -inf"),
        Wrong("ex-attention-weights", weights_code(fill=None, zero_after=True),
              fails=["test-attention-weights-mask"],
              why="padding zeroed after the softmax: the rows no longer sum to 1"),
        # --- context
        Wrong("ex-context", "def context_vector(weights, values):\n    return values.mean(dim=1)\n",
              fails=["test-context"], why="plain mean of the states: the weights are ignored"),
        Wrong("ex-context", "def context_vector(weights, values):\n    return values[:, -1]\n",
              fails=["test-context"], why="context from the last encoder state only (the bottleneck)"),
        Wrong("ex-context",
              "def context_vector(weights, values):\n    return (weights[..., None] * values).sum(dim=-1)\n",
              fails=["test-context"], why="sums over the hidden size instead of the source positions"),
        # --- general and additive
        Wrong("ex-general-scores",
              'def general_scores(query, keys, W):\n    return torch.einsum("bq,kq,bsk->bs", query, W, keys)\n',
              fails=["test-general-scores"], why="W transposed: query^T W^T keys_i"),
        Wrong("ex-general-scores",
              'def general_scores(query, keys, W):\n    return torch.einsum("bh,bsh->bs", query, keys)\n',
              fails=["test-general-scores"], why="W forgotten: the dot score"),
        Wrong("ex-additive-scores",
              "def additive_scores(query, keys, W_q, W_k, v):\n"
              "    return ((query @ W_q.T)[:, None, :] + keys @ W_k.T) @ v\n",
              fails=["test-additive-scores"], why="no tanh: a linear score"),
        Wrong("ex-additive-scores",
              "def additive_scores(query, keys, W_q, W_k, v):\n"
              "    return torch.tanh(((query @ W_q.T)[:, None, :] + keys @ W_k.T) @ v)\n",
              fails=["test-additive-scores"], why="tanh after the product with v"),
        Wrong("ex-additive-scores",
              "def additive_scores(query, keys, W_q, W_k, v):\n"
              "    return torch.tanh((query @ W_q.T)[:, None, :] * (keys @ W_k.T)) @ v\n",
              fails=["test-additive-scores"], why="multiplies the projections instead of adding them"),
        # --- decoder step
        Wrong("ex-decoder-step", step_code(query="state"),
              fails=["test-decoder-step"], why="scores the previous state s_{t-1} instead of the new one"),
        Wrong("ex-decoder-step", step_code(context="enc.memory[:, -1]"),
              fails=["test-decoder-step"], why="context from the last encoder state only"),
        Wrong("ex-decoder-step", step_code(mask="None"),
              fails=["test-decoder-step"], why="padding not masked"),
        Wrong("ex-decoder-step", step_code(cat="[context, new_state]"),
              fails=["test-decoder-step"], why="[context; s_t]: the concatenation in the wrong order"),
        Wrong("ex-decoder-step", step_code(squash=""),
              fails=["test-decoder-step"], why="no tanh on the attentional state"),
        # --- teacher forcing
        Wrong("ex-teacher-forcing", forced_code(prev="prev"),
              fails=["test-teacher-forcing"],
              why="decoder fed its own prediction where teacher forcing is asked"),
        Wrong("ex-teacher-forcing", forced_code(carry=False),
              fails=["test-teacher-forcing"], why="the state is not carried: every step starts from s_0"),
        Wrong("ex-teacher-forcing", forced_code(start="torch.zeros_like(enc.state)"),
              fails=["test-teacher-forcing"], why="starts from zeros instead of the encoder's s_0"),
        # --- greedy
        Wrong("ex-greedy", greedy_code(feed="out[:, 0]"),
              fails=["test-greedy"], why="decoder not fed its previous output (BOS at every step)"),
        Wrong("ex-greedy", greedy_code(pad_after=False),
              fails=["test-greedy"], why="rows keep writing after their EOS"),
        Wrong("ex-greedy", greedy_code(carry=False),
              fails=["test-greedy"], why="the state is not carried from step to step"),
        Wrong("ex-greedy", greedy_code(dim=0),
              fails=["test-greedy"], why="argmax over the batch instead of the vocabulary"),
        # --- beam search
        Wrong("ex-beam-step", beam_code(k="1"),
              fails=["test-beam-step"], why="keeps only one hypothesis"),
        Wrong("ex-beam-step", beam_code(total="log_probs + 0 * scores[:, None]"),
              fails=["test-beam-step"], why="forgets to add the prefixes' log-probabilities"),
        Wrong("ex-beam-step", beam_code(total="scores[:, None] * log_probs"),
              fails=["test-beam-step"], why="multiplies log-probabilities instead of adding them"),
        Wrong("ex-beam-step", beam_code(parent="flat // k", token="flat % k"),
              fails=["test-beam-step"], why="flat index split by k instead of V"),
        Wrong("ex-beam-step",
              "def beam_step(scores, log_probs, beam_size):\n"
              "    best, tokens = log_probs.max(dim=-1)\n"
              "    total = scores + best\n"
              "    top, parents = total.topk(min(beam_size, total.numel()))\n"
              "    return top, parents, tokens[parents]\n",
              fails=["test-beam-step"], why="one extension per prefix (greedy inside the beam)"),
        Wrong("ex-best-hypothesis",
              "def best_hypothesis(finished, alpha):\n    return max(finished, key=lambda p: p[0])[1]\n",
              fails=["test-best-hypothesis"], why="scores not length-normalised where asked"),
        Wrong("ex-best-hypothesis",
              "def best_hypothesis(finished, alpha):\n    return max(finished, key=lambda p: p[0] / len(p[1]))[1]\n",
              fails=["test-best-hypothesis"], why="always divides by the length: alpha ignored"),
        Wrong("ex-best-hypothesis",
              "def best_hypothesis(finished, alpha):\n"
              "    return min(finished, key=lambda p: p[0] / len(p[1]) ** alpha)[1]\n",
              fails=["test-best-hypothesis"], why="the lowest score instead of the highest"),
        # --- accuracy by length
        Wrong("ex-accuracy-by-length",
              "def accuracy_by_length(lengths, correct, edges):\n"
              "    lengths, correct = np.asarray(lengths), np.asarray(correct, dtype=float)\n"
              "    return np.array([correct[(lengths > a) & (lengths <= b)].mean() if ((lengths > a) & (lengths <= b)).any()\n"
              "                     else np.nan for a, b in zip(edges[:-1], edges[1:])])\n",
              fails=["test-accuracy-by-length"], why="bins (e_j, e_{j+1}] instead of [e_j, e_{j+1})"),
        Wrong("ex-accuracy-by-length",
              "def accuracy_by_length(lengths, correct, edges):\n"
              "    lengths, correct = np.asarray(lengths), np.asarray(correct, dtype=float)\n"
              "    out = np.zeros(len(edges) - 1)\n"
              "    for j in range(len(edges) - 1):\n"
              "        inside = (lengths >= edges[j]) & (lengths < edges[j + 1])\n"
              "        out[j] = correct[inside].sum() / max(inside.sum(), 1)\n"
              "    return out\n",
              fails=["test-accuracy-by-length"], why="an empty bin scores 0 instead of NaN"),
    ]

    RIGHT = [
        Right("ex-dot-scores",
              "def dot_scores(query, keys):\n    return torch.bmm(keys, query.unsqueeze(-1)).squeeze(-1)\n",
              why="bmm instead of einsum"),
        Right("ex-attention-weights",
              "def attention_weights(scores, src_pad_mask=None):\n"
              "    B, S = scores.shape\n"
              "    out = torch.zeros_like(scores)\n"
              "    for b in range(B):\n"
              "        keep = [i for i in range(S) if src_pad_mask is None or not src_pad_mask[b, i]]\n"
              "        e = scores[b, keep]\n"
              "        e = torch.exp(e - e.max())\n"
              "        out[b, keep] = e / e.sum()\n"
              "    return out\n",
              why="loops, a stable exp by hand, the real positions only"),
        Right("ex-context",
              "def context_vector(weights, values):\n    return (weights.unsqueeze(-1) * values).sum(dim=1)\n",
              why="broadcast and sum"),
        Right("ex-general-scores",
              "def general_scores(query, keys, W):\n"
              "    return (keys @ (query @ W).unsqueeze(-1)).squeeze(-1)\n",
              why="(query^T W) first, then a batched product"),
        Right("ex-additive-scores",
              "def additive_scores(query, keys, W_q, W_k, v):\n"
              '    hidden = torch.tanh(torch.einsum("aq,bq->ba", W_q, query)[:, None, :] '
              '+ torch.einsum("ak,bsk->bsa", W_k, keys))\n'
              '    return torch.einsum("bsa,a->bs", hidden, v)\n',
              why="einsum, vectorised over the positions"),
        Right("ex-decoder-step",
              "def decoder_step(model, prev, state, enc):\n"
              "    s = model.cell(model.embed(prev), state)\n"
              "    e = model.scorer(s, enc.memory).masked_fill(enc.src_pad_mask, float('-inf'))\n"
              "    w = torch.softmax(e, dim=1)\n"
              "    c = torch.einsum('bs,bsh->bh', w, enc.memory)\n"
              "    H = s.size(1)\n"
              "    W = model.combine.weight\n"
              "    h = torch.tanh(s @ W[:, :H].T + c @ W[:, H:].T + model.combine.bias)\n"
              "    return h @ model.out.weight.T + model.out.bias, s, w\n",
              why="its own masked softmax, and the concatenation as two products"),
        Right("ex-teacher-forcing",
              "def teacher_forced_logits(model, src, tgt_in):\n"
              "    enc = model.encode(src)\n"
              "    B, T = tgt_in.shape\n"
              "    out = None\n"
              "    state = enc.state\n"
              "    for t in range(T):\n"
              "        logits, state, _ = model.step(tgt_in[:, t], state, enc)\n"
              "        if out is None:\n"
              "            out = logits.new_zeros(B, T, logits.size(-1))\n"
              "        out[:, t] = logits\n"
              "    return out\n",
              why="fills a preallocated tensor"),
        Right("ex-greedy",
              "@torch.no_grad()\n"
              "def greedy(model, src, max_len):\n"
              "    enc = model.encode(src)\n"
              "    B = src.size(0)\n"
              "    rows = [[BOS_ID] for _ in range(B)]\n"
              "    state = enc.state\n"
              "    prev = torch.full((B,), BOS_ID)\n"
              "    for _ in range(max_len):  # all max_len steps, no early stop\n"
              "        logits, state, _ = model.step(prev, state, enc)\n"
              "        prev = logits.argmax(dim=1)\n"
              "        for b in range(B):\n"
              "            ended = EOS_ID in rows[b]\n"
              "            rows[b].append(PAD_ID if ended else int(prev[b]))\n"
              "    return torch.tensor(rows, dtype=torch.long)\n",
              why="Python lists, every row decoded for all max_len steps"),
        Right("ex-beam-step",
              "def beam_step(scores, log_probs, beam_size):\n"
              "    k, V = log_probs.shape\n"
              "    cands = sorted(((float(scores[i] + log_probs[i, j]), i, j) for i in range(k) for j in range(V)),\n"
              "                   reverse=True)[:beam_size]\n"
              "    return (torch.tensor([c[0] for c in cands], dtype=log_probs.dtype),\n"
              "            torch.tensor([c[1] for c in cands]), torch.tensor([c[2] for c in cands]))\n",
              why="all k * V candidates sorted in Python"),
        Right("ex-best-hypothesis",
              "def best_hypothesis(finished, alpha):\n"
              "    import numpy as np\n"
              "    s = np.array([lp for lp, _ in finished]) / np.array([len(t) for _, t in finished], dtype=float) ** alpha\n"
              "    return finished[int(np.argmax(s))][1]\n",
              why="NumPy arrays and argmax"),
        Right("ex-accuracy-by-length",
              "def accuracy_by_length(lengths, correct, edges):\n"
              "    bins = np.digitize(lengths, edges) - 1\n"
              "    correct = np.asarray(correct, dtype=np.float32)\n"
              "    out = []\n"
              "    for j in range(len(edges) - 1):\n"
              "        sel = correct[bins == j]\n"
              "        out.append(sel.mean() if len(sel) else float('nan'))\n"
              "    return np.array(out, dtype=np.float64)\n",
              why="np.digitize, float32 sums"),
    ]
