"""LSTM speed in three implementations, and the character LSTM's training speed and loss.

    python bench/bench_rnn.py                  # the LSTM table, then the full-profile char LM
    python bench/bench_rnn.py --lm-steps 100   # the char LM's tokens/s from 100 steps only
    python bench/bench_rnn.py --skip-lm        # the LSTM table only (a minute)

1. One LSTM layer, forward + backward, float32, for several (T, B, H), all in one run:
   ``workbook.numpy_nn.rnn.lstm_forward/backward`` (NumPy), ``workbook.nn.rnn.LSTM`` (ours:
   a Python loop over torch operations) and ``torch.nn.LSTM``, on the CPU with the same
   number of threads for NumPy's BLAS and torch (``--threads``, default 1: the figures do
   not depend on what else runs on a shared machine as much). Each time is the best of
   ``--repeat`` runs; the ratios are to ``torch.nn.LSTM`` in the same run.
2. The character LSTM of notebook 06 (``workbook.nn.char_rnn``) trained with the full
   profile's settings (``TRAINING['full']``) through ``workbook.train.fit``: tokens/s and the
   validation loss, on the CPU and, when there is one, on a CUDA GPU (cuDNN).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import time

import numpy as np
import torch

from workbook import runtime
from workbook.data.shakespeare import load_shakespeare
from workbook.nn import rnn as wnn
from workbook.nn.char_rnn import TRAINING, CharRNN, CharRNNConfig, bigram_val_loss
from workbook.nn.gpt import lm_loss
from workbook.numpy_nn import rnn as np_rnn
from workbook.train import evaluate, fit

SHAPES = [(32, 16, 128), (64, 32, 256), (128, 32, 256), (64, 64, 512)]  # (T, B, H)
CONTRACT = (64, 32, 256)  # the NumPy LSTM must take at most 2x torch.nn.LSTM here


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=1, help="BLAS and torch threads (CPU)")
    p.add_argument("--repeat", type=int, default=5, help="timed runs per implementation")
    p.add_argument("--shapes", default=None,
                   help="comma-separated TxBxH for the LSTM table (default: "
                        + ",".join("x".join(map(str, s)) for s in SHAPES) + ")")
    p.add_argument("--skip-lm", action="store_true", help="only the LSTM table")
    p.add_argument("--lm-steps", type=int, default=None,
                   help="train the char LM for this many steps only (default: the full profile)")
    p.add_argument("--val-batches", type=int, default=None,
                   help="validation batches (default: the full profile's)")
    p.add_argument("--devices", default=None,
                   help="comma-separated devices for the char LM (default: cpu, and cuda if present)")
    return p.parse_args(argv)


def best_of(fn, repeat: int) -> float:
    fn()  # warm-up: allocations, torch's first-call set-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def lstm_table(threads: int, repeat: int, shapes=SHAPES) -> list[dict]:
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads)
    rows = []
    with threadpool_limits(limits=threads):  # NumPy's BLAS, the same as torch
        for T, B, H in shapes:
            g = np.random.default_rng(0)
            x = g.normal(size=(B, T, H)).astype(np.float32)
            h0 = np.zeros((B, H), dtype=np.float32)
            dh = np.ones((B, T, H), dtype=np.float32)
            torch.manual_seed(0)
            reference = torch.nn.LSTM(H, H, batch_first=True)
            ours = wnn.copy_from_torch(wnn.LSTM(H, H, batch_first=True), reference)
            Wx, Wh, b = (w.astype(np.float32) for w in wnn.numpy_weights(reference))

            def numpy_lstm():
                h, cache = np_rnn.lstm_forward(x, h0, Wx, Wh, b)
                np_rnn.lstm_backward(dh, cache)

            def torch_lstm(layer):
                xt = torch.from_numpy(x).requires_grad_()
                out, _ = layer(xt)
                out.backward(torch.from_numpy(dh))

            t_np = best_of(numpy_lstm, repeat)
            t_ours = best_of(lambda: torch_lstm(ours), repeat)
            t_ref = best_of(lambda: torch_lstm(reference), repeat)
            rows.append(dict(T=T, B=B, H=H, numpy=t_np, ours=t_ours, torch=t_ref))
            print(f"T={T:4d} B={B:3d} H={H:4d} | NumPy {t_np * 1e3:8.1f} ms ({t_np / t_ref:4.2f}x) | "
                  f"ours {t_ours * 1e3:8.1f} ms ({t_ours / t_ref:4.2f}x) | "
                  f"torch.nn.LSTM {t_ref * 1e3:8.1f} ms", flush=True)
    return rows


def train_lm(device: str, steps: int | None, val_batches: int | None = None) -> dict:
    s = dict(TRAINING["full"])
    if val_batches is not None:
        s["val_batches"] = val_batches
    data = load_shakespeare(limit_chars=s["limit_chars"])
    runtime.seed_everything(0)
    model = CharRNN(CharRNNConfig.full(data.vocab_size))
    optimizer = torch.optim.Adam(model.parameters(), lr=s["lr"])
    epochs, per_epoch = s["epochs"], s["steps_per_epoch"]
    if steps is not None:  # a shorter run for the speed alone
        epochs, per_epoch = 1, steps
    train = data.batches("train", s["batch_size"], s["block_size"], per_epoch, device=device)
    val = data.batches("val", s["batch_size"], s["block_size"], s["val_batches"], device=device)
    t0 = time.perf_counter()
    history = fit(model, optimizer, train, val, epochs=epochs, loss_fn=lm_loss, clip=1.0,
                  device=device, progress=False)
    wall = time.perf_counter() - t0
    val_loss = evaluate(model, val, lm_loss)["loss"]
    name = torch.cuda.get_device_name(device) if device.startswith("cuda") else (
        f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)")
    return dict(device=name, steps=epochs * per_epoch, wall=wall, tokens_per_s=history.throughput,
                val_loss=val_loss, bigram=bigram_val_loss(data.train, data.val, data.vocab_size))


def main(argv=None) -> dict:
    args = parse_args(argv)
    print(f"torch {torch.__version__}, numpy {np.__version__}, {args.threads} thread(s), "
          f"best of {args.repeat}; forward + backward of one float32 LSTM layer on the CPU")
    shapes = ([tuple(int(v) for v in s.split("x")) for s in args.shapes.split(",")]
              if args.shapes else SHAPES)
    rows = lstm_table(args.threads, args.repeat, shapes)
    result = {"lstm": rows, "numpy_ratio": None, "lm": []}
    for r in rows:
        if (r["T"], r["B"], r["H"]) == CONTRACT:
            result["numpy_ratio"] = ratio = r["numpy"] / r["torch"]
            print(f"NumPy LSTM / torch.nn.LSTM at T, B, H = {CONTRACT}: {ratio:.2f}x "
                  f"({'within' if ratio <= 2 else 'OVER'} the 2x target)")
    if args.skip_lm:
        return result
    torch.set_num_threads(os.cpu_count() or 1)  # the char LM uses the whole machine
    devices = (args.devices.split(",") if args.devices else
               ["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    for device in devices:
        r = train_lm(device, args.lm_steps, args.val_batches)
        result["lm"].append(r)
        print(f"char LSTM (2 x 256), full profile, {r['steps']} steps on {r['device']}: "
              f"{r['wall']:.0f} s, {r['tokens_per_s']:,.0f} tokens/s, validation loss "
              f"{r['val_loss']:.3f} (bigram {r['bigram']:.3f}; uniform {math.log(84):.3f})",
              flush=True)
    return result


if __name__ == "__main__":
    main()
