"""A GPT in one file, after nanoGPT's ``model.py``: a decoder-only transformer that
predicts the next token, with sampling, a KV cache, beam search and the arithmetic of
its size and speed (parameters, FLOPs per token, MFU).

Shapes: B batch, T time (<= block_size), C = d_model, nh heads, hs = C // nh head size,
V vocabulary size. Names follow the course glossary; nanoGPT's are in the comments
(n_layer = num_layers, n_head = num_heads, n_embd = d_model).

The model: token embedding + position embedding (learned as in GPT-2, or fixed
sinusoidal), dropout, ``num_layers`` pre-LN blocks (x + attn(LN(x)), x + mlp(LN(x))),
a final LayerNorm, and a linear head whose weight *is* the token embedding (weight
tying: one V x C matrix both reads and writes tokens). Attention is the library's
``MultiHeadAttention`` (its fused path: ``F.scaled_dot_product_attention``, flash
attention on a GPU), the MLP its ``FeedForward`` with GELU and width 4C.

Speed on a GPU (see ``bench/bench_gpt.py``): bf16 autocast (``workbook.train.fit`` and
``runtime.autocast_dtype``), fused AdamW (``configure_optimizer``), fused attention,
optionally ``torch.compile(model)``. Nothing here requires a GPU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from workbook import runtime
from workbook.nn.attention import KVCache, MultiHeadAttention, sinusoidal_positions
from workbook.nn.layers import FeedForward

__all__ = [
    "GPTConfig",
    "Block",
    "GPT",
    "lm_loss",
    "apply_temperature",
    "top_k_filter",
    "top_p_filter",
    "sample_next",
    "beam_search_lm",
    "lm_log_prob",
    "gpt_param_count",
    "flops_per_token",
    "PEAK_FLOPS",
    "gpu_peak_flops",
    "estimate_mfu",
    "speed_report",
    "configure_optimizer",
    "estimate_loss",
    "trace",
]

MLP_RATIO = 4  # hidden width of the MLP, 4 * d_model (GPT-2, nanoGPT)
INIT_STD = 0.02  # std of every weight at initialisation (GPT-2)
POSITION_KINDS = ("learned", "sinusoidal")


@dataclass
class GPTConfig:
    """The defaults are nanoGPT's ``config/train_shakespeare_char.py`` (= ``full``)."""

    vocab_size: int  # tokens read and predicted (V), e.g. 84 Shakespeare characters
    block_size: int = 256  # longest context T; the model has positions 0..block_size-1 only
    num_layers: int = 6  # transformer blocks (n_layer)
    num_heads: int = 6  # attention heads per block (n_head); head size d_model // num_heads
    d_model: int = 384  # width of the residual stream C (n_embd)
    dropout: float = 0.2  # on embeddings, attention weights, residual branches; small data overfits
    bias: bool = False  # biases in Linear and LayerNorm: False (nanoGPT's train.py) is a bit
    #                     better and faster; True is GPT-2
    positions: str = "learned"  # "learned" (GPT-2) or "sinusoidal" (fixed, Vaswani et al.)

    def __post_init__(self) -> None:
        if self.d_model % self.num_heads != 0:
            raise ValueError(f"d_model={self.d_model} must be divisible by "
                             f"num_heads={self.num_heads}")
        if self.positions not in POSITION_KINDS:
            raise ValueError(f"positions must be one of {POSITION_KINDS}, got {self.positions!r}")

    @property
    def head_dim(self) -> int:
        return self.d_model // self.num_heads

    @classmethod
    def ci(cls, vocab_size: int) -> "GPTConfig":
        """Tiny (~0.1 M parameters): learns Shakespeare's spelling in seconds on a CPU."""
        return cls(vocab_size, block_size=64, num_layers=2, num_heads=2, d_model=64,
                   dropout=0.0)

    @classmethod
    def full(cls, vocab_size: int) -> "GPTConfig":
        """nanoGPT's shakespeare_char: 6 layers, 6 heads, width 384, block 256, dropout
        0.2 (10.75 M parameters, 10.65 M without positions); minutes on a GPU (nanoGPT
        reaches val loss ~1.47 on its 1 MB tiny-shakespeare in 5,000 steps)."""
        return cls(vocab_size)

    @classmethod
    def for_profile(cls, vocab_size: int, profile: str | None = None) -> "GPTConfig":
        """``ci`` or ``full`` by name, default ``runtime.profile()``."""
        profile = profile or runtime.profile()
        if profile not in runtime.PROFILES:
            raise ValueError(f"profile must be one of {runtime.PROFILES}, got {profile!r}")
        return cls.ci(vocab_size) if profile == "ci" else cls.full(vocab_size)


