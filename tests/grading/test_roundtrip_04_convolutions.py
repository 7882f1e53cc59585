"""Grading round trip of 04_convolutions: plausible mistakes score 0, other correct answers full marks."""

from harness import Right, RoundTrip, Wrong


def correlate_code(flip=False, size="H - kh + 1, W - kw + 1"):
    kernel = "kernel[::-1, ::-1]" if flip else "kernel"
    return ("def correlate2d(image, kernel):\n"
            "    kh, kw = kernel.shape\n    H, W = image.shape\n"
            f"    k = {kernel}\n"
            f"    out = np.zeros(({size}))\n"
            "    for i in range(out.shape[0]):\n        for j in range(out.shape[1]):\n"
            "            out[i, j] = np.sum(image[i:i + kh, j:j + kw] * k)\n"
            "    return out\n")


def conv_loops_code(pad="((0, 0), (0, 0), (padding, padding), (padding, padding))",
                    size="(H + 2 * padding - kh) // stride + 1, (W + 2 * padding - kw) // stride + 1",
                    start="i * stride", bias="+ b[f]"):
    return ("def conv2d_loops(x, w, b, stride=1, padding=0):\n"
            "    N, C, H, W = x.shape\n    F_, _, kh, kw = w.shape\n"
            f"    Ho, Wo = {size}\n"
            f"    xp = np.pad(x, {pad})\n"
            "    out = np.zeros((N, F_, Ho, Wo))\n"
            "    for i in range(Ho):\n        for j in range(Wo):\n"
            f"            win = xp[:, :, {start}:{start} + kh, j * stride:j * stride + kw]\n"
            "            for f in range(F_):\n"
            f"                out[:, f, i, j] = np.sum(win * w[f], axis=(1, 2, 3)) {bias}\n"
            "    return out\n")


IM2COL = """
def im2col(x, kh, kw, stride=1, padding=0):
    N, C, H, W = x.shape
    Ho, Wo = (H + 2 * padding - kh) // stride + 1, (W + 2 * padding - kw) // stride + 1
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    cols = np.empty((N, C * kh * kw, Ho * Wo), dtype=x.dtype)
    for i in range(Ho):
        for j in range(Wo):
            cols[:, :, i * Wo + j] = xp[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw].reshape(N, -1)
    return cols
"""


def conv_im2col_code(body="out = w.reshape(F_, -1) @ cols + b[:, None]"):
    return IM2COL + ("def conv2d_im2col(x, w, b, stride=1, padding=0):\n"
                     "    N, C, H, W = x.shape\n    F_, _, kh, kw = w.shape\n"
                     "    Ho, Wo = (H + 2 * padding - kh) // stride + 1, (W + 2 * padding - kw) // stride + 1\n"
                     "    cols = im2col(x, kh, kw, stride, padding)\n"
                     f"    {body}\n"
                     "    return out.reshape(N, F_, Ho, Wo)\n")


def conv_backward_code(dx_line="dxp[:, :, rows, cols] += np.einsum('nf,fcpq->ncpq', g, w)",
                       crop="dxp[:, :, padding:padding + H, padding:padding + W]",
                       db="dout.sum(axis=(0, 2, 3))"):
    return ("def conv2d_backward(dout, x, w, stride=1, padding=0):\n"
            "    N, C, H, W = x.shape\n    F_, _, kh, kw = w.shape\n    _, _, Ho, Wo = dout.shape\n"
            "    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))\n"
            "    dxp, dw = np.zeros_like(xp), np.zeros_like(w)\n"
            "    for i in range(Ho):\n        for j in range(Wo):\n"
            "            rows = slice(i * stride, i * stride + kh)\n"
            "            cols = slice(j * stride, j * stride + kw)\n"
            "            g = dout[:, :, i, j]\n"
            f"            {dx_line}\n"
            "            dw += np.einsum('nf,ncpq->fcpq', g, xp[:, :, rows, cols])\n"
            f"    return {crop}, dw, {db}\n")


