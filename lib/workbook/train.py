"""One explicit PyTorch training loop, evaluation, early stopping and checkpoints.

The loop in ``fit`` is flat on purpose, as in nanoGPT's ``train.py``: for every batch
it sets the learning rate, runs the forward pass, zeroes the gradients, backpropagates,
clips, steps and logs -- nothing hidden in callbacks. After each epoch it evaluates on
the whole validation set under ``torch.no_grad()``, keeps the best model (in memory,
or on disk with ``checkpoint=path``), stops early after ``patience`` epochs without
improvement, and at the end restores the best weights. With ``resume=path`` it also saves
the whole run after every epoch and, called again, continues an interrupted run.

Data contract (``fit`` and ``evaluate``): either a pair of tensors ``(X, y)``, which is
cut into batches of ``batch_size`` (training batches reshuffled each epoch by a
generator seeded with ``seed``), or a ``DataLoader`` -- any re-iterable of ``(X, y)``
batches; give it ``generator=torch.Generator().manual_seed(0)`` if it shuffles, so that
runs repeat. The model maps ``X`` to outputs (or to a tuple whose first item is the
output, as nanoGPT's ``(logits, loss)``); ``loss_fn(output, y)`` returns the mean loss.
Accuracy is reported when ``y`` holds integer class labels and the output has one more
(class) axis: (N, C) vs (N,), or (B, T, V) vs (B, T) for a language model.

Runs on ``runtime.get_device()`` unless told otherwise; on a CUDA GPU with bf16 the
forward passes run under ``torch.autocast`` (bf16 needs no gradient scaler). Nothing
here requires a GPU.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from workbook import runtime

__all__ = ["fit", "evaluate", "History", "EarlyStopping", "save_checkpoint",
           "load_checkpoint", "cosine_schedule", "step_decay_schedule"]

EVAL_BATCH_SIZE = 512  # no activations are kept for backward, so evaluation can batch wider
LOG_INTERVAL = 50  # steps between progress-bar loss updates (.item() waits for the GPU)

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


# ----------------------------------------------------------------------------- data

def _is_tensor_pair(data: Any) -> bool:
    return (isinstance(data, (tuple, list)) and len(data) == 2
            and all(torch.is_tensor(t) for t in data))


def _batches(data: Any, batch_size: int, *, generator: torch.Generator | None = None
             ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield (X, y) batches; a tensor pair is shuffled when a generator is given."""
    if not _is_tensor_pair(data):
        yield from data
        return
    X, y = data
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} examples but y has {len(y)}")
    n = len(X)
    order = torch.randperm(n, generator=generator) if generator is not None else None
    for start in range(0, n, batch_size):
        idx = order[start:start + batch_size] if order is not None else slice(start, start + batch_size)
        yield X[idx], y[idx]


def _num_batches(data: Any, batch_size: int) -> int | None:
    if _is_tensor_pair(data):
        return math.ceil(len(data[0]) / batch_size)
    return len(data) if hasattr(data, "__len__") else None


def _output(out: Any) -> torch.Tensor:
    """The model's prediction: nanoGPT-style models return (logits, loss)."""
    return out[0] if isinstance(out, (tuple, list)) else out


def _is_labels(y: torch.Tensor) -> bool:
    return not (y.is_floating_point() or y.is_complex())


def _is_classification(out: torch.Tensor, y: torch.Tensor) -> bool:
    """Integer labels and one more (class) axis in the output: accuracy makes sense."""
    return _is_labels(y) and out.ndim == y.ndim + 1


def _is_sequence(y: torch.Tensor) -> bool:
    """(B, T) labels: throughput is counted in tokens rather than examples."""
    return _is_labels(y) and y.ndim >= 2


def _model_device(model: torch.nn.Module) -> torch.device:
    param = next(iter(model.parameters()), None)
    return param.device if param is not None else runtime.get_device()


# ----------------------------------------------------------------------------- evaluation

