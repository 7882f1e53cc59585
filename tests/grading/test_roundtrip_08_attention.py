"""Grading round trip of 08_attention: plausible mistakes score 0, other correct answers full marks."""

from harness import Right, RoundTrip, Wrong

# --- correct solutions of the two-function cell, reused inside wrong answers ------------------
SPLIT_HEADS = """
def split_heads(x, num_heads):
    B, T, C = x.shape
    return x.view(B, T, num_heads, C // num_heads).transpose(1, 2)
"""
MERGE_HEADS = """
def merge_heads(x):
    B, nh, T, hs = x.shape
    return x.transpose(1, 2).reshape(B, T, nh * hs)
"""
MHA_INIT = """
class MyMultiHeadAttention(nn.Module):
    def __init__(self, d_model, num_heads):
        super().__init__()
        self.num_heads = num_heads
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.out_proj = nn.Linear(d_model, d_model)
"""
BLOCK_INIT = """
class PreLNBlock(nn.Module):
    def __init__(self, d_model, num_heads, d_ff):
        super().__init__()
        self.norm1 = LayerNorm(d_model)
        self.self_attn = MultiHeadAttention(d_model, num_heads)
        self.norm2 = LayerNorm(d_model)
        self.ff = FeedForward(d_model, d_ff)
"""


def attention_code(*, scale="/ math.sqrt(q.size(-1))", dim=-1, mask_scores=True,
                   fill='float("-inf")', allowed="mask", zero_after=True):
    """An attention with one part changed: the shared skeleton of the wrong answers."""
    lines = ["def attention(q, k, v, mask=None):",
             f"    scores = q @ k.transpose(-2, -1) {scale}"]
    if mask_scores:
        lines += ["    if mask is not None:",
                  f"        scores = torch.where({allowed}, scores, {fill})"]
    lines.append(f"    weights = torch.softmax(scores, dim={dim})")
    if zero_after:
        lines += ["    if mask is not None:",
                  f"        weights = torch.where({allowed}, weights, 0.0)"]
    lines.append("    return weights @ v, weights")
    return "\n".join(lines) + "\n"


