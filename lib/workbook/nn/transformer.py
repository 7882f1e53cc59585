"""The encoder-decoder transformer (Vaswani et al. 2017) with pre-LayerNorm blocks, and
how to decode with it: greedy and beam search.

Shapes: B batch, S source length, T target length, C = d_model, V vocabulary size.
Attention masks are True where a query may attend (see ``workbook.nn.attention``);
padding masks (``src_pad_mask``, ``tgt_pad_mask``) are True AT padding tokens.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from workbook.nn.attention import (
    MultiHeadAttention,
    causal_mask,
    copy_from_torch,
    copy_to_torch,
    padding_mask,
    sinusoidal_positions,
)
from workbook.nn.layers import FeedForward, LayerNorm

__all__ = [
    "EncoderLayer",
    "DecoderLayer",
    "copy_encoder_layer_from_torch",
    "copy_decoder_layer_from_torch",
    "copy_encoder_layer_to_torch",
    "copy_decoder_layer_to_torch",
    "TransformerConfig",
    "Transformer",
    "sequence_loss",
    "sequence_log_prob",
    "greedy_decode",
    "beam_search",
]


class EncoderLayer(nn.Module):
    """Pre-LN encoder block: x + SelfAttn(LN(x)), then x + FF(LN(x)). x (B, S, C) -> (B, S, C).

    Normalising before each sublayer (rather than after, as in the 2017 paper) keeps the
    residual path an identity, so deep stacks train without learning-rate warm-up tricks.
    Equals ``torch.nn.TransformerEncoderLayer(norm_first=True, batch_first=True)``.
    """

    def __init__(self, d_model: int, num_heads: int, d_ff: int, dropout: float = 0.0,
                 bias: bool = True):
        super().__init__()
        self.norm1 = LayerNorm(d_model, bias=bias)
        self.self_attn = MultiHeadAttention(d_model, num_heads, dropout=dropout, bias=bias)
        self.norm2 = LayerNorm(d_model, bias=bias)
        self.ff = FeedForward(d_model, d_ff, dropout=dropout, bias=bias)
        self.dropout = nn.Dropout(dropout)  # on each sublayer's output, before the residual add

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """mask: bool, broadcastable to (B, S, S), True where a position may attend."""
        h = self.norm1(x)
        x = x + self.dropout(self.self_attn(h, h, h, mask)[0])
        return x + self.dropout(self.ff(self.norm2(x)))


class DecoderLayer(nn.Module):
    """Pre-LN decoder block: masked self-attention, cross-attention to the encoder's
    output (memory), feed-forward, each as x + sublayer(LN(x)). x (B, T, C) -> (B, T, C).

    Equals ``torch.nn.TransformerDecoderLayer(norm_first=True, batch_first=True)``.
    """

    def __init__(self, d_model: int, num_heads: int, d_ff: int, dropout: float = 0.0,
                 bias: bool = True):
        super().__init__()
        self.norm1 = LayerNorm(d_model, bias=bias)
        self.self_attn = MultiHeadAttention(d_model, num_heads, dropout=dropout, bias=bias)
        self.norm2 = LayerNorm(d_model, bias=bias)
        self.cross_attn = MultiHeadAttention(d_model, num_heads, dropout=dropout, bias=bias)
        self.norm3 = LayerNorm(d_model, bias=bias)
        self.ff = FeedForward(d_model, d_ff, dropout=dropout, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, memory: torch.Tensor,
                tgt_mask: torch.Tensor | None = None,
                memory_mask: torch.Tensor | None = None) -> torch.Tensor:
        """memory (B, S, C); tgt_mask broadcastable to (B, T, T) (causal, and padding);
        memory_mask broadcastable to (B, T, S) (source padding). True = may attend."""
        h = self.norm1(x)
        x = x + self.dropout(self.self_attn(h, h, h, tgt_mask)[0])
        # queries from the target, keys and values from the source
        x = x + self.dropout(self.cross_attn(self.norm2(x), memory, memory, memory_mask)[0])
        return x + self.dropout(self.ff(self.norm3(x)))


def _copy_params(dst: nn.Module, src: nn.Module) -> None:
    dst.load_state_dict(src.state_dict())  # same parameter names (weight, bias)


def copy_encoder_layer_from_torch(layer: EncoderLayer,
                                  torch_layer: nn.TransformerEncoderLayer) -> EncoderLayer:
    """Copy a ``torch.nn.TransformerEncoderLayer``'s weights into ``layer``."""
    copy_from_torch(layer.self_attn, torch_layer.self_attn)
    for ours, theirs in _encoder_pairs(layer, torch_layer):
        _copy_params(ours, theirs)
    return layer


