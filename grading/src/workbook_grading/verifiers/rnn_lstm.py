"""Notebook 06 ``rnn_lstm``: every graded cell re-checked on new inputs outside the kernel.

A backward pass is given the cache of the student's own forward pass (``@forward_backward``),
as the notebook's tests do. Not stubbed although they could answer an exercise:
``workbook.nn.rnn.GRUCell`` (the bidirectional layer is built from torch's own cells here,
but the char model uses the library's layers) and ``hidden_grad_norms``.
"""

import numpy as np

from workbook import checks
from workbook.numpy_nn import rnn
from workbook_grading.verify import FnOf, Gen, Lib, Plan, Student, Tensor, Verifier

ASSIGNMENT = "06_rnn_lstm"
VERIFIER = Verifier({}, references=(
    "workbook.numpy_nn.rnn:rnn_step_forward", "workbook.numpy_nn.rnn:rnn_step_backward",
    "workbook.numpy_nn.rnn:rnn_forward", "workbook.numpy_nn.rnn:rnn_backward",
    "workbook.numpy_nn.rnn:lstm_step_forward", "workbook.numpy_nn.rnn:clip_grad_norm",
    "workbook.nn.rnn:gru_cell", "workbook.nn.char_rnn:generate"))
cell = VERIFIER.cell

TIGHT = dict(rtol=1e-9, atol=1e-12)
GRADS = ["dx", "dh", "dWx", "dWh", "db"]


def _ints(p: Plan, low: int, high: int, n: int) -> list[int]:
    return [int(v) for v in p.rng.integers(low, high, size=n)]


def _first(name, want, **tol):
    """A check of the first item of a returned pair (next_h, cache)."""
    def check(got, *_):
        if not isinstance(got, (tuple, list)) or len(got) < 2:
            raise AssertionError(f"{name}: expected a pair (value, cache)")
        checks.assert_close(got[0], want, name=name, **(tol or TIGHT))
    return check


def _all(names, wants, label, **tol):
    def check(got, *_):
        if not isinstance(got, (tuple, list)) or len(got) != len(wants):
            raise AssertionError(f"{label}: expected a tuple of {len(wants)} ({', '.join(names)})")
        for name, g, w in zip(names, got, wants):
            checks.assert_close(g, w, name=f"{name}, {label}", **(tol or TIGHT))
    return check


def _rnn_args(p: Plan, N, T, D, H):
    x = p.rng.normal(size=(N, D) if T is None else (N, T, D))
    return (x, p.rng.normal(size=(N, H)), p.rng.normal(size=(D, H)),
            0.6 * p.rng.normal(size=(H, H)), p.rng.normal(size=H))


@cell("test-unroll")
def _unroll(p: Plan):
    N, T, D, H = _ints(p, 1, 6, 4)
    x, h0, Wx, Wh, b = _rnn_args(p, N, T, D, H)
    want = rnn.rnn_forward(x, h0, Wx, Wh, b)[0].transpose(1, 0, 2)  # (T, N, H)
    p.call("unroll", FnOf("rnn_step", (Wx, Wh, b)), h0, x.transpose(1, 0, 2)).then(
        lambda got, *_: checks.assert_close(np.stack(got), want, name=f"states of a tanh RNN over {T} steps",
                                            **TIGHT))
    xs = list(p.rng.uniform(0.5, 2, size=int(p.rng.integers(1, 8))))
    p.call("unroll", FnOf("product"), 1.0, xs).close(np.cumprod(xs), "states of h_t = h_{t-1} * x_t",
                                                     **TIGHT)
    p.call("unroll", FnOf("product"), 1.0, []).then(
        lambda got, *_: checks.assert_equal(len(got), 0, name="number of states of an empty sequence"))


