"""Answers verified outside the student's kernel.

A student's code runs in the kernel that runs the test cells, so it can make a test cell
pass without a right answer (replace ``checks.assert_close``, NumPy, builtins, IPython's
hooks, ...). The score of a verified test cell therefore needs a second opinion the
student's code cannot reach:

1. the grader draws new inputs from a secret seed (``Plan``: a notebook's verifier, in
   ``workbook_grading.verifiers``, says per test cell which calls to make and how to judge
   what comes back -- mostly against the library's reference);
2. a fresh process in the sandbox (verify_runner.py) executes the release's own read-only
   cells that the answers need and the student's answer cells -- no test cell -- then
   makes the calls; the library there has this notebook's references replaced by stubs
   that raise (``DELEGATED``), so an answer that calls the reference for its own exercise
   (import, attribute, ``getattr``, ``importlib``, ``sys.modules``) cannot get its result;
3. what came back, plain data (JSON and ``.npz`` read with ``allow_pickle=False``), is
   judged here, in the grader's process.

A test cell keeps its in-notebook points only if its verification passes too (a forged
pass in the kernel gains nothing; the in-notebook tests keep checking what the verifier
does not, such as messages and edge cases). A notebook whose in-notebook and verified
results differ gets the status ``mismatch``, with what differed (never the hidden inputs
or the reference's values).
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import json
import os
import subprocess
import symtable
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from workbook_grading import sandbox

RUNNER = Path(__file__).with_name("verify_runner.py")
DELEGATED = "DELEGATED"  # in the message of a reference's stub
MAX_OUTPUT_BYTES = 50 * 1024 * 1024


class Fn(str):
    """A function argument by name (verify_runner.FUNCTIONS): ``Fn("tanh")``."""


@dataclass(frozen=True)
class FnOf:
    """A function argument made in the runner by one of verify_runner.FACTORIES from plain
    data: ``FnOf("weighted_sum", "tanh", w)`` is ``lambda v: float(np.sum(np.tanh(v) * w))``."""

    factory: str
    args: tuple = ()


class Student(str):
    """An argument that is the student's own function or class of that name, as defined
    by the cells run (``Student("adam_step")``): for the runner's drivers (``Call.fn``
    starting with ``@``, verify_runner.DRIVERS), e.g. ``p.call("@steps", Student(...),
    ...)``."""


@dataclass(frozen=True)
class Rng:
    """A fresh ``np.random.default_rng(seed)`` as an argument."""

    seed: int


@dataclass(frozen=True)
class Lib:
    """An object of the course library or ``torch.nn`` made in the runner (and, with
    ``make()``, identically in the grader): ``target`` (``module:name``) called with ``args``
    and ``kwargs`` under ``torch.manual_seed(seed)`` when given, then converted to ``dtype``
    and given the parameters ``state``, when given. Arguments may be ``Lib``s themselves
    (a model's config)."""

    target: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    state: dict | None = None
    dtype: str | None = None
    seed: int | None = None

    def make(self):
        from workbook_grading.verify_runner import make_lib

        def real(v):
            if isinstance(v, Lib):
                return v.make()
            if isinstance(v, (list, tuple)):
                return type(v)(real(x) for x in v)
            if isinstance(v, dict):
                return {k: real(x) for k, x in v.items()}
            return v
        return make_lib(self.target, real(self.args), real(self.kwargs), self.state,
                        self.dtype, self.seed)


@dataclass(frozen=True)
class Method:
    """What ``obj.name(*args)`` returns, computed in the runner without gradients (e.g. a
    model's ``encode`` of a source, as an argument of the student's decoder step); ``make()``
    computes the same in the grader."""

    obj: Any
    name: str
    args: tuple = ()

    def make(self):
        import torch

        obj = self.obj.make() if hasattr(self.obj, "make") else self.obj
        args = tuple(a.make() if hasattr(a, "make") else a for a in self.args)
        with torch.no_grad():
            return getattr(obj, self.name)(*args)


@dataclass(frozen=True)
class Gen:
    """A ``torch.Generator().manual_seed(seed)`` as an argument."""

    seed: int

    def make(self):
        import torch

        return torch.Generator().manual_seed(self.seed)


@dataclass(frozen=True)
class Obj:
    """A plain object with these attributes (``types.SimpleNamespace``) as an argument, e.g.
    a vocabulary ``Obj(words=[...], index={...})`` where an answer reads ``vocab.words``."""

    attrs: dict


@dataclass(frozen=True)
class Tensor:
    """A torch tensor made in the runner from ``array`` (``torch.tensor(array,
    dtype=torch.<dtype>)``; dtype None: the array's own), where torch is importable."""

    array: Any
    dtype: str | None = None

    def make(self):
        import torch

        return torch.tensor(np.asarray(self.array),
                            dtype=getattr(torch, self.dtype) if self.dtype else None)


@dataclass(frozen=True)
class Module:
    """A torch ``nn.Sequential`` built in the runner: ``layers`` are (name of a class of
    ``torch.nn``, its positional arguments...), converted to ``dtype``, then given the
    parameters ``state`` ({state_dict key: array}; the others keep torch's initialisation)."""

    layers: tuple
    state: dict = field(default_factory=dict)
    dtype: str = "float64"


@dataclass
class Call:
    """One call of a student's function and the checks of what it returns: each check
    takes the returned value (and, for ``check_inputs``, the arguments after the call) and
    raises AssertionError when it is wrong."""

    fn: str
    args: tuple
    kwargs: dict
    cell: str
    checks: list[Callable[..., None]] = field(default_factory=list)
    check_inputs: bool = False

    def then(self, check: Callable[..., None]) -> "Call":
        self.checks.append(check)
        return self

    def close(self, expected, name: str, **tolerance) -> "Call":
        """The value is ``expected`` within ``checks.assert_close``'s tolerance."""
        from workbook import checks

        return self.then(lambda got, *_: checks.assert_close(got, expected, name=name,
                                                              **tolerance))

    def equal(self, expected, name: str) -> "Call":
        from workbook import checks

        return self.then(lambda got, *_: checks.assert_equal(got, expected, name=name))

    def unchanged_inputs(self, name: str) -> "Call":
        """The call left its array arguments as they were (no in-place change)."""
        before = [np.array(a, copy=True) for a in self.args]
        self.check_inputs = True

        def same(got, after):
            for i, (b, a) in enumerate(zip(before, after)):
                if isinstance(b, np.ndarray) and b.dtype.kind in "biufc" and not np.array_equal(
                        b, np.asarray(a), equal_nan=True):
                    raise AssertionError(f"{name}: argument {i + 1} was changed in place")
        return self.then(same)


class Plan:
    """What to verify in one submission: calls grouped by test cell, inputs from ``rng``."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.calls: list[Call] = []
        self.cell = ""

    def call(self, fn: str, *args, **kwargs) -> Call:
        c = Call(fn, args, kwargs, self.cell)
        self.calls.append(c)
        return c


@dataclass
class Verifier:
    """One notebook's verification: per test cell, a function that adds its calls to a
    ``Plan``; ``references`` are the library objects (``module:name``) that answer this
    notebook's exercises -- stubbed out while it is verified."""

    cells: dict[str, Callable[[Plan], None]]
    references: tuple[str, ...] = ()

    def cell(self, grade_id: str):
        def register(fn):
            self.cells[grade_id] = fn
            return fn
        return register


@dataclass
class Verdict:
    """A test cell's verification: ``passed``, and for a failure a reason that shows no
    hidden input or reference value; ``delegated`` when it called its reference."""

    passed: bool
    reason: str = ""
    delegated: bool = False


def verifier_for(assignment: str, notebook: str) -> Verifier | None:
    """The verifier of ``assignment/notebook`` (``workbook_grading.verifiers.<notebook>``,
    whose ``ASSIGNMENT`` must match), or None where there is none yet."""
    name = f"workbook_grading.verifiers.{notebook}"
    if importlib.util.find_spec(name) is None:
        return None
    module = importlib.import_module(name)
    return module.VERIFIER if getattr(module, "ASSIGNMENT", None) == assignment else None


# ------------------------------------------------------------------ what runs

def _defined(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def _used(tree: ast.AST) -> set[str]:
    """Global names the cell reads: at its top level, or inside its functions and classes
    (not their parameters and locals)."""
    try:
        table = symtable.symtable(ast.unparse(tree), "<cell>", "exec")
    except SyntaxError:
        return set()
    names: set[str] = set()

    def walk(t, top: bool) -> None:
        for sym in t.get_symbols():
            if sym.is_referenced() and (top or sym.is_global()):
                names.add(sym.get_name())
        for child in t.get_children():
            walk(child, False)
    walk(table, True)
    return names


def _parse(source: str) -> ast.AST | None:
    try:
        return ast.parse(source)
    except SyntaxError:
        return None


def without_magics(source: str) -> str:
    """``source`` with IPython's magics and shell escapes (``%matplotlib inline``,
    ``%%time``, ``!ls``) replaced by ``pass``: the runner is plain Python, no IPython."""
    if not any(line.lstrip().startswith(("%", "!")) for line in source.splitlines()):
        return source
    lines = []
    for line in source.splitlines():
        stripped = line.lstrip()
        if stripped.startswith(("%", "!")):
            line = line[: len(line) - len(stripped)] + "pass"
        lines.append(line)
    return "\n".join(lines)


def cells_to_run(release: dict[str, dict], submission: list[dict]) -> list[str]:
    """The sources to execute, in the submission's order: the student's answer cells and
    the cells the student added, whole; the release's first read-only code cell (the
    setup), whole; and from the release's other read-only code cells (never the student's
    copies) only the top-level statements that define names the rest uses, and what those
    need -- a cell that defines a helper and then trains with it gives the helper only.
    No test cell. ``release``: {grade id: {"source", "solution", "grade"}} of the release's
    code cells; ``submission``: its code cells as {"grade_id", "source"}."""
    units: list[tuple[str, bool]] = []  # (source, optional: a read-only statement)
    setup_seen = False
    for c in submission:
        ref = release.get(c.get("grade_id") or "")
        if ref is not None and ref.get("grade"):
            continue                                               # a test cell
        if ref is None or ref.get("solution"):
            units.append((without_magics(c["source"]), False))     # the student's code
            continue
        source = without_magics(ref["source"])                     # the release's, not the copy
        tree = _parse(source)
        if not setup_seen or tree is None:
            units.append((source, setup_seen))
            setup_seen = True
            continue
        units.extend((ast.unparse(stmt), True) for stmt in tree.body)
    trees = [_parse(src) for src, _ in units]
    keep = [not optional for _, optional in units]
    needed: set[str] = set()
    for k, tree in zip(keep, trees):
        if k and tree is not None:
            needed |= _used(tree)
    changed = True
    while changed:  # statements that define what is needed, and what they need
        changed = False
        for i, tree in enumerate(trees):
            if keep[i] or tree is None or not (_defined(tree) & needed):
                continue
            keep[i] = changed = True
            needed |= _used(tree)
    return [src for (src, _), k in zip(units, keep) if k]


# ------------------------------------------------------------ the reference stubs

def _stub_source(source: str, names: set[str], module: str) -> str:
    """``source`` with the top-level functions and classes in ``names`` replaced by ones
    that raise, saying the reference is not available (a class raises when made and when
    any of its attributes is read, e.g. a classmethod ``Vocab.build``)."""
    tree = ast.parse(source)
    body = []
    for node in tree.body:
        if not (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                and node.name in names):
            body.append(node)
            continue
        why = (f"{DELEGATED}: {module}.{node.name} is the course's reference answer to "
               "this exercise; it is not available when your answer is verified -- "
               "write the computation yourself")
        if isinstance(node, ast.ClassDef):
            text = (f"class _Delegated_{node.name}(type):\n"
                    f"    def __getattr__(cls, attr):\n        raise RuntimeError({why!r})\n"
                    f"class {node.name}(metaclass=_Delegated_{node.name}):\n"
                    f"    def __init__(self, *args, **kwargs):\n        raise RuntimeError({why!r})\n")
        else:
            text = f"def {node.name}(*args, **kwargs):\n    raise RuntimeError({why!r})\n"
        body.extend(ast.copy_location(new, node) for new in ast.parse(text).body)
    tree.body = body
    return ast.unparse(ast.fix_missing_locations(tree))


def stub_files(references: tuple[str, ...], folder: Path) -> list[tuple[Path, Path]]:
    """(stub written in ``folder``, the module file it hides) for each module holding one
    of ``references`` (``module:name``)."""
    by_module: dict[str, set[str]] = {}
    for ref in references:
        module, name = ref.split(":")
        by_module.setdefault(module, set()).add(name)
    out = []
    for module, names in sorted(by_module.items()):
        spec = importlib.util.find_spec(module)
        origin = Path(spec.origin)
        stub = folder / f"{module}.py"
        stub.write_text(_stub_source(origin.read_text(), names, module))
        out.append((stub, origin))
    return out


# ------------------------------------------------------------------ running it

def _encode(value, arrays: dict) -> Any:
    if isinstance(value, Fn):
        return {"fn": str(value)}
    if isinstance(value, FnOf):
        return {"fn_of": value.factory, "args": _encode(tuple(value.args), arrays)}
    if isinstance(value, Student):
        return {"student": str(value)}
    if isinstance(value, Rng):
        return {"rng": int(value.seed)}
    if isinstance(value, Lib):
        return {"lib": value.target, "args": _encode(tuple(value.args), arrays),
                "kwargs": _encode(dict(value.kwargs), arrays),
                "state": _encode(dict(value.state or {}), arrays), "dtype": value.dtype,
                "seed": value.seed}
    if isinstance(value, Method):
        return {"method": value.name, "of": _encode(value.obj, arrays),
                "args": _encode(tuple(value.args), arrays)}
    if isinstance(value, Gen):
        return {"generator": int(value.seed)}
    if isinstance(value, Obj):
        return {"obj": _encode(dict(value.attrs), arrays)}
    if isinstance(value, Tensor):
        return {"tensor": _encode(np.asarray(value.array), arrays), "dtype": value.dtype}
    if isinstance(value, Module):
        return {"module": [[str(layer[0]), _encode(tuple(layer[1:]), arrays)]
                           for layer in value.layers],
                "state": _encode(dict(value.state), arrays), "dtype": value.dtype}
    if isinstance(value, np.ndarray) or isinstance(value, np.generic):
        key = f"i{len(arrays)}"
        arrays[key] = np.asarray(value)
        return {"array": key}
    if isinstance(value, (list, tuple)):
        return {"list" if isinstance(value, list) else "tuple": [_encode(v, arrays) for v in value]}
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {"dict": [[k, _encode(v, arrays)] for k, v in value.items()]}
        return {"items": [[_encode(k, arrays), _encode(v, arrays)] for k, v in value.items()]}
    return value


def _decode(value, arrays, strict: bool = True) -> Any:
    if isinstance(value, dict):
        if "array" in value:
            return arrays[value["array"]]
        if "list" in value:
            return [_decode(v, arrays, strict) for v in value["list"]]
        if "tuple" in value:
            return tuple(_decode(v, arrays, strict) for v in value["tuple"])
        if "dict" in value:
            return {k: _decode(v, arrays, strict) for k, v in value["dict"]}
        if "items" in value:  # a dict with keys that are not strings: its (key, value) pairs
            return [(_decode(k, arrays, strict), _decode(v, arrays, strict)) for k, v in value["items"]]
        if "unsupported" in value and not strict:
            return None
        if "unsupported" in value:
            raise AssertionError(f"returned a {value['unsupported']}, which is not an array, "
                                 "a number or a list/tuple of them")
    return value


def _run(cells: list[str], plan: Plan, references: tuple[str, ...], *, timeout: float,
         cell_seconds: float, use_sandbox: bool, env: dict, skip: list[int]) -> dict | str:
    """Run the job in a fresh (sandboxed) process: its out.json as a dict, or why not."""
    with tempfile.TemporaryDirectory(prefix="wbk-verify-") as tmp:
        tmp = Path(tmp)
        work, private, stubs = tmp / "work", tmp / "private", tmp / "stubs"
        for d in (work, stubs):
            d.mkdir(parents=True)
        sandbox.prepare_private(private)
        arrays: dict = {}
        job = {"cells": cells, "skip": skip, "cell_seconds": cell_seconds,
               "call_seconds": max(1.0, cell_seconds / 2),
               "calls": [{"fn": c.fn, "args": _encode(tuple(c.args), arrays)["tuple"],
                          "kwargs": _encode(dict(c.kwargs), arrays),
                          "check_inputs": c.check_inputs} for c in plan.calls]}
        job["calls"] = [dict(c, args={"tuple": c["args"]}) for c in job["calls"]]
        (work / "job.json").write_text(json.dumps(job))
        np.savez(work / "inputs.npz", **arrays)
        # -X pycache_prefix: bytecode of the stubbed modules is never read from (or
        # written to) the library's __pycache__
        cmd = [sys.executable, "-I", "-X", f"pycache_prefix={private / 'pycache'}",
               str(RUNNER), str(work)]
        if use_sandbox:  # (without the sandbox the references cannot be hidden)
            overlays = stub_files(references, stubs)
            cmd = sandbox.command(cmd, scratch=work, private=private, env=env)
            binds = []
            for stub, origin in overlays:
                binds += ["--ro-bind", str(stub), str(origin)]
            split = cmd.index("--")
            cmd = cmd[:split] + binds + cmd[split:]
        try:
            run = subprocess.run(cmd, cwd=work, capture_output=True, timeout=timeout,
                                 env=None if use_sandbox else env)
        except subprocess.TimeoutExpired:
            return _stuck(work, "ran past its time")
        out = work / "out.json"
        if run.returncode != 0 or not out.is_file():
            return _stuck(work, f"ended with exit status {run.returncode}")
        size = out.stat().st_size + (work / "outputs.npz").stat().st_size
        if size > MAX_OUTPUT_BYTES:
            return f"its outputs are too large ({size} bytes)"
        try:
            result = json.loads(out.read_text())
            with np.load(work / "outputs.npz", allow_pickle=False) as npz:
                result["arrays"] = {k: npz[k] for k in npz.files}
        except Exception as err:  # written by the student's process: anything goes
            return f"its outputs could not be read ({type(err).__name__})"
        return result


def _stuck(work: Path, why: str) -> str:
    """Where the runner was when it stopped: ``"cell N: why"`` or ``why``."""
    try:
        last = (work / "progress.txt").read_text().split()[-2:]
    except (OSError, IndexError):
        last = []
    return f"{' '.join(last)}: {why}" if len(last) == 2 else why


def verify(verifier: Verifier, release: dict[str, dict], submission: list[dict], *,
           seed: int, cell_seconds: float = 60, wall_time: float = 300,
           use_sandbox: bool = True, env: dict | None = None) -> dict[str, Verdict]:
    """{test cell: Verdict} for the cells ``verifier`` covers."""
    plan = Plan(seed)
    for grade_id, build in verifier.cells.items():
        plan.cell = grade_id
        build(plan)
    cells = cells_to_run(release, submission)
    env = dict(os.environ if env is None else env, WORKBOOK_PROFILE="ci")
    skip: list[int] = []
    for _attempt in range(3):  # a cell that hangs or kills the process is skipped
        result = _run(cells, plan, verifier.references, timeout=wall_time,
                      cell_seconds=cell_seconds, use_sandbox=use_sandbox, env=env, skip=skip)
        if isinstance(result, dict):
            break
        if result.startswith("cell "):
            index = int(result.split()[1].rstrip(":"))
            if index not in skip:
                skip.append(index)
                continue
        return {g: Verdict(False, f"your answers could not be run outside the notebook: {result}")
                for g in verifier.cells}
    return _judge(plan, result)


def _judge(plan: Plan, result: dict) -> dict[str, Verdict]:
    verdicts = {c.cell: Verdict(True) for c in plan.calls}
    arrays = result.get("arrays", {})
    outputs = result.get("calls", [])
    for i, call in enumerate(plan.calls):
        if not verdicts[call.cell].passed:
            continue
        got = outputs[i] if i < len(outputs) and isinstance(outputs[i], dict) else {}
        if "error" in got:
            delegated = DELEGATED in str(got.get("message", ""))
            reason = (f"{call.fn} calls the library's reference answer to this exercise"
                      if delegated else
                      f"{call.fn} raised {got['error']}: {str(got.get('message', ''))[:200]}")
            verdicts[call.cell] = Verdict(False, reason, delegated)
            continue
        if "value" not in got:
            verdicts[call.cell] = Verdict(False, f"{call.fn} returned nothing readable")
            continue
        try:
            value = _decode(got["value"], arrays)
            after = (_decode(got.get("inputs_after"), arrays, strict=False)
                     if call.check_inputs else None)
            for check in call.checks:
                check(value, after)
        except AssertionError as err:
            first = (str(err).strip().splitlines() or [""])[0]
            verdicts[call.cell] = Verdict(False, f"{call.fn}: {first}"[:300])
        except Exception as err:  # a value the checks cannot handle: wrong
            verdicts[call.cell] = Verdict(
                False, f"{call.fn} returned something unusable ({type(err).__name__})")
    return verdicts
