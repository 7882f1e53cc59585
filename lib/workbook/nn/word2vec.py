"""Skip-gram with negative sampling in PyTorch: the same model and data as
``workbook.numpy_nn.word2vec.train_sgns``, with autograd and a GPU when there is one.

``SkipGramNS`` holds two ``nn.Embedding`` tables, ``in_embed`` (the word vectors, the
embedding we keep) and ``out_embed`` (the context vectors). A batch touches only a few
hundred of the V rows, so the trainer does not let autograd build (V, d) gradients: it
gathers the batch's rows, lets autograd differentiate the loss with respect to those, and
adds the steps back with ``index_add_`` (repeated rows accumulate). That is what
``nn.Embedding(sparse=True)`` with ``torch.optim.SGD`` does, without coalescing sparse
tensors (about 5x faster on a CPU). The loss of a batch is the sum over its pairs, as in
the NumPy version, so the same learning rate applies.
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

__all__ = ["sgns_loss", "SkipGramNS", "train_sgns_torch"]


def sgns_loss(v: torch.Tensor, u_pos: torch.Tensor, u_neg: torch.Tensor) -> torch.Tensor:
    """v (B, d), u_pos (B, d), u_neg (B, K, d) -> the SGNS loss summed over the B pairs."""
    s_pos = (u_pos * v).sum(-1)  # (B,)
    # a broadcast product, not bmm: B tiny (K, d) @ (d, 1) products are slow on a CPU
    s_neg = (u_neg * v.unsqueeze(1)).sum(-1)  # (B, K)
    return -(F.logsigmoid(s_pos).sum() + F.logsigmoid(-s_neg).sum())


class SkipGramNS(nn.Module):
    """forward(centers (B,), contexts (B,), negatives (B, K)) -> loss (summed over B)."""

    def __init__(self, vocab_size: int, dim: int, sparse: bool = False):
        super().__init__()
        self.in_embed = nn.Embedding(vocab_size, dim, sparse=sparse)
        self.out_embed = nn.Embedding(vocab_size, dim, sparse=sparse)

    def forward(self, centers: torch.Tensor, contexts: torch.Tensor,
                negatives: torch.Tensor) -> torch.Tensor:
        return sgns_loss(self.in_embed(centers), self.out_embed(contexts),
                         self.out_embed(negatives))  # (B, d), (B, d), (B, K, d)


def train_sgns_torch(sentences: Sequence[np.ndarray], counts: np.ndarray, cfg: SGNSConfig, *,
                     device: torch.device | str | None = None, progress: bool = False,
                     log_every: int = 100) -> TrainResult:
    """Train SGNS with SGD on the rows each batch touches (module docstring); returns the
    NumPy ``TrainResult`` (float32, on the CPU).

    Pairs and subsampling are drawn in NumPy exactly as ``train_sgns`` draws them;
    negatives are drawn on the device with ``torch.multinomial``. Same initialisation and
    linear learning-rate decay. On a CPU it runs on one thread (restored afterwards): a
    step's products are too small to gain from more, and two threads on a busy 2-core
    machine made each step 5-10x slower.
    """
    device = torch.device(device) if device is not None else runtime.get_device()
    threads = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(1)
    try:
        return _train(sentences, counts, cfg, device, progress, log_every)
    finally:
        torch.set_num_threads(threads)


def _train(sentences: Sequence[np.ndarray], counts: np.ndarray, cfg: SGNSConfig,
           device: torch.device, progress: bool, log_every: int) -> TrainResult:
    rng = np.random.default_rng(cfg.seed)
    V = len(counts)
    W_in, W_out = init_embeddings(V, cfg.dim, rng)
    model = SkipGramNS(V, cfg.dim).to(device)
    with torch.no_grad():
        model.in_embed.weight.copy_(torch.from_numpy(W_in))
        model.out_embed.weight.copy_(torch.from_numpy(W_out))
    E_in, E_out = model.in_embed.weight.data, model.out_embed.weight.data  # (V, d) each
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
            lr = cfg.lr * max(cfg.min_lr_fraction, 1.0 - done)
            batch = pairs[b * cfg.batch_size:(b + 1) * cfg.batch_size]
            if len(batch) == 0:
                continue
            B, K = len(batch), cfg.negative
            negatives = torch.multinomial(noise, B * K, replacement=True,
                                          generator=generator).view(B, K)
            outs = torch.cat([batch[:, 1:2], negatives], dim=1)  # (B, 1 + K)
            v = E_in[batch[:, 0]].requires_grad_()  # (B, d): leaves, so .grad is theirs
            u = E_out[outs].requires_grad_()  # (B, 1 + K, d)
            loss = sgns_loss(v, u[:, 0], u[:, 1:])
            loss.backward()
            with torch.no_grad():  # SGD on the rows the batch touched
                E_in.index_add_(0, batch[:, 0], v.grad, alpha=-lr)
                E_out.index_add_(0, outs.reshape(-1), u.grad.reshape(B * (1 + K), -1), alpha=-lr)
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
    W_in, W_out = E_in.float().cpu().numpy(), E_out.float().cpu().numpy()
    return TrainResult(W_in, W_out, losses, cfg.epochs * n_words, seconds)
