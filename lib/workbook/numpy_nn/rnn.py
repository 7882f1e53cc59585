"""Recurrent layers from scratch in NumPy, as forward/backward pairs (cs231n's ``rnn_layers.py``).

Shapes: a minibatch of N sequences of length T with D input features, ``x`` (N, T, D);
hidden size H; ``h0`` (N, H). One set of weights serves every time step:

    h_t = tanh(x_t Wx + h_{t-1} Wh + b)          Wx (D, H), Wh (H, H), b (H,)

In the lecture's notation (h_t = tanh(U x_t + W h_{t-1} + b_h), y_t = V h_t + b_y) U is
``Wx.T``, W is ``Wh.T`` and V, b_y are a ``temporal_affine`` layer on top.

LSTM: the four gates come from one fused product, ``a = x_t Wx + h_{t-1} Wh + b`` of
width 4H, cut in **torch's order (i, f, g, o)** -- input gate, forget gate, candidate
(the lecture's c-tilde), output gate -- so ``Wx == torch_lstm.weight_ih_l0.T`` and
``b == bias_ih_l0 + bias_hh_l0``. (cs231n orders them i, f, o, g; the lecture writes f,
i, o.) Then c_t = f * c_{t-1} + i * g and h_t = o * tanh(c_t), all element-wise.

Everything keeps the dtype it is given (float32 in, float32 out), so a float32 LSTM is
as fast as NumPy's matrix products allow: the input projections of all time steps are one
matrix product, and so are the weight gradients of the whole sequence.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward",
    "lstm_step_forward", "lstm_step_backward", "lstm_forward", "lstm_backward",
    "temporal_affine_forward", "temporal_affine_backward", "temporal_softmax_loss",
    "clip_grad_norm", "hidden_grad_norms", "sigmoid",
]


def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)) written as (1 + tanh(x / 2)) / 2: the same function, never
    overflows, keeps the dtype and needs no masking (fast)."""
    return 0.5 * (np.tanh(0.5 * x) + 1.0)


# ----------------------------------------------------------------------------- vanilla RNN

def rnn_step_forward(x, prev_h, Wx, Wh, b):
    """One step of a tanh RNN: next_h = tanh(x Wx + prev_h Wh + b).

    x: (N, D), prev_h: (N, H), Wx: (D, H), Wh: (H, H), b: (H,) -> next_h (N, H), cache.
    """
    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)
    return next_h, (x, prev_h, Wx, Wh, next_h)


def rnn_step_backward(dnext_h, cache):
    """dnext_h: (N, H) -> dx (N, D), dprev_h (N, H), dWx (D, H), dWh (H, H), db (H,)."""
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h * (1 - next_h * next_h)  # tanh' = 1 - tanh^2, (N, H)
    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)


def rnn_forward(x, h0, Wx, Wh, b):
    """A tanh RNN over a whole sequence, the same weights at every step.

    x: (N, T, D), h0: (N, H) -> h (N, T, H): the hidden state after every step; cache.
    """
    N, T, _ = x.shape
    h = np.empty((N, T, h0.shape[1]), dtype=np.result_type(x, h0, Wx))
    prev = h0
    for t in range(T):
        prev = np.tanh(x[:, t] @ Wx + prev @ Wh + b)  # (N, H): depends on the previous state
        h[:, t] = prev
    return h, (x, h0, Wx, Wh, h)


def rnn_backward(dh, cache):
    """Backpropagation through time. dh: (N, T, H), the loss's gradient w.r.t. every h_t
    (from the layers above only) -> dx (N, T, D), dh0 (N, H), dWx (D, H), dWh (H, H), db (H,).

    Walking back from t = T-1, the gradient reaching h_t is dh[:, t] plus what flows back
    from h_{t+1}; the weights' gradients are sums over all steps (they are shared).
    """
    x, h0, Wx, Wh, h = cache
    N, T, H = h.shape
    h_prev = np.concatenate([h0[:, None], h[:, :-1]], axis=1)  # (N, T, H): h_{t-1}
    da = np.empty_like(h)  # (N, T, H): gradient w.r.t. each step's pre-activation
    carry = np.zeros_like(h0)  # gradient arriving at h_t from step t + 1
    for t in reversed(range(T)):
        da[:, t] = (dh[:, t] + carry) * (1 - h[:, t] * h[:, t])
        carry = da[:, t] @ Wh.T
    dx = da @ Wx.T  # (N, T, D)
    dWx = x.reshape(N * T, -1).T @ da.reshape(N * T, H)  # summed over steps and examples
    dWh = h_prev.reshape(N * T, H).T @ da.reshape(N * T, H)
    return dx, carry, dWx, dWh, da.sum(axis=(0, 1))


