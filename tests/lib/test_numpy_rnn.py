"""workbook.numpy_nn.rnn in float64: every backward pass against centred differences, the
forward passes against torch's RNN/LSTM with the same weights, dtypes kept."""

import numpy as np
import pytest
import torch

from workbook.checks import assert_close, check_gradient
from workbook.nn.rnn import numpy_weights
from workbook.numpy_nn import rnn

N, T, D, H = 3, 4, 5, 6


@pytest.fixture
def params(rng):
    """x, h0 and RNN weights (Wx, Wh, b) with gates G = 1, or LSTM ones with G = 4."""
    def make(G):
        return (rng.normal(size=(N, T, D)), rng.normal(size=(N, H)),
                rng.normal(size=(D, G * H)) * 0.5, rng.normal(size=(H, G * H)) * 0.5,
                rng.normal(size=G * H) * 0.5)
    return make


def _check_all(f, args, grads, names, tol=1e-7):
    """check_gradient of the scalar f(*args) with respect to each named argument."""
    for k, (g, name) in enumerate(zip(grads, names)):
        def f_k(v, k=k):
            new = list(args)
            new[k] = v
            return f(*new)
        check_gradient(f_k, args[k], g, name=name, tol=tol)


def test_rnn_step_backward_matches_finite_differences(params, rng):
    x, h0, Wx, Wh, b = params(1)
    x = x[:, 0]
    dout = rng.normal(size=(N, H))
    out, cache = rnn.rnn_step_forward(x, h0, Wx, Wh, b)
    grads = rnn.rnn_step_backward(dout, cache)
    f = lambda *a: np.sum(rnn.rnn_step_forward(*a)[0] * dout)  # noqa: E731
    _check_all(f, (x, h0, Wx, Wh, b), grads, ["dx", "dprev_h", "dWx", "dWh", "db"])


def test_rnn_backward_matches_finite_differences(params, rng):
    x, h0, Wx, Wh, b = params(1)
    dh = rng.normal(size=(N, T, H))
    _, cache = rnn.rnn_forward(x, h0, Wx, Wh, b)
    grads = rnn.rnn_backward(dh, cache)
    f = lambda *a: np.sum(rnn.rnn_forward(*a)[0] * dh)  # noqa: E731
    _check_all(f, (x, h0, Wx, Wh, b), grads, ["dx", "dh0", "dWx", "dWh", "db"])


def test_rnn_forward_is_steps_and_matches_torch(params):
    x, h0, Wx, Wh, b = params(1)
    h, _ = rnn.rnn_forward(x, h0, Wx, Wh, b)
    prev = h0
    for t in range(T):
        prev, _ = rnn.rnn_step_forward(x[:, t], prev, Wx, Wh, b)
        assert_close(h[:, t], prev, name=f"h[:, {t}]", rtol=1e-12)
    cell = torch.nn.RNN(D, H, batch_first=True).double()
    with torch.no_grad():
        cell.weight_ih_l0.copy_(torch.from_numpy(Wx.T))
        cell.weight_hh_l0.copy_(torch.from_numpy(Wh.T))
        cell.bias_ih_l0.copy_(torch.from_numpy(b))
        cell.bias_hh_l0.zero_()
    out, _ = cell(torch.from_numpy(x), torch.from_numpy(h0)[None])
    assert_close(h, out, name="rnn_forward vs torch.nn.RNN", rtol=1e-10, atol=1e-12)


def test_lstm_step_backward_matches_finite_differences(params, rng):
    x, h0, Wx, Wh, b = params(4)
    x, c0 = x[:, 0], rng.normal(size=(N, H))
    dh, dc = rng.normal(size=(N, H)), rng.normal(size=(N, H))
    _, _, cache = rnn.lstm_step_forward(x, h0, c0, Wx, Wh, b)
    dx, dprev_h, dprev_c, dWx, dWh, db = rnn.lstm_step_backward(dh, dc, cache)

    def f(x, h, c, Wx, Wh, b):
        nh, nc, _ = rnn.lstm_step_forward(x, h, c, Wx, Wh, b)
        return np.sum(nh * dh) + np.sum(nc * dc)
    _check_all(f, (x, h0, c0, Wx, Wh, b), (dx, dprev_h, dprev_c, dWx, dWh, db),
               ["dx", "dprev_h", "dprev_c", "dWx", "dWh", "db"])


def test_lstm_backward_matches_finite_differences(params, rng):
    x, h0, Wx, Wh, b = params(4)
    dh = rng.normal(size=(N, T, H))
    _, cache = rnn.lstm_forward(x, h0, Wx, Wh, b)
    grads = rnn.lstm_backward(dh, cache)
    f = lambda *a: np.sum(rnn.lstm_forward(*a)[0] * dh)  # noqa: E731
    _check_all(f, (x, h0, Wx, Wh, b), grads, ["dx", "dh0", "dWx", "dWh", "db"])


