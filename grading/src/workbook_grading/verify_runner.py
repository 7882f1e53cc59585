"""Runs a student's answers outside the notebook, inside the sandbox (verify.py).

``python -I verify_runner.py FOLDER`` reads ``FOLDER/job.json`` (cells to execute, then
calls to make) and ``FOLDER/inputs.npz`` (the arrays the calls take), executes the cells
in one namespace, makes each call, and writes what came back to ``FOLDER/out.json`` and
``FOLDER/outputs.npz``: plain data only (JSON and arrays; never pickle), which the grader
reads with ``allow_pickle=False`` and judges in its own process. Whatever the student's
code does to this process changes only what this process reports.

Encoding of values, both ways: JSON numbers, strings, booleans and null as themselves;
``{"array": KEY}`` an array in the .npz file; ``{"list": [...]}`` / ``{"tuple": [...]}``;
``{"dict": [[key, value], ...]}`` (string keys); ``{"items": [[key, value], ...]}`` a dict
with other keys (e.g. tuples), in its order; ``{"fn": NAME}`` (inputs only) one of ``FUNCTIONS``;
``{"unsupported": TYPE}`` (outputs only) a value that is none of these. Inputs only, too:
``{"fn_of": NAME, "args": [...]}`` a function made by ``FACTORIES``;
``{"lib": TARGET, ...}`` an object of the course library or ``torch.nn`` (``make_lib``);
``{"method": NAME, "of": VALUE, "args": [...]}`` what that method of the decoded value returns
(without gradients); ``{"generator": SEED}`` a seeded ``torch.Generator``; ``{"obj": DICT}`` a ``types.SimpleNamespace`` with those attributes;
``{"student": NAME}`` the object the cells defined under NAME; ``{"rng": SEED}`` a fresh
``np.random.default_rng(SEED)``; ``{"tensor": ARRAY, "dtype": NAME}`` a torch tensor;
``{"module": [[CLASS, ARGS], ...], "state": DICT, "dtype": NAME}`` an ``nn.Sequential`` of
``torch.nn`` layers with those parameters.

A call's function is a name the cells defined, or ``@NAME``: one of ``DRIVERS``, the
runner's own code that calls a student's function or class (given as ``{"student": ...}``)
the way a test cell does (several steps sharing a state, build a module and call it).

Standard library and NumPy only; torch is imported only for tensor and module inputs and
by drivers that need it (torch tensors in outputs are converted without importing torch).
"""

from __future__ import annotations

import json
import signal
import sys
import time
import traceback
import types
from pathlib import Path

import numpy as np

