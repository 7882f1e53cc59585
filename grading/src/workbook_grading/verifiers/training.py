"""Notebook 03 ``training``: every graded cell re-checked on new inputs outside the kernel.

Optimiser steps run through the runner's ``@steps`` driver (one state dict through the
steps, as the notebook's ``run_steps``) and are judged against ``torch.optim`` here, as the
hidden tests do. ``seeded_losses`` is judged as its hidden test judges it (the same losses
twice for one seed, other losses for another seed, Python floats, one per step), not
against a reference run: the contract does not fix how the batches are drawn.

Not stubbed although they answer exercises here, because this notebook's read-only cells
or the library code they call use them: ``numpy_nn.softmax_cross_entropy`` (``MLP.loss``),
``numpy_nn.Adam``/``AdamW`` (the AdamW demo; AdamW subclasses Adam),
``workbook.train.EarlyStopping`` (``fit`` with ``patience``).
"""

import numpy as np

from workbook import checks
from workbook_grading.verify import Module, Plan, Rng, Student, Tensor, Verifier
from workbook.numpy_nn import divergence, losses, mlp

ASSIGNMENT = "03_training"
VERIFIER = Verifier({}, references=(
    "workbook.numpy_nn.losses:mse", "workbook.numpy_nn.losses:binary_cross_entropy_with_logits",
    "workbook.numpy_nn.divergence:kl_divergence", "workbook.numpy_nn.regularization:dropout_forward",
    "workbook.numpy_nn.optim:SGD", "workbook.numpy_nn.optim:RMSprop",
    "workbook.numpy_nn.optim:Adagrad", "workbook.numpy_nn.optim:Adadelta",
    "workbook.train:step_decay_schedule", "workbook.train:cosine_schedule"))
cell = VERIFIER.cell


def _ints(p: Plan, low: int, high: int, n: int) -> list[int]:
    return [int(v) for v in p.rng.integers(low, high, size=n)]


@cell("test-mse")
def _mse(p: Plan):
    for shape in [tuple(_ints(p, 2, 9, 1)), tuple(_ints(p, 2, 6, 2)), tuple(_ints(p, 2, 5, 3))]:
        a, b = p.rng.normal(size=shape), p.rng.normal(size=shape)
        p.call("mse_loss", a, b).close(losses.mse(a, b)[0], f"mse_loss on shape {shape}")


@cell("test-bce")
def _bce(p: Plan):
    shape = tuple(_ints(p, 2, 8, 2))
    z, y = p.rng.normal(scale=30, size=shape), p.rng.random(shape)
    p.call("binary_cross_entropy", z, y).close(
        losses.binary_cross_entropy_with_logits(z, y)[0], "binary_cross_entropy with soft targets")
    z = p.rng.uniform(500, 1000, size=5) * p.rng.choice([-1.0, 1.0], size=5)
    y = p.rng.integers(0, 2, size=5).astype(float)
    p.call("binary_cross_entropy", z, y).close(
        losses.binary_cross_entropy_with_logits(z, y)[0], "binary_cross_entropy with logits of +-1000")


@cell("test-cross-entropy")
def _cross_entropy(p: Plan):
    for n, c, s in [(*_ints(p, 2, 10, 2), 1.0), (*_ints(p, 2, 7, 2), 300.0), (1, 2, 1.0),
                    (*_ints(p, 2, 5, 2), 1e4)]:
        z, y = p.rng.normal(scale=s, size=(n, c)), p.rng.integers(0, c, size=n)
        p.call("cross_entropy", z, y).close(losses.softmax_cross_entropy(z, y)[0],
                                            f"cross_entropy for N={n}, C={c}, scale {s:g}")


@cell("test-kl")
def _kl(p: Plan):
    n, c = _ints(p, 2, 7, 1)[0], _ints(p, 4, 9, 1)[0]
    P = p.rng.dirichlet(np.ones(c), size=n)
    P[0, :2] = 0.0
    P[0] /= P[0].sum()
    Q = p.rng.dirichlet(np.ones(c), size=n)
    p.call("kl_divergence", P, Q).close(divergence.kl_divergence(P, Q), "kl_divergence on a random batch")
    p.call("kl_divergence", P[0], Q[0]).close(divergence.kl_divergence(P[0], Q[0]),
                                              "kl_divergence of one row with zeros in p")
    p.call("kl_divergence", Q[1], Q[1]).close(0.0, "kl_divergence(q, q)", atol=1e-12)


