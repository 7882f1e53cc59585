"""The NumPy optimisers follow torch.optim step for step, in float64."""

import numpy as np
import pytest
import torch

from workbook.numpy_nn import optim

NUM_STEPS = 50
RTOL, ATOL = 1e-10, 1e-12  # float64 rounding differs by a few ulps, never more
SHAPES = {"W1": (4, 3), "b1": (3,), "W2": (3, 2, 2), "scale": ()}

# (name, keyword arguments): every option, alone and combined, for every optimiser.
CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.1, weight_decay=0.05)),
    ("SGD", dict(lr=0.1, momentum=0.5, nesterov=True, weight_decay=0.05)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01)),
    ("Adagrad", dict(lr=0.1, initial_accumulator_value=0.5, eps=1e-6, weight_decay=0.1)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=1e-3, alpha=0.9, eps=1e-6)),
    ("RMSprop", dict(lr=1e-3, momentum=0.9)),
    ("RMSprop", dict(lr=1e-3, centered=True)),
    ("RMSprop", dict(lr=1e-3, momentum=0.8, centered=True, weight_decay=0.1)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.95, eps=1e-5, weight_decay=0.1)),
    ("Adam", dict()),
    ("Adam", dict(lr=1e-2, betas=(0.8, 0.99), eps=1e-6)),
    ("Adam", dict(lr=1e-2, amsgrad=True)),
    ("Adam", dict(lr=1e-2, weight_decay=0.1)),
    ("Adam", dict(lr=1e-2, weight_decay=0.1, amsgrad=True)),
    ("AdamW", dict()),
    ("AdamW", dict(lr=1e-2, weight_decay=0.1)),
    ("AdamW", dict(lr=1e-2, weight_decay=0.1, amsgrad=True, betas=(0.5, 0.9))),
]


def _case_id(case):
    name, kwargs = case
    return name + "".join(f"-{k}={v}" for k, v in kwargs.items())


def _make_params(rng):
    return {k: rng.standard_normal(shape) for k, shape in SHAPES.items()}


def _gradients(rng, num_steps=NUM_STEPS):
    # Gradients of varied scale (and some exact zeros) stress eps and the accumulators.
    out = []
    for t in range(num_steps):
        grads = {k: rng.standard_normal(s) * 10.0 ** rng.integers(-3, 2) for k, s in SHAPES.items()}
        if t % 7 == 3:
            grads["b1"][:] = 0.0
        out.append(grads)
    return out


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_trajectory_matches_torch(case):
    name, kwargs = case
    rng = np.random.default_rng(0)
    params = _make_params(rng)
    tparams = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    ours = getattr(optim, name)(params, **kwargs)
    # foreach=False: torch's single-tensor code path, the one we mirror
    theirs = getattr(torch.optim, name)(list(tparams.values()), foreach=False, **kwargs)
    for t, grads in enumerate(_gradients(rng)):
        for k, tp in tparams.items():
            tp.grad = torch.tensor(grads[k])
        theirs.step()
        ours.step(grads)
        for k, tp in tparams.items():
            np.testing.assert_allclose(params[k], tp.detach().numpy(), rtol=RTOL, atol=ATOL,
                                       err_msg=f"{name} {kwargs}: {k} after step {t + 1}")


def test_step_updates_in_place_and_leaves_grads_alone():
    params = {"W": np.ones((2, 2))}
    view = params["W"]
    grad = np.full((2, 2), 0.5)
    optim.SGD(params, lr=0.1, weight_decay=0.1, momentum=0.9).step({"W": grad})
    assert params["W"] is view
    np.testing.assert_allclose(view, 1 - 0.1 * (0.5 + 0.1))
    np.testing.assert_array_equal(grad, 0.5)


def test_state_starts_empty_and_reset_restarts():
    rng = np.random.default_rng(1)
    grads = _gradients(rng, num_steps=5)
    start = _make_params(rng)
    a = {k: v.copy() for k, v in start.items()}
    opt = optim.Adam(a, lr=0.1)
    assert opt.state == {}
    for g in grads:
        opt.step(g)
    assert opt.state["W1"]["step"] == len(grads)
    opt.reset()
    assert opt.state == {}
    b = {k: v.copy() for k, v in a.items()}
    fresh = optim.Adam(b, lr=0.1)
    for g in grads:  # after reset, the same steps as a brand-new optimiser
        opt.step(g)
        fresh.step(g)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def test_missing_or_none_gradient_skips_parameter():
    params = {"W": np.ones(3), "b": np.ones(2)}
    opt = optim.Adam(params, lr=0.1)
    opt.step({"W": np.ones(3), "b": None})
    np.testing.assert_array_equal(params["b"], 1.0)
    assert "b" not in opt.state and opt.state["W"]["step"] == 1


def test_lr_can_be_changed_between_steps():
    params = {"W": np.zeros(2)}
    opt = optim.SGD(params, lr=1.0)
    opt.step({"W": np.ones(2)})
    opt.lr = 0.5
    opt.step({"W": np.ones(2)})
    np.testing.assert_allclose(params["W"], -1.5)


BAD_HYPERPARAMETERS = [
    ("SGD", dict(lr=-0.1)),
    ("SGD", dict(lr=0.1, momentum=-0.5)),
    ("SGD", dict(lr=0.1, weight_decay=-1.0)),
    ("SGD", dict(lr=0.1, nesterov=True)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True)),
    ("Adagrad", dict(lr=-1.0)),
    ("Adagrad", dict(lr_decay=-1.0)),
    ("Adagrad", dict(initial_accumulator_value=-1.0)),
    ("Adagrad", dict(eps=-1.0)),
    ("RMSprop", dict(alpha=-0.1)),
    ("RMSprop", dict(momentum=-0.1)),
    ("RMSprop", dict(eps=-1e-8)),
    ("Adadelta", dict(rho=1.5)),
    ("Adadelta", dict(lr=-1.0)),
    ("Adam", dict(betas=(1.0, 0.999))),
    ("Adam", dict(betas=(0.9, -0.1))),
    ("Adam", dict(eps=-1.0)),
    ("AdamW", dict(weight_decay=-0.01)),
    ("AdamW", dict(lr=float("nan"))),
]


@pytest.mark.parametrize("case", BAD_HYPERPARAMETERS, ids=_case_id)
def test_bad_hyperparameters_raise_like_torch(case):
    name, kwargs = case
    with pytest.raises(ValueError):
        getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **kwargs)
    with pytest.raises(ValueError, match="(?i)invalid|nesterov"):
        getattr(optim, name)({"W": np.zeros(2)}, **kwargs)


def test_clear_errors_on_bad_params_and_grads():
    with pytest.raises(TypeError, match="dict"):
        optim.SGD([np.zeros(2)], lr=0.1)
    with pytest.raises(TypeError, match="float"):
        optim.SGD({"W": np.zeros(2, dtype=int)}, lr=0.1)
    opt = optim.SGD({"W": np.zeros((2, 3))}, lr=0.1)
    with pytest.raises(ValueError, match=r"shape \(3,\).*\(2, 3\)"):
        opt.step({"W": np.zeros(3)})
    with pytest.raises(KeyError, match="'V'"):
        opt.step({"V": np.zeros((2, 3))})