# Functions a call may take as an argument (e.g. the activation of a neuron).
FUNCTIONS = {"tanh": np.tanh, "identity": lambda z: z, "exp": np.exp, "cube": lambda z: z ** 3,
             "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=float)))}


def _softmax_regression_loss(X, y, params):
    """Mean softmax cross-entropy of scores X @ W1 + b1 and its gradients {"W1", "b1"}
    (numpy_nn.MLP((D, C)).loss, written here: the library's may be stubbed out)."""
    X = np.asarray(X, dtype=float)
    scores = X @ params["W1"] + params["b1"]
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = len(X)
    loss = float(-log_p[np.arange(n), y].mean())
    d = np.exp(log_p)
    d[np.arange(n), y] -= 1.0
    d /= n
    return loss, {"W1": X.T @ d, "b1": d.sum(axis=0)}


# Functions a call may take as an argument, made from plain data (``{"fn_of": NAME, "args":
# [...]}``): FACTORIES[NAME](*args).
FACTORIES = {
    # v -> float(sum(FUNCTIONS[fn](v) * w))
    "weighted_sum": lambda fn, w: (lambda v: float(np.sum(FUNCTIONS[fn](v) * w))),
    # (X, y, params) -> (loss, grads) of softmax regression
    "softmax_regression_loss": lambda: _softmax_regression_loss,
    # (h, x) -> tanh(x @ Wx + h @ Wh + b): one step of a tanh RNN
    "rnn_step": lambda Wx, Wh, b: (lambda h, x: np.tanh(x @ Wx + h @ Wh + b)),
    # (h, x) -> h * x
    "product": lambda: (lambda h, x: h * x),
    # seq -> log-softmax of table[seq[-1]] (a bigram model's next-token log-probabilities)
    "table_log_probs": lambda table: _table_log_probs(table),
    # seq -> log-probabilities of a language model's next token (float64), as notebook 10's
    "lm_log_probs": lambda model: _lm_log_probs(model),
}


def _table_log_probs(table):
    import torch

    table = torch.as_tensor(np.asarray(table, dtype=float))
    return lambda seq: torch.log_softmax(table[seq[-1]], dim=-1)


def _lm_log_probs(model):
    import torch

    def next_log_probs(seq):
        with torch.no_grad():
            return torch.log_softmax(model.next_token_logits(torch.tensor([seq])).double()[0], dim=-1)
    return next_log_probs

# Where ``{"lib": ...}`` objects may come from: the course library and torch's layers.
LIB_PREFIXES = ("workbook.", "torch.nn:", "torch.nn.")


def make_lib(target, args=(), kwargs=None, state=None, dtype=None, seed=None):
    """``module:name`` called with ``args`` and ``kwargs`` -- under ``torch.manual_seed(seed)``
    when a seed is given (the same object in the grader and here) -- then converted to
    ``dtype`` and given the parameters ``state``, where those are given; a torch module is
    put in eval mode."""
    import importlib

    if not target.startswith(LIB_PREFIXES):
        raise ValueError(f"{target} is not in the course library or torch.nn")
    module, name = target.split(":")
    make = getattr(importlib.import_module(module), name)
    if seed is None:
        obj = make(*args, **(kwargs or {}))
    else:
        import torch

        with torch.random.fork_rng():
            torch.manual_seed(seed)
            obj = make(*args, **(kwargs or {}))
    if dtype:
        import torch

        obj = obj.to(getattr(torch, dtype))
    if state:
        _load(obj, state)
    if hasattr(obj, "parameters") and hasattr(obj, "eval"):
        obj.eval()  # a torch module: no dropout while it is verified
    return obj


class CellTime(BaseException):
    """Raised in a cell that ran past its time (a BaseException: `except Exception` in a
    student's loop does not swallow it)."""


def _on_alarm(signum, frame):
    raise CellTime()


def decode(value, arrays, namespace=None):
    if isinstance(value, dict):
        if "array" in value:
            return arrays[value["array"]].copy()  # a call may modify its inputs
        if "list" in value:
            return [decode(v, arrays, namespace) for v in value["list"]]
        if "tuple" in value:
            return tuple(decode(v, arrays, namespace) for v in value["tuple"])
        if "dict" in value:
            return {k: decode(v, arrays, namespace) for k, v in value["dict"]}
        if "items" in value:
            return {decode(k, arrays, namespace): decode(v, arrays, namespace)
                    for k, v in value["items"]}
        if "fn" in value:
            return FUNCTIONS[value["fn"]]
        if "fn_of" in value:
            return FACTORIES[value["fn_of"]](*decode(value["args"], arrays))
        if "student" in value:
            found = (namespace or {}).get(value["student"])
            if found is None:
                raise NameError(f"no function or class named {value['student']} was defined")
            return found
        if "obj" in value:
            return types.SimpleNamespace(**decode(value["obj"], arrays, namespace))
        if "rng" in value:
            return np.random.default_rng(value["rng"])
        if "tensor" in value:
            import torch

            array = decode(value["tensor"], arrays)
            dtype = getattr(torch, value["dtype"]) if value.get("dtype") else None
            return torch.tensor(array, dtype=dtype)
        if "module" in value:
            return _module(value, arrays)
        if "lib" in value:
            return make_lib(value["lib"], decode(value["args"], arrays, namespace),
                            decode(value["kwargs"], arrays, namespace),
                            decode(value["state"], arrays), value["dtype"], value["seed"])
        if "method" in value:
            obj = decode(value["of"], arrays, namespace)
            args = decode(value["args"], arrays, namespace)
            if "torch" in sys.modules:
                import torch

                with torch.no_grad():
                    return getattr(obj, value["method"])(*args)
            return getattr(obj, value["method"])(*args)
        if "generator" in value:
            import torch

            return torch.Generator().manual_seed(value["generator"])
    return value


def _module(value, arrays):
    import torch
    from torch import nn

    layers = []
    for name, args in value["module"]:
        cls = getattr(nn, name)
        if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
            raise TypeError(f"{name} is not a torch.nn module")
        layers.append(cls(*decode(args, arrays)))
    model = nn.Sequential(*layers).to(getattr(torch, value["dtype"]))
    _load(model, decode(value["state"], arrays))
    return model


def _load(model, state):
    """Copy ``state`` ({key: array}) into ``model``'s parameters and buffers of those names."""
    import torch

    if not state:
        return
    own = model.state_dict()
    with torch.no_grad():
        for key, array in state.items():
            own[key].copy_(torch.as_tensor(np.asarray(array)))


# ------------------------------------------------------------------ drivers

def _steps(step_fn, p0, grads, **hyper):
    """An optimiser's step function applied to ``p0`` with each gradient in turn, one state
    dict throughout (as the notebook's ``run_steps``): every new parameter, stacked."""
    p, state, path = np.array(p0, dtype=float), {}, []
    for g in grads:
        p = np.array(step_fn(p.copy(), np.array(g, dtype=float), state, **hyper), dtype=float)
        path.append(p)
    return np.array(path)


def _build(make, args=(), kwargs=None, state=None, dtype=None, method=None, inputs=(),
           input_kwargs=None, bump=False):
    """``make(*args, **kwargs)`` (a class or a function returning a module), converted to
    ``dtype`` and given the parameters ``state`` when given; then, without gradients,
    ``obj(*inputs, **input_kwargs)`` (or its ``method``). ``bump``: afterwards add 1 to every
    parameter in place (a module must not share memory with the arrays it was made from)."""
    import torch

    obj = make(*args, **(kwargs or {}))
    if dtype:
        obj = obj.to(getattr(torch, dtype))
    if state:
        _load(obj, state)
    with torch.no_grad():
        fn = getattr(obj, method) if method else obj
        out = fn(*inputs, **(input_kwargs or {}))
        if bump:
            for parameter in obj.parameters():
                parameter.add_(1.0)
    return out


def _then_call(fn, args, kwargs=None, module_arg=0, inputs=()):
    """``fn(*args, **kwargs)``, then ``args[module_arg](*inputs)`` without gradients (a
    module ``fn`` trained in place): both results."""
    import torch

    result = fn(*args, **(kwargs or {}))
    with torch.no_grad():
        out = args[module_arg](*inputs)
    return result, out


def _forward_backward(forward, backward, args, dout):
    """``backward(dout, cache)`` where ``(_, cache) = forward(*args)``: a backward pass
    given the cache of the student's own forward pass."""
    return backward(dout, forward(*args)[1])


def _value_and_grad(fn, x, *args, **kwargs):
    """``fn(x, *args, **kwargs)`` with x a tensor that requires a gradient, then its backward
    pass: (the value, the gradient with respect to x)."""
    x = x.detach().clone().requires_grad_()
    value = fn(x, *args, **kwargs)
    value.backward()
    return value.detach(), x.grad


def _train(fn, model, batches, lr, momentum=0.0, **kwargs):
    """``fn(model, optimizer, batch, **kwargs)`` for each batch in turn, with
    ``torch.optim.SGD(model.parameters(), lr, momentum)``: (what each call returned, the
    model's parameters after the last)."""
    import torch

    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    returned = [fn(model, optimizer, batch, **kwargs) for batch in batches]
    return returned, {name: p.detach() for name, p in model.named_parameters()}


def _forward_hooks(model) -> int:
    return sum(len(m._forward_hooks) for m in model.modules())


def _hooks_left(fn, model, args, failing_args):
    """``fn(model, *args)``; then ``fn(model, *failing_args)``, which must raise (a forward pass
    that fails): (the first result, forward hooks on the model after it, after the failure)."""
    result = fn(model, *args)
    after = _forward_hooks(model)
    try:
        fn(model, *failing_args)
    except Exception:
        pass
    return result, after, _forward_hooks(model)


def _twice(fn, *args, **kwargs):
    """``fn`` called twice in a row with the same arguments: both results (a function that
    seeds its own randomness gives the same twice)."""
    return fn(*args, **kwargs), fn(*args, **kwargs)


DRIVERS = {"steps": _steps, "build": _build, "then_call": _then_call, "twice": _twice,
           "forward_backward": _forward_backward, "value_and_grad": _value_and_grad,
           "train": _train, "hooks_left": _hooks_left}


def encode(value, arrays, depth=0):
    if depth > 6:
        return {"unsupported": "nested too deep"}
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)) and type(value) in (int, float):
        return value
    if type(value).__module__.startswith("torch") and hasattr(value, "detach"):
        value = value.detach().cpu()
        # float32 stays float32 (a dtype can be checked); halves, which NumPy may lack, widen
        value = (value.float().numpy() if value.dtype.is_floating_point and value.element_size() < 4
                 else value.numpy())
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
        if all(isinstance(k, str) for k in value):
            return {"dict": [[k, encode(v, arrays, depth + 1)] for k, v in value.items()]}
        return {"items": [[encode(k, arrays, depth + 1), encode(v, arrays, depth + 1)]
                          for k, v in value.items()][:10_000]}
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
        if call["fn"].startswith("@"):
            fn = DRIVERS.get(call["fn"][1:])
        else:
            fn = namespace.get(call["fn"])
        if not callable(fn):
            results.append({"error": "NameError",
                            "message": f"no function named {call['fn']} was defined"})
            continue
        signal.setitimer(signal.ITIMER_REAL, job["call_seconds"])
        start = time.perf_counter()
        try:
            args = decode(call["args"], inputs, namespace)
            kwargs = decode(call["kwargs"], inputs, namespace)
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
