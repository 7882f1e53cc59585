"""Dropout, the L2 penalty and KL divergence, against torch and finite differences."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from workbook.checks import check_gradient
from workbook.numpy_nn import optim
from workbook.numpy_nn.divergence import kl_divergence, kl_divergence_with_logits
from workbook.numpy_nn.losses import softmax
from workbook.numpy_nn.regularization import dropout_backward, dropout_forward, l2_penalty

STAT_SIZE = 200_000  # enough units that the drop rate is within ~0.5% of p
STAT_TOL = 0.01


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_statistics_match_torch(p):
    x = np.ones(STAT_SIZE)
    out, _ = dropout_forward(x, p, train=True, rng=np.random.default_rng(0))
    torch.manual_seed(0)
    ref = F.dropout(torch.ones(STAT_SIZE, dtype=torch.float64), p, training=True).numpy()
    for a in (out, ref):
        assert abs(np.mean(a == 0) - p) < STAT_TOL  # drop rate
        np.testing.assert_allclose(np.unique(a[a != 0]), 1 / (1 - p))  # survivors' scale
        assert abs(a.mean() - 1.0) < 3 * STAT_TOL  # expected value preserved


def test_dropout_eval_and_edge_cases():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 5))
    for p in (0.0, 0.5, 1.0):
        out, cache = dropout_forward(x, p, train=False)
        np.testing.assert_array_equal(out, x)  # identity at evaluation, no rng needed
        np.testing.assert_array_equal(dropout_backward(np.ones_like(x), cache), 1.0)
    out, cache = dropout_forward(x, 0.0, train=True, rng=rng)
    np.testing.assert_array_equal(out, x)
    out, cache = dropout_forward(x, 1.0, train=True, rng=rng)
    assert np.all(out == 0) and np.all(np.isfinite(out))
    np.testing.assert_array_equal(F.dropout(torch.tensor(x), 1.0).numpy(), 0.0)
    np.testing.assert_array_equal(dropout_backward(np.ones_like(x), cache), 0.0)
    x32 = x.astype(np.float32)
    assert dropout_forward(x32, 0.5, rng=rng)[0].dtype == np.float32
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        dropout_forward(x, 1.5, rng=rng)
    with pytest.raises(ValueError, match="rng"):
        dropout_forward(x, 0.5, train=True)


def test_dropout_backward_matches_finite_differences():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4))
    dout = rng.standard_normal((3, 4))
    _, cache = dropout_forward(x, 0.4, train=True, rng=np.random.default_rng(7))
    dx = dropout_backward(dout, cache)
    # the same mask on every call: re-seed the generator inside f
    f = lambda v: np.sum(dropout_forward(v, 0.4, train=True, rng=np.random.default_rng(7))[0] * dout)
    check_gradient(f, x, dx, name="dropout dx")


def test_dropout_backward_matches_torch_autograd():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((6, 3))
    dout = rng.standard_normal((6, 3))
    out, cache = dropout_forward(x, 0.3, rng=rng)
    # torch with our mask: out = x * mask, so autograd's dx must equal ours
    xt = torch.tensor(x, requires_grad=True)
    (xt * torch.tensor(cache)).backward(torch.tensor(dout))
    np.testing.assert_allclose(dropout_backward(dout, cache), xt.grad.numpy(), rtol=1e-12)


def test_l2_penalty_value_gradient_and_sgd_weight_decay():
    rng = np.random.default_rng(3)
    params = {"W1": rng.standard_normal((3, 4)), "b1": rng.standard_normal(4)}
    lam = 0.1
    loss, grads = l2_penalty(params, lam)
    assert loss == pytest.approx(0.5 * lam * sum(np.sum(v**2) for v in params.values()))
    for k in params:
        check_gradient(lambda v, k=k: l2_penalty({**params, k: v}, lam)[0], params[k], grads[k],
                       name=f"d penalty / d {k}")
    loss_w, grads_w = l2_penalty(params, lam, names=["W1"])
    assert set(grads_w) == {"W1"} and loss_w == pytest.approx(0.5 * lam * np.sum(params["W1"] ** 2))
    # data gradient + penalty gradient == SGD(weight_decay=lam) on the data gradient alone
    data_grads = {k: rng.standard_normal(v.shape) for k, v in params.items()}
    a = {k: v.copy() for k, v in params.items()}
    b = {k: v.copy() for k, v in params.items()}
    optim.SGD(a, lr=0.5).step({k: data_grads[k] + grads[k] for k in a})
    optim.SGD(b, lr=0.5, weight_decay=lam).step(data_grads)
    for k in a:
        np.testing.assert_allclose(a[k], b[k], rtol=1e-14)
    with pytest.raises(KeyError, match="W9"):
        l2_penalty(params, lam, names=["W9"])


def _random_distributions(rng, shape):
    return softmax(rng.standard_normal(shape) * 2)


@pytest.mark.parametrize("shape", [(5,), (4, 6), (2, 3, 5)])
def test_kl_divergence_matches_torch(shape):
    rng = np.random.default_rng(4)
    p = _random_distributions(rng, shape)
    q = _random_distributions(rng, shape)
    rows = int(np.prod(shape[:-1]))
    ref = F.kl_div(torch.tensor(q).log(), torch.tensor(p), reduction="sum").item() / rows
    assert kl_divergence(p, q) == pytest.approx(ref, rel=1e-12)
    if len(shape) == 2:
        batchmean = F.kl_div(torch.tensor(q).log(), torch.tensor(p), reduction="batchmean")
        assert kl_divergence(p, q) == pytest.approx(batchmean.item(), rel=1e-12)


def test_kl_divergence_zeros_and_properties():
    p = np.array([[0.5, 0.5, 0.0], [1.0, 0.0, 0.0]])
    q = np.array([[0.25, 0.25, 0.5], [0.5, 0.25, 0.25]])
    expected = (0.5 * np.log(2) * 2 + np.log(2)) / 2  # the zero terms contribute nothing
    with np.errstate(all="raise"):  # no warnings from 0 * log 0
        assert kl_divergence(p, q) == pytest.approx(expected, rel=1e-12)
    assert kl_divergence(q, q) == 0.0
    assert kl_divergence(q, p) == np.inf  # q puts mass where p has none
    ref = F.kl_div(torch.tensor(q).log(), torch.tensor(p), reduction="batchmean").item()
    assert kl_divergence(p, q) == pytest.approx(ref, rel=1e-12)
    with pytest.raises(ValueError, match="shape"):
        kl_divergence(p, q[:, :2])
    with pytest.raises(ValueError, match="negative"):
        kl_divergence(-p, q)


def test_kl_divergence_with_logits_gradient():
    rng = np.random.default_rng(5)
    p = _random_distributions(rng, (4, 5))
    p[0] = [0.0, 0.0, 1.0, 0.0, 0.0]  # a one-hot row: KL = cross-entropy there
    logits = rng.standard_normal((4, 5))
    loss, dlogits = kl_divergence_with_logits(p, logits)
    assert loss == pytest.approx(kl_divergence(p, softmax(logits)), rel=1e-12)
    check_gradient(lambda z: kl_divergence_with_logits(p, z)[0], logits, dlogits,
                   name="dlogits")
    zt = torch.tensor(logits, requires_grad=True)
    F.kl_div(F.log_softmax(zt, dim=-1), torch.tensor(p), reduction="batchmean").backward()
    np.testing.assert_allclose(dlogits, zt.grad.numpy(), rtol=1e-10, atol=1e-14)
