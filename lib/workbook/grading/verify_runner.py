"""Runs a student's answers outside the notebook, inside the sandbox (verify.py).

``python -I verify_runner.py FOLDER`` reads ``FOLDER/job.json`` (cells to execute, then
calls to make) and ``FOLDER/inputs.npz`` (the arrays the calls take), executes the cells
in one namespace, makes each call, and writes what came back to ``FOLDER/out.json`` and
``FOLDER/outputs.npz``: plain data only (JSON and arrays; never pickle), which the grader
reads with ``allow_pickle=False`` and judges in its own process. Whatever the student's
code does to this process changes only what this process reports.

Encoding of values, both ways: JSON numbers, strings, booleans and null as themselves;
``{"array": KEY}`` an array in the .npz file; ``{"list": [...]}`` / ``{"tuple": [...]}``;
``{"dict": [[key, value], ...]}``; ``{"fn": NAME}`` (inputs only) one of ``FUNCTIONS``;
``{"unsupported": TYPE}`` (outputs only) a value that is none of these.

Standard library and NumPy only (torch tensors are converted without importing torch).
"""

from __future__ import annotations

import json
import signal
import sys
import time
import traceback
from pathlib import Path

import numpy as np

# Functions a call may take as an argument (e.g. the activation of a neuron).
FUNCTIONS = {"tanh": np.tanh, "identity": lambda z: z, "exp": np.exp,
             "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=float)))}


class CellTime(BaseException):
    """Raised in a cell that ran past its time (a BaseException: `except Exception` in a
    student's loop does not swallow it)."""


def _on_alarm(signum, frame):
    raise CellTime()


def decode(value, arrays):
    if isinstance(value, dict):
        if "array" in value:
            return arrays[value["array"]].copy()  # a call may modify its inputs
        if "list" in value:
            return [decode(v, arrays) for v in value["list"]]
        if "tuple" in value:
            return tuple(decode(v, arrays) for v in value["tuple"])
        if "dict" in value:
            return {k: decode(v, arrays) for k, v in value["dict"]}
        if "fn" in value:
            return FUNCTIONS[value["fn"]]
    return value


def encode(value, arrays, depth=0):
    if depth > 6:
        return {"unsupported": "nested too deep"}
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)) and type(value) in (int, float):
        return value
    if type(value).__module__.startswith("torch") and hasattr(value, "detach"):
        value = value.detach().cpu()
        value = value.double().numpy() if value.dtype.is_floating_point else value.numpy()
    if isinstance(value, (np.ndarray, np.generic)):
        arr = np.asarray(value)
        if arr.dtype == object:
            return {"unsupported": "object array"}
        key = f"o{len(arrays)}"
        arrays[key] = arr
        return {"array": key}
    if isinstance(value, (list, tuple)):
        kind = "list" if isinstance(value, list) else "tuple"
        return {kind: [encode(v, arrays, depth + 1) for v in value][:10_000]}
    if isinstance(value, dict):
        return {"dict": [[str(k), encode(v, arrays, depth + 1)] for k, v in value.items()]}
    return {"unsupported": type(value).__name__}


def _error(err: BaseException) -> dict:
    message = str(err).strip().splitlines()
    return {"error": type(err).__name__, "message": (message[0] if message else "")[:500]}


def main(folder: Path) -> None:
    job = json.loads((folder / "job.json").read_text())
    with np.load(folder / "inputs.npz", allow_pickle=False) as npz:
        inputs = {k: npz[k] for k in npz.files}
    progress = open(folder / "progress.txt", "a", buffering=1)
    signal.signal(signal.SIGALRM, _on_alarm)
    namespace = {"__name__": "__main__"}
    cells = []
    for i, source in enumerate(job["cells"]):
        if i in job.get("skip", []):
            cells.append({"skipped": True})
            continue
        progress.write(f"cell {i}\n")
        signal.setitimer(signal.ITIMER_REAL, job["cell_seconds"])
        try:
            exec(compile(source, f"<cell {i}>", "exec"), namespace)
            cells.append({})
        except BaseException as err:  # SystemExit, KeyboardInterrupt, CellTime too
            cells.append(_error(err))
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    arrays: dict = {}
    results = []
    for i, call in enumerate(job["calls"]):
        progress.write(f"call {i}\n")
        fn = namespace.get(call["fn"])
        if not callable(fn):
            results.append({"error": "NameError",
                            "message": f"no function named {call['fn']} was defined"})
            continue
        args = decode(call["args"], inputs)
        kwargs = decode(call["kwargs"], inputs)
        signal.setitimer(signal.ITIMER_REAL, job["call_seconds"])
        start = time.perf_counter()
        try:
            value = fn(*args, **kwargs)
            signal.setitimer(signal.ITIMER_REAL, 0)
            results.append({"value": encode(value, arrays),
                            "inputs_after": encode(args, arrays) if call.get("check_inputs")
                            else None,
                            "seconds": time.perf_counter() - start})
        except BaseException as err:
            signal.setitimer(signal.ITIMER_REAL, 0)
            results.append(_error(err))
    np.savez(folder / "outputs.npz", **arrays)
    (folder / "out.json").write_text(json.dumps({"cells": cells, "calls": results}))


if __name__ == "__main__":
    try:
        main(Path(sys.argv[1]))
    except BaseException:
        traceback.print_exc(limit=3)
        sys.exit(3)
