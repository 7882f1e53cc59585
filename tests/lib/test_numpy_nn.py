"""Every NumPy layer and loss against torch autograd (float64) and centred differences."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from workbook import numpy_nn as nn
from workbook.checks import assert_close, check_gradient


def t(x, grad=True):
    return torch.tensor(x, dtype=torch.float64, requires_grad=grad)


# (numpy forward, numpy backward, torch function); elementwise on any shape
ACTIVATIONS = [
    (nn.relu_forward, nn.relu_backward, torch.relu),
    (nn.sigmoid_forward, nn.sigmoid_backward, torch.sigmoid),
    (nn.tanh_forward, nn.tanh_backward, torch.tanh),
    (nn.leaky_relu_forward, nn.leaky_relu_backward, lambda x: F.leaky_relu(x, 0.01)),
]


@pytest.mark.parametrize("forward,backward,torch_fn", ACTIVATIONS,
                         ids=["relu", "sigmoid", "tanh", "leaky_relu"])
def test_activation_matches_torch(forward, backward, torch_fn, rng):
    x = rng.normal(size=(4, 5)) * 3
    dout = rng.normal(size=x.shape)
    out, cache = forward(x)
    xt = t(x)
    ot = torch_fn(xt)
    ot.backward(torch.tensor(dout))
    assert_close(out, ot, name="forward", rtol=1e-12)
    assert_close(backward(dout, cache), xt.grad, name="backward", rtol=1e-12)


@pytest.mark.parametrize("forward,backward,torch_fn", ACTIVATIONS[1:3], ids=["sigmoid", "tanh"])
def test_smooth_activation_gradient_matches_finite_differences(forward, backward, torch_fn, rng):
    x = rng.normal(size=(3, 4))
    dout = rng.normal(size=x.shape)
    _, cache = forward(x)
    check_gradient(lambda v: np.sum(forward(v)[0] * dout), x, backward(dout, cache), tol=1e-7)


def test_relu_gradient_at_zero_is_zero_like_torch():
    x = np.array([-1.0, 0.0, 2.0])
    _, cache = nn.relu_forward(x)
    assert_close(nn.relu_backward(np.ones(3), cache), [0.0, 0.0, 1.0])


def test_sigmoid_does_not_overflow():
    with np.errstate(over="raise"):
        out = nn.sigmoid(np.array([-1e4, 0.0, 1e4]))
    assert_close(out, [0.0, 0.5, 1.0])


@pytest.mark.parametrize("N,D,M", [(1, 1, 1), (4, 3, 5), (7, 10, 2)])
def test_affine_matches_torch(N, D, M, rng):
    x, w, b = rng.normal(size=(N, D)), rng.normal(size=(D, M)), rng.normal(size=M)
    dout = rng.normal(size=(N, M))
    out, cache = nn.affine_forward(x, w, b)
    dx, dw, db = nn.affine_backward(dout, cache)
    xt, wt, bt = t(x), t(w), t(b)
    ot = xt @ wt + bt
    ot.backward(torch.tensor(dout))
    assert_close(out, ot, rtol=1e-12)
    for name, ours, theirs in [("dx", dx, xt.grad), ("dw", dw, wt.grad), ("db", db, bt.grad)]:
        assert_close(ours, theirs, name=name, rtol=1e-12)


def test_affine_backward_matches_finite_differences(rng):
    x, w, b = rng.normal(size=(3, 4)), rng.normal(size=(4, 2)), rng.normal(size=2)
    dout = rng.normal(size=(3, 2))
    dx, dw, db = nn.affine_backward(dout, nn.affine_forward(x, w, b)[1])
    check_gradient(lambda v: np.sum(nn.affine_forward(v, w, b)[0] * dout), x, dx, name="dx")
    check_gradient(lambda v: np.sum(nn.affine_forward(x, v, b)[0] * dout), w, dw, name="dw")
    check_gradient(lambda v: np.sum(nn.affine_forward(x, w, v)[0] * dout), b, db, name="db")


@pytest.mark.parametrize("shape,axis", [((5,), -1), ((3, 4), -1), ((3, 4), 0), ((2, 3, 4), 1)])
def test_softmax_matches_torch(shape, axis, rng):
    x = rng.normal(size=shape) * 5
    assert_close(nn.softmax(x, axis=axis), torch.softmax(t(x, False), dim=axis), rtol=1e-12)
    assert_close(nn.log_softmax(x, axis=axis), torch.log_softmax(t(x, False), dim=axis),
                 rtol=1e-12)


def test_softmax_is_stable_for_huge_inputs():
    x = np.array([[1e4, -1e4, 0.0], [1e4, 1e4, 1e4]])
    with np.errstate(over="raise", invalid="raise"):  # underflow to 0 is fine
        p = nn.softmax(x)
    assert_close(p, [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3]])


@pytest.mark.parametrize("N,C", [(1, 2), (6, 4), (10, 10)])
def test_softmax_cross_entropy_matches_torch(N, C, rng):
    logits = rng.normal(size=(N, C)) * 3
    y = rng.integers(0, C, size=N)
    loss, dlogits = nn.softmax_cross_entropy(logits, y)
    lt = t(logits)
    ref = F.cross_entropy(lt, torch.tensor(y))
    ref.backward()
    assert_close(loss, ref, rtol=1e-12)
    assert_close(dlogits, lt.grad, rtol=1e-10)
    check_gradient(lambda v: nn.softmax_cross_entropy(v, y)[0], logits, dlogits)


def test_softmax_cross_entropy_is_finite_for_huge_logits():
    loss, d = nn.softmax_cross_entropy(np.array([[1e4, -1e4]]), np.array([1]))
    assert_close(loss, 2e4)
    assert_close(d, [[1.0, -1.0]])


def test_softmax_cross_entropy_rejects_mismatched_labels():
    with pytest.raises(ValueError, match=r"y must have shape \(3,\)"):
        nn.softmax_cross_entropy(np.zeros((3, 2)), np.zeros(4, dtype=int))


def test_binary_cross_entropy_with_logits_matches_torch(rng):
    z = rng.normal(size=(5, 3)) * 4
    z[0, 0], z[1, 1] = 500.0, -500.0  # the stable form must not overflow
    y = rng.random(size=z.shape)
    loss, dz = nn.binary_cross_entropy_with_logits(z, y)
    zt = t(z)
    ref = F.binary_cross_entropy_with_logits(zt, torch.tensor(y))
    ref.backward()
    assert_close(loss, ref, rtol=1e-12)
    assert_close(dz, zt.grad, rtol=1e-10)


def test_mse_matches_torch(rng):
    pred, target = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    loss, dpred = nn.mse(pred, target)
    pt = t(pred)
    ref = F.mse_loss(pt, torch.tensor(target))
    ref.backward()
    assert_close(loss, ref, rtol=1e-12)
    assert_close(dpred, pt.grad, rtol=1e-12)
    check_gradient(lambda v: nn.mse(v, target)[0], pred, dpred)


def test_numerical_gradient_of_a_known_function(rng):
    x = rng.normal(size=(3, 2))
    grad = nn.numerical_gradient(lambda v: np.sum(v**3), x.copy())
    assert_close(grad, 3 * x**2, rtol=1e-8)


def test_numerical_gradient_refuses_float32():
    with pytest.raises(TypeError, match="float64"):
        nn.numerical_gradient(np.sum, np.zeros(3, dtype=np.float32))


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_mlp_matches_torch(activation, rng):
    model = nn.MLP((5, 7, 6, 3), activation=activation, rng=rng)
    X, y = rng.normal(size=(8, 5)), rng.integers(0, 3, size=8)
    loss, grads = model.loss(X, y)

    params = {k: t(v) for k, v in model.params.items()}
    act = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid}[activation]
    h = torch.tensor(X)
    for k in range(1, 4):
        h = h @ params[f"W{k}"] + params[f"b{k}"]
        h = act(h) if k < 3 else h
    ref = F.cross_entropy(h, torch.tensor(y))
    ref.backward()
    assert_close(loss, ref, rtol=1e-12)
    for k, g in grads.items():
        assert_close(g, params[k].grad, name=k, rtol=1e-9)


def test_mlp_gradient_matches_finite_differences(rng):
    model = nn.MLP((4, 5, 3), activation="tanh", rng=rng)
    X, y = rng.normal(size=(6, 4)), rng.integers(0, 3, size=6)
    _, grads = model.loss(X, y)
    for name, param in model.params.items():
        def f(v, name=name):
            saved = model.params[name]
            model.params[name] = v
            try:
                return model.loss(X, y)[0]
            finally:
                model.params[name] = saved
        check_gradient(f, param, grads[name], name=name)


def test_training_an_mlp_with_sgd_solves_spirals():
    from workbook.data import spirals

    X, y = spirals(300, seed=1)
    rng = np.random.default_rng(0)
    model = nn.MLP((2, 64, 3), rng=rng)
    history = nn.train_sgd(model, X, y, lr=0.5, epochs=150, batch_size=32, rng=rng)
    assert history[-1] < history[0] / 4
    assert model.accuracy(X, y) > 0.9


def test_mlp_rejects_bad_configuration():
    with pytest.raises(ValueError, match="activation must be one of"):
        nn.MLP((2, 3), activation="gelu")
    with pytest.raises(ValueError, match="at least"):
        nn.MLP((2,))
