"""Notebook 08 ``attention``: every graded cell re-checked on new inputs outside the kernel.

Tensors cross as arrays (``Tensor``) and come back as arrays: a mask's dtype is checked
(bool), not whether it was a torch tensor or a NumPy array. The classes are built in the
runner by the ``@build`` driver with the reference's parameters loaded, as the hidden
tests do.

Not stubbed although they answer exercises here, because the library classes this
notebook's answers and read-only cells use call them: ``scaled_dot_product_attention``
and ``causal_mask`` (``MultiHeadAttention``), ``LayerNorm`` (``PreLNBlock``).
"""

import math

import numpy as np

from workbook import checks
from workbook_grading.verify import Plan, Student, Tensor, Verifier

ASSIGNMENT = "08_attention"
VERIFIER = Verifier({}, references=(
    "workbook.nn.attention:padding_mask", "workbook.nn.attention:sinusoidal_positions",
    "workbook.nn.attention:RotaryEmbedding", "workbook.nn.transformer:EncoderLayer"))
cell = VERIFIER.cell

TIGHT = dict(rtol=1e-7, atol=1e-12)


def _ints(p: Plan, low: int, high: int, n: int) -> list[int]:
    return [int(v) for v in p.rng.integers(low, high, size=n)]


def _torch(a, dtype="float64"):
    import torch

    return torch.tensor(np.asarray(a), dtype=getattr(torch, dtype))


def _pair(name):
    def check(got):
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            raise AssertionError(f"{name}: expected a pair (out, weights)")
    return check


def _attention_call(p: Plan, q, k, v, mask, name):
    from workbook.nn.attention import scaled_dot_product_attention

    args = [_torch(q), _torch(k), _torch(v)] + ([_torch(mask, "bool")] if mask is not None else [])
    rout, rw = scaled_dot_product_attention(*args)

    def check(got, *_):
        _pair("attention")(got)
        checks.assert_close(got[1], rw, name=f"weights for {name}", **TIGHT)
        checks.assert_close(got[0], rout, name=f"out for {name}", **TIGHT)
    call_args = [Tensor(q, "float64"), Tensor(k, "float64"), Tensor(v, "float64")]
    if mask is not None:
        call_args.append(Tensor(mask, "bool"))
    p.call("attention", *call_args).then(check)


@cell("test-attention")
def _attention(p: Plan):
    B, H = _ints(p, 1, 4, 2)
    for lead in [(), (B,), (B, H)]:
        Tq, Tk, dv = _ints(p, 1, 10, 3)
        d = int(p.rng.integers(2, 65))
        q = 2.0 * p.rng.normal(size=(*lead, Tq, d))
        k, v = p.rng.normal(size=(*lead, Tk, d)), p.rng.normal(size=(*lead, Tk, dv))
        _attention_call(p, q, k, v, None, f"q {q.shape}, k {k.shape}")


@cell("test-attention-mask")
def _attention_mask(p: Plan):
    B, H, T, d = _ints(p, 1, 4, 2) + _ints(p, 2, 9, 2)
    for shape, mshape in [((B, H, T, d), (T, T)), ((B, T, d), (B, T, T)), ((B, H, T, d), (B, 1, 1, T)),
                          ((B, T, d), (B, 1, T))]:
        q, k, v = (p.rng.normal(size=shape) for _ in range(3))
        mask = p.rng.random(mshape) < 0.6
        mask[..., 0, :] = False  # a query row with nothing to attend to
        _attention_call(p, q, k, v, mask, f"q {shape}, mask {mshape}")
    _attention_call(p, q, k, v, np.ones((T, T), dtype=bool), "an all-True mask")