def maxpool_backward_code(assign):
    return ("def maxpool2d_backward(dout, x, size=2, stride=None):\n"
            "    stride = size if stride is None else stride\n"
            "    N, C, Ho, Wo = dout.shape\n    dx = np.zeros_like(x)\n"
            "    for i in range(Ho):\n        for j in range(Wo):\n"
            "            r, c = slice(i * stride, i * stride + size), slice(j * stride, j * stride + size)\n"
            "            win = x[:, :, r, c]\n"
            "            mask = win == win.max(axis=(2, 3), keepdims=True)\n"
            f"            {assign}\n"
            "    return dx\n")


def batchnorm_code(axes="(0,) if x.ndim == 2 else (0, 2, 3)", train_stats="x.mean(axis=axes), x.var(axis=axes)",
                   unbiased="n / (n - 1)", in_place=True, update=True):
    upd = ""
    if update:
        target = "running_mean[:]" if in_place else "running_mean"
        target_v = "running_var[:]" if in_place else "running_var"
        upd = (f"        {target} = (1 - momentum) * running_mean + momentum * x.mean(axis=axes)\n"
               f"        {target_v} = (1 - momentum) * running_var + momentum * x.var(axis=axes) * {unbiased}\n")
    return ("def batchnorm_forward(x, gamma, beta, running_mean, running_var, training=True, momentum=0.1, eps=1e-5):\n"
            f"    axes = {axes}\n"
            "    shape = (1, -1) if x.ndim == 2 else (1, -1, 1, 1)\n"
            "    n = x.size // gamma.size\n"
            "    if training:\n"
            f"        mean, var = {train_stats}\n"
            + upd +
            "    else:\n        mean, var = running_mean, running_var\n"
            "    x_hat = (x - np.reshape(mean, shape)) / np.sqrt(np.reshape(var, shape) + eps)\n"
            "    return gamma.reshape(shape) * x_hat + beta.reshape(shape)\n")


def bn_backward_code(dx_expr):
    return ("def batchnorm_backward(dout, x, gamma, eps=1e-5):\n"
            "    axes = (0,) if x.ndim == 2 else (0, 2, 3)\n"
            "    shape = (1, -1) if x.ndim == 2 else (1, -1, 1, 1)\n"
            "    n = x.size // gamma.size\n"
            "    inv_std = 1.0 / np.sqrt(x.var(axis=axes, keepdims=True) + eps)\n"
            "    x_hat = (x - x.mean(axis=axes, keepdims=True)) * inv_std\n"
            "    dbeta, dgamma = dout.sum(axis=axes), (dout * x_hat).sum(axis=axes)\n"
            f"    dx = {dx_expr}\n"
            "    return dx, dgamma, dbeta\n")