class Block(nn.Module):
    """Pre-LN decoder block: x + attn(LN(x)), then x + mlp(LN(x)). x (B, T, C) -> (B, T, C).

    LayerNorm is torch's ``nn.LayerNorm``: the same computation and parameters as
    ``workbook.nn.layers.LayerNorm`` (tests/lib/test_attention.py checks they agree), but
    one fused kernel instead of about six element-wise passes over memory, which shows in
    GPU tokens/s; our own version is there to be read.
    """

    def __init__(self, config: GPTConfig):
        super().__init__()
        C = config.d_model
        self.ln_1 = nn.LayerNorm(C, bias=config.bias)
        self.attn = MultiHeadAttention(C, config.num_heads, dropout=config.dropout,
                                       bias=config.bias)
        self.ln_2 = nn.LayerNorm(C, bias=config.bias)
        # dropout inside the MLP is off: nanoGPT drops only the MLP's output (below)
        self.mlp = FeedForward(C, MLP_RATIO * C, dropout=0.0, bias=config.bias,
                               activation="gelu")
        self.dropout = nn.Dropout(config.dropout)  # on each branch before the residual add

    def forward(self, x: torch.Tensor, kv_cache: KVCache | None = None) -> torch.Tensor:
        h = self.ln_1(x)
        # causal self-attention; need_weights=False takes torch's fused kernel
        attn, _ = self.attn(h, h, h, is_causal=True, need_weights=False, kv_cache=kv_cache)
        x = x + self.dropout(attn)
        return x + self.dropout(self.mlp(self.ln_2(x)))


