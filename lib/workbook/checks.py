"""Checks that test cells call, written to read like a patient teaching assistant.

Every check raises ``AssertionError`` with a message that says what was expected,
what came back, where the worst difference is, and (if given) a hint. They accept
NumPy arrays, torch tensors, Python lists and scalars.

They never write to stderr: nbgrader scores a test cell that writes anything to
stderr (a warning, say) as failed even when the answer is right, so every NumPy
operation here runs under ``np.errstate(all="ignore")`` and nothing is printed.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable, Sequence

import numpy as np

__all__ = ["assert_close", "assert_shape", "assert_equal", "check_gradient", "to_numpy"]


def to_numpy(x: Any, *, name: str = "output") -> np.ndarray:
    """Convert an answer (array, tensor, list, scalar) to a NumPy array, or explain why not."""
    if x is None:
        raise AssertionError(
            f"{name}: got None\n  hint: did the function end without a `return` statement?"
        )
    if type(x).__module__.startswith("torch"):  # a tensor, without importing torch
        x = x.detach().cpu()
        if x.dtype.is_floating_point:
            x = x.double()
        return x.numpy()
    if isinstance(x, tuple) and len(x) > 0 and any(isinstance(v, np.ndarray) for v in x):
        raise AssertionError(
            f"{name}: got a tuple of {len(x)} items where one array was expected\n"
            "  hint: return only the array asked for (forward functions return (out, cache))"
        )
    try:
        return np.asarray(x)
    except Exception as err:  # ragged lists and the like
        raise AssertionError(f"{name}: could not read the answer as an array ({err})") from None


def _fmt(values: np.ndarray, limit: int = 8) -> str:
    flat = np.asarray(values).ravel()
    shown = np.array2string(flat[:limit], precision=3, suppress_small=True, separator=" ",
                            max_line_width=120)
    return shown[:-1] + " ...]" if flat.size > limit else shown


def _with_hint(msg: str, hint: str | None) -> str:
    return msg + (f"\n  hint: {hint}" if hint else "")


def assert_shape(actual: Any, expected_shape: Sequence[int], *, name: str = "output",
                 hint: str | None = None) -> None:
    """Fail unless ``actual`` has exactly ``expected_shape``."""
    shape = tuple(to_numpy(actual, name=name).shape)
    expected_shape = tuple(int(s) for s in expected_shape)
    if shape != expected_shape:
        msg = f"{name}: wrong shape\n  expected {expected_shape}\n  got      {shape}"
        if sorted(shape) == sorted(expected_shape) and len(shape) > 1:
            msg += "\n  (the same sizes in another order: a missing or extra transpose?)"
        raise AssertionError(_with_hint(msg, hint))


def assert_equal(actual: Any, expected: Any, *, name: str = "output",
                 hint: str | None = None) -> None:
    """Exact comparison, for integer or boolean answers (labels, counts, masks)."""
    assert_close(actual, expected, name=name, rtol=0.0, atol=0.0, hint=hint)


def assert_close(actual: Any, expected: Any, *, name: str = "output", rtol: float = 1e-5,
                 atol: float = 1e-8, hint: str | None = None) -> None:
    """Fail unless ``|actual - expected| <= atol + rtol * |expected|`` everywhere.

    The message names the shape or dtype mismatch, the row with the worst error, the
    max absolute and relative error and where it occurs, and a few values side by side.
    """
    a = to_numpy(actual, name=name)
    e = to_numpy(expected, name=f"{name} (expected)")
    if a.shape != e.shape:
        if a.size == e.size == 1:
            a, e = a.reshape(()), e.reshape(())
        else:
            assert_shape(a, e.shape, name=name, hint=hint)
    if a.dtype.kind not in "biuf":
        raise AssertionError(_with_hint(
            f"{name}: expected numbers, got values of dtype {a.dtype}", hint))
    a64 = a.astype(np.float64)
    e64 = e.astype(np.float64)
    with np.errstate(all="ignore"):
        bad_nan = np.isnan(a64) & ~np.isnan(e64)
        if bad_nan.any():
            where = tuple(int(i) for i in np.argwhere(bad_nan)[0])
            raise AssertionError(_with_hint(
                f"{name}: contains NaN ({int(bad_nan.sum())} of {a.size} values), "
                f"first at index {where}\n"
                "  NaN usually comes from exp() overflowing, log(0) or 0/0", hint))
        # equal values (infinities included) and NaN where NaN is expected are fine
        ok = ((a64 == e64) | (np.isnan(a64) & np.isnan(e64))
              | (np.isfinite(a64) & np.isfinite(e64)
                 & (np.abs(a64 - e64) <= atol + rtol * np.abs(e64))))
        if ok.all():
            return
        diff = np.where(ok, 0.0, np.nan_to_num(np.abs(a64 - e64), nan=np.inf))
        rel = diff / np.maximum(np.abs(e64), 1e-300)
    n_bad = int((~ok).sum())
    worst = np.unravel_index(int(np.argmax(diff)), a.shape) if a.ndim else ()
    lines = []
    if a.ndim >= 2:
        row = worst[:-1]
        rows = int(np.prod(a.shape[:-1]))
        lines.append(f"{name}: wrong values in row {_idx(row)} of {rows} "
                     f"({n_bad} of {a.size} values outside tolerance)")
        lines.append(f"  expected {_fmt(e64[row])}")
        lines.append(f"  got      {_fmt(a64[row])}")
    else:
        lines.append(f"{name}: wrong values ({n_bad} of {a.size} outside tolerance)")
        lines.append(f"  expected {_fmt(e64)}")
        lines.append(f"  got      {_fmt(a64)}")
    rel_text = f"{float(rel[worst]):.3g}" if e64[worst] != 0 else "n/a (expected 0)"
    lines.append(f"  max abs error {float(diff[worst]):.3g} at {_idx(worst)}; "
                 f"relative error there {rel_text} "
                 f"(tolerance: atol={atol:g}, rtol={rtol:g})")
    if a.dtype != e.dtype and a.dtype.kind != e.dtype.kind:
        lines.append(f"  note: your dtype is {a.dtype}, expected {e.dtype}")
    raise AssertionError(_with_hint("\n".join(lines), hint))


def _idx(index: tuple) -> str:
    index = tuple(int(i) for i in index)
    if len(index) == 1:
        return str(index[0])
    return str(list(index))


def check_gradient(f: Callable[[np.ndarray], float], x: Any, analytic: Any, *,
                   name: str = "gradient", h: float = 1e-5, tol: float = 1e-6,
                   hint: str | None = None) -> float:
    """Compare an analytic gradient of scalar ``f`` at ``x`` with centred differences.

    Works in float64. ``analytic`` has the shape of ``x``. The error is
    ``||a - n|| / (||a|| + ||n||)`` over the whole gradient: per-entry relative errors
    blow up on entries near zero, where finite differences carry ~1e-11 of rounding.
    Returns it, and fails naming the worst entry when it is above ``tol``.
    """
    from workbook.numpy_nn.gradcheck import numerical_gradient

    x64 = to_numpy(x, name="x").astype(np.float64)
    g = to_numpy(analytic, name=name)
    assert_shape(g, x64.shape, name=name, hint=hint or "a gradient has the shape of its input")
    g = g.astype(np.float64)
    # f is evaluated at perturbed points; a warning it raises there must not reach stderr
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        numeric = numerical_gradient(f, x64.copy(), h=h)
    with np.errstate(all="ignore"):
        diff = np.abs(g - numeric)
        err = float(np.linalg.norm(g - numeric) /
                    max(np.linalg.norm(g) + np.linalg.norm(numeric), 1e-300))
    if not err <= tol:  # also catches NaN
        worst = (np.unravel_index(int(np.argmax(np.nan_to_num(diff, nan=np.inf))), diff.shape)
                 if diff.ndim else ())
        raise AssertionError(_with_hint(
            f"{name}: does not match centred finite differences (h={h:g})\n"
            f"  relative error {err:.3g} > {tol:g}\n"
            f"  worst entry {_idx(worst)}: analytic {float(g[worst]):.6g}, "
            f"numerical {float(numeric[worst]):.6g}\n"
            f"  analytic  {_fmt(g)}\n  numerical {_fmt(numeric)}", hint))
    return err