class TestConvolutionsRoundTrip(RoundTrip):
    assignment = "04_convolutions"

    WRONG = [
        Wrong("ex-correlate", correlate_code(flip=True), fails=["test-correlate"],
              why="flips the kernel (signal-processing convolution) where the notebook fixes cross-correlation"),
        Wrong("ex-correlate", correlate_code(size="H - kh, W - kw"), fails=["test-correlate"],
              why="off by one: H - kh output rows instead of H - kh + 1"),
        Wrong("ex-output-size",
              "def conv_output_size(n, k, stride=1, padding=0):\n    return (n + padding - k) // stride + 1\n",
              fails=["test-output-size"], why="padding counted on one side only"),
        Wrong("ex-output-size",
              "def conv_output_size(n, k, stride=1, padding=0):\n"
              "    return max(0, (n + 2 * padding - k) // stride + 1)\n",
              fails=["test-output-size"], why="no error when the kernel does not fit: returns 0"),
        Wrong("ex-output-size",
              "import math\ndef conv_output_size(n, k, stride=1, padding=0):\n"
              "    if k > n + 2 * padding:\n        raise ValueError('too big')\n"
              "    return math.ceil((n + 2 * padding - k) / stride) + 1\n",
              fails=["test-output-size"], why="ceil instead of floor: a window that does not fit"),
        Wrong("ex-pad",
              "def pad2d(x, padding):\n"
              "    return np.pad(x, ((0, 0), (0, 0), (padding, 0), (padding, 0)))\n",
              fails=["test-pad"], why="padding on one side only (top and left)"),
        Wrong("ex-pad",
              "def pad2d(x, padding):\n"
              "    return np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)), mode='edge')\n",
              fails=["test-pad"], why="repeats the edge pixels instead of zeros"),
        Wrong("ex-conv-loops", conv_loops_code(
            pad="((0, 0), (0, 0), (padding, 0), (padding, 0))",
            size="(H + padding - kh) // stride + 1, (W + padding - kw) // stride + 1"),
              fails=["test-conv-loops"], why="padding on one side only"),
        Wrong("ex-conv-loops", conv_loops_code(start="i"),
              fails=["test-conv-loops"], why="ignores the stride along the rows"),
        Wrong("ex-conv-loops", conv_loops_code(bias=""),
              fails=["test-conv-loops"], why="forgets the bias"),
        Wrong("ex-conv-loops",
              "def conv2d_loops(x, w, b, stride=1, padding=0):\n"
              "    import scipy.signal\n"
              "    N, C, H, W = x.shape\n    F_ = w.shape[0]\n"
              "    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))\n"
              "    out = np.array([[sum(scipy.signal.convolve2d(xp[n, c], w[f, c], mode='valid') for c in range(C)) + b[f]\n"
              "                     for f in range(F_)] for n in range(N)])\n"
              "    return out[:, :, ::stride, ::stride]\n",
              fails=["test-conv-loops"], why="scipy's convolve2d flips the kernel"),
        Wrong("ex-im2col",
              IM2COL.replace("cols[:, :, i * Wo + j]", "cols[:, :, j * Ho + i]")
              + "def conv2d_im2col(x, w, b, stride=1, padding=0):\n    raise NotImplementedError()\n",
              fails=["test-im2col"], why="columns in column-major order of the output positions"),
        Wrong("ex-im2col",
              IM2COL.replace(".reshape(N, -1)", ".transpose(0, 2, 3, 1).reshape(N, -1)")
              + "def conv2d_im2col(x, w, b, stride=1, padding=0):\n    raise NotImplementedError()\n",
              fails=["test-im2col"], why="window flattened channel-last: does not match w[f].ravel()"),
        Wrong("ex-im2col", conv_im2col_code("out = w.reshape(-1, F_).T @ cols + b[:, None]"),
              fails=["test-conv-im2col"], why="reshapes the weights in the wrong order"),
        Wrong("ex-im2col", conv_im2col_code(
            "out = (w.reshape(F_, -1).astype(np.float64) @ cols.astype(np.float64) + b[:, None])"),
              fails=["test-conv-im2col"], why="float32 inputs give a float64 output"),
        Wrong("ex-conv-backward", conv_backward_code(crop="dxp"),
              fails=["test-conv-backward"], why="dx keeps the padding (not cropped)"),
        Wrong("ex-conv-backward", conv_backward_code(
            dx_line="dxp[:, :, rows, cols] += np.einsum('nf,fcpq->ncpq', g, w[:, :, ::-1, ::-1])"),
              fails=["test-conv-backward"], why="flips the kernel in dx"),
        Wrong("ex-conv-backward", conv_backward_code(db="dout.sum(axis=(2, 3)).mean(axis=0)"),
              fails=["test-conv-backward"], why="averages db over the batch instead of summing"),
        Wrong("ex-conv-backward",
              conv_backward_code().replace("slice(i * stride, i * stride + kh)", "slice(i, i + kh)")
              .replace("slice(j * stride, j * stride + kw)", "slice(j, j + kw)"),
              fails=["test-conv-backward"], why="backward ignores the stride (windows at i, not i * stride)"),
        Wrong("ex-maxpool",
              "def maxpool2d(x, size=2, stride=None):\n"
              "    N, C, H, W = x.shape\n"
              "    Ho, Wo = H // size, W // size\n"
              "    out = np.empty((N, C, Ho, Wo))\n"
              "    for i in range(Ho):\n        for j in range(Wo):\n"
              "            out[:, :, i, j] = x[:, :, i * size:(i + 1) * size, j * size:(j + 1) * size].max(axis=(2, 3))\n"
              "    return out\n",
              fails=["test-maxpool"], why="ignores stride: always non-overlapping windows"),
        Wrong("ex-maxpool",
              "def maxpool2d(x, size=2, stride=None):\n"
              "    N, C, H, W = x.shape\n"
              "    return x.reshape(N, C, size, H // size, size, W // size).max(axis=(2, 4))\n",
              fails=["test-maxpool"], why="a reshape that pools strided pixels, not neighbouring windows"),
        Wrong("ex-maxpool",
              "def maxpool2d(x, size=2, stride=None):\n"
              "    stride = size if stride is None else stride\n"
              "    N, C, H, W = x.shape\n"
              "    Ho, Wo = (H - size) // stride + 1, (W - size) // stride + 1\n"
              "    out = np.empty((N, C, Ho, Wo))\n"
              "    for i in range(Ho):\n        for j in range(Wo):\n"
              "            out[:, :, i, j] = x[:, :, i * stride:i * stride + size, j * stride:j * stride + size].mean(axis=(2, 3))\n"
              "    return out\n",
              fails=["test-maxpool"], why="averages instead of taking the maximum"),
        Wrong("ex-maxpool-backward",
              maxpool_backward_code("dx[:, :, r, c] += dout[:, :, i, j][:, :, None, None]"),
              fails=["test-maxpool-backward"], why="sends the gradient to every element of the window"),
        Wrong("ex-maxpool-backward",
              maxpool_backward_code("dx[:, :, r, c] = mask * dout[:, :, i, j][:, :, None, None]"),
              fails=["test-maxpool-backward"], why="overwrites instead of adding where windows overlap"),
        Wrong("ex-maxpool-backward",
              maxpool_backward_code("dx[:, :, r, c] += mask * dout[:, :, i, j][:, :, None, None] / (size * size)"),
              fails=["test-maxpool-backward"], why="divides by the window size (the average-pool gradient)"),
        Wrong("ex-avgpool",
              "def avgpool2d(x, size=2, stride=None):\n"
              "    stride = size if stride is None else stride\n"
              "    N, C, H, W = x.shape\n"
              "    Ho, Wo = (H - size) // stride + 1, (W - size) // stride + 1\n"
              "    out = np.empty((N, C, Ho, Wo))\n"
              "    for i in range(Ho):\n        for j in range(Wo):\n"
              "            out[:, :, i, j] = x[:, :, i * stride:i * stride + size, j * stride:j * stride + size].sum(axis=(2, 3))\n"
              "    return out\n",
              fails=["test-avgpool"], why="sums the window instead of averaging"),
        Wrong("ex-batchnorm",
              "def batchnorm_forward(x, gamma, beta, running_mean, running_var, training=True, momentum=0.1, eps=1e-5):\n"
              "    axes = tuple(range(1, x.ndim))\n"
              "    shape = (1, -1) if x.ndim == 2 else (1, -1, 1, 1)\n"
              "    mean, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)\n"
              "    return gamma.reshape(shape) * (x - mean) / np.sqrt(var + eps) + beta.reshape(shape)\n",
              fails=["test-batchnorm"], why="statistics over the features of each example (LayerNorm's axes), not the batch"),
        Wrong("ex-batchnorm",
              "def batchnorm_forward(x, gamma, beta, running_mean, running_var, training=True, momentum=0.1, eps=1e-5):\n"
              "    shape = (1, -1) if x.ndim == 2 else (1, -1, 1, 1)\n"
              "    mean, var = x.mean(axis=0), x.var(axis=0)\n"
              "    return gamma.reshape(shape) * (x - mean) / np.sqrt(var + eps) + beta.reshape(shape)\n",
              fails=["test-batchnorm"], why="images normalised per pixel (axis 0 only), not per channel over (0, 2, 3)"),
        Wrong("ex-batchnorm", batchnorm_code(train_stats="x.mean(axis=axes), x.var(axis=axes, ddof=1)"),
              fails=["test-batchnorm"], why="normalises with the unbiased variance"),
        Wrong("ex-batchnorm", batchnorm_code(train_stats="running_mean, running_var"),
              fails=["test-batchnorm-running"], why="running statistics used in training"),
        Wrong("ex-batchnorm", batchnorm_code(in_place=False),
              fails=["test-batchnorm-running"], why="rebinds the running arrays instead of updating them in place"),
        Wrong("ex-batchnorm", batchnorm_code(unbiased="1"),
              fails=["test-batchnorm-running"], why="running variance from the biased batch variance"),
        Wrong("ex-batchnorm",
              batchnorm_code().replace("    else:\n        mean, var = running_mean, running_var\n",
                                       "    else:\n        mean, var = x.mean(axis=axes), x.var(axis=axes)\n"),
              fails=["test-batchnorm-running"], why="batch statistics in evaluation too"),
        Wrong("ex-batchnorm-backward",
              bn_backward_code("dout * gamma.reshape(shape) * inv_std"),
              fails=["test-batchnorm-backward"],
              why="treats the batch mean and variance as constants (the evaluation-mode gradient)"),
        Wrong("ex-batchnorm-backward",
              bn_backward_code("gamma.reshape(shape) * inv_std / n * (n * dout - dbeta.reshape(shape))"),
              fails=["test-batchnorm-backward"], why="forgets the path through the variance"),
        Wrong("ex-batchnorm-backward",
              "def batchnorm_backward(dout, x, gamma, eps=1e-5):\n"
              "    shape = (1, -1) if x.ndim == 2 else (1, -1, 1, 1)\n"
              "    n = x.shape[0]\n"
              "    inv_std = 1.0 / np.sqrt(x.var(axis=0, keepdims=True) + eps)\n"
              "    x_hat = (x - x.mean(axis=0, keepdims=True)) * inv_std\n"
              "    sum_g, sum_gx = dout.sum(axis=0, keepdims=True), (dout * x_hat).sum(axis=0, keepdims=True)\n"
              "    dx = gamma.reshape(shape) * inv_std / n * (n * dout - sum_g - x_hat * sum_gx)\n"
              "    axes = (0,) if x.ndim == 2 else (0, 2, 3)\n"
              "    return dx, (dout * x_hat).sum(axis=axes), dout.sum(axis=axes)\n",
              fails=["test-batchnorm-backward"],
              why="images: statistics per pixel over the batch axis only, not per channel over (0, 2, 3)"),
        Wrong("ex-shift",
              "def shift_images(x, dy, dx):\n    return np.roll(x, (dy, dx), axis=(-2, -1))\n",
              fails=["test-shift"], why="np.roll wraps the pixels around"),
        Wrong("ex-shift",
              "def shift_images(x, dy, dx):\n    H, W = x.shape[-2:]\n    out = np.zeros_like(x)\n"
              "    out[..., max(dx, 0):H + min(dx, 0), max(dy, 0):W + min(dy, 0)] = \\\n"
              "        x[..., max(-dx, 0):H + min(-dx, 0), max(-dy, 0):W + min(-dy, 0)]\n    return out\n",
              fails=["test-shift"], why="rows and columns swapped (dy moves columns)"),
        Wrong("ex-conv-cost",
              "def conv2d_macs(H, W, c_in, c_out, k, stride=1, padding=0):\n"
              "    Ho = (H + 2 * padding - k) // stride + 1\n    Wo = (W + 2 * padding - k) // stride + 1\n"
              "    return Ho * Wo * c_out * k * k\n",
              fails=["test-conv-cost"], why="forgets the input channels"),
        Wrong("ex-conv-cost",
              "def conv2d_macs(H, W, c_in, c_out, k, stride=1, padding=0):\n"
              "    return H * W * c_out * c_in * k * k\n",
              fails=["test-conv-cost"], why="ignores stride and padding (output = input size)"),
    ]

    RIGHT = [
        Right("ex-correlate",
              "def correlate2d(image, kernel):\n"
              "    windows = np.lib.stride_tricks.sliding_window_view(image, kernel.shape)\n"
              "    return np.einsum('ijpq,pq->ij', windows, kernel)\n",
              why="sliding_window_view and einsum"),
        Right("ex-output-size",
              "def conv_output_size(n, k, stride=1, padding=0):\n"
              "    span = n + 2 * padding - k\n"
              "    if span < 0:\n        raise ValueError(f'kernel {k} larger than padded input {n + 2 * padding}')\n"
              "    return int(np.floor(span / stride)) + 1\n",
              why="np.floor of a float division"),
        Right("ex-pad",
              "def pad2d(x, padding):\n"
              "    return np.pad(x, [(0, 0)] * (x.ndim - 2) + [(padding, padding)] * 2, mode='constant')\n",
              why="np.pad with a computed width list"),
        Right("ex-conv-loops",
              "def conv2d_loops(x, w, b, stride=1, padding=0):\n"
              "    F_, C, kh, kw = w.shape\n"
              "    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))\n"
              "    Ho, Wo = (xp.shape[2] - kh) // stride + 1, (xp.shape[3] - kw) // stride + 1\n"
              "    out = np.zeros((x.shape[0], F_, Ho, Wo)) + b[None, :, None, None]\n"
              "    for p in range(kh):\n        for q in range(kw):\n"
              "            patch = xp[:, :, p:p + stride * Ho:stride, q:q + stride * Wo:stride]\n"
              "            out += np.einsum('nchw,fc->nfhw', patch, w[:, :, p, q])\n"
              "    return out\n",
              why="loops over the kernel offsets with einsum (shifted 1x1 convolutions)"),
        Right("ex-im2col",
              "def im2col(x, kh, kw, stride=1, padding=0):\n"
              "    N, C, H, W = x.shape\n"
              "    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))\n"
              "    win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]\n"
              "    Ho, Wo = win.shape[2], win.shape[3]\n"
              "    return win.transpose(0, 1, 4, 5, 2, 3).reshape(N, C * kh * kw, Ho * Wo)\n\n"
              "def conv2d_im2col(x, w, b, stride=1, padding=0):\n"
              "    N, C, H, W = x.shape\n    F_, _, kh, kw = w.shape\n"
              "    Ho, Wo = (H + 2 * padding - kh) // stride + 1, (W + 2 * padding - kw) // stride + 1\n"
              "    cols = im2col(x.astype(np.float64), kh, kw, stride, padding)\n"
              "    out = np.einsum('fk,nkl->nfl', w.reshape(F_, -1).astype(np.float64), cols) + b[:, None]\n"
              "    return out.reshape(N, F_, Ho, Wo).astype(x.dtype)\n",
              why="sliding windows, einsum, float64 inside and cast back to the input's dtype (float32 in, float32 out)"),
        Right("ex-conv-backward",
              "def conv2d_backward(dout, x, w, stride=1, padding=0):\n"
              "    N, C, H, W = x.shape\n    F_, _, kh, kw = w.shape\n    Ho, Wo = dout.shape[2:]\n"
              "    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))\n"
              "    dxp = np.zeros_like(xp)\n    dw = np.zeros_like(w)\n"
              "    for p in range(kh):\n        for q in range(kw):\n"
              "            rs, cs = slice(p, p + stride * Ho, stride), slice(q, q + stride * Wo, stride)\n"
              "            dw[:, :, p, q] = np.einsum('nfhw,nchw->fc', dout, xp[:, :, rs, cs])\n"
              "            dxp[:, :, rs, cs] += np.einsum('nfhw,fc->nchw', dout, w[:, :, p, q])\n"
              "    return dxp[:, :, padding:padding + H, padding:padding + W], dw, dout.sum(axis=(0, 2, 3))\n",
              why="vectorised over positions, looping over kernel offsets"),
        Right("ex-maxpool",
              "def maxpool2d(x, size=2, stride=None):\n"
              "    stride = stride or size\n"
              "    win = np.lib.stride_tricks.sliding_window_view(x, (size, size), axis=(2, 3))\n"
              "    return win[:, :, ::stride, ::stride].max(axis=(-2, -1))\n",
              why="sliding_window_view"),
        Right("ex-maxpool-backward",
              maxpool_backward_code("dx[:, :, r, c] += mask * dout[:, :, i, j][:, :, None, None]"),
              why="a mask of the window's maximum, vectorised over examples and channels"),
        Right("ex-avgpool",
              "def avgpool2d(x, size=2, stride=None):\n"
              "    s = stride or size\n"
              "    win = np.lib.stride_tricks.sliding_window_view(x, (size, size), axis=(2, 3))[:, :, ::s, ::s]\n"
              "    return np.einsum('nchwpq->nchw', win) / size ** 2\n",
              why="sliding windows summed with einsum"),
        Right("ex-batchnorm",
              "def batchnorm_forward(x, gamma, beta, running_mean, running_var, training=True, momentum=0.1, eps=1e-5):\n"
              "    moved = np.moveaxis(x, 1, -1)\n"
              "    flat = moved.reshape(-1, x.shape[1])\n"
              "    if training:\n"
              "        mean = flat.sum(axis=0) / len(flat)\n"
              "        var = ((flat - mean) ** 2).sum(axis=0) / len(flat)\n"
              "        running_mean *= 1 - momentum\n        running_mean += momentum * mean\n"
              "        running_var *= 1 - momentum\n"
              "        running_var += momentum * ((flat - mean) ** 2).sum(axis=0) / (len(flat) - 1)\n"
              "    else:\n        mean, var = running_mean, running_var\n"
              "    y = (moved - mean) / np.sqrt(var + eps) * gamma + beta\n"
              "    return np.moveaxis(y, -1, 1)\n",
              why="channels moved last and flattened, sums by hand, in-place *= and +="),
        Right("ex-batchnorm-backward",
              "def batchnorm_backward(dout, x, gamma, eps=1e-5):\n"
              "    axes = tuple(a for a in range(x.ndim) if a != 1)\n"
              "    shape = [1] * x.ndim\n    shape[1] = -1\n"
              "    n = x.size / gamma.size\n"
              "    mu = x.mean(axis=axes, keepdims=True)\n"
              "    var = ((x - mu) ** 2).mean(axis=axes, keepdims=True)\n"
              "    g = np.reshape(gamma, shape)\n"
              "    dxhat = dout * g\n"
              "    dvar = np.sum(dxhat * (x - mu) * -0.5 * (var + eps) ** -1.5, axis=axes, keepdims=True)\n"
              "    dmu = np.sum(-dxhat / np.sqrt(var + eps), axis=axes, keepdims=True) "
              "+ dvar * np.mean(-2 * (x - mu), axis=axes, keepdims=True)\n"
              "    dx = dxhat / np.sqrt(var + eps) + dvar * 2 * (x - mu) / n + dmu / n\n"
              "    xhat = (x - mu) / np.sqrt(var + eps)\n"
              "    return dx, np.sum(dout * xhat, axis=axes), np.sum(dout, axis=axes)\n",
              why="the staged computational-graph form (through mean and variance separately)"),
        Right("ex-shift",
              "def shift_images(x, dy, dx):\n"
              "    H, W = x.shape[-2:]\n    out = np.zeros_like(x)\n"
              "    for i in range(H):\n        for j in range(W):\n"
              "            if 0 <= i - dy < H and 0 <= j - dx < W:\n"
              "                out[..., i, j] = x[..., i - dy, j - dx]\n"
              "    return out\n",
              why="a loop over pixels"),
        Right("ex-conv-cost",
              "def conv2d_macs(H, W, c_in, c_out, k, stride=1, padding=0):\n"
              "    positions = len(range(0, H + 2 * padding - k + 1, stride)) * len(range(0, W + 2 * padding - k + 1, stride))\n"
              "    return positions * c_out * c_in * k ** 2\n",
              why="counts the window starts with range"),
    ]