@torch.no_grad()
def evaluate(model: torch.nn.Module, data: Any, loss_fn: LossFn = F.cross_entropy, *,
             batch_size: int = EVAL_BATCH_SIZE, device: torch.device | str | None = None,
             autocast: bool = True) -> dict[str, float]:
    """Mean loss and accuracy over the whole of ``data``, in eval mode, without gradients.

    data: (X, y) tensors or a DataLoader (see the module docstring). Returns
    ``{"loss": float, "accuracy": float}``; accuracy is NaN when y is not class labels.
    Batch losses are weighted by their size, so a short last batch counts correctly.
    The model's train/eval mode is restored afterwards.
    """
    device = torch.device(device) if device is not None else _model_device(model)
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), device=device)  # summed on the device: no sync per batch
    correct = torch.zeros((), device=device, dtype=torch.long)
    count, labelled = 0, 0
    for X, y in _batches(data, batch_size):
        X, y = X.to(device, non_blocking=True), y.to(device, non_blocking=True)
        with runtime.autocast(device, autocast):
            out = _output(model(X))
            loss = loss_fn(out, y)
        # loss_fn averages over y's entries, so weigh each batch by their number
        loss_sum += loss.float() * y.numel()
        count += y.numel()
        if _is_classification(out, y):
            correct += (out.argmax(dim=-1) == y).sum()
            labelled += y.numel()
    model.train(was_training)
    if count == 0:
        raise ValueError("evaluate: the data yielded no batches")
    accuracy = correct.item() / labelled if labelled else float("nan")
    return {"loss": loss_sum.item() / count, "accuracy": accuracy}


# ----------------------------------------------------------------------------- early stopping

class EarlyStopping:
    """Track the best (lowest) value of a metric and say when to stop.

    ``step(value)`` records one epoch and returns True once ``patience`` epochs in a row
    have not improved on the best by more than ``min_delta``. patience=None never stops
    but still tracks the best. ``improved`` says whether the last value was a new best.
    """

    def __init__(self, patience: int | None = None, min_delta: float = 0.0):
        if patience is not None and patience < 1:
            raise ValueError(f"patience must be >= 1 (or None), got {patience}")
        if min_delta < 0:
            raise ValueError(f"min_delta must be >= 0, got {min_delta}")
        self.patience = patience
        self.min_delta = min_delta
        self.best = math.inf
        self.best_epoch: int | None = None  # 0-based index of the best epoch
        self.bad_epochs = 0  # epochs since the best
        self.epoch = -1
        self.improved = False

    def step(self, value: float) -> bool:
        """Record this epoch's value; True means stop now. NaN never counts as better."""
        self.epoch += 1
        self.improved = value < self.best - self.min_delta
        if self.improved:
            self.best, self.best_epoch, self.bad_epochs = float(value), self.epoch, 0
        else:
            self.bad_epochs += 1
        return self.should_stop

    @property
    def should_stop(self) -> bool:
        return self.patience is not None and self.bad_epochs >= self.patience


# ----------------------------------------------------------------------------- checkpoints

def _unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The module under torch.compile, so checkpoint keys have no '_orig_mod.' prefix."""
    return getattr(model, "_orig_mod", model)


def _plain(value: Any) -> Any:
    """NumPy scalars and 0-d tensors to Python numbers, which weights_only loading accepts."""
    return value.item() if hasattr(value, "item") and getattr(value, "ndim", 1) == 0 else value


def save_checkpoint(path: str | os.PathLike, model: torch.nn.Module,
                    optimizer: torch.optim.Optimizer | None = None, step: int = 0,
                    metrics: dict[str, Any] | None = None) -> None:
    """Save model and optimizer state, the step count and metrics to ``path``.

    Written to a temporary file and renamed, so an interrupted save never leaves a
    half-written checkpoint behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "model": _unwrap(model).state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "step": int(step),
        "metrics": {k: _plain(v) for k, v in (metrics or {}).items()},
    }
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | os.PathLike, model: torch.nn.Module,
                    optimizer: torch.optim.Optimizer | None = None, *,
                    map_location: torch.device | str | None = None) -> dict[str, Any]:
    """Restore ``model`` (and ``optimizer``, if given) in place from ``path``.

    Tensors load onto the model's device unless ``map_location`` says otherwise, so a
    GPU checkpoint opens on a CPU. Returns ``{"step": int, "metrics": dict}``.
    """
    location = map_location if map_location is not None else _model_device(model)
    state = torch.load(path, map_location=location, weights_only=True)
    _unwrap(model).load_state_dict(state["model"])
    if optimizer is not None:
        if state["optimizer"] is None:
            raise ValueError(f"{path} holds no optimizer state (saved with optimizer=None)")
        optimizer.load_state_dict(state["optimizer"])
    return {"step": state["step"], "metrics": state["metrics"]}


_TRACKER_FIELDS = ("best", "best_epoch", "bad_epochs", "epoch", "improved")