class GPT(nn.Module):
    """forward(idx (B, T), targets (B, T) or None) -> (logits (B, T, V), loss or None).

    Unlike nanoGPT, which returns only the last position's logits when targets is None,
    logits are always returned for every position (``workbook.train.fit`` computes the
    loss from them; generation uses ``next_token_logits``). loss: mean cross-entropy
    over all positions (targets of -1 are ignored).
    With ``kv_cache=model.new_cache()``, idx holds only the tokens after the cached ones.
    """

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        C = config.d_model
        self.tok_embed = nn.Embedding(config.vocab_size, C)  # (V, C) (nanoGPT wte)
        if config.positions == "learned":
            self.pos_embed = nn.Embedding(config.block_size, C)  # (T, C) (nanoGPT wpe)
        else:
            # fixed codes scaled to the size of the token embeddings at initialisation,
            # so that neither drowns the other
            codes = sinusoidal_positions(config.block_size, C) * INIT_STD
            self.register_buffer("pos_codes", codes, persistent=False)  # (T, C)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.num_layers))
        self.ln_f = nn.LayerNorm(C, bias=config.bias)  # pre-LN leaves the stream unnormalised
        self.lm_head = nn.Linear(C, config.vocab_size, bias=False)
        # weight tying (Press & Wolf 2017): the head scores a hidden vector against every
        # token's embedding; one shared (V, C) matrix, counted once
        self.lm_head.weight = self.tok_embed.weight

        self.apply(_init_weights)
        for block in self.blocks:
            # GPT-2: shrink the layers that write into the residual stream by 1/sqrt(2L),
            # since 2L branches add up there
            std = INIT_STD / math.sqrt(2 * config.num_layers)
            nn.init.normal_(block.attn.out_proj.weight, std=std)
            nn.init.normal_(block.mlp.linear2.weight, std=std)

    # ------------------------------------------------------------------ forward
    def new_cache(self) -> list[KVCache]:
        """An empty KV cache: one ``KVCache`` per block."""
        return [KVCache() for _ in self.blocks]

    def _positions(self, start: int, T: int, device: torch.device) -> torch.Tensor:
        if self.config.positions == "learned":
            return self.pos_embed(torch.arange(start, start + T, device=device))  # (T, C)
        return self.pos_codes[start:start + T]  # (T, C)

    def hidden(self, idx: torch.Tensor,
               kv_cache: list[KVCache] | None = None) -> torch.Tensor:
        """idx (B, T) -> the final hidden states (B, T, C), after ln_f."""
        B, T = idx.shape
        past = len(kv_cache[0]) if kv_cache is not None else 0
        if past + T > self.config.block_size:
            raise ValueError(f"{past} cached + {T} new tokens exceed block_size="
                             f"{self.config.block_size}; crop the context "
                             "(next_token_logits and generate do)")
        x = self.tok_embed(idx) + self._positions(past, T, idx.device)  # (B, T, C)
        x = self.drop(x)
        caches = kv_cache if kv_cache is not None else [None] * len(self.blocks)
        for block, cache in zip(self.blocks, caches):
            x = block(x, cache)
        return self.ln_f(x)  # (B, T, C)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None, *,
                kv_cache: list[KVCache] | None = None
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        logits = self.lm_head(self.hidden(idx, kv_cache))  # (B, T, V)
        loss = lm_loss(logits, targets) if targets is not None else None
        return logits, loss

    # ------------------------------------------------------------------ generation
    def next_token_logits(self, idx: torch.Tensor,
                          kv_cache: list[KVCache] | None = None) -> torch.Tensor:
        """Logits (B, V) for the token after idx (B, T), as ``forward`` sees it.

        The context is cropped to the last block_size tokens, as in nanoGPT: the model
        has no positions beyond. Without a cache: one forward pass over that window.
        With a cache (from ``new_cache()``, used for this growing idx only): only the
        tokens not yet cached are run. Once idx is longer than block_size, every
        position of the window shifts at each step, so the cached keys (computed at
        their old positions) are stale: the cache is emptied and refilled from the
        cropped window -- exactly the uncached result, at the uncached cost.
        """
        T = idx.size(1)
        window = idx[:, -self.config.block_size:]  # (B, <= block_size)
        if kv_cache is None:
            return self.lm_head(self.hidden(window)[:, -1])  # head on the last position only
        cached = len(kv_cache[0])
        if T > self.config.block_size or cached >= T:
            for cache in kv_cache:
                cache.reset()
            new = window
        else:
            new = idx[:, cached:]  # the tokens the cache has not seen
        return self.lm_head(self.hidden(new, kv_cache)[:, -1])  # (B, V)

    @torch.no_grad()
    def generate(self, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0,
                 top_k: int | None = None, top_p: float | None = None, use_cache: bool = True,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """Append ``max_new_tokens`` sampled tokens to idx (B, T) -> (B, T + max_new_tokens).

        Sampling: ``sample_next`` (temperature 0 = greedy). Runs in eval mode (no
        dropout) and restores the mode afterwards. use_cache=False recomputes the whole
        window at every step (the reference the cache is tested against).
        """
        was_training = self.training
        self.eval()
        cache = self.new_cache() if use_cache else None
        for _ in range(max_new_tokens):
            logits = self.next_token_logits(idx, cache)  # (B, V)
            next_id = sample_next(logits, temperature, top_k, top_p, generator)  # (B,)
            idx = torch.cat([idx, next_id.unsqueeze(1)], dim=1)  # (B, T + 1)
        self.train(was_training)
        return idx


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, mean=0.0, std=INIT_STD)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)


def lm_loss(logits: torch.Tensor, targets: torch.Tensor, ignore_index: int = -1) -> torch.Tensor:
    """Mean next-token cross-entropy. logits (B, T, V), targets (B, T) -> scalar.

    The ``loss_fn`` for ``workbook.train.fit``: F.cross_entropy wants the classes on
    axis 1, so flatten (B, T) into one axis of B*T predictions.
    """
    B, T, V = logits.shape
    return F.cross_entropy(logits.reshape(B * T, V), targets.reshape(B * T),
                           ignore_index=ignore_index)


# ----------------------------------------------------------------------------- sampling