class TestAttentionRoundTrip(RoundTrip):
    assignment = "08_attention"

    WRONG = [
        Wrong("ex-attention", attention_code(scale=""),
              fails=["test-attention"], why="no 1/sqrt(d_k): the scores are not scaled"),
        Wrong("ex-attention", attention_code(scale="/ q.size(-1)"),
              fails=["test-attention"], why="divides by d_k instead of sqrt(d_k)"),
        Wrong("ex-attention", attention_code(dim=-2),
              fails=["test-attention"], why="softmax over the queries (wrong axis)"),
        Wrong("ex-attention", attention_code(mask_scores=False, zero_after=False),
              fails=["test-attention-mask"], why="the mask is ignored"),
        Wrong("ex-attention", attention_code(allowed="~mask"),
              fails=["test-attention-mask"], why="mask polarity flipped: True read as 'forbidden'"),
        Wrong("ex-attention", attention_code(fill="-1e9", zero_after=False),
              fails=["test-attention-mask"],
              why="-1e9 instead of -inf: a fully masked row gets uniform weights, not zeros"),
        Wrong("ex-attention", attention_code(zero_after=False),
              fails=["test-attention-mask"], why="-inf without care: a fully masked row is NaN"),
        Wrong("ex-entropy",
              "def attention_entropy(weights):\n    return -(weights * torch.log(weights)).sum(dim=-1)\n",
              fails=["test-entropy"], why="0 * log 0 gives NaN for masked (zero) weights"),
        Wrong("ex-causal-mask",
              "def causal_mask(T):\n    return torch.triu(torch.ones(T, T, dtype=torch.bool))\n",
              fails=["test-causal-mask"], why="upper triangle: every query sees the future"),
        Wrong("ex-padding-mask",
              "def padding_mask(lengths, T):\n"
              "    return (torch.arange(T)[None, :] <= lengths[:, None]).unsqueeze(1)\n",
              fails=["test-padding-mask"], why="off by one: the first padding position is allowed"),
        Wrong("ex-padding-mask",
              "def padding_mask(lengths, T):\n    return torch.arange(T)[None, :] < lengths[:, None]\n",
              fails=["test-padding-mask"], why="(B, T) without the query axis: does not broadcast right"),
        Wrong("ex-heads",
              "def split_heads(x, num_heads):\n    B, T, C = x.shape\n"
              "    return x.reshape(B, num_heads, T, C // num_heads)\n" + MERGE_HEADS,
              fails=["test-split-heads"], why="reshapes straight to (B, nh, T, hs): mixes positions"),
        Wrong("ex-heads",
              SPLIT_HEADS + "def merge_heads(x):\n    B, nh, T, hs = x.shape\n"
              "    return x.reshape(B, T, nh * hs)\n",
              fails=["test-merge-heads"], why="heads merged without the transpose (wrong order)"),
        Wrong("ex-heads",
              SPLIT_HEADS + "def merge_heads(x):\n    B, nh, T, hs = x.shape\n"
              "    return x.permute(0, 2, 3, 1).reshape(B, T, nh * hs)\n",
              fails=["test-merge-heads"], why="heads interleaved channel by channel"),
        Wrong("ex-mha",
              MHA_INIT + "    def forward(self, query, key, value, mask=None):\n"
              "        q = split_heads(self.q_proj(query), self.num_heads)\n"
              "        k = split_heads(self.k_proj(key), self.num_heads)\n"
              "        v = split_heads(self.v_proj(value), self.num_heads)\n"
              "        if mask is not None:\n            mask = mask.unsqueeze(-3)\n"
              "        out, weights = attention(q, k, v, mask)\n"
              "        return merge_heads(out), weights\n",
              fails=["test-mha"], why="forgets the output projection"),
        Wrong("ex-mha",
              MHA_INIT + "    def forward(self, query, key, value, mask=None):\n"
              "        q = split_heads(self.q_proj(query), self.num_heads)\n"
              "        k = split_heads(self.k_proj(key), self.num_heads)\n"
              "        v = split_heads(self.v_proj(value), self.num_heads)\n"
              "        out, weights = attention(q, k, v, mask)\n"
              "        return self.out_proj(merge_heads(out)), weights\n",
              fails=["test-mha"], why="the (B, 1, Tk) padding mask gets no head axis"),
        Wrong("ex-mha",
              MHA_INIT + "    def forward(self, query, key, value, mask=None):\n"
              "        out, weights = attention(self.q_proj(query), self.k_proj(key), self.v_proj(value), mask)\n"
              "        return self.out_proj(out), weights\n",
              fails=["test-mha"], why="one head of size C: never splits into heads"),
        Wrong("ex-sinusoidal",
              "def sinusoidal_positions(T, d, base=10000.0):\n"
              "    t = torch.arange(T, dtype=torch.float64)[:, None]\n"
              "    freq = base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)\n"
              "    return torch.cat([torch.sin(t * freq), torch.cos(t * freq)], dim=-1)\n",
              fails=["test-sinusoidal"], why="sines then cosines in two blocks, not interleaved"),
        Wrong("ex-rope",
              "def rope(x, positions=None, base=10000.0):\n    T, hs = x.shape[-2:]\n"
              "    if positions is None:\n        positions = torch.arange(T)\n"
              "    theta = base ** (-2 * torch.arange(hs // 2, dtype=torch.float64) / hs)\n"
              "    angle = (positions.double()[:, None] * theta).to(x.dtype)\n"
              "    x1, x2 = x[..., 0::2], x[..., 1::2]\n"
              "    out = torch.stack([x1 * angle.cos() - x2 * angle.sin(),\n"
              "                       x1 * angle.sin() + x2 * angle.cos()], dim=-1)\n"
              "    return out.flatten(-2)\n",
              fails=["test-rope"], why="rotates neighbouring pairs (2i, 2i+1), not the two halves"),
        Wrong("ex-rope",
              "def rope(x, positions=None, base=10000.0):\n    T, hs = x.shape[-2:]\n"
              "    if positions is None:\n        positions = torch.arange(T)\n"
              "    theta = base ** (-2 * torch.arange(hs // 2, dtype=torch.float64) / hs)\n"
              "    angle = (positions.double()[:, None] * theta).to(x.dtype)\n"
              "    angle = torch.cat([angle, angle], dim=-1)\n"
              "    return x * angle.cos() + x * angle.sin()\n",
              fails=["test-rope", "test-rope-relative"],
              why="multiplies by cos + sin without rotating the halves: not a rotation"),
        Wrong("ex-rope",
              "def rope(x, positions=None, base=10000.0):\n    hs = x.shape[-1]\n"
              "    theta = base ** (-2 * torch.arange(hs // 2, dtype=torch.float64) / hs)\n"
              "    cos, sin = theta.cos().to(x.dtype), theta.sin().to(x.dtype)\n"
              "    x1, x2 = x[..., :hs // 2], x[..., hs // 2:]\n"
              "    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)\n",
              fails=["test-rope", "test-rope-relative"],
              why="forgets the positions: every vector rotated by the same angles"),
        Wrong("ex-layernorm",
              "def layer_norm(x, weight, bias, eps=1e-5):\n"
              "    mean = x.mean(dim=-1, keepdim=True)\n    var = x.var(dim=-1, keepdim=True)\n"
              "    return (x - mean) / torch.sqrt(var + eps) * weight + bias\n",
              fails=["test-layernorm"], why="unbiased variance (divides by C - 1)"),
        Wrong("ex-layernorm",
              "def layer_norm(x, weight, bias, eps=1e-5):\n"
              "    mean = x.mean(dim=0, keepdim=True)\n    var = x.var(dim=0, keepdim=True, unbiased=False)\n"
              "    return (x - mean) / torch.sqrt(var + eps) * weight + bias\n",
              fails=["test-layernorm"], why="normalises over the batch axis (BatchNorm), not the features"),
        Wrong("ex-layernorm",
              "def layer_norm(x, weight, bias, eps=1e-5):\n"
              "    mean = x.mean(dim=-1, keepdim=True)\n    std = x.std(dim=-1, keepdim=True, unbiased=False)\n"
              "    return (x - mean) / (std + eps) * weight + bias\n",
              fails=["test-layernorm"], why="eps added to the standard deviation, outside the square root"),
        Wrong("ex-block",
              BLOCK_INIT + "    def forward(self, x, mask=None):\n"
              "        x = self.norm1(x + self.self_attn(x, x, x, mask)[0])\n"
              "        return self.norm2(x + self.ff(x))\n",
              fails=["test-block"], why="post-LN (the 2017 layout) instead of pre-LN"),
        Wrong("ex-block",
              BLOCK_INIT + "    def forward(self, x, mask=None):\n"
              "        x = self.norm1(x)\n        x = x + self.self_attn(x, x, x, mask)[0]\n"
              "        x = self.norm2(x)\n        return x + self.ff(x)\n",
              fails=["test-block"], why="the residual adds the normalised x: the stream is normalised"),
        Wrong("ex-block-params",
              "def block_parameters(d_model, d_ff, bias=True):\n"
              "    C = d_model\n    b = 1 if bias else 0\n"
              "    return 4 * (C * C + b * C) + 2 * C * d_ff + b * (d_ff + C)\n",
              fails=["test-block-params"], why="forgets the LayerNorms' parameters"),
        Wrong("ex-block-params",
              "def block_parameters(d_model, d_ff, bias=True):\n"
              "    C = d_model\n    return 4 * (C * C + C) + 4 * C + 2 * C * d_ff + d_ff + C\n",
              fails=["test-block-params"], why="ignores bias=False"),
    ]

    RIGHT = [
        Right("ex-attention",
              "def attention(q, k, v, mask=None):\n"
              "    scores = torch.einsum('...id,...jd->...ij', q, k) * q.shape[-1] ** -0.5\n"
              "    if mask is not None:\n"
              "        scores = scores.masked_fill(~mask, float('-inf'))\n"
              "    weights = torch.nan_to_num(torch.softmax(scores, dim=-1), nan=0.0)\n"
              "    return torch.einsum('...ij,...jd->...id', weights, v), weights\n",
              why="einsum, masked_fill, and nan_to_num for fully masked rows"),
        Right("ex-entropy",
              "def attention_entropy(weights):\n"
              "    return -torch.special.xlogy(weights, weights).sum(dim=-1)\n",
              why="torch.special.xlogy (0 log 0 = 0 built in)"),
        Right("ex-causal-mask",
              "def causal_mask(T):\n    i = torch.arange(T)\n    return i[:, None] >= i[None, :]\n",
              why="an integer comparison instead of tril"),
        Right("ex-padding-mask",
              "def padding_mask(lengths, T):\n"
              "    mask = torch.zeros(len(lengths), 1, T, dtype=torch.bool)\n"
              "    for b, n in enumerate(lengths.tolist()):\n        mask[b, 0, :n] = True\n"
              "    return mask\n",
              why="a loop over the sequences"),
        Right("ex-heads",
              "def split_heads(x, num_heads):\n"
              "    return torch.stack(x.chunk(num_heads, dim=-1), dim=1)\n\n"
              "def merge_heads(x):\n    return torch.cat(x.unbind(dim=1), dim=-1)\n",
              why="chunk/stack and unbind/cat instead of view and transpose"),
        Right("ex-mha",
              MHA_INIT + "    def forward(self, query, key, value, mask=None):\n"
              "        C = query.shape[-1]\n        hs = C // self.num_heads\n"
              "        q, k, v = self.q_proj(query), self.k_proj(key), self.v_proj(value)\n"
              "        outs, weights = [], []\n"
              "        for h in range(self.num_heads):\n"
              "            cols = slice(h * hs, (h + 1) * hs)\n"
              "            o, w = attention(q[..., cols], k[..., cols], v[..., cols], mask)\n"
              "            outs.append(o)\n            weights.append(w)\n"
              "        return self.out_proj(torch.cat(outs, dim=-1)), torch.stack(weights, dim=1)\n",
              why="a loop over the heads, slicing channels"),
        Right("ex-sinusoidal",
              "def sinusoidal_positions(T, d, base=10000.0):\n"
              "    t = torch.arange(T, dtype=torch.float64)[:, None]\n"
              "    i = torch.arange(d // 2, dtype=torch.float64)\n"
              "    angle = t / base ** (2 * i / d)\n"
              "    return torch.stack([angle.sin(), angle.cos()], dim=-1).reshape(T, d)\n",
              why="stack and reshape to interleave"),
        Right("ex-rope",
              "def rope(x, positions=None, base=10000.0):\n    T, hs = x.shape[-2:]\n"
              "    if positions is None:\n        positions = torch.arange(T)\n"
              "    theta = 1.0 / base ** (torch.arange(0, hs, 2, dtype=torch.float64) / hs)\n"
              "    angle = torch.outer(positions.double(), theta)\n"
              "    z = torch.complex(x[..., :hs // 2].double(), x[..., hs // 2:].double())\n"
              "    z = z * torch.polar(torch.ones_like(angle), angle)\n"
              "    return torch.cat([z.real, z.imag], dim=-1).to(x.dtype)\n",
              why="complex multiplication by e^{i t theta}"),
        Right("ex-layernorm",
              "def layer_norm(x, weight, bias, eps=1e-5):\n"
              "    centred = x - x.sum(dim=-1, keepdim=True) / x.shape[-1]\n"
              "    var = (centred ** 2).mean(dim=-1, keepdim=True)\n"
              "    return weight * centred * torch.rsqrt(var + eps) + bias\n",
              why="variance by hand and rsqrt"),
        Right("ex-block",
              BLOCK_INIT + "    def forward(self, x, mask=None):\n"
              "        normed = self.norm1(x)\n"
              "        attended, _ = self.self_attn(normed, normed, normed, mask=mask)\n"
              "        y = attended + x\n        return y + self.ff(self.norm2(y))\n",
              why="keyword mask, tuple unpacking, a new name for the stream"),
        Right("ex-block-params",
              "def block_parameters(d_model, d_ff, bias=True):\n"
              "    linears = [(d_model, d_model)] * 4 + [(d_model, d_ff), (d_ff, d_model)]\n"
              "    total = sum(n_in * n_out + (n_out if bias else 0) for n_in, n_out in linears)\n"
              "    return total + 2 * d_model * (2 if bias else 1)\n",
              why="a list of the linear layers' shapes"),
    ]