# ----------------------------------------------------------------------------- LSTM

def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    """One LSTM step, gates in torch's order (i, f, g, o).

    x: (N, D), prev_h, prev_c: (N, H), Wx: (D, 4H), Wh: (H, 4H), b: (4H,)
    -> next_h (N, H), next_c (N, H), cache.
    """
    H = prev_h.shape[1]
    a = x @ Wx + prev_h @ Wh + b  # (N, 4H): all four gates in one product
    i, f, o = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H]), sigmoid(a[:, 3 * H:])  # in (0, 1)
    g = np.tanh(a[:, 2 * H:3 * H])  # the candidate, in (-1, 1)
    next_c = f * prev_c + i * g
    tanh_c = np.tanh(next_c)
    next_h = o * tanh_c
    return next_h, next_c, (x, prev_h, prev_c, Wx, Wh, i, f, g, o, tanh_c)


def lstm_step_backward(dnext_h, dnext_c, cache):
    """dnext_h, dnext_c: (N, H) -> dx (N, D), dprev_h (N, H), dprev_c (N, H),
    dWx (D, 4H), dWh (H, 4H), db (4H,)."""
    x, prev_h, prev_c, Wx, Wh, i, f, g, o, tanh_c = cache
    da, dprev_c = _lstm_gates_backward(dnext_h, dnext_c, prev_c, i, f, g, o, tanh_c)
    return da @ Wx.T, da @ Wh.T, dprev_c, x.T @ da, prev_h.T @ da, da.sum(axis=0)


def _lstm_gates_backward(dh, dc, prev_c, i, f, g, o, tanh_c):
    """From the gradients w.r.t. h_t and c_t to those w.r.t. a_t (N, 4H) and c_{t-1}."""
    dc = dc + dh * o * (1 - tanh_c * tanh_c)  # c_t reaches the loss directly and via h_t
    do = dh * tanh_c
    di, df, dg = dc * g, dc * prev_c, dc * i
    da = np.concatenate([di * i * (1 - i), df * f * (1 - f), dg * (1 - g * g), do * o * (1 - o)],
                        axis=1)
    return da, dc * f


def lstm_forward(x, h0, Wx, Wh, b):
    """An LSTM over a sequence, starting from h0 and a zero cell state.

    x: (N, T, D), h0: (N, H), Wx: (D, 4H), Wh: (H, 4H), b: (4H,) -> h (N, T, H), cache.
    """
    N, T, D = x.shape
    H = h0.shape[1]
    dtype = np.result_type(x, h0, Wx)
    xs = x.transpose(1, 0, 2)  # (T, N, D): one contiguous block per step
    ax = (xs.reshape(T * N, D) @ Wx + b).reshape(T, N, 4 * H)  # all input projections at once
    hs = np.empty((T + 1, N, H), dtype=dtype)  # hs[t + 1] = h_t; hs[0] = h0
    cs = np.empty((T + 1, N, H), dtype=dtype)
    gates = np.empty((T, N, 4 * H), dtype=dtype)  # i, f, g, o after their nonlinearities
    tanh_cs = np.empty((T, N, H), dtype=dtype)
    hs[0], cs[0] = h0, 0
    for t in range(T):
        a = ax[t] + hs[t] @ Wh  # (N, 4H)
        z = gates[t]  # a view: filled in place
        z[:, :2 * H] = sigmoid(a[:, :2 * H])  # i, f
        z[:, 2 * H:3 * H] = np.tanh(a[:, 2 * H:3 * H])  # g
        z[:, 3 * H:] = sigmoid(a[:, 3 * H:])  # o
        i, f, g, o = z[:, :H], z[:, H:2 * H], z[:, 2 * H:3 * H], z[:, 3 * H:]
        cs[t + 1] = f * cs[t] + i * g
        tanh_cs[t] = np.tanh(cs[t + 1])
        hs[t + 1] = o * tanh_cs[t]
    return hs[1:].transpose(1, 0, 2), (xs, hs, cs, gates, tanh_cs, Wx, Wh)


