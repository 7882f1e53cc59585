"""Train a character GPT on Shakespeare and report its speed and validation loss.

    python bench/bench_gpt.py                         # full profile (nanoGPT shakespeare_char)
    python bench/bench_gpt.py --seconds 60 --compile  # a fixed wall time, torch.compile
    python bench/bench_gpt.py --compile-mode reduce-overhead  # compiled, with CUDA graphs
    python bench/bench_gpt.py --config ci --iters 5   # seconds on a CPU (what the tests run)

A flat loop in the style of nanoGPT's train.py: cosine learning rate with warm-up,
forward under bf16 autocast (CUDA GPUs that support it), backward, gradient clipping,
fused AdamW step. Throughput (tokens/s) is timed after ``--timing-skip`` warm-up steps
(compilation, cuDNN/cuBLAS autotuning) and MFU is reported against the named GPU's bf16
peak (``workbook.nn.gpt.PEAK_FLOPS``; "n/a" on a CPU or an unknown GPU). At the end the
train and validation losses are estimated over ``--eval-iters`` batches each.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import time

import torch

from workbook import runtime
from workbook.data.shakespeare import load_shakespeare
from workbook.nn.gpt import (
    GPT,
    GPTConfig,
    configure_optimizer,
    estimate_loss,
    estimate_mfu,
    gpt_param_count,
    gpu_peak_flops,
)
from workbook.train import cosine_schedule

# training settings per profile; full = nanoGPT's config/train_shakespeare_char.py
SETTINGS = {
    "ci": dict(batch_size=16, iters=100, lr=1e-2, eval_iters=10, limit_chars=300_000),
    "full": dict(batch_size=64, iters=5000, lr=1e-3, eval_iters=200, limit_chars=None),
}
WEIGHT_DECAY = 0.1
BETAS = (0.9, 0.99)  # beta2 0.99: a small model on little data takes few tokens per step
GRAD_CLIP = 1.0
WARMUP_ITERS = 100
LOG_INTERVAL = 100


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", choices=runtime.PROFILES, default=None,
                   help="model and training size (default: $WORKBOOK_PROFILE, else full)")
    p.add_argument("--iters", type=int, default=None, help="training steps (default per config)")
    p.add_argument("--seconds", type=float, default=None,
                   help="stop after this much training time instead (also caps --iters)")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--lr", type=float, default=None, help="peak learning rate")
    p.add_argument("--eval-iters", type=int, default=None, help="batches per loss estimate")
    p.add_argument("--limit-chars", type=int, default=None,
                   help="use only the first N characters of the works")
    p.add_argument("--compile", action="store_true", help="torch.compile the model")
    p.add_argument("--compile-mode", default=None,
                   help="torch.compile's mode, e.g. reduce-overhead (CUDA graphs); implies --compile")
    p.add_argument("--no-autocast", action="store_true", help="train in float32 on a GPU too")
    p.add_argument("--device", default=None, help="default: runtime.get_device()")
    p.add_argument("--timing-skip", type=int, default=None,
                   help="warm-up steps left out of tokens/s (default 10, 50 with --compile)")
    p.add_argument("--seed", type=int, default=1337)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    profile = args.config or runtime.profile()
    settings = SETTINGS[profile]
    batch_size = args.batch_size or settings["batch_size"]
    eval_iters = args.eval_iters or settings["eval_iters"]
    lr = args.lr or settings["lr"]
    if args.iters is not None:
        iters = args.iters
    elif args.seconds is not None:
        iters = 10**9  # until the time is up
    else:
        iters = settings["iters"]
    limit = args.limit_chars if args.limit_chars is not None else settings["limit_chars"]

    # one block resolves device, dtype, autocast and compile (as nanoGPT)
    device = torch.device(args.device) if args.device else runtime.get_device()
    dtype = None if args.no_autocast else runtime.autocast_dtype(device)
    autocast = (torch.autocast(device.type, dtype=dtype) if dtype is not None
                else contextlib.nullcontext())
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True  # float32 matmuls on tensor cores
        torch.backends.cudnn.allow_tf32 = True
    torch.manual_seed(args.seed)

    data = load_shakespeare(limit_chars=limit)
    config = GPTConfig.for_profile(data.vocab_size, profile)
    block_size = config.block_size
    model = GPT(config).to(device)
    optimizer = configure_optimizer(model, WEIGHT_DECAY, lr, BETAS, device)
    args.compile = args.compile or args.compile_mode is not None
    train_model = torch.compile(model, mode=args.compile_mode) if args.compile else model
    schedule = cosine_schedule(lr, total_steps=iters if iters < 10**9 else settings["iters"],
                               warmup_steps=min(WARMUP_ITERS, max(iters // 10, 1)),
                               min_lr=lr / 10)
    skip = args.timing_skip if args.timing_skip is not None else (50 if args.compile else 10)
    skip = min(skip, max(iters - 1, 0))
    peak = gpu_peak_flops(device)
    tokens_per_step = batch_size * block_size
    print(f"{runtime.describe()} | {device.type}"
          f"{' ' + torch.cuda.get_device_name(device) if device.type == 'cuda' else ''}"
          f" | autocast {dtype} | compile {args.compile}"
          f"{f' ({args.compile_mode})' if args.compile_mode else ''}")
    print(f"config {profile}: {gpt_param_count(config) / 1e6:.2f} M parameters, "
          f"batch {batch_size} x block {block_size} = {tokens_per_step} tokens/step, "
          f"{len(data.train):,} train / {len(data.val):,} val tokens")

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    generator = torch.Generator().manual_seed(args.seed)
    x, y = data.get_batch("train", batch_size, block_size, device, generator)
    t_start = time.perf_counter()
    t_timed = None  # when the timed steps began
    timed_steps = 0
    step = 0
    loss = torch.zeros(())
    while step < iters:
        if step == skip:
            sync()
            t_timed = time.perf_counter()
        for group in optimizer.param_groups:
            group["lr"] = schedule(step)
        with autocast:
            _, loss = train_model(x, y)
        # fetch the next batch while the GPU works on this one
        x, y = data.get_batch("train", batch_size, block_size, device, generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), GRAD_CLIP)
        optimizer.step()
        step += 1
        if t_timed is not None:
            timed_steps += 1
        if step % LOG_INTERVAL == 0:
            print(f"step {step}: loss {loss.item():.4f}, "
                  f"{time.perf_counter() - t_start:.1f} s", flush=True)
        if args.seconds is not None and step % 10 == 0 and step > skip:
            sync()
            if time.perf_counter() - t_start >= args.seconds:
                break
    sync()
    t_end = time.perf_counter()
    wall = t_end - t_start
    timed = t_end - t_timed if t_timed is not None and timed_steps else wall
    tokens_per_second = tokens_per_step * (timed_steps or step) / timed if timed > 0 else 0.0

    losses = estimate_loss(model, data.get_batch, batch_size, block_size, eval_iters, device)
    if peak is not None:
        name, flops = peak
        mfu = estimate_mfu(config, tokens_per_second, flops)
        mfu_text = f"{100 * mfu:.1f}% of {name} bf16 peak ({flops / 1e12:.0f} TFLOP/s)"
    else:
        mfu, mfu_text = math.nan, f"n/a ({device.type}: no known peak)"
    ms_per_step = 1000 * timed / max(timed_steps or step, 1)
    print(f"wall time {wall:.1f} s for {step} steps ({ms_per_step:.1f} ms/step after "
          f"{skip if timed_steps else 0} warm-up steps)")
    print(f"throughput {tokens_per_second:,.0f} tokens/s | MFU {mfu_text}")
    print(f"loss over {eval_iters} batches: train {losses['train']:.4f}, val {losses['val']:.4f}")
    return {"steps": step, "wall_seconds": wall, "tokens_per_second": tokens_per_second,
            "mfu": mfu, "train_loss": losses["train"], "val_loss": losses["val"],
            "device": device.type, "config": profile}


if __name__ == "__main__":
    main()