@cell("test-entropy")
def _entropy(p: Plan):
    import torch

    shape = tuple(_ints(p, 1, 5, 2)) + (int(p.rng.integers(3, 12)),)
    z = 3 * p.rng.normal(size=shape)
    w = np.exp(z - z.max(axis=-1, keepdims=True))
    w /= w.sum(axis=-1, keepdims=True)
    w = np.where(p.rng.random(shape) < 0.3, 0.0, w)
    w[(0,) * (len(shape) - 1)] = 0.0
    p.call("attention_entropy", Tensor(w, "float64")).close(
        torch.special.entr(_torch(w)).sum(-1), f"entropy of random weights {shape}", rtol=1e-9, atol=1e-12)
    n = int(p.rng.integers(2, 20))
    p.call("attention_entropy", Tensor(np.full(n, 1 / n), "float64")).close(
        math.log(n), f"entropy of one uniform row of {n}", rtol=1e-9)


def _bool(name, want):
    def check(got, *_):
        got = np.asarray(got)
        if got.dtype != bool:
            raise AssertionError(f"{name}: expected a bool tensor, got dtype {got.dtype}")
        checks.assert_equal(got, want, name=name)
    return check


@cell("test-causal-mask")
def _causal_mask(p: Plan):
    for T in [1, *_ints(p, 2, 20, 3)]:
        p.call("causal_mask", T).then(_bool(f"causal_mask({T})", np.tril(np.ones((T, T), dtype=bool))))


@cell("test-padding-mask")
def _padding_mask(p: Plan):
    from workbook.nn.attention import padding_mask

    for B, T in [tuple(_ints(p, 2, 7, 2)), (1, 1), tuple(_ints(p, 1, 5, 1) + _ints(p, 8, 16, 1))]:
        lengths = p.rng.integers(0, T + 1, size=B)
        lengths[0] = T
        is_pad = np.arange(T)[None, :] >= lengths[:, None]
        want = padding_mask(_torch(is_pad, "bool")).numpy()
        p.call("padding_mask", Tensor(lengths, "int64"), T).then(
            _bool(f"padding_mask for B={B}, T={T}", want))


@cell("test-split-heads")
def _split_heads(p: Plan):
    for i in range(3):
        B, T, nh, hs = _ints(p, 1, 5, 4)
        if i == 0:  # several heads of several channels: mixing them up shows
            nh, hs = _ints(p, 2, 6, 2)
        x = p.rng.normal(size=(B, T, nh * hs))
        want = x.reshape(B, T, nh, hs).transpose(0, 2, 1, 3)
        p.call("split_heads", Tensor(x, "float64"), nh).close(
            want, f"split_heads of (B, T, C) = {(B, T, nh * hs)}, nh = {nh}")


@cell("test-merge-heads")
def _merge_heads(p: Plan):
    for i in range(3):
        B, nh, T, hs = _ints(p, 1, 5, 4)
        if i == 0:  # several heads of several channels: mixing them up shows
            nh, hs = _ints(p, 2, 6, 2)
        y = p.rng.normal(size=(B, nh, T, hs))
        p.call("merge_heads", Tensor(y, "float64")).close(
            y.transpose(0, 2, 1, 3).reshape(B, T, nh * hs),
            f"merge_heads of (B, nh, T, hs) = {(B, nh, T, hs)}")
        # (a split made in the runner is not contiguous there: merge_heads(split) round trip)
        x = p.rng.normal(size=(B, T, nh * hs))
        p.call("merge_heads", Tensor(x.reshape(B, T, nh, hs).transpose(0, 2, 1, 3), "float64")).close(
            x, f"merge_heads of a split (B, T, C) = {x.shape}")


def _state(module) -> dict:
    return {k: v.detach().numpy().copy() for k, v in module.state_dict().items()}


def _seeded_torch(p: Plan):
    import torch

    torch.manual_seed(int(p.rng.integers(2**31)))


