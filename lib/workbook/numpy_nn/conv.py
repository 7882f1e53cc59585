"""Convolution, pooling and batch normalisation as forward/backward pairs (cs231n style).

Conventions, everywhere in this module, the same as ``torch.nn.functional``:

* images are (N, C, H, W): N examples, C channels, H rows, W columns;
* conv weights are (F, C, KH, KW): F filters, each spanning all C input channels;
* "convolution" means **cross-correlation**: the kernel slides over the image *without*
  being flipped, ``out[n, f, i, j] = b[f] + sum_{c,p,q} x[n, c, i*s + p, j*s + q] w[f, c, p, q]``
  on the zero-padded x. (A flipped kernel is the textbook convolution; learnt kernels
  make the two equivalent, and deep-learning libraries skip the flip.)
* ``padding`` adds that many zeros on **every** side; ``stride`` is the step between windows.
  Rows or columns that the last window cannot reach are dropped (torch floors too).

``x_forward(...) -> (out, cache)``; ``x_backward(dout, cache)`` returns the gradients of
the loss with respect to each input, given ``dout`` = dL/dout.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "conv_output_size", "pad2d", "im2col", "col2im",
    "conv2d_forward_naive", "conv2d_backward_naive", "conv2d_forward", "conv2d_backward",
    "maxpool2d_forward", "maxpool2d_backward", "avgpool2d_forward", "avgpool2d_backward",
    "avgpool2d", "batchnorm_forward", "batchnorm_backward",
]


# ----------------------------------------------------------------------------- sizes, padding

def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """Output length along one axis: floor((size + 2 padding - kernel) / stride) + 1.

    Raises ValueError with the reason when no window fits (kernel larger than the padded
    input) or an argument is out of range (kernel, stride < 1, padding < 0).
    """
    if kernel < 1 or stride < 1 or padding < 0 or size < 1:
        raise ValueError(f"need size >= 1, kernel >= 1, stride >= 1, padding >= 0; got "
                         f"size={size}, kernel={kernel}, stride={stride}, padding={padding}")
    padded = size + 2 * padding
    if kernel > padded:
        raise ValueError(f"a kernel of {kernel} does not fit in an input of {size} padded by "
                         f"{padding} on each side ({padded}): no output position exists")
    return (padded - kernel) // stride + 1


def pad2d(x: np.ndarray, padding: int) -> np.ndarray:
    """Zero-pad the last two axes by ``padding`` on every side: (..., H, W) -> (..., H+2p, W+2p)."""
    if padding == 0:
        return x
    widths = [(0, 0)] * (x.ndim - 2) + [(padding, padding), (padding, padding)]
    return np.pad(x, widths)


# ----------------------------------------------------------------------------- convolution, loops

def conv2d_forward_naive(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int = 1,
                         padding: int = 0):
    """Cross-correlation by explicit loops over output positions (the definition).

    x: (N, C, H, W), w: (F, C, KH, KW), b: (F,) -> out: (N, F, Ho, Wo) with
    Ho = conv_output_size(H, KH, stride, padding), Wo likewise.
    """
    N, C, H, W = x.shape
    F, C_w, KH, KW = w.shape
    if C_w != C:
        raise ValueError(f"x has {C} channels but the weights expect {C_w}")
    Ho, Wo = conv_output_size(H, KH, stride, padding), conv_output_size(W, KW, stride, padding)
    xp = pad2d(x, padding)
    out = np.empty((N, F, Ho, Wo), dtype=np.result_type(x, w, b))
    for i in range(Ho):
        for j in range(Wo):
            window = xp[:, :, i * stride:i * stride + KH, j * stride:j * stride + KW]  # (N, C, KH, KW)
            out[:, :, i, j] = np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3])) + b  # (N, F)
    return out, (x, w, stride, padding)


def conv2d_backward_naive(dout: np.ndarray, cache):
    """dout: (N, F, Ho, Wo) -> dx (N, C, H, W), dw (F, C, KH, KW), db (F,), by the same loops.

    Each output position used one window of x and all of w; its gradient flows back to
    exactly that window (dx) and to w in proportion to the window (dw).
    """
    x, w, stride, padding = cache
    F, C, KH, KW = w.shape
    _, _, Ho, Wo = dout.shape
    xp = pad2d(x, padding)
    dxp = np.zeros_like(xp, dtype=np.result_type(xp, dout))
    dw = np.zeros_like(w, dtype=np.result_type(w, dout))
    for i in range(Ho):
        for j in range(Wo):
            rows = slice(i * stride, i * stride + KH)
            cols = slice(j * stride, j * stride + KW)
            g = dout[:, :, i, j]  # (N, F)
            dxp[:, :, rows, cols] += np.tensordot(g, w, axes=([1], [0]))  # (N, C, KH, KW)
            dw += np.tensordot(g, xp[:, :, rows, cols], axes=([0], [0]))  # (F, C, KH, KW)
    H, W = x.shape[2:]
    dx = dxp[:, :, padding:padding + H, padding:padding + W]  # the padding got no input
    db = dout.sum(axis=(0, 2, 3))
    return dx, dw, db


# ----------------------------------------------------------------------------- convolution, im2col

def im2col(x: np.ndarray, KH: int, KW: int, stride: int = 1, padding: int = 0) -> np.ndarray:
    """Every window of x as a column: (N, C, H, W) -> (N, C*KH*KW, Ho*Wo).

    Column ``i * Wo + j`` holds the (C, KH, KW) window under output position (i, j),
    flattened in the order of a weight ``w[f].ravel()``, so the convolution becomes one
    matrix product ``w.reshape(F, -1) @ cols``.
    """
    N, C, H, W = x.shape
    Ho, Wo = conv_output_size(H, KH, stride, padding), conv_output_size(W, KW, stride, padding)
    xp = pad2d(x, padding)
    # a read-only view (N, C, H', W', KH, KW) of every window, without copying
    windows = np.lib.stride_tricks.sliding_window_view(xp, (KH, KW), axis=(2, 3))
    windows = windows[:, :, ::stride, ::stride][:, :, :Ho, :Wo]  # (N, C, Ho, Wo, KH, KW)
    cols = windows.transpose(0, 1, 4, 5, 2, 3)  # (N, C, KH, KW, Ho, Wo)
    return cols.reshape(N, C * KH * KW, Ho * Wo)  # the copy happens here


def col2im(cols: np.ndarray, x_shape: tuple, KH: int, KW: int, stride: int = 1,
           padding: int = 0) -> np.ndarray:
    """The adjoint of im2col: add every column back onto its window.

    cols: (N, C*KH*KW, Ho*Wo) -> (N, C, H, W). Where windows overlap the contributions
    add up, which is exactly what the gradient with respect to x needs.
    """
    N, C, H, W = x_shape
    Ho, Wo = conv_output_size(H, KH, stride, padding), conv_output_size(W, KW, stride, padding)
    cols = cols.reshape(N, C, KH, KW, Ho, Wo)
    xp = np.zeros((N, C, H + 2 * padding, W + 2 * padding), dtype=cols.dtype)
    # loop over the KH*KW kernel offsets (few), not over the output positions (many)
    for p in range(KH):
        for q in range(KW):
            xp[:, :, p:p + stride * Ho:stride, q:q + stride * Wo:stride] += cols[:, :, p, q]
    return xp[:, :, padding:padding + H, padding:padding + W]


def conv2d_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int = 1,
                   padding: int = 0):
    """Cross-correlation as one matrix product over im2col's columns.

    x: (N, C, H, W), w: (F, C, KH, KW), b: (F,) -> out: (N, F, Ho, Wo). Same result as
    ``conv2d_forward_naive`` and ``torch.nn.functional.conv2d(x, w, b, stride, padding)``.
    """
    N, C, H, W = x.shape
    F, C_w, KH, KW = w.shape
    if C_w != C:
        raise ValueError(f"x has {C} channels but the weights expect {C_w}")
    Ho, Wo = conv_output_size(H, KH, stride, padding), conv_output_size(W, KW, stride, padding)
    cols = im2col(x, KH, KW, stride, padding)  # (N, C*KH*KW, Ho*Wo)
    out = w.reshape(F, -1) @ cols + b[:, None]  # (N, F, Ho*Wo): one matmul per example
    return out.reshape(N, F, Ho, Wo), (x.shape, w, cols, stride, padding)


def conv2d_backward(dout: np.ndarray, cache):
    """dout: (N, F, Ho, Wo) -> dx (N, C, H, W), dw (F, C, KH, KW), db (F,), via im2col."""
    x_shape, w, cols, stride, padding = cache
    F, C, KH, KW = w.shape
    N = dout.shape[0]
    g = dout.reshape(N, F, -1)  # (N, F, Ho*Wo)
    dw = np.einsum("nfl,nkl->fk", g, cols).reshape(w.shape)  # sum over examples and positions
    dcols = w.reshape(F, -1).T @ g  # (N, C*KH*KW, Ho*Wo)
    dx = col2im(dcols, x_shape, KH, KW, stride, padding)
    db = dout.sum(axis=(0, 2, 3))
    return dx, dw, db


# ----------------------------------------------------------------------------- pooling

def _windows(x: np.ndarray, kernel: int, stride: int) -> np.ndarray:
    """(N, C, H, W) -> a view (N, C, Ho, Wo, kernel, kernel) of the pooling windows."""
    H, W = x.shape[2:]
    Ho, Wo = conv_output_size(H, kernel, stride), conv_output_size(W, kernel, stride)
    win = np.lib.stride_tricks.sliding_window_view(x, (kernel, kernel), axis=(2, 3))
    return win[:, :, ::stride, ::stride][:, :, :Ho, :Wo]


def maxpool2d_forward(x: np.ndarray, kernel_size: int = 2, stride: int | None = None):
    """The maximum of each kernel_size x kernel_size window (no padding).

    x: (N, C, H, W) -> out: (N, C, Ho, Wo); stride defaults to kernel_size (torch's
    default: windows that do not overlap).
    """
    stride = kernel_size if stride is None else stride
    win = _windows(x, kernel_size, stride)  # (N, C, Ho, Wo, k, k)
    flat = win.reshape(*win.shape[:4], -1)
    # the first maximum of each window gets the gradient, as in torch
    argmax = flat.argmax(axis=-1)  # (N, C, Ho, Wo)
    out = np.take_along_axis(flat, argmax[..., None], axis=-1)[..., 0]
    return out, (x.shape, argmax, kernel_size, stride)


def maxpool2d_backward(dout: np.ndarray, cache):
    """dout: (N, C, Ho, Wo) -> dx: (N, C, H, W).

    Only the element that was the maximum of its window influenced the output, so it
    alone receives that output's gradient; the rest of the window gets 0. Where windows
    overlap (stride < kernel_size) one element can collect gradient from several.
    """
    x_shape, argmax, k, stride = cache
    N, C, Ho, Wo = dout.shape
    dx = np.zeros(x_shape, dtype=dout.dtype)
    rows = np.arange(Ho)[:, None] * stride + argmax // k  # (N, C, Ho, Wo) row of each max
    cols = np.arange(Wo)[None, :] * stride + argmax % k
    n = np.arange(N)[:, None, None, None]
    c = np.arange(C)[None, :, None, None]
    np.add.at(dx, (n, c, rows, cols), dout)  # add.at: repeated indices accumulate
    return dx


def avgpool2d_forward(x: np.ndarray, kernel_size: int = 2, stride: int | None = None):
    """The mean of each window (no padding): (N, C, H, W) -> (N, C, Ho, Wo)."""
    stride = kernel_size if stride is None else stride
    out = _windows(x, kernel_size, stride).mean(axis=(-2, -1))
    return out, (x.shape, kernel_size, stride)


def avgpool2d_backward(dout: np.ndarray, cache):
    """dout: (N, C, Ho, Wo) -> dx: (N, C, H, W): each window shares its gradient equally."""
    x_shape, k, stride = cache
    Ho, Wo = dout.shape[2:]
    dx = np.zeros(x_shape, dtype=dout.dtype)
    for p in range(k):
        for q in range(k):
            dx[:, :, p:p + stride * Ho:stride, q:q + stride * Wo:stride] += dout / (k * k)
    return dx


def avgpool2d(x: np.ndarray, kernel_size: int = 2, stride: int | None = None) -> np.ndarray:
    """Average pooling's output alone: (N, C, H, W) -> (N, C, Ho, Wo)."""
    return avgpool2d_forward(x, kernel_size, stride)[0]