@cell("test-rnn-step")
def _rnn_step(p: Plan):
    for N, D, H in [tuple(_ints(p, 1, 8, 3)), (1, 1, 1)]:
        args = _rnn_args(p, N, None, D, H)
        p.call("rnn_step_forward", *args).then(
            _first(f"next_h, N={N} D={D} H={H}", rnn.rnn_step_forward(*args)[0]))


@cell("test-rnn-forward")
def _rnn_forward(p: Plan):
    for N, T, D, H in [tuple(_ints(p, 1, 9, 4)), (1, 1, 2, 3)]:
        args = _rnn_args(p, N, T, D, H)
        p.call("rnn_forward", *args).then(
            _first(f"h, N={N} T={T} D={D} H={H}", rnn.rnn_forward(*args)[0]))
    args32 = tuple(a.astype(np.float32) for a in _rnn_args(p, 2, 3, 2, 4))

    def float32(got, *_):
        if np.asarray(got[0]).dtype != np.float32:
            raise AssertionError(f"float32 inputs gave {np.asarray(got[0]).dtype} states")
        checks.assert_close(got[0], rnn.rnn_forward(*args32)[0], name="h of float32 inputs",
                            rtol=1e-5, atol=1e-6)
    p.call("rnn_forward", *args32).then(float32)


@cell("test-rnn-step-backward")
def _rnn_step_backward(p: Plan):
    for N, D, H in [tuple(_ints(p, 2, 8, 3)), (1, 1, 1)]:
        args = _rnn_args(p, N, None, D, H)
        dnext = p.rng.normal(size=(N, H))
        want = rnn.rnn_step_backward(dnext, rnn.rnn_step_forward(*args)[1])
        p.call("@forward_backward", Student("rnn_step_forward"), Student("rnn_step_backward"),
               args, dnext).then(_all(GRADS, want, f"one step, N={N} D={D} H={H}"))


@cell("test-rnn-backward")
def _rnn_backward(p: Plan):
    for N, T, D, H in [tuple(_ints(p, 2, 8, 4)), (1, 1, 2, 3)]:
        args = _rnn_args(p, N, T, D, H)
        dh = p.rng.normal(size=(N, T, H))
        want = rnn.rnn_backward(dh, rnn.rnn_forward(*args)[1])
        p.call("@forward_backward", Student("rnn_forward"), Student("rnn_backward"),
               args, dh).then(_all(GRADS, want, f"N={N} T={T} D={D} H={H}"))


@cell("test-clip")
def _clip(p: Plan):
    for tau in (float(p.rng.uniform(0.05, 2)), 1e4):
        grads = [3 * p.rng.normal(size=s) for s in ((4, 5), (7,), (2, 3, 2))]
        want, norm = rnn.clip_grad_norm(grads, tau)

        def check(got, *_, want=want, norm=norm, tau=tau):
            clipped, got_norm = got
            checks.assert_close(got_norm, norm, name=f"the norm before clipping (max_norm={tau:g})",
                                rtol=1e-9)
            for g, w in zip(clipped, want):
                checks.assert_close(g, w, name=f"clipped gradient, max_norm={tau:g}", rtol=1e-5, atol=1e-12)
        call = p.call("clip_grad_norm", grads, tau).then(check)
        call.check_inputs = True
        call.then(_unchanged_list([g.copy() for g in grads]))


def _unchanged_list(before):
    def check(got, after):
        for b, a in zip(before, after[0]):
            if not np.array_equal(b, np.asarray(a)):
                raise AssertionError("clip_grad_norm changed the caller's arrays in place")
    return check


@cell("test-lstm-step")
def _lstm_step(p: Plan):
    for N, D, H in [tuple(_ints(p, 1, 8, 3)), (1, 1, 1)]:
        args = (p.rng.normal(size=(N, D)), p.rng.normal(size=(N, H)), p.rng.normal(size=(N, H)),
                p.rng.normal(size=(D, 4 * H)), p.rng.normal(size=(H, 4 * H)), p.rng.normal(size=4 * H))
        h, c, _ = rnn.lstm_step_forward(*args)
        p.call("lstm_step_forward", *args).then(
            _all(["next_h", "next_c"], [h, c], f"N={N} D={D} H={H}"))