def apply_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """logits / temperature (> 0). Below 1 sharpens the distribution (-> greedy as it
    goes to 0); above 1 flattens it (-> uniform as it grows)."""
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0 (use sample_next(temperature=0) for "
                         f"greedy decoding), got {temperature}")
    return logits / temperature


def _sorted_desc(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    # stable sort: among equal logits the lower token id comes first
    return torch.sort(logits, dim=-1, descending=True, stable=True)


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the k largest logits of each row (..., V); set the rest to -inf, so a softmax
    renormalises over exactly k tokens.

    Exactly k even with ties: among equal logits the lower token ids are kept (a stable
    sort). (nanoGPT's ``logits < v[-1]`` keeps every token tied with the k-th.)
    k >= V keeps everything.
    """
    if k < 1:
        raise ValueError(f"top-k needs k >= 1, got {k}")
    V = logits.size(-1)
    if k >= V:
        return logits
    _, order = _sorted_desc(logits)  # (..., V) token ids, best first
    keep = torch.zeros_like(logits, dtype=torch.bool).scatter(-1, order[..., :k], True)
    return logits.masked_fill(~keep, float("-inf"))


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Nucleus filter (Holtzman et al. 2020): keep the smallest set of most likely tokens
    whose probabilities sum to at least p; the rest get -inf. (..., V) -> (..., V).

    The most likely token is always kept (its own probability may exceed p). A token is
    kept when the tokens more likely than it sum to less than p. Ties in probability are
    ordered by token id (lower first). p >= 1 keeps everything.
    """
    if not 0.0 < p:
        raise ValueError(f"top-p needs p > 0, got {p}")
    if p >= 1.0:
        return logits
    sorted_logits, order = _sorted_desc(logits)
    probs = torch.softmax(sorted_logits.float(), dim=-1)  # (..., V), best first
    before = torch.cumsum(probs, dim=-1) - probs  # probability of the better tokens
    keep_sorted = before < p  # the first is always kept: before = 0 < p
    keep = torch.zeros_like(keep_sorted).scatter(-1, order, keep_sorted)
    return logits.masked_fill(~keep, float("-inf"))


def sample_next(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
                top_p: float | None = None,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """One token id per row of logits (B, V) -> (B,).

    In this order: temperature (0 = greedy: the argmax, lowest id on ties), then top-k,
    then top-p, then a draw from the softmax with ``generator`` (or torch's global RNG).
    The draw happens on the generator's device, so a CPU generator gives the same tokens
    whether the model runs on a CPU or a GPU.
    """
    logits = logits.float()  # sample in float32 even when the model ran in bf16
    if temperature == 0:
        return logits.argmax(dim=-1)
    logits = apply_temperature(logits, temperature)
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    if top_p is not None:
        logits = top_p_filter(logits, top_p)
    probs = torch.softmax(logits, dim=-1)  # (B, V)
    if generator is not None and generator.device != probs.device:
        return torch.multinomial(probs.to(generator.device), 1, generator=generator
                                 ).squeeze(-1).to(logits.device)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)  # (B,)


@torch.no_grad()
def lm_log_prob(model: GPT, idx: torch.Tensor, start: int) -> torch.Tensor:
    """log p(idx[:, start:] | idx[:, :start]) (B,), summed over tokens; the whole sequence
    but its last token must fit in block_size. start >= 1 (the first token is given)."""
    if not 1 <= start <= idx.size(1):
        raise ValueError(f"start must be in 1..{idx.size(1)}, got {start}")
    if idx.size(1) - 1 > model.config.block_size:
        raise ValueError("lm_log_prob: the sequence is longer than block_size + 1")
    logits, _ = model(idx[:, :-1])  # (B, L - 1, V): position t predicts token t + 1
    log_probs = F.log_softmax(logits.double(), dim=-1)
    picked = log_probs.gather(-1, idx[:, 1:].unsqueeze(-1)).squeeze(-1)  # (B, L - 1)
    return picked[:, start - 1:].sum(dim=1)


@torch.no_grad()
def beam_search_lm(model: GPT, idx: torch.Tensor, max_new_tokens: int,
                   beam_size: int) -> torch.Tensor:
    """The most likely continuation of exactly ``max_new_tokens`` tokens that a beam of
    ``beam_size`` finds: idx (B, T) -> (B, T + max_new_tokens).

    Each step extends every kept prefix by every token and keeps the beam_size best by
    summed log-probability (no end token, no length penalty: all have the same length).
    beam_size=1 is greedy decoding; beam_size >= V ** (max_new_tokens - 1) keeps every
    prefix, so it finds the exact optimum (the brute-force test). Runs in eval mode.
    """
    was_training = model.training
    model.eval()
    rows = []
    for b in range(idx.size(0)):
        beams = idx[b:b + 1]  # (k, T), k = 1 at first
        scores = torch.zeros(1, dtype=torch.float64, device=idx.device)  # (k,)
        for _ in range(max_new_tokens):
            logits = model.next_token_logits(beams)  # (k, V)
            V = logits.size(-1)
            log_probs = F.log_softmax(logits.double(), dim=-1)  # (k, V), float64 sums
            candidates = (scores.unsqueeze(1) + log_probs).view(-1)  # (k * V,)
            scores, top = candidates.topk(min(beam_size, candidates.numel()))  # best first
            beams = torch.cat([beams[top // V], (top % V).unsqueeze(1)], dim=1)  # (k', t + 1)
        rows.append(beams[0])
    model.train(was_training)
    return torch.stack(rows)


# ----------------------------------------------------------------------------- size and speed

def gpt_param_count(config: GPTConfig, non_embedding: bool = False) -> int:
    """Parameters of ``GPT(config)`` by formula; equals ``sum(p.numel() ...)``.

    With b = 1 if config.bias else 0 and C = d_model:
    tokens V*C (shared with the head) + positions T*C (learned only)
    + per block: 2 LayerNorms 2(C + bC), attention 4(C^2 + bC), MLP 8C^2 + b(4C + C)
    + final LayerNorm C + bC.
    non_embedding: leave out the position embedding, as nanoGPT's ``get_num_params``
    does for FLOP counts (the token embedding stays: it is also the output layer).
    """
    V, T, C, L = config.vocab_size, config.block_size, config.d_model, config.num_layers
    b = 1 if config.bias else 0
    positions = T * C if config.positions == "learned" else 0
    layer_norms = 2 * (C + b * C)
    attention = 4 * (C * C + b * C)  # q, k, v and output projections
    mlp = C * MLP_RATIO * C + b * MLP_RATIO * C + MLP_RATIO * C * C + b * C
    total = V * C + positions + L * (layer_norms + attention + mlp) + (C + b * C)
    return total - positions if non_embedding else total


def flops_per_token(config: GPTConfig) -> int:
    """Training FLOPs per token (forward + backward), nanoGPT's / PaLM's estimate:

        6 N + 12 L H Q T

    N = non-embedding parameters (``gpt_param_count(config, non_embedding=True)``): each
    parameter does a multiply-add (2 FLOPs) per token forward and twice that backward.
    The second term is attention's two (T x T) matmuls per layer (scores q k^T and
    weights @ v; 2 x 2 x H Q T forward, x3 with backward) for L layers, H heads of size
    Q and a full context of T = block_size tokens.
    """
    N = gpt_param_count(config, non_embedding=True)
    L, H, Q, T = config.num_layers, config.num_heads, config.head_dim, config.block_size
    return 6 * N + 12 * L * H * Q * T


# Peak dense bf16 tensor-core throughput, FLOP/s (vendor data sheets, without sparsity).
PEAK_FLOPS = {
    "A100": 312e12,
    "H100 SXM": 989e12,
    "H100 PCIe": 756e12,
    "H200": 989e12,
}


def gpu_peak_flops(device: Any = None) -> tuple[str, float] | None:
    """(name, bf16 peak FLOP/s) of a CUDA device found in ``PEAK_FLOPS``, else None."""
    device = torch.device(device) if device is not None else runtime.get_device()
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    if "H200" in name:
        return "H200", PEAK_FLOPS["H200"]
    if "H100" in name:
        key = "H100 PCIe" if "PCIe" in name else "H100 SXM"
        return key, PEAK_FLOPS[key]
    if "A100" in name:
        return "A100", PEAK_FLOPS["A100"]
    return None


def estimate_mfu(config: GPTConfig, tokens_per_second: float, peak_flops: float | str) -> float:
    """Model FLOPs utilisation: flops_per_token * tokens/s as a fraction of the peak
    (FLOP/s, or a name in ``PEAK_FLOPS``). 1.0 would be the GPU's data-sheet peak;
    nanoGPT reaches about 0.3-0.4 on GPT-2 sized models."""
    peak = PEAK_FLOPS[peak_flops] if isinstance(peak_flops, str) else float(peak_flops)
    return flops_per_token(config) * tokens_per_second / peak


def speed_report(config: GPTConfig, tokens_per_second: float, device: Any = None) -> str:
    """One line: tokens/s and MFU against the device's named peak (n/a off known GPUs)."""
    peak = gpu_peak_flops(device)
    line = f"{tokens_per_second:,.0f} tokens/s"
    if peak is None:
        return line + " | MFU n/a (no known GPU peak for this device)"
    name, flops = peak
    mfu = estimate_mfu(config, tokens_per_second, flops)
    return line + f" | MFU {100 * mfu:.1f}% of {name} bf16 peak ({flops / 1e12:.0f} TFLOP/s)"


# ----------------------------------------------------------------------------- training helpers

def configure_optimizer(model: nn.Module, weight_decay: float, lr: float,
                        betas: tuple[float, float] = (0.9, 0.95),
                        device: Any = None) -> torch.optim.AdamW:
    """nanoGPT's AdamW: weight decay on the 2-D parameters (matmul weights, embeddings)
    only, not on biases and LayerNorm gains (decaying those towards 0 only hurts).
    fused=True (one kernel for all parameters) on CUDA only."""
    device = torch.device(device) if device is not None else runtime.get_device()
    params = [p for p in model.parameters() if p.requires_grad]  # a tied weight once
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    extra = {"fused": True} if device.type == "cuda" else {}
    return torch.optim.AdamW(groups, lr=lr, betas=betas, **extra)


@torch.no_grad()
def estimate_loss(model: nn.Module, get_batch: Callable[..., tuple[torch.Tensor, torch.Tensor]],
                  batch_size: int, block_size: int, eval_iters: int, device: Any = None,
                  splits: tuple[str, ...] = ("train", "val"), seed: int = 0) -> dict[str, float]:
    """nanoGPT's ``estimate_loss``: mean loss over ``eval_iters`` random batches per split,
    in eval mode, under bf16 autocast on a GPU that has it.

    get_batch(split, batch_size, block_size, device, generator) -> (x, y), e.g.
    ``ShakespeareData.get_batch``; the batches come from a generator seeded with
    ``seed``, so repeated calls see the same batches.
    """
    device = torch.device(device) if device is not None else runtime.get_device()
    dtype = runtime.autocast_dtype(device)
    was_training = model.training
    model.eval()
    out = {}
    for split in splits:
        generator = torch.Generator().manual_seed(seed)
        losses = torch.zeros(eval_iters, device=device)
        for i in range(eval_iters):
            x, y = get_batch(split, batch_size, block_size, device, generator)
            with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                _, loss = model(x, y)
            losses[i] = loss.float()
        out[split] = losses.mean().item()
    model.train(was_training)
    return out


@torch.no_grad()
def trace(model: GPT, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Look inside a GPT: idx (B, T) -> (stream (L + 1, B, T, C), weights (L, B, nh, T, T)).

    stream[0] is the input to the first block (token + position embeddings), stream[l] the
    residual stream after block l (before ``ln_f``); weights[l] are block l's causal
    attention weights (each row sums to 1 over the keys 0..t). The same arithmetic as
    ``model.hidden`` without dropout (tests/lib/test_gpt.py checks that they agree), with the
    attention's reference path instead of the fused kernel so that the weights exist.
    """
    B, T = idx.shape
    x = model.tok_embed(idx) + model._positions(0, T, idx.device)  # (B, T, C)
    stream, weights = [x], []
    for block in model.blocks:
        h = block.ln_1(x)
        attn, w = block.attn(h, h, h, is_causal=True, need_weights=True)  # w (B, nh, T, T)
        x = x + attn
        x = x + block.mlp(block.ln_2(x))
        stream.append(x)
        weights.append(w)
    return torch.stack(stream), torch.stack(weights)