# ----------------------------------------------------------------------------- batch normalisation

def _bn_axes(x: np.ndarray) -> tuple[int, ...]:
    """Axes a feature's statistics are taken over: the batch (N, D), or batch and space
    (N, C, H, W) -- one mean and variance per channel, as torch's BatchNorm1d/2d."""
    if x.ndim not in (2, 4):
        raise ValueError(f"batch norm expects (N, D) or (N, C, H, W), got shape {x.shape}")
    return (0,) if x.ndim == 2 else (0, 2, 3)


def _per_feature(v: np.ndarray, x: np.ndarray) -> np.ndarray:
    """(D,) or (C,) -> broadcastable against x."""
    return v if x.ndim == 2 else v[None, :, None, None]


def batchnorm_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray,
                      running_mean: np.ndarray | None = None,
                      running_var: np.ndarray | None = None, *, training: bool = True,
                      momentum: float = 0.1, eps: float = 1e-5):
    """Batch normalisation, as ``torch.nn.functional.batch_norm``.

    x: (N, D) or (N, C, H, W); gamma, beta, running_mean, running_var: (D,) or (C,).
    training=True normalises each feature with the mean and (biased) variance of *this
    batch* and, if running statistics are given, updates them **in place**:
    ``running = (1 - momentum) running + momentum batch`` (the variance unbiased, n/(n-1),
    as torch does). training=False normalises with the running statistics instead, so
    an example's output no longer depends on the rest of its batch. Returns (out, cache).
    """
    axes = _bn_axes(x)
    if training:
        mean = x.mean(axis=axes)  # (D,)
        var = x.var(axis=axes)  # (D,) biased: divides by the number of values n
        n = x.size // mean.size  # values per feature
        if running_mean is not None:
            running_mean *= 1 - momentum
            running_mean += momentum * mean
        if running_var is not None:
            running_var *= 1 - momentum
            running_var += momentum * var * n / max(n - 1, 1)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("evaluation mode (training=False) needs running_mean and running_var")
        mean, var = running_mean, running_var
    inv_std = 1.0 / np.sqrt(var + eps)  # (D,)
    x_hat = (x - _per_feature(mean, x)) * _per_feature(inv_std, x)
    out = _per_feature(gamma, x) * x_hat + _per_feature(beta, x)
    return out, (x_hat, gamma, inv_std, axes, training)


def batchnorm_backward(dout: np.ndarray, cache):
    """dout: shape of x -> dx (shape of x), dgamma, dbeta ((D,) or (C,)).

    In training mode the batch mean and variance depend on every example, so each dx
    gets two extra terms through them (the compact cs231n form below); in evaluation
    mode they are constants and dx = gamma / sqrt(var + eps) * dout.
    """
    x_hat, gamma, inv_std, axes, training = cache
    dbeta = dout.sum(axis=axes)
    dgamma = (dout * x_hat).sum(axis=axes)
    scale = _per_feature(gamma * inv_std, x_hat)
    if not training:
        return dout * scale, dgamma, dbeta
    n = x_hat.size // dbeta.size  # values per feature
    dx = scale / n * (n * dout - _per_feature(dbeta, x_hat) - x_hat * _per_feature(dgamma, x_hat))
    return dx, dgamma, dbeta