def copy_encoder_layer_to_torch(
        layer: EncoderLayer, torch_layer: nn.TransformerEncoderLayer) -> nn.TransformerEncoderLayer:
    """Copy ``layer``'s weights into a ``torch.nn.TransformerEncoderLayer``."""
    copy_to_torch(layer.self_attn, torch_layer.self_attn)
    for ours, theirs in _encoder_pairs(layer, torch_layer):
        _copy_params(theirs, ours)
    return torch_layer


def copy_decoder_layer_from_torch(layer: DecoderLayer,
                                  torch_layer: nn.TransformerDecoderLayer) -> DecoderLayer:
    """Copy a ``torch.nn.TransformerDecoderLayer``'s weights into ``layer``."""
    copy_from_torch(layer.self_attn, torch_layer.self_attn)
    copy_from_torch(layer.cross_attn, torch_layer.multihead_attn)
    for ours, theirs in _decoder_pairs(layer, torch_layer):
        _copy_params(ours, theirs)
    return layer


def copy_decoder_layer_to_torch(
        layer: DecoderLayer, torch_layer: nn.TransformerDecoderLayer) -> nn.TransformerDecoderLayer:
    """Copy ``layer``'s weights into a ``torch.nn.TransformerDecoderLayer``."""
    copy_to_torch(layer.self_attn, torch_layer.self_attn)
    copy_to_torch(layer.cross_attn, torch_layer.multihead_attn)
    for ours, theirs in _decoder_pairs(layer, torch_layer):
        _copy_params(theirs, ours)
    return torch_layer


def _encoder_pairs(layer, torch_layer):
    return [(layer.norm1, torch_layer.norm1), (layer.norm2, torch_layer.norm2),
            (layer.ff.linear1, torch_layer.linear1), (layer.ff.linear2, torch_layer.linear2)]


def _decoder_pairs(layer, torch_layer):
    return _encoder_pairs(layer, torch_layer) + [(layer.norm3, torch_layer.norm3)]


@dataclass
class TransformerConfig:
    src_vocab_size: int  # source tokens, specials included
    tgt_vocab_size: int  # target tokens, specials included
    d_model: int = 128  # width of every token vector (C)
    num_heads: int = 4  # head size d_model // num_heads = 32
    num_layers: int = 2  # encoder layers, and as many decoder layers
    d_ff: int = 512  # hidden width of the feed-forward network, 4 * d_model as in the paper
    dropout: float = 0.1  # on embeddings, attention weights and sublayer outputs
    max_len: int = 64  # longest source or target sequence (specials included)
    pad_id: int = 0  # the padding token in both vocabularies


