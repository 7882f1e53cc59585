"""Grading round trip of 09_transformer: plausible mistakes score 0, other correct answers full marks."""

from harness import Right, RoundTrip, Wrong

# --- skeletons shared by several answers ---------------------------------------------------------
DECODER_INIT = """
class MyDecoderLayer(nn.Module):
    def __init__(self, d_model, num_heads, d_ff):
        super().__init__()
        self.norm1 = LayerNorm(d_model)
        self.self_attn = MultiHeadAttention(d_model, num_heads)
        self.norm2 = LayerNorm(d_model)
        self.cross_attn = MultiHeadAttention(d_model, num_heads)
        self.norm3 = LayerNorm(d_model)
        self.ff = FeedForward(d_model, d_ff)
"""


def decoder_forward(cross="self.cross_attn(self.norm2(x), memory, memory, memory_mask)[0]"):
    """A decoder layer whose cross-attention line is ``cross``."""
    return DECODER_INIT + (
        "    def forward(self, x, memory, tgt_mask=None, memory_mask=None):\n"
        "        h = self.norm1(x)\n"
        "        x = x + self.self_attn(h, h, h, tgt_mask)[0]\n"
        f"        x = x + {cross}\n"
        "        return x + self.ff(self.norm3(x))\n")


def label_smoothing_code(*, nll_weight="(1 - smoothing)", smooth="smoothing * (-log_probs.mean(dim=-1))",
                         mean="loss[keep].sum() / keep.sum()"):
    return ("def label_smoothed_loss(logits, targets, smoothing, pad_id=PAD_ID):\n"
            "    log_probs = F.log_softmax(logits, dim=-1)\n"
            "    nll = -log_probs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)\n"
            f"    loss = {nll_weight} * nll + {smooth}\n"
            "    keep = targets != pad_id\n"
            f"    return {mean}\n")


def train_step_code(*, inputs="batch.src, batch.tgt_in", targets="batch.tgt_out", zero=True, clip="before"):
    lines = ["def train_step(model, optimizer, batch, smoothing=0.1, clip=1.0):",
             "    model.train()",
             f"    logits = model({inputs})",
             f"    loss = F.cross_entropy(logits.flatten(0, 1), {targets}.flatten(), ignore_index=PAD_ID,",
             "                           label_smoothing=smoothing)"]
    if zero:
        lines.append("    optimizer.zero_grad()")
    lines.append("    loss.backward()")
    clip_line = "    torch.nn.utils.clip_grad_norm_(model.parameters(), clip)"
    if clip == "before":
        lines.append(clip_line)
    lines.append("    optimizer.step()")
    if clip == "after":
        lines.append(clip_line)
    lines.append("    return loss.item()")
    return "\n".join(lines) + "\n"


def greedy_code(*, position="-1", ban=True, pad_after_eos=True, stop_early=True):
    lines = ["@torch.no_grad()",
             "def greedy(model, src, max_len):",
             "    src_pad_mask = src == PAD_ID",
             "    memory = model.encode(src, src_pad_mask)",
             "    out = torch.full((src.size(0), 1), BOS_ID, dtype=torch.long)",
             "    done = torch.zeros(src.size(0), dtype=torch.bool)",
             "    for _ in range(max_len):",
             f"        logits = model.decode(out, memory, src_pad_mask)[:, {position}]"]
    if ban:
        lines.append("        logits[:, [PAD_ID, BOS_ID]] = float('-inf')")
    lines.append("        next_id = logits.argmax(dim=-1)")
    if pad_after_eos:
        lines.append("        next_id = next_id.masked_fill(done, PAD_ID)")
    lines += ["        out = torch.cat([out, next_id[:, None]], dim=1)",
              "        done |= next_id == EOS_ID"]
    if stop_early:
        lines += ["        if done.all():", "            break"]
    lines.append("    return out")
    return "\n".join(lines) + "\n"


