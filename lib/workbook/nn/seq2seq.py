"""The RNN encoder-decoder (Sutskever et al. 2014, Cho et al. 2014) and the attention that
removed its bottleneck (Bahdanau et al. 2014, Luong et al. 2015); greedy and beam search.

Shapes: B batch, S source length, T target length, E embedding size, H hidden size,
V target vocabulary size, k live hypotheses of a beam. Padding masks (``src_pad_mask``)
are True AT padding tokens, as in ``workbook.nn.transformer``.

The model (``Seq2Seq``):
  * encoder: embedding + bidirectional GRU (``workbook.nn.rnn.GRU``) over the source;
    both directions' final states -> tanh(Linear) -> the decoder's first state s_0;
  * decoder: a GRU cell fed the previous target token. Without attention the logits read
    the state alone, so everything the decoder knows of the source went through s_0: the
    bottleneck. With attention (Luong's order: the query is the new state s_t) the state
    scores every encoder state h_i, the softmax of the scores weights them into a context
    c_t, and the logits read tanh(W_c [s_t; c_t]).
Scores e_i of a query s (H,) against keys h_i (H,):
  dot       e_i = s . h_i                          (Luong)
  general   e_i = s^T W h_i                        (Luong)
  additive  e_i = v^T tanh(W_q s + W_k h_i)        (Bahdanau)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from workbook.nn.rnn import GRU, GRUCell

__all__ = [
    "dot_scores", "general_scores", "additive_scores", "attend",
    "DotScorer", "GeneralScorer", "AdditiveScorer", "make_scorer", "SCORERS",
    "Seq2SeqConfig", "Seq2Seq", "Encoded", "Encoder",
    "greedy_decode", "beam_step", "normalised_score", "beam_search", "sequence_log_prob",
]


# ------------------------------------------------------------------------ attention

def dot_scores(query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """e_i = s . h_i. query (B, H), keys (B, S, H) -> scores (B, S)."""
    return torch.einsum("bh,bsh->bs", query, keys)


def general_scores(query: torch.Tensor, keys: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
    """e_i = s^T W h_i. query (B, Hq), keys (B, S, Hk), W (Hq, Hk) -> scores (B, S)."""
    return dot_scores(query @ W, keys)  # (s^T W) . h_i


def additive_scores(query: torch.Tensor, keys: torch.Tensor, W_q: torch.Tensor,
                    W_k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """e_i = v^T tanh(W_q s + W_k h_i). query (B, Hq), keys (B, S, Hk), W_q (A, Hq),
    W_k (A, Hk), v (A,) -> scores (B, S)."""
    hidden = torch.tanh((query @ W_q.T).unsqueeze(1) + keys @ W_k.T)  # (B, S, A)
    return hidden @ v  # (B, S)


def attend(scores: torch.Tensor, values: torch.Tensor,
           src_pad_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Softmax the scores over the source positions and average the values with them.

    scores (B, S), values (B, S, Hv), src_pad_mask (B, S) True at padding
    -> (context (B, Hv), weights (B, S)). Padded positions get weight exactly 0.
    """
    if src_pad_mask is not None:
        scores = scores.masked_fill(src_pad_mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)  # (B, S): over the source, each row sums to 1
    if src_pad_mask is not None:  # a row of padding only would be NaN: make it 0
        weights = weights.masked_fill(src_pad_mask, 0.0)
    context = torch.einsum("bs,bsh->bh", weights, values)  # (B, Hv)
    return context, weights