class Transformer(nn.Module):
    """Encoder-decoder transformer: forward(src (B, S), tgt (B, T)) -> logits (B, T, V).

    ``tgt`` is the decoder's input, the target shifted right (starting with BOS); the
    logits at position t predict target token t + 1. Padding masks default to
    ``ids == config.pad_id``.
    """

    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.config = config
        C = config.d_model
        self.src_embed = nn.Embedding(config.src_vocab_size, C)
        self.tgt_embed = nn.Embedding(config.tgt_vocab_size, C)
        # fixed, not learned: a buffer moves with .to(device) but gets no gradient
        self.register_buffer("positions", sinusoidal_positions(config.max_len, C), persistent=False)
        self.dropout = nn.Dropout(config.dropout)
        layer_args = (C, config.num_heads, config.d_ff, config.dropout)
        self.encoder = nn.ModuleList(EncoderLayer(*layer_args) for _ in range(config.num_layers))
        self.decoder = nn.ModuleList(DecoderLayer(*layer_args) for _ in range(config.num_layers))
        # pre-LN blocks leave the residual stream unnormalised: normalise it once at the end
        self.encoder_norm = LayerNorm(C)
        self.decoder_norm = LayerNorm(C)
        self.lm_head = nn.Linear(C, config.tgt_vocab_size)
        for embed in (self.src_embed, self.tgt_embed):
            # std 1/sqrt(C), so that after the sqrt(C) scaling in _embed a token vector
            # has entries of size ~1, like the position codes it is added to
            nn.init.normal_(embed.weight, std=C ** -0.5)

    def _embed(self, ids: torch.Tensor, embed: nn.Embedding) -> torch.Tensor:
        B, T = ids.shape
        if T > self.config.max_len:
            raise ValueError(f"sequence of length {T} is longer than "
                             f"max_len={self.config.max_len}; raise TransformerConfig.max_len "
                             "or shorten the input")
        x = embed(ids) * math.sqrt(self.config.d_model)  # (B, T, C)
        return self.dropout(x + self.positions[:T].to(x.dtype))  # (B, T, C)

    def _pad_mask(self, ids: torch.Tensor, given: torch.Tensor | None) -> torch.Tensor:
        return ids == self.config.pad_id if given is None else given  # (B, T) True at pads

    def encode(self, src: torch.Tensor, src_pad_mask: torch.Tensor | None = None) -> torch.Tensor:
        """src (B, S) -> memory (B, S, C)."""
        mask = padding_mask(self._pad_mask(src, src_pad_mask))  # (B, 1, S)
        x = self._embed(src, self.src_embed)
        for layer in self.encoder:
            x = layer(x, mask)
        return self.encoder_norm(x)

    def decode(self, tgt: torch.Tensor, memory: torch.Tensor, src_pad_mask: torch.Tensor,
               tgt_pad_mask: torch.Tensor | None = None) -> torch.Tensor:
        """tgt (B, T), memory (B, S, C), src_pad_mask (B, S) True at pads -> logits (B, T, V)."""
        B, T = tgt.shape
        # position t sees target positions <= t (causal) that are not padding
        tgt_pad = padding_mask(self._pad_mask(tgt, tgt_pad_mask))  # (B, 1, T)
        tgt_mask = causal_mask(T, device=tgt.device) & tgt_pad  # (B, T, T)
        memory_mask = padding_mask(src_pad_mask)  # (B, 1, S)
        x = self._embed(tgt, self.tgt_embed)
        for layer in self.decoder:
            x = layer(x, memory, tgt_mask, memory_mask)
        return self.lm_head(self.decoder_norm(x))  # (B, T, V)

    def forward(self, src: torch.Tensor, tgt: torch.Tensor,
                src_pad_mask: torch.Tensor | None = None,
                tgt_pad_mask: torch.Tensor | None = None) -> torch.Tensor:
        src_pad_mask = self._pad_mask(src, src_pad_mask)
        memory = self.encode(src, src_pad_mask)
        return self.decode(tgt, memory, src_pad_mask, tgt_pad_mask)


def sequence_loss(logits: torch.Tensor, targets: torch.Tensor, pad_id: int) -> torch.Tensor:
    """Mean cross-entropy over the non-padding targets. logits (B, T, V), targets (B, T)."""
    B, T, V = logits.shape
    return F.cross_entropy(logits.reshape(B * T, V), targets.reshape(B * T), ignore_index=pad_id)


# ---------------------------------------------------------------------------- decoding

def _at_least_float32(x: torch.Tensor) -> torch.Tensor:
    """Sum log-probs in float32 even under bf16 autocast; keep float64 when given."""
    return x.to(torch.promote_types(x.dtype, torch.float32))


def _next_log_probs(model: Transformer, prefix: torch.Tensor, memory: torch.Tensor,
                    src_pad_mask: torch.Tensor, banned: tuple[int, ...]) -> torch.Tensor:
    """log p(next token | prefix, source) (k, V) for prefixes (k, t).

    ``banned`` tokens (padding, BOS) are never a valid next token: they get -inf after
    the log-softmax, so the other tokens keep the model's own probabilities and the
    scores agree with ``sequence_log_prob``.
    """
    logits = model.decode(prefix, memory, src_pad_mask)[:, -1]  # (k, V): the last position
    log_probs = F.log_softmax(_at_least_float32(logits), dim=-1)
    log_probs[:, list(banned)] = float("-inf")
    return log_probs