def _torch_steps(name, p0, grads, **hyper):
    """The path of torch.optim.<name> from p0 with the given gradients, in float64."""
    import torch

    q = torch.tensor(np.array(p0, dtype=float), requires_grad=True)
    opt = getattr(torch.optim, name)([q], **hyper)
    path = []
    for g in grads:
        q.grad = torch.tensor(np.array(g, dtype=float))
        opt.step()
        path.append(q.detach().numpy().copy())
    return np.array(path)


def _steps(p: Plan, student: str, torch_name: str, settings: list[dict], scale=1.0, **fixed):
    for hyper in settings:
        shape = tuple(_ints(p, 1, 5, 2))
        p0, grads = p.rng.normal(size=shape), p.rng.normal(scale=scale, size=(int(p.rng.integers(4, 9)), *shape))
        want = _torch_steps(torch_name, p0, grads, **hyper, **fixed)
        p.call("@steps", Student(student), p0, grads, **hyper).close(
            want, f"{student} path against torch ({', '.join(f'{k}={v}' for k, v in hyper.items())})")


@cell("test-momentum")
def _momentum(p: Plan):
    _steps(p, "momentum_step", "SGD", [dict(lr=0.01, momentum=0.9), dict(lr=0.3, momentum=0.0),
                                       dict(lr=float(p.rng.uniform(0.01, 0.2)), momentum=0.99)])


@cell("test-nesterov")
def _nesterov(p: Plan):
    _steps(p, "nesterov_step", "SGD", [dict(lr=0.01, momentum=0.9), dict(lr=0.2, momentum=0.5),
                                       dict(lr=float(p.rng.uniform(0.01, 0.2)), momentum=0.99)],
           nesterov=True)


@cell("test-rmsprop")
def _rmsprop(p: Plan):
    _steps(p, "rmsprop_step", "RMSprop", [dict(lr=0.01, alpha=0.99, eps=1e-8),
                                          dict(lr=0.1, alpha=0.5, eps=1e-3),
                                          dict(lr=float(p.rng.uniform(1e-3, 1e-2)), alpha=0.9, eps=1e-6)])


@cell("test-adam")
def _adam(p: Plan):
    _steps(p, "adam_step", "Adam", [dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8),
                                    dict(lr=0.1, betas=(0.8, 0.99), eps=1e-6),
                                    dict(lr=float(p.rng.uniform(1e-4, 1e-3)), betas=(0.0, 0.5), eps=1e-3)],
           scale=3.0)


@cell("test-adagrad")
def _adagrad(p: Plan):
    _steps(p, "adagrad_step", "Adagrad", [dict(lr=0.01, eps=1e-10), dict(lr=0.5, eps=1e-3),
                                          dict(lr=float(p.rng.uniform(0.05, 0.5)), eps=0.5)])


@cell("test-adadelta")
def _adadelta(p: Plan):
    _steps(p, "adadelta_step", "Adadelta", [dict(lr=1.0, rho=0.9, eps=1e-6),
                                            dict(lr=0.3, rho=0.5, eps=1e-3),
                                            dict(lr=float(p.rng.uniform(0.5, 2.0)), rho=0.99, eps=1e-4)],
           scale=2.0)


@cell("test-step-decay")
def _step_decay(p: Plan):
    from workbook.train import step_decay_schedule

    for _ in range(3):
        lr0, drop, every = float(p.rng.uniform(0.01, 1)), float(p.rng.uniform(0.1, 0.9)), _ints(p, 1, 8, 1)[0]
        ref = step_decay_schedule(lr0, drop=drop, every=every)
        for s in range(4 * every + 2):
            p.call("step_decay_lr", s, lr0, drop, every).close(
                ref(s), f"step_decay_lr({s}, {lr0:.3f}, {drop:.3f}, {every})")


@cell("test-warmup-cosine")
def _warmup_cosine(p: Plan):
    from workbook.train import cosine_schedule

    # no warm-up once, then 1..7 warm-up steps (where a wrong decay denominator shows)
    for warm_low, warm_high, min_lr in [(0, 1, 0.0), (1, 8, 1e-4), (1, 8, float(p.rng.uniform(0.01, 0.1)))]:
        max_lr, total = float(p.rng.uniform(0.1, 1)), _ints(p, 12, 25, 1)[0]
        warm = _ints(p, warm_low, warm_high, 1)[0]
        ref = cosine_schedule(max_lr, total_steps=total, warmup_steps=warm, min_lr=min_lr)
        for s in range(total + 3):
            p.call("warmup_cosine_lr", s, max_lr, total_steps=total, warmup_steps=warm, min_lr=min_lr).close(
                ref(s), f"warmup_cosine_lr({s}, {max_lr:.3f}, total_steps={total}, warmup_steps={warm}, "
                        f"min_lr={min_lr:.3g})")


