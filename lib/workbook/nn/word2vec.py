"""Skip-gram with negative sampling in PyTorch: the same model and data as
``workbook.numpy_nn.word2vec.train_sgns``, with autograd and a GPU when there is one.

Two ``nn.Embedding`` tables, ``in_embed`` (the word vectors, the embedding we keep) and
``out_embed`` (the context vectors), with sparse gradients: a batch touches only a few
hundred of the V rows, and ``torch.optim.SGD`` updates only those. The loss of a batch is
the sum over its pairs, as in the NumPy version, so the same learning rate applies.
"""

from __future__ import annotations

import time
from typing import Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from workbook import runtime
from workbook.numpy_nn.word2vec import (
    SGNSConfig, TrainResult, epoch_pairs, init_embeddings, keep_probabilities, noise_distribution,
)

__all__ = ["SkipGramNS", "train_sgns_torch"]


class SkipGramNS(nn.Module):
    """forward(centers (B,), contexts (B,), negatives (B, K)) -> loss (summed over B)."""

    def __init__(self, vocab_size: int, dim: int, sparse: bool = True):
        super().__init__()
        self.in_embed = nn.Embedding(vocab_size, dim, sparse=sparse)
        self.out_embed = nn.Embedding(vocab_size, dim, sparse=sparse)

    def forward(self, centers: torch.Tensor, contexts: torch.Tensor,
                negatives: torch.Tensor) -> torch.Tensor:
        v = self.in_embed(centers)  # (B, d)
        u_pos = self.out_embed(contexts)  # (B, d)
        u_neg = self.out_embed(negatives)  # (B, K, d)
        s_pos = (u_pos * v).sum(-1)  # (B,)
        s_neg = torch.bmm(u_neg, v.unsqueeze(-1)).squeeze(-1)  # (B, K)
        return -(F.logsigmoid(s_pos).sum() + F.logsigmoid(-s_neg).sum())


def train_sgns_torch(sentences: Sequence[np.ndarray], counts: np.ndarray, cfg: SGNSConfig, *,
                     device: torch.device | str | None = None, progress: bool = False,
                     log_every: int = 100) -> TrainResult:
    """Train SGNS with torch's sparse SGD; returns the NumPy ``TrainResult`` (float32 CPU).

    Pairs and subsampling are drawn in NumPy exactly as ``train_sgns`` draws them;
    negatives are drawn on the device with ``torch.multinomial``. Same initialisation and
    linear learning-rate decay.
    """
    device = torch.device(device) if device is not None else runtime.get_device()
    rng = np.random.default_rng(cfg.seed)
    V = len(counts)
    W_in, W_out = init_embeddings(V, cfg.dim, rng)
    model = SkipGramNS(V, cfg.dim).to(device)
    with torch.no_grad():
        model.in_embed.weight.copy_(torch.from_numpy(W_in))
        model.out_embed.weight.copy_(torch.from_numpy(W_out))
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr)
    keep = keep_probabilities(counts, cfg.sample)
    noise = torch.as_tensor(noise_distribution(counts, cfg.power), dtype=torch.float32,
                            device=device)
    generator = torch.Generator(device=device).manual_seed(cfg.seed)
    n_words = int(sum(len(s) for s in sentences))
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=cfg.epochs * n_words, unit=" words", unit_scale=True, smoothing=0.1)
    losses, running, steps = [], torch.zeros((), device=device), 0
    start = time.perf_counter()
    for epoch in range(cfg.epochs):
        pairs = epoch_pairs(sentences, keep, cfg.window, rng)
        pairs = torch.from_numpy(pairs[rng.permutation(len(pairs))]).to(device)
        n_batches = max(1, -(-len(pairs) // cfg.batch_size))
        for b in range(n_batches):
            done = (epoch + b / n_batches) / cfg.epochs
            for group in optimizer.param_groups:
                group["lr"] = cfg.lr * max(cfg.min_lr_fraction, 1.0 - done)
            batch = pairs[b * cfg.batch_size:(b + 1) * cfg.batch_size]
            if len(batch) == 0:
                continue
            negatives = torch.multinomial(noise, len(batch) * cfg.negative, replacement=True,
                                          generator=generator).view(len(batch), cfg.negative)
            loss = model(batch[:, 0], batch[:, 1], negatives)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            running += loss.detach() / len(batch)  # no .item(): no GPU sync per step
            steps += 1
            if steps % log_every == 0:
                losses.append(float(running) / log_every)
                running.zero_()
            if bar is not None:
                bar.update(n_words // n_batches)
    if bar is not None:
        bar.close()
    seconds = time.perf_counter() - start
    W_in = model.in_embed.weight.detach().float().cpu().numpy()
    W_out = model.out_embed.weight.detach().float().cpu().numpy()
    return TrainResult(W_in, W_out, losses, cfg.epochs * n_words, seconds)