def beam_code(*, rank="scores[:, None] + log_probs", finish=True, final="pair[0]"):
    """A beam search with one part changed: candidates ranked by ``rank``, EOS ``finish``-ed or
    not, the final choice by ``final`` (of a (score, seq) pair)."""
    lines = ["@torch.no_grad()",
             "def beam_search_one(model, src, beam_size, max_len):",
             "    src = src[None]",
             "    src_pad_mask = src == PAD_ID",
             "    memory = model.encode(src, src_pad_mask)",
             "    beams = torch.full((1, 1), BOS_ID, dtype=torch.long)",
             "    scores = torch.zeros(1, dtype=torch.float64)",
             "    finished = []",
             "    for _ in range(max_len):",
             "        k = beams.size(0)",
             "        logits = model.decode(beams, memory.expand(k, -1, -1), src_pad_mask.expand(k, -1))[:, -1]",
             "        log_probs = F.log_softmax(logits, dim=-1)",
             "        log_probs[:, [PAD_ID, BOS_ID]] = float('-inf')",
             "        V = log_probs.size(1)",
             "        total = (scores[:, None] + log_probs).flatten()",
             f"        rank = ({rank}).flatten()",
             "        _, top = rank.topk(min(beam_size, rank.numel()))",
             "        top_scores = total[top]",
             "        keep = torch.isfinite(top_scores)",
             "        top_scores, top = top_scores[keep], top[keep]",
             "        beams = torch.cat([beams[top // V], (top % V)[:, None]], dim=1)"]
    if finish:
        lines += ["        ended = beams[:, -1] == EOS_ID",
                  "        finished += list(zip(top_scores[ended].tolist(), beams[ended].tolist()))",
                  "        beams, scores = beams[~ended], top_scores[~ended]"]
    else:
        lines.append("        scores = top_scores")
    lines += ["        if beams.size(0) == 0:",
              "            break",
              "    pool = finished + list(zip(scores.tolist(), beams.tolist()))",
              f"    return max(pool, key=lambda pair: {final})[1]"]
    return "\n".join(lines) + "\n"


def hooks_code(*, module="cross_attn", remove="finally", stack="torch.stack(maps)"):
    lines = ["@torch.no_grad()",
             "def cross_attention_maps(model, src, dec_in):",
             "    maps = []",
             f"    hooks = [getattr(layer, '{module}').register_forward_hook("
             "lambda m, i, o: maps.append(o[1])) for layer in model.decoder]"]
    if remove == "finally":
        lines += ["    try:", "        logits = model(src, dec_in)", "    finally:",
                  "        for h in hooks:", "            h.remove()"]
    elif remove == "after":
        lines += ["    logits = model(src, dec_in)", "    for h in hooks:", "        h.remove()"]
    else:
        lines.append("    logits = model(src, dec_in)")
    lines.append(f"    return logits, {stack}")
    return "\n".join(lines) + "\n"