@cell("test-adamw")
def _adamw(p: Plan):
    _steps(p, "adamw_step", "AdamW", [dict(lr=1e-3, weight_decay=1e-2), dict(lr=0.05, weight_decay=0.3),
                                      dict(lr=float(p.rng.uniform(1e-3, 0.05)), weight_decay=0.0)])


@cell("test-dropout")
def _dropout(p: Plan):
    x = p.rng.normal(size=(300, 40))
    for rate in [0.0, float(p.rng.uniform(0.05, 0.3)), 0.5, float(p.rng.uniform(0.6, 0.9))]:
        def check(got, *_, rate=rate):
            out = np.asarray(got, dtype=float)
            checks.assert_shape(out, x.shape, name=f"dropout_forward output for p={rate:.2f}")
            kept = out != 0
            checks.assert_close(out[kept], x[kept] / (1 - rate), name=f"kept units for p={rate:.2f}")
            dropped = float(np.mean(~kept))
            if abs(dropped - rate) >= 0.02:
                raise AssertionError(f"dropout rate {dropped:.3f} for p={rate:.2f}")
        p.call("dropout_forward", x, rate, Rng(int(p.rng.integers(2**31)))).then(check)
    p.call("dropout_forward", x, 0.5, Rng(int(p.rng.integers(2**31))), train=False).close(
        x, "evaluation mode")


@cell("test-should-stop")
def _should_stop(p: Plan):
    from workbook.train import EarlyStopping

    for _ in range(12):
        history = [float(v) for v in np.round(p.rng.random(int(p.rng.integers(1, 12))), 1)]
        patience = int(p.rng.integers(1, 5))
        tracker = EarlyStopping(patience)
        for i, value in enumerate(history):
            want = tracker.step(value)

            def check(got, *_, want=want, h=history[:i + 1], patience=patience):
                if bool(got) != bool(want):
                    raise AssertionError(f"should_stop on a history of {len(h)} values with "
                                         f"patience {patience}: got {bool(got)}")
            p.call("should_stop", history[:i + 1], patience).then(check)
    p.call("should_stop", [], int(p.rng.integers(1, 5))).then(
        lambda got, *_: checks.assert_equal(bool(got), False, name="should_stop([])"))


def _digits_batch(p: Plan, n: int):
    from workbook.data import load_digits

    digits = load_digits()
    rows = p.rng.choice(len(digits.X_train), size=n, replace=False)
    return (Tensor(digits.X_train[rows], "float32"), Tensor(digits.y_train[rows], "int64"))


@cell("test-seeded-losses")
def _seeded_losses(p: Plan):
    X, y = _digits_batch(p, 256)
    seed, steps = int(p.rng.integers(2**31)), int(p.rng.integers(3, 7))

    def check(got, *_):
        first, second = got
        if not isinstance(first, list) or len(first) != steps:
            raise AssertionError(f"seeded_losses(steps={steps}) should return a list of {steps} losses")
        if not all(isinstance(v, float) for v in first):
            raise AssertionError("seeded_losses should return Python floats (use loss.item())")
        checks.assert_equal(np.array(second), np.array(first), name="two runs with the same seed")
    p.call("@twice", Student("seeded_losses"), seed, X, y, steps=steps, batch_size=16,
           lr=1e-3).then(check)
    other = []

    def differs(got, *_):
        other.append(np.asarray(got, dtype=float))
        if len(other) == 2 and np.array_equal(other[0], other[1]):
            raise AssertionError("seeded_losses with two different seeds gave identical losses")
    for s in (seed, seed + 1):
        p.call("seeded_losses", s, X, y, steps=steps).then(differs)


@cell("test-majority-baseline")
def _majority(p: Plan):
    for _ in range(4):
        c = int(p.rng.integers(2, 8))
        ytr, yte = p.rng.integers(0, c, size=int(p.rng.integers(20, 60))), p.rng.integers(0, c, size=30)
        p.call("majority_baseline_accuracy", ytr, yte).close(
            np.mean(yte == np.argmax(np.bincount(ytr))), "on random labels")
    a, b = sorted(int(v) for v in p.rng.choice(10, size=2, replace=False))
    ytr = p.rng.permutation([a, a, b, b])
    yte = np.array([a, b, b])
    p.call("majority_baseline_accuracy", ytr, yte).close(1 / 3, f"a tie between {a} and {b}")