@pytest.mark.parametrize("B,T_,bias", [(1, 1, True), (3, 7, True), (2, 5, False)])
def test_lstm_forward_and_backward_match_torch(B, T_, bias, rng):
    lstm = torch.nn.LSTM(D, H, batch_first=True, bias=bias).double()
    Wx, Wh, b = numpy_weights(lstm)
    x, h0 = rng.normal(size=(B, T_, D)), rng.normal(size=(B, H))
    dh = rng.normal(size=(B, T_, H))
    h, cache = rnn.lstm_forward(x, h0, Wx, Wh, b)
    dx, dh0, dWx, dWh, db = rnn.lstm_backward(dh, cache)
    xt = torch.tensor(x, requires_grad=True)
    ht = torch.tensor(h0[None], requires_grad=True)
    out, _ = lstm(xt, (ht, torch.zeros_like(ht)))
    out.backward(torch.from_numpy(dh))
    assert_close(h, out, name="h", rtol=1e-10, atol=1e-12)
    assert_close(dx, xt.grad, name="dx", rtol=1e-10, atol=1e-12)
    assert_close(dh0, ht.grad[0], name="dh0", rtol=1e-10, atol=1e-12)
    assert_close(dWx, lstm.weight_ih_l0.grad.T, name="dWx", rtol=1e-10, atol=1e-12)
    assert_close(dWh, lstm.weight_hh_l0.grad.T, name="dWh", rtol=1e-10, atol=1e-12)
    if bias:
        assert_close(db, lstm.bias_ih_l0.grad, name="db", rtol=1e-10, atol=1e-12)


def test_lstm_step_is_one_step_of_lstm_forward(params):
    x, h0, Wx, Wh, b = params(4)
    h, _ = rnn.lstm_forward(x, h0, Wx, Wh, b)
    prev_h, prev_c = h0, np.zeros_like(h0)
    for t in range(T):
        prev_h, prev_c, _ = rnn.lstm_step_forward(x[:, t], prev_h, prev_c, Wx, Wh, b)
        assert_close(h[:, t], prev_h, name=f"h[:, {t}]", rtol=1e-12)


@pytest.mark.parametrize("kind", ["rnn", "lstm"])
def test_float32_stays_float32(kind, params):
    x, h0, Wx, Wh, b = (a.astype(np.float32) for a in params(4 if kind == "lstm" else 1))
    forward, backward = ((rnn.lstm_forward, rnn.lstm_backward) if kind == "lstm"
                         else (rnn.rnn_forward, rnn.rnn_backward))
    h, cache = forward(x, h0, Wx, Wh, b)
    grads = backward(np.ones_like(h), cache)
    assert h.dtype == np.float32 and all(g.dtype == np.float32 for g in grads)
    h64, _ = forward(*(a.astype(np.float64) for a in (x, h0, Wx, Wh, b)))
    assert_close(h, h64, name="float32 vs float64 forward", rtol=1e-4, atol=1e-5)


def test_temporal_affine_and_softmax_loss(rng):
    h, V, b = rng.normal(size=(N, T, H)), rng.normal(size=(H, 7)), rng.normal(size=7)
    y = rng.integers(0, 7, size=(N, T))
    scores, cache = rnn.temporal_affine_forward(h, V, b)
    loss, dscores = rnn.temporal_softmax_loss(scores, y)
    st = torch.tensor(scores, requires_grad=True)
    lt = torch.nn.functional.cross_entropy(st.reshape(-1, 7), torch.from_numpy(y).reshape(-1),
                                           reduction="sum") / N
    lt.backward()
    assert_close(loss, lt, name="loss", rtol=1e-12)
    assert_close(dscores, st.grad, name="dscores", rtol=1e-10, atol=1e-14)
    dh, dV, db = rnn.temporal_affine_backward(dscores, cache)
    f = lambda *a: rnn.temporal_softmax_loss(rnn.temporal_affine_forward(*a)[0], y)[0]  # noqa: E731
    _check_all(f, (h, V, b), (dh, dV, db), ["dh", "dV", "db"])


def test_clip_grad_norm_matches_torch(rng):
    grads = [rng.normal(size=(3, 4)) * 5, rng.normal(size=7)]
    clipped, norm = rnn.clip_grad_norm(grads, 2.0)
    params = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, g in zip(params, grads):
        p.grad = torch.from_numpy(g.copy())
    total = torch.nn.utils.clip_grad_norm_(params, 2.0)
    assert_close(norm, total, name="norm", rtol=1e-12)
    for c, p in zip(clipped, params):
        assert_close(c, p.grad, name="clipped", rtol=1e-12)
    small, _ = rnn.clip_grad_norm(grads, 1e6)  # under the threshold: untouched
    for s, g in zip(small, grads):
        assert_close(s, g, name="unclipped", rtol=0, atol=0)


def test_hidden_grad_norms_match_autograd(params):
    x, h0, Wx, Wh, b = params(1)
    norms = rnn.hidden_grad_norms(x, h0, Wx, Wh, b)
    # autograd: dL/dh_t for L = sum(h_{T-1}), with each h_t a leaf we can ask about
    W = [torch.from_numpy(a) for a in (Wx, Wh, b)]
    W[1].requires_grad_(True)  # something must need gradients for autograd to track h
    h, hs = torch.from_numpy(h0), []
    for t in range(T):
        h = torch.tanh(torch.from_numpy(x[:, t]) @ W[0] + h @ W[1] + W[2])
        h.retain_grad()
        hs.append(h)
    h.sum().backward()
    assert_close(norms, [hh.grad.norm().item() for hh in hs], name="norms", rtol=1e-10)