@torch.no_grad()
def greedy_decode(model: Transformer, src: torch.Tensor, bos_id: int, eos_id: int,
                  max_len: int, src_pad_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Pick the most likely token at each step. src (B, S) -> (B, 1 + n) with n <= max_len
    generated tokens after BOS; after a row's EOS the row is filled with padding."""
    pad = model.config.pad_id
    src_pad_mask = model._pad_mask(src, src_pad_mask)
    memory = model.encode(src, src_pad_mask)  # (B, S, C), computed once
    B = src.size(0)
    out = torch.full((B, 1), bos_id, dtype=torch.long, device=src.device)
    done = torch.zeros(B, dtype=torch.bool, device=src.device)
    for _ in range(max_len):
        log_probs = _next_log_probs(model, out, memory, src_pad_mask, (pad, bos_id))  # (B, V)
        next_id = log_probs.argmax(dim=-1)  # (B,)
        next_id = next_id.masked_fill(done, pad)
        out = torch.cat([out, next_id.unsqueeze(1)], dim=1)  # (B, t + 1)
        done |= next_id == eos_id
        if done.all():
            break
    return out


@torch.no_grad()
def beam_search(model: Transformer, src: torch.Tensor, bos_id: int, eos_id: int,
                max_len: int, beam_size: int,
                src_pad_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Keep the ``beam_size`` most likely prefixes at each step; return the most likely
    complete sequence (ended by EOS, or cut at max_len) for each source.

    src (B, S) -> (B, 1 + n), formatted as ``greedy_decode``'s output. Scores are plain
    sums of log-probabilities (no length normalisation), so beam_size=1 is greedy decoding
    and a beam as large as the search space finds the most likely sequence.
    """
    pad = model.config.pad_id
    src_pad_mask = model._pad_mask(src, src_pad_mask)
    memory = model.encode(src, src_pad_mask)  # (B, S, C)
    best = [_beam_search_one(model, memory[b:b + 1], src_pad_mask[b:b + 1], bos_id, eos_id,
                             max_len, beam_size) for b in range(src.size(0))]
    L = max(len(seq) for seq in best)
    out = torch.full((len(best), L), pad, dtype=torch.long, device=src.device)
    for b, seq in enumerate(best):
        out[b, :len(seq)] = torch.tensor(seq, dtype=torch.long)
    return out


def _beam_search_one(model: Transformer, memory: torch.Tensor, src_pad_mask: torch.Tensor,
                     bos_id: int, eos_id: int, max_len: int, beam_size: int) -> list[int]:
    """Beam search for one source: memory (1, S, C) -> token ids, BOS first."""
    banned = (model.config.pad_id, bos_id)
    beams = torch.full((1, 1), bos_id, dtype=torch.long, device=memory.device)  # (k, t)
    # (k,) log-prob of each prefix, summed in float64 so that long sums stay exact
    scores = torch.zeros(1, dtype=torch.float64, device=memory.device)
    finished: list[tuple[float, list[int]]] = []
    for _ in range(max_len):
        k = beams.size(0)
        log_probs = _next_log_probs(model, beams, memory.expand(k, -1, -1),
                                    src_pad_mask.expand(k, -1), banned)  # (k, V)
        V = log_probs.size(1)
        candidates = (scores.unsqueeze(1) + log_probs).view(-1)  # (k * V,) every extension
        top_scores, top = candidates.topk(min(beam_size, candidates.numel()))
        beams = torch.cat([beams[top // V], (top % V).unsqueeze(1)], dim=1)  # (k', t + 1)
        ended = beams[:, -1] == eos_id
        finished += [(s, seq) for s, seq in zip(top_scores[ended].tolist(), beams[ended].tolist())]
        alive = ~ended & torch.isfinite(top_scores)  # banned tokens are not extensions
        beams, scores = beams[alive], top_scores[alive]
        if beams.size(0) == 0:
            break
        # a prefix's log-prob can only fall as it grows: once a finished sequence beats
        # every live prefix, nothing left in the beam can overtake it
        if finished and max(s for s, _ in finished) >= scores.max().item():
            break
    # sequences cut at max_len compete too; on a tie the finished one (listed first) wins
    pool = finished + list(zip(scores.tolist(), beams.tolist()))
    return max(pool, key=lambda pair: pair[0])[1]


@torch.no_grad()
def sequence_log_prob(model: Transformer, src: torch.Tensor, seqs: torch.Tensor,
                      src_pad_mask: torch.Tensor | None = None) -> torch.Tensor:
    """log p(seq | src) (B,) of decoded sequences (B, L) (BOS first, padding after EOS),
    summed over the tokens after BOS, up to and including EOS."""
    pad = model.config.pad_id
    logits = model(src, seqs[:, :-1], src_pad_mask)  # (B, L - 1, V)
    log_probs = F.log_softmax(_at_least_float32(logits), dim=-1)
    targets = seqs[:, 1:]  # (B, L - 1)
    picked = log_probs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)  # (B, L - 1)
    return picked.masked_fill(targets == pad, 0.0).sum(dim=1)
