"""Notebook 02 ``backprop``: every graded cell re-checked on new inputs outside the kernel.

The loss function ``sgd_epoch`` is given is softmax regression written in the runner
(``FnOf("softmax_regression_loss")``: the library's MLP is stubbed out there), judged
against ``numpy_nn.MLP((D, C))`` with the library's ``iterate_minibatches`` and
``sgd_step`` here.
"""

import numpy as np

from workbook import checks
from workbook_grading.verify import FnOf, Plan, Rng, Verifier
from workbook.numpy_nn import gradcheck, layers, losses, mlp

ASSIGNMENT = "02_backprop"
VERIFIER = Verifier({}, references=(
    "workbook.numpy_nn.layers:affine_forward", "workbook.numpy_nn.layers:affine_backward",
    "workbook.numpy_nn.layers:relu_forward", "workbook.numpy_nn.layers:relu_backward",
    "workbook.numpy_nn.layers:sigmoid_forward", "workbook.numpy_nn.layers:sigmoid_backward",
    "workbook.numpy_nn.losses:softmax_cross_entropy",
    "workbook.numpy_nn.gradcheck:numerical_gradient", "workbook.numpy_nn.gradcheck:relative_error",
    "workbook.numpy_nn.mlp:MLP", "workbook.numpy_nn.mlp:iterate_minibatches",
    "workbook.numpy_nn.mlp:sgd_step"))
cell = VERIFIER.cell


def _ints(p: Plan, low: int, high: int, n: int) -> list[int]:
    return [int(v) for v in p.rng.integers(low, high, size=n)]


def _sequence(n: int, what: str):
    def check(got, *_):
        if not isinstance(got, (tuple, list)) or len(got) != n:
            raise AssertionError(f"expected {what}")
    return check


@cell("test-affine-forward")
def _affine_forward(p: Plan):
    for n, d, m in [_ints(p, 2, 9, 3), [1, *_ints(p, 1, 7, 2)], [*_ints(p, 1, 5, 1), 1, 1]]:
        x, w, b = p.rng.normal(size=(n, d)), p.rng.normal(size=(d, m)), p.rng.normal(size=m)
        out = layers.affine_forward(x, w, b)[0]
        name = f"affine_forward for N={n}, D={d}, M={m}"

        def check(got, *_, out=out, x=x, w=w, name=name):
            _sequence(2, "(out, cache)")(got)
            checks.assert_close(got[0], out, name=name)
            _sequence(2, "the cache (x, w)")(got[1])
            checks.assert_close(got[1][0], x, name="cache[0]")
            checks.assert_close(got[1][1], w, name="cache[1]")
        p.call("affine_forward", x, w, b).then(check)


@cell("test-affine-backward")
def _affine_backward(p: Plan):
    for n, d, m in [_ints(p, 2, 9, 3), [1, *_ints(p, 1, 7, 2)], [*_ints(p, 2, 7, 1), 1, 7]]:
        x, w, dout = p.rng.normal(size=(n, d)), p.rng.normal(size=(d, m)), p.rng.normal(size=(n, m))
        want = layers.affine_backward(dout, (x, w))

        def check(got, *_, want=want, name=f"N={n}, D={d}, M={m}"):
            _sequence(3, "(dx, dw, db)")(got)
            for label, g, e in zip(["dx", "dw", "db"], got, want):
                checks.assert_close(g, e, name=f"{label} for {name}")
        p.call("affine_backward", dout, (x, w)).then(check)


