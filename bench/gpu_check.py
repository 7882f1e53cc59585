"""Everything a CUDA GPU adds, in one run that fits a short GPU lease:

1. the CUDA tests (tests/lib/test_cuda.py; skipped on machines without a GPU);
2. the GPT benchmark in the full profile: eager for a few hundred steps, then the whole
   5,000-step run with torch.compile (tokens/s as a ratio against eager, MFU, val loss);
3. the PyTorch notebooks executed top to bottom in the full profile (nbclient), while the
   time allows; each cell's printed output goes to the log as it finishes.

    python bench/gpu_check.py --out DIR --budget 520
    make gpu-check GPU_CHECK_ARGS="--out DIR --budget 520"    # the same, after make setup

Every step is timed and its failure recorded, not fatal; a table ends the run. With
``--out`` the logs and the executed notebooks are written there as the run goes.
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import subprocess
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# the notebooks that train with torch: the GPT first, then the quick ones, then notebook 09,
# then notebook 07 (six RNN/transformer runs and a GPU-size G2P model: launch-bound, slowest)
NOTEBOOKS = ["10_gpt/gpt", "08_attention/attention", "03_training/training", "06_rnn_lstm/rnn_lstm",
             "09_transformer/transformer", "07_seq2seq_attention/seq2seq_attention"]
EAGER_STEPS = 300


def log(line: str, out: Path | None) -> None:
    print(line, flush=True)
    if out is not None:
        with open(out / "gpu_check.log", "a") as f:
            f.write(line + "\n")


def run_tests(out: Path | None, budget: float) -> tuple[str, str]:
    # addopts replaced: the project's adds nbval options (nbval need not be installed here)
    cmd = [sys.executable, "-m", "pytest", "tests/lib/test_cuda.py", "-q", "-rs",
           "-o", "addopts=-p no:cacheprovider"]
    try:
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=budget)
    except subprocess.TimeoutExpired:
        return "timeout", f"over {budget:.0f} s"
    for line in (done.stdout + done.stderr).splitlines():
        log("  " + line, out)
    last = (done.stdout.strip().splitlines() or ["no output"])[-1]
    return ("ok" if done.returncode == 0 else "FAILED"), last


def run_bench(argv: list[str]) -> dict:
    if str(ROOT / "bench") not in sys.path:  # imported, not run as a script
        sys.path.insert(0, str(ROOT / "bench"))
    import bench_gpt

    return bench_gpt.main(argv)


def execute_notebook(path: Path, target: Path) -> int:
    """Run one notebook (in this process's environment), printing each cell's output as
    it finishes; the executed notebook is written to target, also after an error."""
    import nbclient
    import nbformat

    nb = nbformat.read(path, as_version=4)

    def show(cell, cell_index, execute_reply, **_):
        for output in cell.get("outputs", []):
            text = output.get("text") or output.get("data", {}).get("text/plain", "")
            if output.get("output_type") == "error":
                text = f"{output['ename']}: {output['evalue']}"
            if text:
                print(f"[cell {cell_index}] " + text.rstrip()[-2000:], flush=True)

    client = nbclient.NotebookClient(nb, timeout=None, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}},
                                     on_cell_executed=show)
    try:
        client.execute()
        return 0
    except Exception as error:  # noqa: BLE001 -- report, keep the executed part
        print(f"ERROR {type(error).__name__}: {str(error)[-1500:]}", flush=True)
        return 1
    finally:
        nbformat.write(nb, target)


def run_notebook(name: str, out: Path | None, seconds: float) -> tuple[str, str]:
    source = ROOT / "solutions" / f"{name}.ipynb"
    target = (out or Path("/tmp")) / f"{source.stem}.full.ipynb"
    env = dict(os.environ, WORKBOOK_PROFILE="full", MPLBACKEND="Agg", PYTHONUNBUFFERED="1")
    cmd = [sys.executable, __file__, "--execute", str(source), str(target)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + seconds
    lines: list[str] = []
    try:
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if sel.select(timeout=1.0):
                line = proc.stdout.readline()
                if not line:
                    break
                lines.append(line.rstrip())
                log("  " + line.rstrip(), out)
        else:
            proc.kill()
            proc.wait()
            return "timeout", f"stopped after {seconds:.0f} s (time budget)"
    finally:
        if proc.poll() is None:
            proc.kill()
    rc = proc.wait()
    errors = [line for line in lines if line.startswith("ERROR")]
    return ("ok" if rc == 0 else "FAILED"), (errors[-1][:200] if errors else f"{len(lines)} lines")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=None, help="folder for the logs and notebooks")
    p.add_argument("--budget", type=float, default=1800, help="seconds for the whole run")
    p.add_argument("--skip", nargs="*", default=[], choices=["tests", "bench", "notebooks"])
    p.add_argument("--execute", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.execute:
        return execute_notebook(*args.execute)
    t0 = time.monotonic()

    def left() -> float:
        return args.budget - (time.monotonic() - t0)

    out = args.out
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    import torch

    if not torch.cuda.is_available():
        print("no CUDA GPU here: nothing for this script to check (make test covers the CPU)")
        return 2
    log(f"torch {torch.__version__} | {torch.cuda.get_device_name()} | "
        f"capability {torch.cuda.get_device_capability()} | python {sys.version.split()[0]}", out)
    rows: list[tuple[str, str, float, str]] = []
    results: dict = {}

    def step(label: str, fn) -> None:
        log(f"\n== {label} ({left():.0f} s left)", out)
        start = time.monotonic()
        try:
            status, detail = fn()
        except Exception:  # noqa: BLE001 -- one step's failure is a row in the table
            status, detail = "FAILED", traceback.format_exc().strip().splitlines()[-1]
            log(traceback.format_exc(), out)
        rows.append((label, status, time.monotonic() - start, detail))
        if out is not None:
            (out / "gpu_check.json").write_text(json.dumps({"rows": rows, **results}, indent=1))

    if "tests" not in args.skip:
        step("CUDA tests", lambda: run_tests(out, min(300, left())))
    if "bench" not in args.skip:
        def bench(key: str, argv: list[str]):
            def fn():
                results[key] = r = run_bench(argv)
                ratio = ""
                if key == "compiled" and "eager" in results:
                    ratio = (f", {r['tokens_per_second'] / results['eager']['tokens_per_second']:.2f}x"
                             " eager")
                return "ok", (f"{r['tokens_per_second']:,.0f} tokens/s{ratio}, MFU "
                              f"{100 * r['mfu']:.1f}%, {r['steps']} steps in {r['wall_seconds']:.1f} s, "
                              f"val loss {r['val_loss']:.4f}")
            return fn

        step(f"bench_gpt full, eager, {EAGER_STEPS} steps",
             bench("eager", ["--config", "full", "--iters", str(EAGER_STEPS), "--eval-iters", "20"]))
        step("bench_gpt full, torch.compile (make bench-gpt BENCH_ARGS=--compile)",
             bench("compiled", ["--config", "full", "--compile"]))
    if "notebooks" not in args.skip:
        for name in NOTEBOOKS:
            if left() < 30:
                rows.append((f"notebook {name}", "skipped", 0.0, "no time left in the budget"))
                continue
            step(f"notebook {name} (full profile)",
                 lambda name=name: run_notebook(name, out, left() - 10))

    log("\n" + f"{'step':<72} {'status':<8} {'seconds':>8}  detail", out)
    for label, status, seconds, detail in rows:
        log(f"{label:<72} {status:<8} {seconds:8.1f}  {detail}", out)
    return 0 if all(status in ("ok", "skipped") for _, status, _, _ in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