class TestTransformerRoundTrip(RoundTrip):
    assignment = "09_transformer"

    WRONG = [
        Wrong("ex-teacher-forcing",
              "def teacher_forcing(targets, bos_id=BOS_ID, eos_id=EOS_ID, pad_id=PAD_ID):\n"
              "    full = [torch.tensor([bos_id, *y, eos_id]) for y in targets]\n"
              "    tgt = nn.utils.rnn.pad_sequence(full, batch_first=True, padding_value=pad_id)\n"
              "    return tgt[:, 1:], tgt[:, :-1]\n",
              fails=["test-teacher-forcing"], why="shifted the wrong way: the target starts with BOS"),
        Wrong("ex-teacher-forcing",
              "def teacher_forcing(targets, bos_id=BOS_ID, eos_id=EOS_ID, pad_id=PAD_ID):\n"
              "    full = [torch.tensor([bos_id, *y]) for y in targets]\n"
              "    tgt = nn.utils.rnn.pad_sequence(full, batch_first=True, padding_value=pad_id)\n"
              "    return tgt[:, :-1], tgt[:, 1:]\n",
              fails=["test-teacher-forcing"], why="no EOS: the model never learns to stop"),
        Wrong("ex-teacher-forcing",
              "def teacher_forcing(targets, bos_id=BOS_ID, eos_id=EOS_ID, pad_id=PAD_ID):\n"
              "    full = [torch.tensor([bos_id, *y, eos_id]) for y in targets]\n"
              "    tgt = nn.utils.rnn.pad_sequence(full, batch_first=True, padding_value=pad_id)\n"
              "    return tgt, tgt\n",
              fails=["test-teacher-forcing"], why="no shift: the decoder would copy its input"),
        Wrong("ex-masks",
              "def decoder_masks(src, dec_in, pad_id=PAD_ID):\n"
              "    T = dec_in.size(1)\n"
              "    tgt_mask = (dec_in != pad_id).unsqueeze(1).expand(-1, T, T)\n"
              "    return tgt_mask, (src != pad_id).unsqueeze(1)\n",
              fails=["test-masks"], why="no causal mask: the decoder sees the tokens it must predict"),
        Wrong("ex-masks",
              "def decoder_masks(src, dec_in, pad_id=PAD_ID):\n"
              "    T = dec_in.size(1)\n"
              "    causal = torch.triu(torch.ones(T, T, dtype=torch.bool))\n"
              "    return causal & (dec_in != pad_id).unsqueeze(1), (src != pad_id).unsqueeze(1)\n",
              fails=["test-masks"], why="upper triangle: every position sees the future"),
        Wrong("ex-masks",
              "def decoder_masks(src, dec_in, pad_id=PAD_ID):\n"
              "    T = dec_in.size(1)\n"
              "    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))\n"
              "    return causal & (dec_in != pad_id).unsqueeze(1), (dec_in != pad_id).unsqueeze(1)\n",
              fails=["test-masks"], why="cross-attention mask from the target's padding, not the source's"),
        Wrong("ex-decoder-layer",
              DECODER_INIT + "    def forward(self, x, memory, tgt_mask=None, memory_mask=None):\n"
              "        x = self.norm1(x + self.self_attn(x, x, x, tgt_mask)[0])\n"
              "        x = self.norm2(x + self.cross_attn(x, memory, memory, memory_mask)[0])\n"
              "        return self.norm3(x + self.ff(x))\n",
              fails=["test-decoder-layer"], why="post-LN (the 2017 layout) instead of pre-LN"),
        Wrong("ex-decoder-layer",
              decoder_forward("self.cross_attn(self.norm2(x), self.norm2(x), self.norm2(x), memory_mask)[0]"),
              fails=["test-decoder-layer"], why="keys and values from the target: never looks at the source"),
        Wrong("ex-decoder-layer",
              decoder_forward("self.cross_attn(memory, self.norm2(x), self.norm2(x), memory_mask)[0]"),
              fails=["test-decoder-layer"], why="queries from the memory, keys and values from the target"),
        Wrong("ex-decoder-layer",
              decoder_forward("self.cross_attn(self.norm2(x), self.norm2(memory), self.norm2(memory), "
                              "memory_mask)[0]"),
              fails=["test-decoder-layer"], why="normalises the memory again with norm2"),
        Wrong("ex-decoder-layer",
              decoder_forward("self.cross_attn(self.norm2(x), memory, memory)[0]"),
              fails=["test-decoder-layer"], why="ignores memory_mask: attends to source padding"),
        Wrong("ex-label-smoothing", label_smoothing_code(mean="loss.mean()"),
              fails=["test-label-smoothing"], why="averages over the padded positions too"),
        Wrong("ex-label-smoothing", label_smoothing_code(nll_weight="1.0"),
              fails=["test-label-smoothing"], why="forgets the 1 - eps on the correct token"),
        Wrong("ex-label-smoothing",
              label_smoothing_code(smooth="smoothing * (-log_probs.sum(dim=-1) - nll) / (logits.size(-1) - 1)"),
              fails=["test-label-smoothing"], why="spreads eps over the V - 1 wrong tokens only (not torch's rule)"),
        Wrong("ex-train-step", train_step_code(zero=False),
              fails=["test-train-step"], why="no zero_grad: gradients pile up across steps"),
        Wrong("ex-train-step", train_step_code(clip="none"),
              fails=["test-train-step"], why="no gradient clipping"),
        Wrong("ex-train-step", train_step_code(clip="after"),
              fails=["test-train-step"], why="clips after the step: too late to matter"),
        Wrong("ex-train-step", train_step_code(inputs="batch.src, batch.tgt", targets="batch.tgt"),
              fails=["test-train-step"], why="no teacher-forcing shift: predicts the token it is given"),
        Wrong("ex-greedy", greedy_code(position="0"),
              fails=["test-greedy"], why="reads the first position's logits instead of the last"),
        Wrong("ex-greedy", greedy_code(ban=False),
              fails=["test-greedy"], why="may pick PAD or BOS as the next token"),
        Wrong("ex-greedy", greedy_code(pad_after_eos=False),
              fails=["test-greedy"], why="keeps writing after EOS"),
        Wrong("ex-greedy", greedy_code(stop_early=False),
              fails=["test-greedy"], why="always runs max_len steps, even when every row is done"),
        Wrong("ex-beam", beam_code(rank="log_probs + 0 * scores[:, None]"),
              fails=["test-beam"], why="ranks the candidates by the last token's log-probability only"),
        Wrong("ex-beam", beam_code(finish=False),
              fails=["test-beam"], why="finished beams keep being extended past EOS"),
        Wrong("ex-beam", beam_code(final="pair[0] / len(pair[1])"),
              fails=["test-beam"], why="length-normalised final choice (the task says plain sums)"),
        Wrong("ex-edit-distance",
              "def edit_distance(a, b):\n"
              "    D = [[i + j if i == 0 or j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]\n"
              "    for i in range(1, len(a) + 1):\n        for j in range(1, len(b) + 1):\n"
              "            D[i][j] = min(D[i - 1][j] + 1, D[i][j - 1] + 1,\n"
              "                          D[i - 1][j - 1] + 2 * (a[i - 1] != b[j - 1]))\n"
              "    return D[-1][-1]\n",
              fails=["test-edit-distance"], why="a substitution costs 2 (insertion + deletion)"),
        Wrong("ex-edit-distance",
              "def edit_distance(a, b):\n"
              "    D = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]\n"
              "    for i in range(1, len(a) + 1):\n        for j in range(1, len(b) + 1):\n"
              "            D[i][j] = min(D[i - 1][j] + 1, D[i][j - 1] + 1,\n"
              "                          D[i - 1][j - 1] + (a[i - 1] != b[j - 1]))\n"
              "    return D[-1][-1]\n",
              fails=["test-edit-distance"], why="first row and column left at 0"),
        Wrong("ex-edit-distance",
              "def edit_distance(a, b):\n"
              "    return sum(x != y for x, y in zip(a, b)) + abs(len(a) - len(b))\n",
              fails=["test-edit-distance"], why="position by position (Hamming) plus the length difference"),
        Wrong("ex-error-rates",
              "def error_rates(predictions, references):\n"
              "    exact = np.mean([list(p) == list(r) for p, r in zip(predictions, references)])\n"
              "    rate = np.mean([edit_distance(p, r) / len(r) for p, r in zip(predictions, references)])\n"
              "    return exact, rate\n",
              fails=["test-error-rates"], why="the mean of per-sequence rates, not total over total"),
        Wrong("ex-error-rates",
              "def error_rates(predictions, references):\n"
              "    exact = np.mean([list(p) == list(r) for p, r in zip(predictions, references)])\n"
              "    edits = sum(edit_distance(p, r) for p, r in zip(predictions, references))\n"
              "    return exact, edits / sum(len(p) for p in predictions)\n",
              fails=["test-error-rates"], why="divides by the predictions' lengths"),
        Wrong("ex-cross-attention", hooks_code(module="self_attn"),
              fails=["test-cross-attention"], why="hooks the decoder's self-attention"),
        Wrong("ex-cross-attention", hooks_code(remove="never"),
              fails=["test-cross-attention"], why="leaves its hooks registered"),
        Wrong("ex-cross-attention", hooks_code(remove="after"),
              fails=["test-cross-attention"], why="removes its hooks, but not when the forward pass fails"),
        Wrong("ex-cross-attention", hooks_code(stack="maps[-1]"),
              fails=["test-cross-attention"], why="returns the last layer's weights only"),
        Wrong("ex-cross-attention", hooks_code(stack="torch.stack(maps).mean(dim=2)"),
              fails=["test-cross-attention"], why="averages the heads"),
    ]

    RIGHT = [
        Right("ex-teacher-forcing",
              "def teacher_forcing(targets, bos_id=BOS_ID, eos_id=EOS_ID, pad_id=PAD_ID):\n"
              "    full = [torch.tensor([bos_id, *y, eos_id]) for y in targets]\n"
              "    tgt = nn.utils.rnn.pad_sequence(full, batch_first=True, padding_value=pad_id)\n"
              "    return tgt[:, :-1], tgt[:, 1:]\n",
              why="pad first, then slice (dec_in keeps EOS where the target is padding)"),
        Right("ex-masks",
              "def decoder_masks(src, dec_in, pad_id=PAD_ID):\n"
              "    i = torch.arange(dec_in.size(1))\n"
              "    causal = i[:, None] >= i[None, :]\n"
              "    keys = dec_in.ne(pad_id)[:, None, :]\n"
              "    return causal[None, :, :] & keys, src.ne(pad_id)[:, None, :]\n",
              why="integer comparison instead of tril, explicit indexing instead of unsqueeze"),
        Right("ex-decoder-layer",
              DECODER_INIT + "    def forward(self, x, memory, tgt_mask=None, memory_mask=None):\n"
              "        q = self.norm1(x)\n"
              "        attended, _ = self.self_attn(query=q, key=q, value=q, mask=tgt_mask)\n"
              "        y = x + attended\n"
              "        read, _ = self.cross_attn(self.norm2(y), memory, memory, mask=memory_mask)\n"
              "        z = read + y\n"
              "        return z + self.ff(self.norm3(z))\n",
              why="keyword arguments, tuple unpacking, new names for the stream"),
        Right("ex-label-smoothing",
              "def label_smoothed_loss(logits, targets, smoothing, pad_id=PAD_ID):\n"
              "    V = logits.size(-1)\n"
              "    q = torch.full_like(logits, smoothing / V)\n"
              "    q.scatter_add_(-1, targets.unsqueeze(-1), torch.full_like(logits[..., :1], 1 - smoothing))\n"
              "    per_position = -(q * torch.log_softmax(logits, dim=-1)).sum(dim=-1)\n"
              "    weight = (targets != pad_id).to(per_position.dtype)\n"
              "    return (per_position * weight).sum() / weight.sum()\n",
              why="the smoothed target distribution q, written out, and a 0/1 weight for padding"),
        Right("ex-train-step",
              "def train_step(model, optimizer, batch, smoothing=0.1, clip=1.0):\n"
              "    model.train()\n"
              "    src, tgt = batch\n"
              "    with runtime.autocast(src.device):\n"
              "        logits = model(src, tgt[:, :-1])\n"
              "        loss = label_smoothed_loss(logits, tgt[:, 1:], smoothing)\n"
              "    model.zero_grad(set_to_none=True)\n"
              "    loss.backward()\n"
              "    torch.nn.utils.clip_grad_norm_(list(model.parameters()), max_norm=clip)\n"
              "    optimizer.step()\n"
              "    return float(loss)\n",
              why="unpacks the batch, own loss function, model.zero_grad"),
        Right("ex-greedy",
              "@torch.no_grad()\n"
              "def greedy(model, src, max_len):\n"
              "    B = src.size(0)\n"
              "    rows = [[BOS_ID] for _ in range(B)]\n"
              "    finished = [False] * B\n"
              "    for _ in range(max_len):\n"
              "        out = torch.tensor(rows)\n"
              "        logits = model(src, out)[:, -1].clone()\n"
              "        logits[:, PAD_ID] = -math.inf\n"
              "        logits[:, BOS_ID] = -math.inf\n"
              "        best = logits.argmax(dim=-1).tolist()\n"
              "        for b in range(B):\n"
              "            rows[b].append(PAD_ID if finished[b] else best[b])\n"
              "            finished[b] = finished[b] or best[b] == EOS_ID\n"
              "        if all(finished):\n"
              "            break\n"
              "    return torch.tensor(rows)\n",
              why="the whole model (re-encoding) at every step, Python lists per row"),
        Right("ex-beam",
              "@torch.no_grad()\n"
              "def beam_search_one(model, src, beam_size, max_len):\n"
              "    memory = model.encode(src[None])\n"
              "    no_pad = torch.zeros(1, src.size(0), dtype=torch.bool)\n"
              "    beams = [(0.0, [BOS_ID])]\n"
              "    finished = []\n"
              "    for _ in range(max_len):\n"
              "        candidates = []\n"
              "        for score, seq in beams:\n"
              "            logits = model.decode(torch.tensor([seq]), memory, no_pad)[0, -1]\n"
              "            log_probs = torch.log_softmax(logits, dim=-1).tolist()\n"
              "            for token, lp in enumerate(log_probs):\n"
              "                if token not in (PAD_ID, BOS_ID):\n"
              "                    candidates.append((score + lp, seq + [token]))\n"
              "        candidates.sort(key=lambda c: -c[0])\n"
              "        beams = []\n"
              "        for score, seq in candidates[:beam_size]:\n"
              "            (finished if seq[-1] == EOS_ID else beams).append((score, seq))\n"
              "        if not beams:\n"
              "            break\n"
              "    best_score, best_seq = -math.inf, None\n"
              "    for score, seq in finished + beams:\n"
              "        if score > best_score:\n"
              "            best_score, best_seq = score, seq\n"
              "    return best_seq\n",
              why="lists of (score, sequence) and a sort, one beam at a time, no topk"),
        Right("ex-edit-distance",
              "def edit_distance(a, b):\n"
              "    from functools import lru_cache\n"
              "    a, b = tuple(a), tuple(b)\n"
              "    @lru_cache(maxsize=None)\n"
              "    def d(i, j):\n"
              "        if min(i, j) == 0:\n"
              "            return max(i, j)\n"
              "        return min(d(i - 1, j) + 1, d(i, j - 1) + 1, d(i - 1, j - 1) + int(a[i - 1] != b[j - 1]))\n"
              "    return d(len(a), len(b))\n",
              why="memoised recursion instead of a table"),
        Right("ex-error-rates",
              "def error_rates(predictions, references):\n"
              "    same = edits = length = 0\n"
              "    for p, r in zip(predictions, references):\n"
              "        d = edit_distance(p, r)\n"
              "        same += d == 0\n"
              "        edits += d\n"
              "        length += len(r)\n"
              "    return same / len(references), edits / length\n",
              why="one loop; exact match as distance 0"),
        Right("ex-cross-attention",
              "@torch.no_grad()\n"
              "def cross_attention_maps(model, src, dec_in):\n"
              "    src_pad = src == PAD_ID\n"
              "    memory = model.encode(src, src_pad)\n"
              "    T = dec_in.size(1)\n"
              "    x = model.tgt_embed(dec_in) * math.sqrt(model.config.d_model) + model.positions[:T]\n"
              "    x = model.dropout(x)\n"
              "    tgt_mask = torch.tril(torch.ones(T, T, dtype=torch.bool)) & (dec_in != PAD_ID)[:, None, :]\n"
              "    memory_mask = (~src_pad)[:, None, :]\n"
              "    maps = []\n"
              "    for layer in model.decoder:\n"
              "        h = layer.norm1(x)\n"
              "        x = x + layer.self_attn(h, h, h, tgt_mask)[0]\n"
              "        read, weights = layer.cross_attn(layer.norm2(x), memory, memory, memory_mask)\n"
              "        maps.append(weights)\n"
              "        x = x + read\n"
              "        x = x + layer.ff(layer.norm3(x))\n"
              "    logits = model.lm_head(model.decoder_norm(x))\n"
              "    return logits, torch.stack(maps)\n",
              why="no hooks: the decoder recomputed layer by layer"),
    ]