@cell("test-mha")
def _mha(p: Plan):
    import torch

    from workbook.nn.attention import MultiHeadAttention

    with torch.random.fork_rng():
        _seeded_torch(p)
        for hs, nh in [(int(p.rng.integers(2, 6)), int(p.rng.integers(2, 5))), (1, 8), (6, 1)]:
            C = hs * nh
            ref = MultiHeadAttention(C, num_heads=nh).double()
            B, Tq, Tk = int(p.rng.integers(1, 4)), int(p.rng.integers(1, 7)), int(p.rng.integers(2, 9))
            xq, xk, xv = (p.rng.normal(size=(B, T, C)) for T in (Tq, Tk, Tk))
            keep = (np.arange(Tk)[None, :] < p.rng.integers(1, Tk + 1, size=B)[:, None])[:, None, :]
            for mask in (None, keep):
                inputs = [_torch(xq), _torch(xk), _torch(xv)] + ([_torch(mask, "bool")] if mask is not None else [])
                with torch.no_grad():
                    ro, rw = ref(*inputs)
                name = f"C={C}, nh={nh}" + (", a padding mask" if mask is not None else "")

                def check(got, *_, ro=ro.numpy(), rw=rw.numpy(), name=name):
                    _pair("MyMultiHeadAttention")(got)
                    checks.assert_close(got[1], rw, name=f"cross-attention weights, {name}", **TIGHT)
                    checks.assert_close(got[0], ro, name=f"cross-attention output, {name}", **TIGHT)
                call_inputs = (Tensor(xq, "float64"), Tensor(xk, "float64"), Tensor(xv, "float64"))
                if mask is not None:
                    call_inputs += (Tensor(mask, "bool"),)
                p.call("@build", Student("MyMultiHeadAttention"), (C,), {"num_heads": nh},
                       state=_state(ref), dtype="float64", inputs=call_inputs).then(check)


@cell("test-sinusoidal")
def _sinusoidal(p: Plan):
    from workbook.nn.attention import sinusoidal_positions

    for T, d, base in [(int(p.rng.integers(10, 80)), 2 * int(p.rng.integers(2, 12)), 10000.0), (1, 8, 10000.0),
                       (int(p.rng.integers(2, 30)), 6, float(p.rng.uniform(50, 500)))]:
        p.call("sinusoidal_positions", T, d, base=base).close(
            sinusoidal_positions(T, d, base=base), f"sinusoidal_positions({T}, {d}, base={base:g})",
            rtol=1e-5, atol=1e-6)


@cell("test-rope")
def _rope(p: Plan):
    import torch

    from workbook.nn.attention import RotaryEmbedding

    cases = [((*_ints(p, 1, 4, 2), int(p.rng.integers(2, 9)), 2 * int(p.rng.integers(1, 9))), None, 10000.0),
             ((int(p.rng.integers(1, 5)), 5, 8), np.arange(5) + int(p.rng.integers(1, 200)), 10000.0),
             ((6, 32), p.rng.permutation(50)[:6], float(p.rng.uniform(100, 1000)))]
    for shape, pos, base in cases:
        x = p.rng.normal(size=shape)
        with torch.no_grad():
            want = RotaryEmbedding(shape[-1], base=base)(_torch(x), None if pos is None else _torch(pos, "int64"))
        name = f"rope of x {shape}, base {base:g}"
        if pos is None:
            p.call("rope", Tensor(x, "float64"), base=base).close(want, name, rtol=1e-7, atol=1e-10)
        else:
            p.call("rope", Tensor(x, "float64"), Tensor(pos, "int64"), base=base).close(
                want, name, rtol=1e-7, atol=1e-10)