@cell("test-relu-forward")
def _relu_forward(p: Plan):
    x = p.rng.normal(size=tuple(_ints(p, 2, 6, 3)))
    x[0, 0, : x.shape[2] // 2] = 0.0

    def check(got, *_):
        _sequence(2, "(out, cache)")(got)
        checks.assert_close(got[0], np.maximum(x, 0.0), name=f"relu_forward on a {x.shape} array")
        checks.assert_close(got[1], x, name="relu_forward cache")
    p.call("relu_forward", x).then(check).unchanged_inputs("relu_forward")


@cell("test-relu-backward")
def _relu_backward(p: Plan):
    x = np.round(p.rng.normal(size=tuple(_ints(p, 2, 6, 3))))  # many exact zeros: the kink
    dout = p.rng.normal(size=x.shape)
    p.call("relu_backward", dout, x).close(layers.relu_backward(dout, x),
                                           "relu_backward with zeros in x")
    k = int(p.rng.integers(1, 6))
    p.call("relu_backward", np.ones((1, k)), np.zeros((1, k))).close(
        np.zeros((1, k)), "relu_backward at x == 0")


@cell("test-sigmoid")
def _sigmoid(p: Plan):
    big = np.concatenate([-p.rng.uniform(30, 1000, size=3), [0.0], p.rng.uniform(30, 1000, size=3)])
    p.call("sigmoid_forward", big[None, :]).then(
        lambda got, *_: checks.assert_close(got[0], layers.sigmoid(big[None, :]),
                                            name="sigmoid_forward for large |x|", atol=1e-12))
    x = p.rng.normal(size=tuple(_ints(p, 2, 6, 3))) * 3
    s = layers.sigmoid(x)

    def check(got, *_):
        _sequence(2, "(out, cache)")(got)
        checks.assert_close(got[0], s, name=f"sigmoid_forward on a {x.shape} array")
        checks.assert_close(got[1], got[0], name="sigmoid_forward cache")
    p.call("sigmoid_forward", x).then(check)
    dout = p.rng.normal(size=x.shape)
    p.call("sigmoid_backward", dout, s).close(layers.sigmoid_backward(dout, s),
                                              f"sigmoid_backward on a {x.shape} array")


def _logits(p: Plan):
    cases = [(*_ints(p, 2, 9, 1), *_ints(p, 2, 11, 1), 1.0), (1, *_ints(p, 2, 6, 1), 1.0),
             (*_ints(p, 2, 10, 1), 10, 5.0), (*_ints(p, 2, 6, 1), 3, 1e4)]
    for n, c, scale in cases:
        yield (p.rng.normal(size=(n, c)) * scale, p.rng.integers(0, c, size=n),
               f"N={n}, C={c}, scale {scale:g}")


@cell("test-softmax-ce-loss")
def _softmax_ce_loss(p: Plan):
    for z, y, name in _logits(p):
        want = losses.softmax_cross_entropy(z, y)[0]

        def check(got, *_, want=want, name=name):
            _sequence(2, "(loss, dlogits)")(got)
            if np.ndim(got[0]) != 0:
                raise AssertionError(f"the loss should be a single number, got shape {np.shape(got[0])}")
            checks.assert_close(got[0], want, name=f"loss for {name}", rtol=1e-7)
        p.call("softmax_cross_entropy", z, y).then(check)


@cell("test-softmax-ce-grad")
def _softmax_ce_grad(p: Plan):
    for z, y, name in _logits(p):
        want = losses.softmax_cross_entropy(z, y)[1]

        def check(got, *_, want=want, name=name):
            _sequence(2, "(loss, dlogits)")(got)
            checks.assert_close(got[1], want, name=f"dlogits for {name}", atol=1e-12)
        p.call("softmax_cross_entropy", z, y).then(check)


@cell("test-numerical-gradient")
def _numerical_gradient(p: Plan):
    x, w = p.rng.normal(size=(2, 3, 4)), p.rng.normal(size=(2, 3, 4))
    want = gradcheck.numerical_gradient(lambda v: float(np.sum(np.tanh(v) * w)), x.copy())
    p.call("numerical_gradient", FnOf("weighted_sum", ("tanh", w)), x).close(
        want, "numerical gradient on a (2, 3, 4) array", rtol=1e-6, atol=1e-9
    ).unchanged_inputs("numerical_gradient")
    x = p.rng.normal(size=(2, 3))
    w = p.rng.normal(size=(2, 3))
    p.call("numerical_gradient", FnOf("weighted_sum", ("cube", w)), x, h=0.1).close(
        w * (3 * x ** 2 + 0.1 ** 2), "numerical gradient of sum(w * x**3) with h=0.1",
        rtol=1e-7, atol=1e-8)
    x0 = np.array([p.rng.uniform(-1, 1)])
    p.call("numerical_gradient", FnOf("weighted_sum", ("exp", np.ones(1))), x0, h=1e-4).close(
        np.exp(x0), "gradient of exp", rtol=1e-7)


@cell("test-relative-error")
def _relative_error(p: Plan):
    shape = tuple(_ints(p, 2, 7, 2))
    a = p.rng.normal(size=shape)
    b = a + 1e-3 * p.rng.normal(size=shape)
    a[0, 0] = b[0, 0] = 0.0
    p.call("relative_error", a, b).close(gradcheck.relative_error(a, b),
                                         f"relative error of {shape} arrays", rtol=1e-9)
    k = int(p.rng.integers(1, 6))
    p.call("relative_error", np.zeros(k), np.zeros(k)).close(0.0, "relative error of two zero arrays")
    c = p.rng.uniform(0.5, 5, size=k + 1)
    p.call("relative_error", c, -c).close(1.0, "relative error of opposite signs")


def _mlp(p: Plan, n, d, h, c, b2: bool):
    model = mlp.MLP((d, h, c), rng=np.random.default_rng(int(p.rng.integers(2**31))))
    model.params["b1"] = p.rng.normal(size=h) * 0.5
    if b2:
        model.params["b2"] = p.rng.normal(size=c) * 0.5
    X, y = p.rng.normal(size=(n, d)), p.rng.integers(0, c, size=n)
    return model, X, y


@cell("test-two-layer-loss")
def _two_layer_loss(p: Plan):
    for n, d, h, c in [_ints(p, 2, 9, 4), [1, *_ints(p, 2, 7, 3)]]:
        model, X, y = _mlp(p, n, d, h, c, b2=True)
        want = model.loss(X, y)[0]

        def check(got, *_, want=want, name=f"N={n}, D={d}, H={h}, C={c}"):
            _sequence(2, "(loss, grads)")(got)
            if np.ndim(got[0]) != 0:
                raise AssertionError(f"the loss should be one number, got shape {np.shape(got[0])}")
            checks.assert_close(got[0], want, name=f"loss for {name}", rtol=1e-7)
        p.call("two_layer_forward_backward", X, y, dict(model.params)).then(check)


@cell("test-two-layer-grads")
def _two_layer_grads(p: Plan):
    for n, d, h, c in [_ints(p, 2, 9, 4), [1, *_ints(p, 2, 7, 3)]]:
        model, X, y = _mlp(p, n, d, h, c, b2=False)
        want = model.loss(X, y)[1]

        def check(got, *_, want=want, name=f"N={n}"):
            _sequence(2, "(loss, grads)")(got)
            if not isinstance(got[1], dict) or set(got[1]) != set(want):
                raise AssertionError(f"grads should be a dict with keys {sorted(want)}")
            for k in want:
                checks.assert_close(got[1][k], want[k], name=f"grads['{k}'] for {name}", atol=1e-10)
        p.call("two_layer_forward_backward", X, y, dict(model.params)).then(check)


@cell("test-sgd-epoch")
def _sgd_epoch(p: Plan):
    for _ in range(2):
        d, c, batch_size = _ints(p, 2, 6, 3)
        n = batch_size * int(p.rng.integers(2, 6)) + int(p.rng.integers(1, batch_size))  # a last, smaller batch
        lr, seed = float(p.rng.uniform(0.05, 0.5)), int(p.rng.integers(2**31))
        X, y = p.rng.normal(size=(n, d)), p.rng.integers(0, c, size=n)
        params = {"W1": p.rng.normal(size=(d, c)), "b1": p.rng.normal(size=c)}
        model = mlp.MLP((d, c))
        model.params = {k: v.copy() for k, v in params.items()}
        batch_losses = []
        for idx in mlp.iterate_minibatches(n, batch_size, np.random.default_rng(seed)):
            loss, grads = model.loss(X[idx], y[idx])
            mlp.sgd_step(model.params, grads, lr)
            batch_losses.append(loss)
        name = f"N={n}, batch_size={batch_size}"

        def check(got, after, want=float(np.mean(batch_losses)), final=model.params, name=name):
            checks.assert_close(got, want, name=f"mean loss of an epoch, {name}", rtol=1e-9)
            for k in final:
                checks.assert_close(after[1][k], final[k], name=f"params['{k}'] after an epoch, {name}",
                                    atol=1e-10)
        call = p.call("sgd_epoch", FnOf("softmax_regression_loss"), params, X, y, lr=lr,
                      batch_size=batch_size, rng=Rng(seed))
        call.check_inputs = True
        call.then(check)


@cell("test-baseline-loss")
def _baseline_loss(p: Plan):
    for c, n in [(10, 1000), (*_ints(p, 2, 7, 1), *_ints(p, 3, 12, 1))]:
        y = p.rng.integers(0, c, size=n)
        f = np.bincount(y, minlength=c) / n
        f = f[f > 0]
        p.call("baseline_loss", y, c).close(-np.sum(f * np.log(f)), f"baseline loss for N={n}, C={c}",
                                            rtol=1e-9, atol=1e-12)
    c = int(p.rng.integers(3, 8))
    p.call("baseline_loss", np.array([int(p.rng.integers(c))]), c).close(
        0.0, f"baseline loss for N=1, C={c}", rtol=1e-9, atol=1e-12)
