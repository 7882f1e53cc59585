"""The training loop, evaluation, early stopping and checkpoints, on tiny CPU problems."""

import math
import time

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from workbook import runtime
from workbook.train import (
    EarlyStopping, History, cosine_schedule, evaluate, step_decay_schedule, fit, load_checkpoint, save_checkpoint,
)

CPU = torch.device("cpu")
MAX_SECONDS = 30.0  # ~0.1 s on a free core; only catches a runaway loop, never machine load
NUM_EXAMPLES, NUM_FEATURES, NUM_CLASSES = 256, 4, 3


def blobs(seed=0, n=NUM_EXAMPLES):
    """Three well-separated Gaussian blobs: (X (n, 4) float32, y (n,) int64)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(NUM_CLASSES, (n,), generator=g)
    centres = 3.0 * torch.eye(NUM_CLASSES, NUM_FEATURES)
    X = centres[y] + torch.randn(n, NUM_FEATURES, generator=g)
    return X, y


def small_model(seed=0, dropout=0.0):
    runtime.seed_everything(seed)
    return nn.Sequential(nn.Linear(NUM_FEATURES, 16), nn.ReLU(), nn.Dropout(dropout),
                         nn.Linear(16, NUM_CLASSES))


def params_of(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_same_params(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_tiny_model_learns():
    model = small_model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    start = time.perf_counter()
    hist = fit(model, opt, blobs(0), blobs(1), epochs=5, batch_size=32, device=CPU,
               progress=False)
    assert time.perf_counter() - start < MAX_SECONDS
    assert isinstance(hist, History) and hist.epochs == 5
    assert hist.train_loss[-1] < 0.5 * hist.train_loss[0]
    assert hist.val_accuracy[-1] > 0.9
    assert hist.throughput > 0 and hist.throughput_unit == "examples/s"
    assert hist.steps == 5 * math.ceil(NUM_EXAMPLES / 32)
    assert not hist.stopped_early and "epochs" in hist.summary()


def test_same_seed_gives_bit_identical_losses():
    runs = []
    for _ in range(2):
        model = small_model(seed=3, dropout=0.2)  # dropout draws from the global RNG
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        hist = fit(model, opt, blobs(0), blobs(1), epochs=3, batch_size=16, device=CPU,
                   progress=False, clip=1.0)
        runs.append((hist.train_loss, hist.val_loss, params_of(model)))
    assert runs[0][0] == runs[1][0] and runs[0][1] == runs[1][1]
    assert_same_params(runs[0][2], runs[1][2])


@pytest.mark.parametrize("use_checkpoint", [False, True])
def test_early_stopping_restores_best_weights(tmp_path, use_checkpoint):
    X, y = blobs(0)
    wrong = (X, (y + 1) % NUM_CLASSES)  # validation labels that training can only get worse at
    kwargs = dict(batch_size=32, device=CPU, progress=False)
    model = small_model()
    fit(model, torch.optim.SGD(model.parameters(), lr=0.1), (X, y), wrong, epochs=1, **kwargs)
    after_first_epoch = params_of(model)

    model = small_model()
    patience = 2
    ckpt = tmp_path / "best.pt" if use_checkpoint else None
    hist = fit(model, torch.optim.SGD(model.parameters(), lr=0.1), (X, y), wrong, epochs=20,
               patience=patience, checkpoint=ckpt, **kwargs)
    assert hist.stopped_early and hist.best_epoch == 0
    assert hist.epochs == 1 + patience  # the best epoch, then `patience` worse ones
    assert all(v > hist.val_loss[0] for v in hist.val_loss[1:])
    assert hist.best_loss == hist.val_loss[0]
    assert_same_params(params_of(model), after_first_epoch)
    if use_checkpoint:
        assert load_checkpoint(ckpt, small_model())["metrics"]["epoch"] == 0


def test_early_stopping_counts_patience_and_min_delta():
    stopper = EarlyStopping(patience=2, min_delta=0.1)
    decisions = [stopper.step(v) for v in [1.0, 0.95, 0.85, 0.9, float("nan")]]
    # 0.95 is not 0.1 better than 1.0; 0.85 is; then two epochs without improvement
    assert decisions == [False, False, False, False, True]
    assert stopper.best == 0.85 and stopper.best_epoch == 2
    never = EarlyStopping()
    assert not any(never.step(v) for v in range(10)) and never.best_epoch == 0
    with pytest.raises(ValueError, match="patience"):
        EarlyStopping(patience=0)
    with pytest.raises(ValueError, match="val_data"):
        fit(small_model(), None, blobs(), epochs=1, patience=3, device=CPU, progress=False)


def test_checkpoint_round_trip(tmp_path):
    X, y = blobs(0)
    model = small_model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    fit(model, opt, (X, y), epochs=2, batch_size=64, device=CPU, progress=False)
    path = tmp_path / "sub" / "ckpt.pt"
    save_checkpoint(path, model, opt, step=8, metrics={"val_loss": torch.tensor(0.25)})

    other = small_model(seed=1)
    other_opt = torch.optim.Adam(other.parameters(), lr=1.0)
    info = load_checkpoint(path, other, other_opt)
    assert info == {"step": 8, "metrics": {"val_loss": 0.25}}
    assert_same_params(params_of(other), params_of(model))
    assert other_opt.state_dict()["param_groups"] == opt.state_dict()["param_groups"]
    for (a, b) in zip(opt.state_dict()["state"].values(), other_opt.state_dict()["state"].values()):
        for key in a:
            assert torch.equal(a[key], b[key]), key
    # and they carry on identically
    for m, o in ((model, opt), (other, other_opt)):
        fit(m, o, (X, y), epochs=1, batch_size=64, device=CPU, progress=False, seed=5)
    assert_same_params(params_of(other), params_of(model))
    save_checkpoint(path, model)  # model only
    with pytest.raises(ValueError, match="no optimizer"):
        load_checkpoint(path, model, opt)


def test_evaluate_tensors_and_loader_agree_and_restore_mode():
    X, y = blobs(2, n=100)
    model = small_model(dropout=0.5)
    model.train()
    from_tensors = evaluate(model, (X, y), batch_size=7)
    from_loader = evaluate(model, DataLoader(TensorDataset(X, y), batch_size=32))
    assert model.training  # mode restored
    assert from_tensors["loss"] == pytest.approx(from_loader["loss"], rel=1e-6)
    assert from_tensors["accuracy"] == from_loader["accuracy"]
    model.eval()
    with torch.no_grad():
        logits = model(X)
    assert from_tensors["loss"] == pytest.approx(nn.functional.cross_entropy(logits, y).item(),
                                                 rel=1e-6)
    assert from_tensors["accuracy"] == pytest.approx((logits.argmax(1) == y).double().mean().item())
    regression = evaluate(nn.Linear(3, 2), (torch.randn(10, 3), torch.randn(10, 2)),
                          nn.functional.mse_loss)
    assert math.isnan(regression["accuracy"]) and regression["loss"] > 0


def test_progress_false_writes_nothing(capfd):
    model = small_model()
    loader = DataLoader(TensorDataset(*blobs(0)), batch_size=64, shuffle=True,
                        generator=torch.Generator().manual_seed(0))
    fit(model, torch.optim.SGD(model.parameters(), lr=0.1), loader, blobs(1), epochs=2,
        device=CPU, progress=False)
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_sequence_model_lr_schedule_and_tuple_outputs():
    vocab, T = 5, 6

    class TinyLM(nn.Module):  # nanoGPT-style: forward returns (logits, loss)
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(vocab, vocab)

        def forward(self, idx):
            return self.emb(idx), None

    torch.manual_seed(0)
    idx = torch.randint(vocab, (32, T))
    targets = (idx + 1) % vocab  # next "token" is a fixed function of this one
    model = TinyLM()
    opt = torch.optim.AdamW(model.parameters(), lr=0.0)
    schedule = cosine_schedule(0.1, total_steps=16, warmup_steps=2, min_lr=0.01)
    lm_loss = lambda logits, y: nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten())
    hist = fit(model, opt, (idx, targets), epochs=4, batch_size=8, loss_fn=lm_loss,
               lr_schedule=schedule, device=CPU, progress=False)
    assert hist.throughput_unit == "tokens/s"
    assert hist.train_loss[-1] < hist.train_loss[0] and hist.train_accuracy[-1] > 0.5
    assert hist.lr == [schedule(s) for s in (3, 7, 11, 15)]
    assert schedule(0) == pytest.approx(0.05) and schedule(100) == 0.01


def test_step_decay_schedule():
    schedule = step_decay_schedule(0.1, drop=0.5, every=3)
    assert [schedule(s) for s in range(7)] == [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025]
    with pytest.raises(ValueError, match="every"):
        step_decay_schedule(0.1, drop=0.5, every=0)


def _resumable_run(path, epochs, init_seed=3, **kwargs):
    model = small_model(seed=init_seed, dropout=0.2)  # dropout: torch's global RNG must resume too
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)  # momentum buffers must resume
    hist = fit(model, opt, blobs(0), blobs(1), epochs=epochs, batch_size=16, device=CPU,
               progress=False, lr_schedule=cosine_schedule(0.1, total_steps=64, warmup_steps=8),
               resume=path, **kwargs)
    return hist, params_of(model)


@pytest.mark.parametrize("restore_best", [False, True])
def test_interrupted_run_resumes_bit_for_bit(tmp_path, restore_best):
    whole, whole_params = _resumable_run(tmp_path / "whole.pt", 4, restore_best=restore_best)
    _resumable_run(tmp_path / "run.pt", 2, restore_best=restore_best)  # "interrupted" after 2 epochs
    runtime.seed_everything(99)  # the global RNG moved on meanwhile: resuming must not care
    resumed, resumed_params = _resumable_run(tmp_path / "run.pt", 4, init_seed=7,
                                             restore_best=restore_best)
    for key in ["train_loss", "val_loss", "train_accuracy", "val_accuracy", "lr"]:
        assert getattr(resumed, key) == getattr(whole, key), key
    assert (resumed.steps, resumed.best_epoch, resumed.epochs) == (whole.steps, whole.best_epoch, 4)
    assert_same_params(resumed_params, whole_params)


def test_resume_of_a_finished_run_changes_nothing(tmp_path):
    path = tmp_path / "run.pt"
    first, first_params = _resumable_run(path, 3, patience=1, restore_best=False)
    again, again_params = _resumable_run(path, 3, init_seed=5, patience=1, restore_best=False)
    assert again.train_loss == first.train_loss and again.steps == first.steps
    assert_same_params(again_params, first_params)