@cell("test-rope-relative")
def _rope_relative(p: Plan):
    B, T, hs = int(p.rng.integers(1, 4)), int(p.rng.integers(3, 8)), 2 * int(p.rng.integers(2, 10))
    q, k = p.rng.normal(size=(B, T, hs)), p.rng.normal(size=(B, T, hs))
    pos = np.sort(p.rng.choice(40, size=T, replace=False))
    shift = int(p.rng.integers(1, 100))
    got: dict = {}

    def keep(key):
        def check(value, *_):
            got[key] = np.asarray(value, dtype=float)
            if len(got) == 4:
                s0 = got["q0"] @ np.swapaxes(got["k0"], -2, -1)
                s1 = got["q1"] @ np.swapaxes(got["k1"], -2, -1)
                checks.assert_close(s1, s0, name=f"all scores after shifting every position by {shift}",
                                    rtol=1e-8, atol=1e-10)
                checks.assert_close(np.linalg.norm(got["q0"], axis=-1), np.linalg.norm(q, axis=-1),
                                    name="lengths after rope", rtol=1e-9)
                if np.allclose(s0, q @ np.swapaxes(k, -2, -1), rtol=1e-6, atol=1e-9):
                    raise AssertionError("the scores of vectors at different positions are those "
                                         "of the unrotated vectors: the angle must grow with the position")
        return check
    for key, x, s in [("q0", q, 0), ("k0", k, 0), ("q1", q, shift), ("k1", k, shift)]:
        p.call("rope", Tensor(x, "float64"), Tensor(pos + s, "int64")).then(keep(key))


@cell("test-layernorm")
def _layernorm(p: Plan):
    import torch.nn.functional as F

    for shape, eps in [(tuple(_ints(p, 1, 8, 1)) + (16,), 1e-5), (tuple(_ints(p, 1, 4, 2)) + (7,), 0.1),
                       ((int(p.rng.integers(1, 5)), 1, 6), 1e-5)]:
        x = 2 * p.rng.normal(size=shape) - 1
        w, b = p.rng.normal(size=shape[-1]), p.rng.normal(size=shape[-1])
        want = F.layer_norm(_torch(x), (shape[-1],), _torch(w), _torch(b), eps=eps)
        p.call("layer_norm", Tensor(x, "float64"), Tensor(w, "float64"), Tensor(b, "float64"), eps=eps).close(
            want, f"layer_norm of x {shape}, eps {eps:g}", rtol=1e-8, atol=1e-10)


@cell("test-block")
def _block(p: Plan):
    import torch

    from workbook.nn.transformer import EncoderLayer

    with torch.random.fork_rng():
        _seeded_torch(p)
        for hs, nh, ff in [(int(p.rng.integers(2, 6)), int(p.rng.integers(2, 4)), int(p.rng.integers(8, 24))),
                           (8, 1, 8)]:
            C = hs * nh
            ref = EncoderLayer(C, num_heads=nh, d_ff=ff).double()
            with torch.no_grad():
                for prm in ref.parameters():
                    prm.normal_(std=0.5)
            B, T = int(p.rng.integers(1, 4)), int(p.rng.integers(2, 8))
            x = p.rng.normal(size=(B, T, C))
            keep = ((np.arange(T)[None, :] < p.rng.integers(1, T + 1, size=B)[:, None])[:, None, :]
                    & np.tril(np.ones((T, T), dtype=bool)))
            for mask in (None, keep):
                with torch.no_grad():
                    want = ref(_torch(x), None if mask is None else _torch(mask, "bool")).numpy()
                inputs = (Tensor(x, "float64"),) + (() if mask is None else (Tensor(mask, "bool"),))
                p.call("@build", Student("PreLNBlock"), (C,), {"num_heads": nh, "d_ff": ff},
                       state=_state(ref), dtype="float64", inputs=inputs).close(
                    want, f"PreLNBlock C={C}, nh={nh}" + (" with masks" if mask is not None else ""),
                    rtol=1e-7, atol=1e-10)


@cell("test-block-params")
def _block_params(p: Plan):
    from workbook.nn.layers import count_parameters
    from workbook.nn.transformer import EncoderLayer

    for bias in (True, False, bool(p.rng.integers(2))):
        nh, hs, ff = int(p.rng.integers(1, 5)), int(p.rng.integers(1, 9)), int(p.rng.integers(1, 40))
        C = nh * hs
        want = count_parameters(EncoderLayer(C, num_heads=nh, d_ff=ff, bias=bias))
        p.call("block_parameters", C, ff, bias=bias).then(
            lambda got, *_, want=want, name=f"block_parameters({C}, {ff}, bias={bias})":
            checks.assert_equal(int(got) if np.ndim(got) == 0 else got, want, name=name))