def _mlp_state(p: Plan, sizes, dtype=np.float32):
    """Parameters of make_mlp(sizes) drawn as torch initialises nn.Linear, keyed as its state_dict."""
    state, layers = {}, []
    for k, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        bound = 1 / np.sqrt(fan_in)
        state[f"{2 * k}.weight"] = p.rng.uniform(-bound, bound, size=(fan_out, fan_in)).astype(dtype)
        state[f"{2 * k}.bias"] = p.rng.uniform(-bound, bound, size=fan_out).astype(dtype)
        layers += [("Linear", fan_in, fan_out), ("ReLU",)]
    return tuple(layers[:-1]), state


@cell("test-overfit-batch")
def _overfit_batch(p: Plan):
    X, y = _digits_batch(p, 8)
    layers, state = _mlp_state(p, (64, 32, 10))
    model = Module(layers, state, dtype="float32")
    steps = int(p.rng.integers(100, 121))
    labels = np.asarray(y.array)

    def check(got, *_):
        returned, logits = got
        if not isinstance(returned, (list, tuple)) or len(returned) != steps:
            raise AssertionError(f"overfit_batch(steps={steps}) should return {steps} losses")
        z = np.asarray(logits, dtype=float)
        z = z - z.max(axis=1, keepdims=True)
        loss = float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(labels)), labels]))
        if not loss < 1e-2:
            raise AssertionError(f"the model's loss after overfitting a batch of 8 is {loss:.4f}")
    p.call("@then_call", Student("overfit_batch"), (model, X, y), dict(steps=steps, lr=2e-2),
           inputs=(X,)).then(check)


def _numpy_mlp(p: Plan, sizes):
    model = mlp.MLP(sizes, rng=np.random.default_rng(int(p.rng.integers(2**31))))
    for k in range(1, len(sizes)):
        model.params[f"b{k}"] = p.rng.normal(size=sizes[k]) * 0.1
    return model


@cell("test-torch-mlp")
def _torch_mlp(p: Plan):
    sizes = (*_ints(p, 3, 9, 1), *_ints(p, 2, 8, 2), *_ints(p, 2, 5, 1))
    model = _numpy_mlp(p, sizes)
    X = p.rng.normal(size=(int(p.rng.integers(2, 7)), sizes[0]))
    params = {k: v.copy() for k, v in model.params.items()}

    def check(got, after):
        checks.assert_close(got, model.forward(X)[0], rtol=1e-10, atol=1e-12,
                            name=f"torch MLP of sizes {sizes}")
        for k, v in params.items():
            checks.assert_equal(after[1][0][k], v, name=f"numpy {k} after changing the torch weights",
                                hint="copy the weights; do not share memory with the NumPy arrays")
    call = p.call("@build", Student("torch_mlp_from_numpy"), (params,), inputs=(Tensor(X, "float64"),),
                  bump=True)
    call.check_inputs = True
    call.then(check)


@cell("test-torch-grads")
def _torch_grads(p: Plan):
    sizes = (*_ints(p, 3, 7, 1), *_ints(p, 2, 6, 2), *_ints(p, 2, 5, 1))
    model = _numpy_mlp(p, sizes)
    n = int(p.rng.integers(3, 10))
    X, y = p.rng.normal(size=(n, sizes[0])), p.rng.integers(0, sizes[-1], size=n)
    want = model.loss(X, y)[1]
    layers, state = [], {}
    for k in range(1, len(sizes)):
        layers += [("Linear", sizes[k - 1], sizes[k]), ("ReLU",)]
        state[f"{2 * (k - 1)}.weight"] = model.params[f"W{k}"].T.copy()
        state[f"{2 * (k - 1)}.bias"] = model.params[f"b{k}"]
    net = Module(tuple(layers[:-1]), state, dtype="float64")

    def check(got, *_):
        for call, grads in enumerate(got, start=1):
            if not isinstance(grads, dict) or set(grads) != set(want):
                raise AssertionError(f"expected a dict with the keys {sorted(want)}")
            for name in want:
                checks.assert_close(grads[name], want[name], rtol=1e-8, atol=1e-12,
                                    name=f"{name} of an MLP of sizes {sizes}, call {call}")
    p.call("@twice", Student("torch_gradients"), net, Tensor(X, "float64"), Tensor(y, "int64")).then(check)
