"""The character LM: our LSTM inside it equals torch's, generation carries the state, and a
ci-sized run on Shakespeare beats the bigram baseline on the validation text."""

import math

import numpy as np
import pytest
import torch

from workbook import runtime
from workbook.checks import assert_close
from workbook.data.shakespeare import load_shakespeare
from workbook.nn.char_rnn import CharRNN, CharRNNConfig, bigram_val_loss
from workbook.nn.gpt import lm_loss, sample_next
from workbook.train import evaluate, fit


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_ours_and_torch_impl_agree(cell):
    torch.manual_seed(0)
    fast = CharRNN(CharRNNConfig(11, hidden_size=8, num_layers=2, cell=cell, dropout=0.0)).double()
    slow = CharRNN(CharRNNConfig(11, hidden_size=8, num_layers=2, cell=cell, dropout=0.0,
                                 impl="ours")).double()
    slow.load_state_dict(fast.state_dict())  # same parameter names
    idx = torch.randint(0, 11, (3, 9))
    assert_close(slow(idx)[0], fast(idx)[0], name="logits", rtol=1e-9, atol=1e-12)


def test_run_carries_the_state():
    torch.manual_seed(0)
    model = CharRNN(CharRNNConfig(7, hidden_size=8, num_layers=2, dropout=0.0)).eval()
    idx = torch.randint(0, 7, (2, 10))
    whole, _ = model.run(idx)
    first, state = model.run(idx[:, :4])
    rest, _ = model.run(idx[:, 4:], state)
    assert_close(torch.cat([first, rest], dim=1), whole, name="logits in two pieces", rtol=1e-5,
                 atol=1e-6)


def test_generate_samples_from_the_carried_state():
    torch.manual_seed(0)
    model = CharRNN(CharRNNConfig(7, hidden_size=8, num_layers=1, dropout=0.0)).eval()
    prompt = torch.tensor([[1, 2, 3]])
    out = model.generate(prompt, 6, temperature=0.7, generator=torch.Generator().manual_seed(3))
    assert out.shape == (1, 9) and torch.equal(out[:, :3], prompt)
    # the same tokens, drawn by re-reading the whole text each time (O(T^2), no state)
    g = torch.Generator().manual_seed(3)
    idx = prompt
    with torch.no_grad():
        for _ in range(6):
            nxt = sample_next(model(idx)[0][:, -1], 0.7, generator=g)
            idx = torch.cat([idx, nxt[:, None]], dim=1)
    assert torch.equal(out, idx)
    greedy = model.generate(prompt, 4, temperature=0)
    assert torch.equal(greedy, model.generate(prompt, 4, temperature=0))


def test_bigram_val_loss_by_hand():
    train, val = np.array([0, 1, 0, 1, 2]), np.array([0, 1, 1])
    counts = np.array([[0, 2, 0], [1, 0, 1], [0, 0, 0]]) + 0.5
    p = counts / counts.sum(axis=1, keepdims=True)
    want = -(np.log(p[0, 1]) + np.log(p[1, 1])) / 2
    assert_close(bigram_val_loss(train, val, 3, alpha=0.5), want, name="bigram", rtol=1e-12)


def test_ci_run_beats_the_bigram_baseline():
    """The ci profile's training (a few seconds) must beat the bigram on validation."""
    torch.set_num_threads(1)
    runtime.seed_everything(0)
    data = load_shakespeare(limit_chars=300_000)
    model = CharRNN(CharRNNConfig.ci(data.vocab_size))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    history = fit(model, optimizer, data.batches("train", 32, 64, 100),
                  data.batches("val", 64, 64, 4), epochs=1, loss_fn=lm_loss, clip=1.0,
                  device="cpu", progress=False)
    val = evaluate(model, data.batches("val", 64, 64, 8, seed=1), lm_loss)["loss"]
    bigram = bigram_val_loss(data.train, data.val, data.vocab_size)
    assert history.train_loss[0] < np.log(data.vocab_size)
    assert val < bigram - 0.1, f"validation loss {val:.3f} does not beat the bigram's {bigram:.3f}"


def test_bench_rnn_runs_and_reports_ratios(capsys):
    """`make bench-rnn`'s script on tiny sizes: the table, the contract ratio, a short LM run."""
    from helpers import load_bench

    result = load_bench("bench_rnn").main(["--shapes", "4x2x8,64x32x256", "--repeat", "1",
                                          "--lm-steps", "2", "--val-batches", "1",
                                          "--devices", "cpu"])
    out = capsys.readouterr().out
    assert [(r["T"], r["B"], r["H"]) for r in result["lstm"]] == [(4, 2, 8), (64, 32, 256)]
    assert result["numpy_ratio"] is not None and result["numpy_ratio"] > 0
    assert "NumPy LSTM / torch.nn.LSTM" in out and "tokens/s" in out
    assert len(result["lm"]) == 1 and math.isfinite(result["lm"][0]["val_loss"])