def _save_run(path: str | os.PathLike, model: torch.nn.Module,
              optimizer: torch.optim.Optimizer, generator: torch.Generator,
              tracker: EarlyStopping, history: History, best_state: dict | None,
              items: int) -> None:
    """Everything ``fit`` needs to go on after this epoch: weights, optimizer, the shuffling
    generator and torch's global RNG (dropout), the history, early stopping, best weights."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "model": _unwrap(model).state_dict(),
        "optimizer": optimizer.state_dict(),
        "generator": generator.get_state(),
        "torch_rng": torch.get_rng_state(),
        "history": {k: _plain(v) for k, v in vars(history).items()},
        "tracker": {k: getattr(tracker, k) for k in _TRACKER_FIELDS},
        "best_state": best_state,
        "items": int(items),
    }
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)  # an interrupted save leaves the previous epoch's file intact


def _load_run(path: str | os.PathLike, model: torch.nn.Module,
              optimizer: torch.optim.Optimizer, generator: torch.Generator,
              tracker: EarlyStopping) -> tuple[History, dict | None, int]:
    """Restore what ``_save_run`` saved; returns (history, best weights or None, items)."""
    state = torch.load(path, map_location=_model_device(model), weights_only=True)
    _unwrap(model).load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    generator.set_state(state["generator"].cpu())
    torch.set_rng_state(state["torch_rng"].cpu())
    for k, v in state["tracker"].items():
        setattr(tracker, k, v)
    return History(**state["history"]), state["best_state"], state["items"]


# ----------------------------------------------------------------------------- schedules

def cosine_schedule(max_lr: float, *, total_steps: int, warmup_steps: int = 0,
                    min_lr: float = 0.0) -> Callable[[int], float]:
    """nanoGPT's ``get_lr``: linear warm-up to max_lr, cosine decay to min_lr, then flat.

    Returns ``lr(step)`` for ``fit(..., lr_schedule=...)``; step counts from 0.
    """
    def lr(step: int) -> float:
        if step < warmup_steps:
            return max_lr * (step + 1) / warmup_steps
        if step >= total_steps:
            return min_lr
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (max_lr - min_lr)

    return lr


def step_decay_schedule(lr0: float, *, drop: float, every: int) -> Callable[[int], float]:
    """Step decay: lr0 for the first ``every`` steps, then times ``drop`` every ``every`` steps.

    Returns ``lr(step) = lr0 * drop ** (step // every)``; step counts from 0.
    """
    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}")

    def lr(step: int) -> float:
        return lr0 * drop ** (step // every)

    return lr


# ----------------------------------------------------------------------------- the loop

@dataclass
class History:
    """Per-epoch metrics from ``fit``; lists are indexed by epoch (0-based).

    Accuracies are NaN when the targets are not class labels; val_* lists are empty
    without validation data. ``best_epoch`` has the lowest validation loss (training
    loss without validation data). ``throughput`` counts training items per second
    (``throughput_unit``: examples/s, or tokens/s for (B, T) labels), evaluation excluded.
    """

    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)  # learning rate at the end of each epoch
    best_epoch: int | None = None
    best_loss: float = math.inf
    stopped_early: bool = False
    steps: int = 0
    train_seconds: float = 0.0
    throughput: float = 0.0
    throughput_unit: str = "examples/s"

    @property
    def epochs(self) -> int:
        return len(self.train_loss)

    def summary(self) -> str:
        """One line: epochs run, the best epoch's metrics, throughput."""
        parts = [f"{self.epochs} epochs"]
        if self.best_epoch is not None:
            parts.append(f"best epoch {self.best_epoch}: loss {self.best_loss:.4f}")
            accuracy = (self.val_accuracy or self.train_accuracy)[self.best_epoch]
            if not math.isnan(accuracy):
                parts.append(f"accuracy {accuracy:.3f}")
        parts.append(f"{self.throughput:,.0f} {self.throughput_unit}")
        if self.stopped_early:
            parts.append("stopped early")
        return " | ".join(parts)


def fit(model: torch.nn.Module, optimizer: torch.optim.Optimizer, train_data: Any,
        val_data: Any = None, *, epochs: int, loss_fn: LossFn = F.cross_entropy,
        batch_size: int = 64, device: torch.device | str | None = None,
        clip: float | None = None, lr_schedule: Callable[[int], float] | None = None,
        patience: int | None = None, checkpoint: str | os.PathLike | None = None,
        restore_best: bool = True, progress: bool = True, autocast: bool = True,
        seed: int = 0, resume: str | os.PathLike | None = None) -> History:
    """Train ``model`` for up to ``epochs`` epochs and return its ``History``.

    train_data, val_data: (X, y) tensors or DataLoaders (module docstring); batch_size
    applies to tensor pairs. clip: max gradient norm. lr_schedule: step -> lr, set before
    every step. patience: stop after this many epochs without a better validation loss
    (needs val_data). checkpoint: a path where the best model and optimizer are saved;
    without it the best weights are kept in memory. restore_best: end with the best
    epoch's weights. progress: a tqdm bar (False writes nothing). autocast: bf16 on a
    CUDA GPU that supports it. seed: the shuffling order of a tensor pair (seed the
    model's initialisation yourself, e.g. ``runtime.seed_everything``).
    resume: a path where the whole run is saved after every epoch (``_save_run``); if it
    exists when ``fit`` starts, the run continues after its last saved epoch, so an
    interrupted run called again with the same arguments ends as an uninterrupted one
    would (bit for bit on the same CPU; the CUDA generator that dropout on a GPU draws from
    is not saved, so a resumed GPU run with dropout draws other masks).
    The model is moved to ``device`` (default ``runtime.get_device()``).
    """
    if patience is not None and val_data is None:
        raise ValueError("early stopping (patience=...) needs val_data to watch")
    device = torch.device(device) if device is not None else runtime.get_device()
    model.to(device)
    generator = torch.Generator().manual_seed(seed)  # shuffling, apart from the global RNG
    tracker = EarlyStopping(patience)  # patience=None: only tracks the best epoch
    history = History()
    best_state = None
    items, start_epoch = 0, 0
    if resume is not None and Path(resume).exists():
        history, best_state, items = _load_run(resume, model, optimizer, generator, tracker)
        start_epoch = history.epochs
    steps_per_epoch = _num_batches(train_data, batch_size)
    bar = tqdm(total=(epochs - start_epoch) * steps_per_epoch if steps_per_epoch else None,
               disable=not progress, unit="step", desc="train", dynamic_ncols=True)
    for epoch in range(start_epoch, epochs):
        if history.stopped_early:
            break
        model.train()
        loss_sum = torch.zeros((), device=device)  # summed on the device: no sync per step
        correct = torch.zeros((), device=device, dtype=torch.long)
        count, labelled = 0, 0
        t0 = time.perf_counter()
        for X, y in _batches(train_data, batch_size, generator=generator):
            X, y = X.to(device, non_blocking=True), y.to(device, non_blocking=True)
            # 1. learning rate for this step
            if lr_schedule is not None:
                for group in optimizer.param_groups:
                    group["lr"] = lr_schedule(history.steps)
            # 2. forward (in bf16 on a GPU that has it)
            with runtime.autocast(device, autocast):
                out = _output(model(X))
                loss = loss_fn(out, y)
            # 3. backward: set_to_none frees the gradient memory between steps
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            # 4. clip the global gradient norm
            if clip is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            # 5. step
            optimizer.step()
            # 6. log
            history.steps += 1
            loss_sum += loss.detach().float() * y.numel()
            count += y.numel()
            if _is_classification(out, y):
                correct += (out.detach().argmax(dim=-1) == y).sum()
                labelled += y.numel()
            items += y.numel() if _is_sequence(y) else len(y)
            history.throughput_unit = "tokens/s" if _is_sequence(y) else "examples/s"
            bar.update()
            if progress and history.steps % LOG_INTERVAL == 0:
                bar.set_postfix(loss=f"{loss.item():.4f}", refresh=False)
        if count == 0:
            raise ValueError("fit: the training data yielded no batches")
        history.train_loss.append(loss_sum.item() / count)  # .item() waits for the GPU ...
        history.train_seconds += time.perf_counter() - t0  # ... so the time is honest
        history.train_accuracy.append(correct.item() / labelled if labelled else float("nan"))
        history.lr.append(optimizer.param_groups[0]["lr"])

        # evaluate, track the best, maybe stop
        postfix = {"loss": f"{history.train_loss[-1]:.4f}"}
        if val_data is not None:
            metrics = evaluate(model, val_data, loss_fn, batch_size=batch_size, device=device,
                               autocast=autocast)
            history.val_loss.append(metrics["loss"])
            history.val_accuracy.append(metrics["accuracy"])
            postfix.update(val_loss=f"{metrics['loss']:.4f}", val_acc=f"{metrics['accuracy']:.3f}")
        bar.set_postfix(epoch=epoch, **postfix)
        watched = history.val_loss[-1] if val_data is not None else history.train_loss[-1]
        stop = tracker.step(watched)
        if tracker.improved:
            history.best_epoch, history.best_loss = tracker.best_epoch, tracker.best
            if checkpoint is not None:
                save_checkpoint(checkpoint, model, optimizer, history.steps,
                                {"epoch": epoch, "loss": watched})
            elif restore_best:
                best_state = {k: v.detach().clone() for k, v in _unwrap(model).state_dict().items()}
        history.stopped_early = stop
        if resume is not None:
            _save_run(resume, model, optimizer, generator, tracker, history, best_state, items)
        if stop:
            break
    bar.close()
    history.throughput = items / history.train_seconds if history.train_seconds > 0 else 0.0

    if restore_best and history.best_epoch is not None:
        if checkpoint is not None:
            load_checkpoint(checkpoint, model)
        elif best_state is not None:
            _unwrap(model).load_state_dict(best_state)
    return history