class DotScorer(nn.Module):
    """Luong's dot score: no parameters; query and keys must have the same size."""

    def __init__(self, hidden_size: int):
        super().__init__()

    def forward(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        return dot_scores(query, keys)  # (B, S)


class GeneralScorer(nn.Module):
    """Luong's general (bilinear) score s^T W h_i, W (H, H)."""

    def __init__(self, hidden_size: int):
        super().__init__()
        self.W = nn.Parameter(torch.randn(hidden_size, hidden_size) / hidden_size ** 0.5)

    def forward(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        return general_scores(query, keys, self.W)  # (B, S)


class AdditiveScorer(nn.Module):
    """Bahdanau's additive score v^T tanh(W_q s + W_k h_i): a one-hidden-layer MLP."""

    def __init__(self, hidden_size: int, attn_size: int | None = None):
        super().__init__()
        A = attn_size or hidden_size
        self.W_q = nn.Parameter(torch.randn(A, hidden_size) / hidden_size ** 0.5)
        self.W_k = nn.Parameter(torch.randn(A, hidden_size) / hidden_size ** 0.5)
        self.v = nn.Parameter(torch.randn(A) / A ** 0.5)

    def forward(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        return additive_scores(query, keys, self.W_q, self.W_k, self.v)  # (B, S)


SCORERS = {"dot": DotScorer, "general": GeneralScorer, "additive": AdditiveScorer}


def make_scorer(kind: str, hidden_size: int) -> nn.Module:
    if kind not in SCORERS:
        raise ValueError(f"unknown attention {kind!r}; use one of {sorted(SCORERS)} or None")
    return SCORERS[kind](hidden_size)


# ---------------------------------------------------------------------------- model

@dataclass
class Seq2SeqConfig:
    src_vocab_size: int  # source tokens, specials included
    tgt_vocab_size: int  # target tokens, specials included
    emb_size: int = 32  # E, both embeddings
    hidden_size: int = 64  # H: each encoder direction, and the decoder state
    attention: str | None = "general"  # None (the bottleneck), "dot", "general" or "additive"
    pad_id: int = 0  # the padding token in both vocabularies
    fast: bool = False  # torch.nn.GRU/GRUCell (C++/cuDNN loops) for workbook.nn.rnn's twins


class Encoded(NamedTuple):
    """What the decoder needs of a source: memory (B, S, H) (the encoder states projected
    to H; the keys and values of attention), src_pad_mask (B, S), state s_0 (B, H)."""

    memory: torch.Tensor
    src_pad_mask: torch.Tensor
    state: torch.Tensor

    def expand(self, k: int) -> "Encoded":
        """One source (batch of 1) repeated for k hypotheses."""
        return Encoded(self.memory.expand(k, -1, -1), self.src_pad_mask.expand(k, -1),
                       self.state.expand(k, -1))


class Encoder(nn.Module):
    """Embedding + bidirectional GRU. src (B, S), src_pad_mask (B, S)
    -> outputs (B, S, 2H) (0 at padding), final (B, 2H) = [forward's last; backward's first].

    ``fast`` swaps notebook 06's GRU for torch's twin (same parameters, same results, one
    C++ loop instead of a Python one), fed a packed batch so each source stops at its end.
    """

    def __init__(self, vocab_size: int, emb_size: int, hidden_size: int, pad_id: int = 0,
                 fast: bool = False):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, emb_size, padding_idx=pad_id)
        rnn = nn.GRU if fast else GRU
        self.rnn = rnn(emb_size, hidden_size, batch_first=True, bidirectional=True)

    def forward(self, src: torch.Tensor, src_pad_mask: torch.Tensor):
        lengths = (~src_pad_mask).sum(dim=1)  # (B,): each source's own end
        x = self.embed(src)  # (B, S, E)
        if isinstance(self.rnn, GRU):
            outputs, h_n = self.rnn(x, lengths=lengths)  # (B, S, 2H), (2, B, H)
        else:
            packed = pack_padded_sequence(x, lengths.cpu().clamp(min=1), batch_first=True,
                                          enforce_sorted=False)
            outputs, h_n = self.rnn(packed)
            outputs, _ = pad_packed_sequence(outputs, batch_first=True, total_length=src.size(1))
        return outputs, torch.cat([h_n[0], h_n[1]], dim=-1)  # (B, S, 2H), (B, 2H)


class Seq2Seq(nn.Module):
    """forward(src (B, S), tgt_in (B, T)) -> (logits (B, T, V), weights (B, T, S) or None).

    ``tgt_in`` is the target shifted right (BOS first): teacher forcing, one decoder step
    per target position. ``weights`` are the attention weights of each step.
    """

    def __init__(self, config: Seq2SeqConfig):
        super().__init__()
        self.config = config
        E, H = config.emb_size, config.hidden_size
        self.encoder = Encoder(config.src_vocab_size, E, H, config.pad_id, config.fast)
        self.bridge = nn.Linear(2 * H, H)  # both final encoder states -> s_0
        self.embed = nn.Embedding(config.tgt_vocab_size, E, padding_idx=config.pad_id)
        self.cell = (nn.GRUCell if config.fast else GRUCell)(E, H)
        if config.attention is not None:
            self.keys = nn.Linear(2 * H, H)  # encoder states (2H) -> memory (H), the query's size
            self.scorer = make_scorer(config.attention, H)
            self.combine = nn.Linear(2 * H, H)  # [s_t; c_t] -> attentional state
        self.out = nn.Linear(H, config.tgt_vocab_size)

    @property
    def has_attention(self) -> bool:
        return self.config.attention is not None

    def encode(self, src: torch.Tensor, src_pad_mask: torch.Tensor | None = None) -> Encoded:
        """src (B, S) -> Encoded(memory (B, S, H), src_pad_mask (B, S), state (B, H))."""
        if src_pad_mask is None:
            src_pad_mask = src == self.config.pad_id
        outputs, final = self.encoder(src, src_pad_mask)  # (B, S, 2H), (B, 2H)
        state = torch.tanh(self.bridge(final))  # (B, H): the whole source in one vector
        memory = self.keys(outputs) if self.has_attention else outputs[..., :0]  # (B, S, H|0)
        return Encoded(memory, src_pad_mask, state)

    def step(self, prev: torch.Tensor, state: torch.Tensor, enc: Encoded):
        """One decoder step. prev (B,) the previous token, state s_{t-1} (B, H)
        -> (logits (B, V), s_t (B, H), weights (B, S) or None)."""
        state = self.cell(self.embed(prev), state)  # (B, H)
        if not self.has_attention:
            return self.out(state), state, None
        scores = self.scorer(state, enc.memory)  # (B, S)
        context, weights = attend(scores, enc.memory, enc.src_pad_mask)  # (B, H), (B, S)
        attentional = torch.tanh(self.combine(torch.cat([state, context], dim=-1)))  # (B, H)
        return self.out(attentional), state, weights

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor,
                src_pad_mask: torch.Tensor | None = None):
        enc = self.encode(src, src_pad_mask)
        state, logits, weights = enc.state, [], []
        for t in range(tgt_in.size(1)):  # teacher forcing: the TRUE previous token
            step_logits, state, w = self.step(tgt_in[:, t], state, enc)
            logits.append(step_logits)
            weights.append(w)
        logits = torch.stack(logits, dim=1)  # (B, T, V)
        return logits, (torch.stack(weights, dim=1) if self.has_attention else None)


# ---------------------------------------------------------------------------- decoding
# Conventions shared with workbook.nn.transformer: outputs are (B, 1 + n) with BOS first,
# padding after a row's EOS; PAD and BOS are never a valid next token.

def _log_probs(logits: torch.Tensor, banned: tuple[int, ...]) -> torch.Tensor:
    log_probs = F.log_softmax(logits.to(torch.promote_types(logits.dtype, torch.float32)), -1)
    log_probs[:, list(banned)] = float("-inf")
    return log_probs  # (B, V)


@torch.no_grad()
def greedy_decode(model: Seq2Seq, src: torch.Tensor, bos_id: int, eos_id: int, max_len: int,
                  src_pad_mask: torch.Tensor | None = None, return_weights: bool = False):
    """The most likely token at each step, fed back as the next input.

    src (B, S) -> ids (B, 1 + n), n <= max_len; with ``return_weights`` also the attention
    weights (B, n, S) of the steps that wrote ids[:, 1:] (None without attention).
    """
    pad = model.config.pad_id
    enc = model.encode(src, src_pad_mask)
    B = src.size(0)
    out = torch.full((B, 1), bos_id, dtype=torch.long, device=src.device)
    done = torch.zeros(B, dtype=torch.bool, device=src.device)
    state, weights = enc.state, []
    for _ in range(max_len):
        logits, state, w = model.step(out[:, -1], state, enc)  # its OWN previous output
        next_id = _log_probs(logits, (pad, bos_id)).argmax(dim=-1).masked_fill(done, pad)
        out = torch.cat([out, next_id.unsqueeze(1)], dim=1)  # (B, t + 1)
        weights.append(w)
        done |= next_id == eos_id
        if done.all():
            break
    if not return_weights:
        return out
    return out, (torch.stack(weights, dim=1) if model.has_attention else None)


def beam_step(scores: torch.Tensor, log_probs: torch.Tensor, beam_size: int):
    """One step of beam search: extend each of k prefixes by each of V tokens and keep the
    ``beam_size`` best extensions.

    scores (k,) log-probability of each prefix; log_probs (k, V) of its next token
    -> (top_scores (k',), parents (k',) int64, tokens (k',) int64), best first,
    k' = min(beam_size, k * V). Extension (parents[j], tokens[j]) scores top_scores[j].
    """
    V = log_probs.size(1)
    candidates = (scores.unsqueeze(1) + log_probs).reshape(-1)  # (k * V,) every extension
    top_scores, top = candidates.topk(min(beam_size, candidates.numel()))
    return top_scores, top // V, top % V


def normalised_score(score: float, length: int, alpha: float = 0.0) -> float:
    """A finished hypothesis's score for ranking: log p / length ** alpha (``length``
    generated tokens, EOS included). alpha = 0: plain log-probability, which favours short
    outputs (every token adds a negative term); alpha = 1: mean log-probability per token."""
    return score / length ** alpha


@torch.no_grad()
def beam_search(model: Seq2Seq, src: torch.Tensor, bos_id: int, eos_id: int, max_len: int,
                beam_size: int, length_penalty: float = 0.0,
                src_pad_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Keep the ``beam_size`` most likely prefixes at each step; return for each source the
    finished sequence (ended by EOS, or cut at max_len) with the best
    ``normalised_score(log p, length, length_penalty)``.

    src (B, S) -> (B, 1 + n), formatted as ``greedy_decode``'s output. With
    length_penalty = 0 (plain sums, as ``workbook.nn.transformer.beam_search``), beam_size=1
    is greedy decoding.
    """
    pad = model.config.pad_id
    enc = model.encode(src, src_pad_mask)
    best = [_beam_search_one(model, Encoded(*(x[b:b + 1] for x in enc)), bos_id, eos_id,
                             max_len, beam_size, length_penalty) for b in range(src.size(0))]
    L = max(len(seq) for seq in best)
    out = torch.full((len(best), L), pad, dtype=torch.long, device=src.device)
    for b, seq in enumerate(best):
        out[b, :len(seq)] = torch.tensor(seq, dtype=torch.long)
    return out


def _beam_search_one(model: Seq2Seq, enc: Encoded, bos_id: int, eos_id: int, max_len: int,
                     beam_size: int, alpha: float) -> list[int]:
    """Beam search for one source (enc of batch 1) -> token ids, BOS first."""
    banned = (model.config.pad_id, bos_id)
    beams = torch.full((1, 1), bos_id, dtype=torch.long, device=enc.state.device)  # (k, t)
    states = enc.state  # (k, H)
    scores = torch.zeros(1, dtype=torch.float64, device=enc.state.device)  # (k,), float64 sums
    finished: list[tuple[float, list[int]]] = []  # (normalised score, ids)
    for t in range(1, max_len + 1):  # t tokens generated after this step
        k = beams.size(0)
        logits, new_states, _ = model.step(beams[:, -1], states, enc.expand(k))
        log_probs = _log_probs(logits, banned).to(torch.float64)  # (k, V)
        top_scores, parents, tokens = beam_step(scores, log_probs, beam_size)
        beams = torch.cat([beams[parents], tokens.unsqueeze(1)], dim=1)  # (k', t + 1)
        states = new_states[parents]
        ended = tokens == eos_id
        finished += [(normalised_score(s, t, alpha), seq)
                     for s, seq in zip(top_scores[ended].tolist(), beams[ended].tolist())]
        alive = ~ended & torch.isfinite(top_scores)  # banned tokens are not extensions
        beams, states, scores = beams[alive], states[alive], top_scores[alive]
        if beams.size(0) == 0:
            break
        # a live prefix's sum (< 0) can only fall as it grows, and its length is at most
        # max_len, so no completion of it scores above sum / max_len ** alpha: once a
        # finished sequence beats that bound for every live prefix, none can overtake it
        bound = normalised_score(scores.max().item(), max_len, alpha)
        if finished and max(s for s, _ in finished) >= bound:
            break
    # sequences cut at max_len compete too; on a tie the finished one (listed first) wins
    pool = finished + [(normalised_score(s, len(seq) - 1, alpha), seq)
                       for s, seq in zip(scores.tolist(), beams.tolist())]
    return max(pool, key=lambda pair: pair[0])[1]


@torch.no_grad()
def sequence_log_prob(model: Seq2Seq, src: torch.Tensor, seqs: torch.Tensor,
                      src_pad_mask: torch.Tensor | None = None) -> torch.Tensor:
    """log p(seq | src) (B,) of decoded sequences (B, L) (BOS first, padding after EOS),
    summed over the tokens after BOS, up to and including EOS."""
    pad = model.config.pad_id
    logits, _ = model(src, seqs[:, :-1], src_pad_mask)  # (B, L - 1, V)
    log_probs = _log_probs(logits.reshape(-1, logits.size(-1)), (pad,)).view_as(logits)
    targets = seqs[:, 1:]  # (B, L - 1)
    picked = log_probs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)  # (B, L - 1)
    return picked.masked_fill(targets == pad, 0.0).sum(dim=1)
