"""A character-level language model with a recurrent core, and the bigram baseline it must beat.

``CharRNN``: embedding -> stacked LSTM (or GRU, RNN) -> linear head over the vocabulary.
It has GPT's interface (``workbook.nn.gpt``): ``forward(idx, targets=None) -> (logits,
loss)`` for ``workbook.train.fit`` with ``loss_fn=lm_loss``, and ``generate`` with a
temperature. Unlike GPT it has no context window: ``run`` carries the recurrent state from
one call to the next, so sampling feeds one character per step, in O(1) time each.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from workbook import runtime
from workbook.nn import rnn as ours
from workbook.nn.gpt import lm_loss, sample_next

__all__ = ["CharRNNConfig", "CharRNN", "TRAINING", "generate", "bigram_val_loss"]

CELLS = ("lstm", "gru", "rnn")

# Training per profile (notebook 06 and `make bench-rnn`): Adam at lr, gradient clipping at
# norm 1, epochs x steps_per_epoch random windows of block_size characters, the validation
# loss over val_batches fixed windows; limit_chars of the works (None: all of them).
TRAINING = {
    "ci": dict(steps_per_epoch=50, epochs=3, batch_size=32, block_size=64, lr=1e-2,
               val_batches=8, limit_chars=300_000),  # seconds on a CPU
    "full": dict(steps_per_epoch=100, epochs=10, batch_size=32, block_size=128, lr=2e-3,
                 val_batches=40, limit_chars=None),  # ~25 min on a 2-core CPU, ~1 on a GPU
}


@dataclass
class CharRNNConfig:
    vocab_size: int
    hidden_size: int = 256  # width of the embedding and of every recurrent layer
    num_layers: int = 2  # stacked recurrent layers
    cell: str = "lstm"  # "lstm", "gru" or "rnn" (tanh)
    dropout: float = 0.1  # between recurrent layers and before the head (training only)
    impl: str = "torch"  # "torch": torch.nn.LSTM (cuDNN on a GPU, fast); "ours": workbook.nn.rnn
    #                      (a Python loop over time: same weights, same results, slower)

    def __post_init__(self) -> None:
        if self.cell not in CELLS:
            raise ValueError(f"cell must be one of {CELLS}, got {self.cell!r}")
        if self.impl not in ("torch", "ours"):
            raise ValueError(f"impl must be 'torch' or 'ours', got {self.impl!r}")

    @classmethod
    def ci(cls, vocab_size: int) -> "CharRNNConfig":
        """Seconds on a CPU: one layer of 128."""
        return cls(vocab_size, hidden_size=128, num_layers=1, dropout=0.0)

    @classmethod
    def full(cls, vocab_size: int) -> "CharRNNConfig":
        """2 layers of 256 (1.1 M parameters for 84 characters): sized to train in minutes
        on a GPU and in under half an hour on a 2-core CPU (Karpathy's char-rnn used 512)."""
        return cls(vocab_size)

    @classmethod
    def for_profile(cls, vocab_size: int, profile: str | None = None) -> "CharRNNConfig":
        return cls.ci(vocab_size) if (profile or runtime.profile()) == "ci" else cls.full(vocab_size)


class CharRNN(nn.Module):
    """idx (B, T) token ids -> logits (B, T, V): logits[:, t] predict the token after idx[:, t]."""

    def __init__(self, config: CharRNNConfig):
        super().__init__()
        self.config = config
        H, V = config.hidden_size, config.vocab_size
        self.embedding = nn.Embedding(V, H)
        layers = ({"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN} if config.impl == "torch"
                  else {"lstm": ours.LSTM, "gru": ours.GRU, "rnn": ours.RNN})
        self.rnn = layers[config.cell](H, H, num_layers=config.num_layers, batch_first=True,
                                       dropout=config.dropout if config.num_layers > 1 else 0.0)
        self.drop = nn.Dropout(config.dropout)
        self.head = nn.Linear(H, V)

    def run(self, idx: torch.Tensor, state=None):
        """(logits (B, T, V), state after the last step); state=None starts from zeros."""
        x = self.embedding(idx)  # (B, T, H)
        out, state = self.rnn(x, state)  # (B, T, H)
        return self.head(self.drop(out)), state

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        logits, _ = self.run(idx)
        loss = lm_loss(logits, targets) if targets is not None else None
        return logits, loss

    def generate(self, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """``generate(self, ...)``, in eval mode (no dropout); the mode is restored after."""
        was_training = self.training
        self.eval()
        out = generate(self, idx, max_new_tokens, temperature, generator)
        self.train(was_training)
        return out


@torch.no_grad()
def generate(model: Any, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0,
             generator: torch.Generator | None = None) -> torch.Tensor:
    """Append max_new_tokens sampled tokens to idx (B, T0) -> (B, T0 + max_new_tokens).

    model: anything with ``run(idx, state) -> (logits (B, T, V), state)`` (state=None: start).
    The prompt is read once; then each new token is fed alone with the carried state, so
    each costs one step. Each token is ``sample_next(last logits, temperature,
    generator=generator)``: softmax(logits / temperature) and one torch.multinomial draw,
    or the argmax at temperature 0.
    """
    logits, state = model.run(idx)
    out = [idx]
    for _ in range(max_new_tokens):
        nxt = sample_next(logits[:, -1], temperature, generator=generator).unsqueeze(1)  # (B, 1)
        out.append(nxt)
        logits, state = model.run(nxt, state)  # one step, from the carried state
    return torch.cat(out, dim=1)


def bigram_val_loss(train_ids, val_ids, vocab_size: int, alpha: float = 0.1) -> float:
    """Validation cross-entropy (nats per token) of an add-alpha bigram model (notebook 10):
    counts of b following a in the training ids, plus alpha, normalised per row."""
    train_ids, val_ids = np.asarray(train_ids), np.asarray(val_ids)
    counts = np.full((vocab_size, vocab_size), float(alpha))
    np.add.at(counts, (train_ids[:-1], train_ids[1:]), 1.0)
    log_p = np.log(counts) - np.log(counts.sum(axis=1, keepdims=True))
    return float(-log_p[val_ids[:-1], val_ids[1:]].mean())