@cell("test-gru-cell")
def _gru_cell(p: Plan):
    import torch

    for B, D, H in [tuple(_ints(p, 1, 8, 3)), (1, 1, 1)]:
        x, h = p.rng.normal(size=(B, D)), p.rng.normal(size=(B, H))
        w = [p.rng.normal(size=s) for s in ((3 * H, D), (3 * H, H), (3 * H,), (3 * H,))]
        ref = torch.nn.GRUCell(D, H).double()
        with torch.no_grad():
            for prm, value in zip((ref.weight_ih, ref.weight_hh, ref.bias_ih, ref.bias_hh), w):
                prm.copy_(torch.from_numpy(value))
            want = ref(torch.from_numpy(x), torch.from_numpy(h)).numpy()
        p.call("gru_cell", Tensor(x, "float64"), Tensor(h, "float64"), *(Tensor(a, "float64") for a in w)
               ).close(want, f"h', B={B} D={D} H={H}", **TIGHT)


@cell("test-bidirectional")
def _bidirectional(p: Plan):
    import torch

    for T, B, D, H in [tuple(_ints(p, 2, 9, 4)), (1, 1, 2, 3)]:
        seed = int(p.rng.integers(2**31))
        layer = Lib("torch.nn:GRU", (D, H), {"bidirectional": True}, dtype="float64", seed=seed).make()
        cells = []
        for suffix in ["_l0", "_l0_reverse"]:
            state = {k: getattr(layer, k + suffix).detach().numpy().copy()
                     for k in ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]}
            cells.append(Lib("torch.nn:GRUCell", (D, H), state=state, dtype="float64"))
        x = p.rng.normal(size=(T, B, D))
        with torch.no_grad():
            out, h_n = layer(torch.from_numpy(x))
        p.call("bidirectional", *cells, Tensor(x, "float64")).then(
            _all(["output", "h_n"], [out.numpy(), h_n.numpy()], f"T={T} B={B} D={D} H={H}"))


@cell("test-generate")
def _generate(p: Plan):
    import torch

    from workbook.nn import char_rnn

    for _ in range(3):  # three models: a wrong answer slips past one in about 20 (measured)
        V = int(p.rng.integers(5, 15))
        config = Lib("workbook.nn.char_rnn:CharRNNConfig", (V,),
                     {"hidden_size": int(p.rng.integers(4, 16)), "num_layers": 2, "dropout": 0.0})
        # strong recurrent weights, weak embeddings, a sharper head: the next token depends on
        # the whole past (the carried state), not mostly on the last token as in a fresh model
        seeded = Lib("workbook.nn.char_rnn:CharRNN", (config,), seed=int(p.rng.integers(2**31))).make()
        scale = {"weight_hh": 5.0, "embedding": 0.3, "head": 4.0}
        state = {k: v.detach().numpy() * next((f for part, f in scale.items() if part in k), 1.0)
                 for k, v in seeded.state_dict().items()}
        model = Lib("workbook.nn.char_rnn:CharRNN", (config,), state=state)
        prompt = p.rng.integers(0, V, size=(int(p.rng.integers(2, 5)), int(p.rng.integers(1, 5))))
        for t in (0.0, float(p.rng.uniform(0.3, 2.5))):
            seed, n = int(p.rng.integers(2**31)), int(p.rng.integers(6, 14))
            want = char_rnn.generate(model.make(), torch.from_numpy(prompt), n, temperature=t,
                                     generator=Gen(seed).make()).numpy()
            p.call("generate", model, Tensor(prompt, "int64"), n, temperature=t, generator=Gen(seed)).equal(
                want, f"{n} tokens after a prompt of shape {prompt.shape} at temperature {t:.2g}")