def lstm_backward(dh, cache):
    """BPTT through an LSTM. dh: (N, T, H) -> dx (N, T, D), dh0 (N, H), dWx (D, 4H),
    dWh (H, 4H), db (4H,)."""
    xs, hs, cs, gates, tanh_cs, Wx, Wh = cache
    T, N, D = xs.shape
    H = hs.shape[2]
    dhs = dh.transpose(1, 0, 2)  # (T, N, H)
    das = np.empty_like(gates)  # (T, N, 4H)
    dnext_h = np.zeros((N, H), dtype=hs.dtype)
    dnext_c = np.zeros((N, H), dtype=hs.dtype)
    for t in reversed(range(T)):
        # _lstm_gates_backward, written into das[t] in place (fewer temporaries: speed)
        z, da, tanh_c = gates[t], das[t], tanh_cs[t]
        i, f, g, o = z[:, :H], z[:, H:2 * H], z[:, 2 * H:3 * H], z[:, 3 * H:]
        dh_t = dhs[t] + dnext_h
        dc = dnext_c + dh_t * o * (1 - tanh_c * tanh_c)
        np.multiply(dc * g, i * (1 - i), out=da[:, :H])
        np.multiply(dc * cs[t], f * (1 - f), out=da[:, H:2 * H])
        np.multiply(dc * i, 1 - g * g, out=da[:, 2 * H:3 * H])
        np.multiply(dh_t * tanh_c, o * (1 - o), out=da[:, 3 * H:])
        dnext_c = dc * f
        dnext_h = da @ Wh.T
    flat = das.reshape(T * N, 4 * H)
    dx = (flat @ Wx.T).reshape(T, N, D).transpose(1, 0, 2)
    dWx = xs.reshape(T * N, D).T @ flat  # the shared weights collect every step's gradient
    dWh = hs[:-1].reshape(T * N, H).T @ flat
    return dx, dnext_h, dWx, dWh, flat.sum(axis=0)


# ----------------------------------------------------------------------------- output layer, loss

def temporal_affine_forward(h, V, b):
    """y_t = h_t V + b at every step. h: (N, T, H), V: (H, M), b: (M,) -> (N, T, M), cache."""
    return h @ V + b, (h, V)


def temporal_affine_backward(dout, cache):
    """dout: (N, T, M) -> dh (N, T, H), dV (H, M), db (M,)."""
    h, V = cache
    N, T, H = h.shape
    flat = dout.reshape(N * T, -1)
    return dout @ V.T, h.reshape(N * T, H).T @ flat, flat.sum(axis=0)


def temporal_softmax_loss(scores, y):
    """The loss summed over steps, averaged over the N sequences (cs231n's convention).

    scores: (N, T, M) logits, y: (N, T) int labels -> loss (float), dscores (N, T, M).
    """
    N, T, M = scores.shape
    flat = scores.reshape(N * T, M)
    shifted = flat - flat.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(N * T)
    loss = -log_probs[rows, y.ravel()].sum() / N
    dflat = np.exp(log_probs)
    dflat[rows, y.ravel()] -= 1
    return float(loss), (dflat / N).reshape(N, T, M)


# ----------------------------------------------------------------------------- gradients

def clip_grad_norm(grads, max_norm):
    """Rescale a list of gradient arrays so that their *global* L2 norm is at most max_norm.

    The direction of the update is kept (every array is scaled by the same factor
    max_norm / norm), unlike clipping each element. Returns (clipped list, norm before).
    """
    norm = float(np.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for g in grads)))
    scale = min(1.0, max_norm / (norm + 1e-6))  # torch's clip_grad_norm_ uses the same 1e-6
    return [g * scale for g in grads], norm


def hidden_grad_norms(x, h0, Wx, Wh, b):
    """||dL/dh_t|| for t = 0..T-1 when L = sum(h_{T-1}) of a tanh RNN (float64).

    How much of the last step's gradient reaches each earlier hidden state: shrinking
    towards t = 0 is the vanishing gradient, growing is the exploding one.
    x: (N, T, D) -> (T,) norms over the whole batch.
    """
    h, cache = rnn_forward(x, h0, Wx, Wh, b)
    N, T, H = h.shape
    norms = np.empty(T)
    carry = np.ones((N, H))  # dL/dh_{T-1}
    for t in reversed(range(T)):
        norms[t] = np.linalg.norm(carry)
        carry = (carry * (1 - h[:, t] ** 2)) @ Wh.T  # through tanh and the recurrent weights
    return norms
