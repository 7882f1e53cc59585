"""Grading round trip of 02_backprop: plausible mistakes score 0, other correct answers full marks."""

from harness import Right, RoundTrip, Wrong

# --- correct solutions of the two-function cells, reused inside wrong answers ---------------
RELU_FORWARD = """
def relu_forward(x):
    return np.maximum(x, 0.0), x
"""
RELU_BACKWARD = """
def relu_backward(dout, cache):
    return dout * (cache > 0)
"""
SIGMOID_FORWARD = """
def sigmoid_forward(x):
    out = np.exp(-np.logaddexp(0.0, -x))
    return out, out
"""


class TestBackpropRoundTrip(RoundTrip):
    assignment = "02_backprop"

    WRONG = [
        Wrong("ex-affine-forward",
              "def affine_forward(x, w, b):\n    return x @ w, (x, w)\n",
              fails=["test-affine-forward"], why="forgot the bias"),
        Wrong("ex-affine-backward",
              "def affine_backward(dout, cache):\n    x, w = cache\n"
              "    return dout @ w.T, x.T @ dout, dout.mean(axis=0)\n",
              fails=["test-affine-backward"], why="db averaged over the batch instead of summed"),
        Wrong("ex-affine-backward",
              "def affine_backward(dout, cache):\n    x, w = cache\n"
              "    return dout @ w.T, (dout.T @ x).T / len(x), dout.sum(axis=0)\n",
              fails=["test-affine-backward"], why="dw divided by N (the 1/N is already in dout)"),
        Wrong("ex-relu",
              "def relu_forward(x):\n    x[x < 0] = 0\n    return x, x\n" + RELU_BACKWARD,
              fails=["test-relu-forward"], why="clips the caller's array in place"),
        Wrong("ex-relu",
              RELU_FORWARD + "def relu_backward(dout, cache):\n    return dout * (cache >= 0)\n",
              fails=["test-relu-backward"], why="lets the gradient through at the kink x == 0"),
        Wrong("ex-sigmoid",
              SIGMOID_FORWARD + "def sigmoid_backward(dout, cache):\n"
              "    s = 1 / (1 + np.exp(-cache))\n    return dout * s * (1 - s)\n",
              fails=["test-sigmoid"], why="applies the sigmoid again to the cached output"),
        Wrong("ex-softmax-ce",
              "def softmax_cross_entropy(logits, y):\n"
              "    logits = np.asarray(logits, dtype=float)\n    N = logits.shape[0]\n"
              "    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)\n"
              "    loss = float(-np.log(p[np.arange(N), y]).mean())\n"
              "    dlogits = p.copy()\n    dlogits[np.arange(N), y] -= 1\n"
              "    return loss, dlogits / N\n",
              fails=["test-softmax-ce-loss", "test-softmax-ce-grad"],
              why="no max subtraction: exp(1e4) overflows"),
        Wrong("ex-softmax-ce",
              "def softmax_cross_entropy(logits, y):\n"
              "    logits = np.asarray(logits, dtype=float)\n    N = logits.shape[0]\n"
              "    z = logits - logits.max(axis=1, keepdims=True)\n"
              "    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))\n"
              "    dlogits = np.exp(logp)\n    dlogits[np.arange(N), y] -= 1\n"
              "    return float(-logp[np.arange(N), y].mean()), dlogits\n",
              fails=["test-softmax-ce-grad"], why="gradient of the sum, not of the mean (no /N)"),
        Wrong("ex-softmax-ce",
              "def softmax_cross_entropy(logits, y):\n"
              "    logits = np.asarray(logits, dtype=float)\n    N = logits.shape[0]\n"
              "    z = logits - logits.max(axis=1, keepdims=True)\n"
              "    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)\n"
              "    loss = float(-np.log(p[np.arange(N), y] + 1e-12).mean())\n"
              "    dlogits = p.copy()\n    dlogits[np.arange(N), y] -= 1\n"
              "    return loss, dlogits / N\n",
              fails=["test-softmax-ce-loss"], why="log(p + eps) instead of log-softmax: wrong for +-1e4"),
        Wrong("ex-numerical-gradient",
              "def numerical_gradient(f, x, h=1e-5):\n    grad = np.zeros_like(x)\n    fx = f(x)\n"
              "    for i in np.ndindex(x.shape):\n        old = x[i]\n        x[i] = old + h\n"
              "        grad[i] = (f(x) - fx) / h\n        x[i] = old\n    return grad\n",
              fails=["test-numerical-gradient"], why="one-sided difference"),
        Wrong("ex-numerical-gradient",
              "def numerical_gradient(f, x, h=1e-5):\n    grad = np.zeros_like(x)\n"
              "    for i in np.ndindex(x.shape):\n        x[i] += h\n        f_plus = f(x)\n"
              "        x[i] -= 2 * h\n        f_minus = f(x)\n        grad[i] = (f_plus - f_minus) / (2 * h)\n"
              "    return grad\n",
              fails=["test-numerical-gradient"], why="leaves every entry of x shifted by -h"),
        Wrong("ex-relative-error",
              "def relative_error(a, b):\n    return float(np.max(np.abs(a - b) / (np.abs(a) + np.abs(b))))\n",
              fails=["test-relative-error"], why="no floor on the denominator: 0/0 gives NaN"),
        Wrong("ex-relative-error",
              "def relative_error(a, b):\n"
              "    return float(np.mean(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), 1e-12)))\n",
              fails=["test-relative-error"], why="mean instead of max"),
        Wrong("ex-two-layer",
              "def two_layer_forward_backward(X, y, params):\n"
              "    h, c1 = affine_forward(X, params['W1'], params['b1'])\n"
              "    a, cr = relu_forward(h)\n"
              "    s, c2 = affine_forward(a, params['W2'], params['b2'])\n"
              "    loss, ds = softmax_cross_entropy(s, y)\n"
              "    da, dW2, db2 = affine_backward(ds, c2)\n"
              "    _, dW1, db1 = affine_backward(da, c1)\n"
              "    return loss, {'W1': dW1, 'b1': db1, 'W2': dW2, 'b2': db2}\n",
              fails=["test-two-layer-grads"], why="skips the ReLU in the backward pass"),
        Wrong("ex-two-layer",
              "def two_layer_forward_backward(X, y, params):\n"
              "    h, c1 = affine_forward(X, params['W1'], params['b1'])\n"
              "    s, c2 = affine_forward(h, params['W2'], params['b2'])\n"
              "    loss, ds = softmax_cross_entropy(s, y)\n"
              "    dh, dW2, db2 = affine_backward(ds, c2)\n"
              "    _, dW1, db1 = affine_backward(dh, c1)\n"
              "    return loss, {'W1': dW1, 'b1': db1, 'W2': dW2, 'b2': db2}\n",
              fails=["test-two-layer-loss", "test-two-layer-grads"],
              why="no ReLU at all: a consistent but linear network"),
        Wrong("ex-sgd-epoch",
              "def sgd_epoch(loss_fn, params, X, y, *, lr, batch_size, rng):\n"
              "    order = rng.permutation(len(X))\n    losses = []\n"
              "    for start in range(0, len(X), batch_size):\n"
              "        idx = order[start:start + batch_size]\n"
              "        loss, grads = loss_fn(X[idx], y[idx], params)\n"
              "        for k in params:\n            params[k] += lr * grads[k]\n"
              "        losses.append(loss)\n    return float(np.mean(losses))\n",
              fails=["test-sgd-epoch"], why="steps up the gradient"),
        Wrong("ex-sgd-epoch",
              "def sgd_epoch(loss_fn, params, X, y, *, lr, batch_size, rng):\n    losses = []\n"
              "    for start in range(0, len(X), batch_size):\n"
              "        loss, grads = loss_fn(X[start:start + batch_size], y[start:start + batch_size], params)\n"
              "        for k in params:\n            params[k] -= lr * grads[k]\n"
              "        losses.append(loss)\n    return float(np.mean(losses))\n",
              fails=["test-sgd-epoch"], why="never shuffles"),
        Wrong("ex-sgd-epoch",
              "def sgd_epoch(loss_fn, params, X, y, *, lr, batch_size, rng):\n"
              "    order = rng.permutation(len(X))\n    losses = []\n"
              "    for start in range(0, len(X) - batch_size + 1, batch_size):\n"
              "        idx = order[start:start + batch_size]\n"
              "        loss, grads = loss_fn(X[idx], y[idx], params)\n"
              "        for k in params:\n            params[k] -= lr * grads[k]\n"
              "        losses.append(loss)\n    return float(np.mean(losses))\n",
              fails=["test-sgd-epoch"], why="drops the last, smaller batch"),
        Wrong("ex-baseline-loss",
              "def baseline_loss(y, num_classes):\n    return float(np.log(num_classes))\n",
              fails=["test-baseline-loss"], why="assumes balanced classes"),
        Wrong("ex-baseline-loss",
              "def baseline_loss(y, num_classes):\n    f = np.bincount(y, minlength=num_classes) / len(y)\n"
              "    return float(-np.sum(f * np.log(f)))\n",
              fails=["test-baseline-loss"], why="0 * log 0 gives NaN for a class that never occurs"),
    ]

    RIGHT = [
        Right("ex-affine-forward",
              "def affine_forward(x, w, b):\n"
              "    out = np.einsum('nd,dm->nm', x, w) + b[None, :]\n    return out, (x, w)\n",
              why="einsum and explicit broadcasting"),
        Right("ex-affine-backward",
              "def affine_backward(dout, cache):\n    x, w = cache\n"
              "    dx = np.einsum('nm,dm->nd', dout, w)\n"
              "    dw = np.einsum('nd,nm->dm', x, dout)\n"
              "    db = np.einsum('nm->m', dout)\n    return dx, dw, db\n",
              why="einsum"),
        Right("ex-relu",
              "def relu_forward(x):\n    out = np.where(x > 0, x, 0.0)\n    return out, x\n\n"
              "def relu_backward(dout, cache):\n    dx = np.zeros_like(dout)\n"
              "    mask = cache > 0\n    dx[mask] = dout[mask]\n    return dx\n",
              why="np.where and a boolean mask"),
        Right("ex-sigmoid",
              "def sigmoid_forward(x):\n    out = 1.0 / (1.0 + np.exp(-x))\n    return out, out\n\n"
              "def sigmoid_backward(dout, cache):\n    return dout * cache - dout * cache ** 2\n",
              why="the textbook formula (overflow warnings are tolerated by the tests)"),
        Right("ex-softmax-ce",
              "def softmax_cross_entropy(logits, y):\n"
              "    z = np.asarray(logits, dtype=float)\n    N, C = z.shape\n"
              "    m = z.max(axis=1)\n"
              "    lse = m + np.log(np.sum(np.exp(z - m[:, None]), axis=1))\n"
              "    onehot = np.eye(C)[y]\n"
              "    loss = np.sum(lse - np.sum(z * onehot, axis=1)) / N\n"
              "    p = np.exp(z - lse[:, None])\n"
              "    return float(loss), (p - onehot) / N\n",
              why="log-sum-exp and a one-hot matrix"),
        Right("ex-numerical-gradient",
              "def numerical_gradient(f, x, h=1e-5):\n    grad = np.empty(x.shape)\n"
              "    for i in range(x.size):\n        step = np.zeros(x.shape)\n        step.flat[i] = h\n"
              "        grad.flat[i] = (f(x + step) - f(x - step)) / (2 * h)\n    return grad\n",
              why="perturbs copies instead of x itself"),
        Right("ex-relative-error",
              "def relative_error(a, b):\n    num = np.abs(a - b)\n    den = np.abs(a) + np.abs(b)\n"
              "    ratio = np.divide(num, den, out=np.zeros_like(num, dtype=float), where=den > 0)\n"
              "    return float(ratio.max())\n",
              why="np.divide with where= instead of a floor"),
        Right("ex-two-layer",
              "def two_layer_forward_backward(X, y, params):\n    N = X.shape[0]\n"
              "    pre = X @ params['W1'] + params['b1']\n    hidden = np.maximum(pre, 0)\n"
              "    scores = hidden @ params['W2'] + params['b2']\n"
              "    scores = scores - scores.max(axis=1, keepdims=True)\n"
              "    p = np.exp(scores)\n    p /= p.sum(axis=1, keepdims=True)\n"
              "    loss = -np.mean(np.log(p[np.arange(N), y]))\n"
              "    dscores = p.copy()\n    dscores[np.arange(N), y] -= 1\n    dscores /= N\n"
              "    dhidden = dscores @ params['W2'].T\n    dpre = np.where(pre > 0, dhidden, 0.0)\n"
              "    return float(loss), {'W1': X.T @ dpre, 'b1': dpre.sum(0),\n"
              "                         'W2': hidden.T @ dscores, 'b2': dscores.sum(0)}\n",
              why="written out inline, without the layer functions"),
        Right("ex-sgd-epoch",
              "def sgd_epoch(loss_fn, params, X, y, *, lr, batch_size, rng):\n"
              "    idx = np.arange(len(X))\n    rng.shuffle(idx)\n    total, count, start = 0.0, 0, 0\n"
              "    while start < len(idx):\n        batch = idx[start:start + batch_size]\n"
              "        loss, grads = loss_fn(X[batch], y[batch], params)\n"
              "        params.update({k: params[k] - lr * g for k, g in grads.items()})\n"
              "        total += loss\n        count += 1\n        start += batch_size\n"
              "    return total / count\n",
              why="rng.shuffle, a while loop, and new arrays instead of in-place updates"),
        Right("ex-baseline-loss",
              "def baseline_loss(y, num_classes):\n    _, counts = np.unique(y, return_counts=True)\n"
              "    f = counts / counts.sum()\n    return float(-(f * np.log(f)).sum())\n",
              why="np.unique counts only the classes that occur"),
    ]
