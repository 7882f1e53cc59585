"""Grading round trip of 01_neurons: plausible mistakes score 0, other correct answers full marks."""

from harness import Right, RoundTrip, Wrong

# --- correct answers reused inside wrong answers of two-function cells ----------------------
RELU = """
def relu(z):
    return np.maximum(z, 0.0)
"""
LEAKY_RELU = """
def leaky_relu(z, negative_slope=0.01):
    return np.where(z > 0, z, negative_slope * z)
"""


class TestNeuronsRoundTrip(RoundTrip):
    assignment = "01_neurons"

    WRONG = [
        Wrong("ex-neuron",
              "def neuron(x, w, b, activation):\n    return activation(x @ w)\n",
              fails=["test-neuron"], why="forgot the bias"),
        Wrong("ex-neuron",
              "def neuron(x, w, b, activation):\n    return activation(x) @ w + b\n",
              fails=["test-neuron"], why="applies the activation to the inputs, not to the sum"),
        Wrong("ex-sigmoid",
              "def sigmoid(z):\n    return 1.0 / (1.0 + np.exp(-z))\n",
              fails=["test-sigmoid-stable"], why="naive formula: exp(1000) overflows"),
        Wrong("ex-sigmoid",
              "def sigmoid(z):\n    z = np.asarray(z, dtype=float)\n"
              "    return np.where(z >= 0, 1 / (1 + np.exp(-z)), np.exp(z) / (1 + np.exp(z)))\n",
              fails=["test-sigmoid-stable"],
              why="the two-branch trick with np.where, which still evaluates exp of both signs"),
        Wrong("ex-sigmoid",
              "def sigmoid(z):\n    z = np.asarray(z, dtype=float)\n    e = np.exp(-np.abs(z))\n"
              "    return np.where(z >= 0, e / (1 + e), 1 / (1 + e))\n",
              fails=["test-sigmoid", "test-sigmoid-stable"], why="the two branches swapped"),
        Wrong("ex-relu",
              "def relu(z):\n    z[z < 0] = 0\n    return z\n" + LEAKY_RELU,
              fails=["test-relu"], why="clips the caller's array in place"),
        Wrong("ex-relu",
              RELU + "def leaky_relu(z, negative_slope=0.01):\n"
              "    return np.where(z > 0, z, 0.01 * z)\n",
              fails=["test-leaky-relu"], why="ignores the negative_slope argument"),
        Wrong("ex-softmax",
              "def softmax(z):\n    e = np.exp(z)\n    return e / e.sum(axis=-1, keepdims=True)\n",
              fails=["test-softmax-stable"], why="no max subtraction: overflows at 1e4"),
        Wrong("ex-softmax",
              "def softmax(z):\n    e = np.exp(z - np.max(z))\n    return e / e.sum()\n",
              fails=["test-softmax", "test-softmax-stable"],
              why="normalises over the whole array instead of each row"),
        Wrong("ex-softmax",
              "def softmax(z):\n    e = np.exp(z - z.max(axis=0, keepdims=True))\n"
              "    return e / e.sum(axis=0, keepdims=True)\n",
              fails=["test-softmax"], why="wrong axis: normalises columns of a batch"),
        Wrong("ex-logistic",
              "def logistic_regression_predict_proba(X, w, b):\n"
              "    return (X @ w + b > 0).astype(float)\n",
              fails=["test-logistic"], why="returns hard 0/1 labels instead of probabilities"),
        Wrong("ex-perceptron-update",
              "def perceptron_update(w, b, x, y, lr=1.0):\n"
              "    return w + lr * y * x, b + lr * y\n",
              fails=["test-perceptron-update"],
              why="updates with y instead of the error y - y_hat, even when right"),
        Wrong("ex-perceptron-update",
              "def perceptron_update(w, b, x, y, lr=1.0):\n"
              "    y_hat = 1 if x @ w + b > 0 else 0\n"
              "    w += lr * (y - y_hat) * x\n"
              "    return w, b + lr * (y - y_hat)\n",
              fails=["test-perceptron-update"], why="modifies w in place"),
        Wrong("ex-perceptron-update",
              "def perceptron_update(w, b, x, y, lr=1.0):\n"
              "    y_hat = 1 if x @ w + b >= 0 else 0\n"
              "    return w + lr * (y - y_hat) * x, b + lr * (y - y_hat)\n",
              fails=["test-perceptron-update"], why="a score of 0 predicts class 1 (>= instead of >)"),
        Wrong("ex-perceptron-train",
              "def perceptron_train(X, y, lr=1.0, epochs=100):\n"
              "    w, b = np.zeros(X.shape[1]), 0.0\n    history = []\n"
              "    for _ in range(epochs):\n        mistakes = 0\n"
              "        for x_i, y_i in zip(X, y):\n"
              "            mistakes += int((x_i @ w + b > 0) != y_i)\n"
              "            w, b = perceptron_update(w, b, x_i, y_i, lr)\n"
              "        history.append(mistakes)\n"
              "    return w, b, history\n",
              fails=["test-perceptron-train"], why="never stops early: runs every epoch"),
        Wrong("ex-perceptron-train",
              "def perceptron_train(X, y, lr=1.0, epochs=100):\n"
              "    w, b = np.zeros(X.shape[1]), 0.0\n    history = []\n"
              "    for _ in range(epochs):\n        mistakes = 0\n"
              "        for x_i, y_i in zip(X, y):\n"
              "            w, b = perceptron_update(w, b, x_i, y_i, lr)\n"
              "            mistakes += int((x_i @ w + b > 0) != y_i)\n"
              "        history.append(mistakes)\n        if mistakes == 0:\n            break\n"
              "    return w, b, history\n",
              fails=["test-perceptron-train"],
              why="counts mistakes after the update instead of before it"),
        Wrong("ex-collapse",
              "def collapse_linear(W1, b1, W2, b2):\n    return W1 @ W2, b2\n",
              fails=["test-collapse"], why="forgot that b1 passes through the second layer"),
        Wrong("ex-xor",
              "def xor_network():\n"
              "    return np.eye(2), np.zeros(2), np.array([1.0, 1.0]), 0.0\n",
              fails=["test-xor-network"], why="a network that is linear on the data (no useful ReLU)"),
        Wrong("ex-xor",
              "def xor_network():\n"
              "    W1 = np.array([[1.0, -1.0], [-1.0, 1.0]])\n"
              "    return W1, np.zeros(2), np.array([[1.0], [1.0]]), -1.0\n",
              fails=["test-xor-network"], why="W2 as an (H, 1) column instead of (H,)"),
    ]

    RIGHT = [
        Right("ex-neuron",
              "def neuron(x, w, b, activation):\n"
              "    return activation(np.einsum('...d,d->...', x, w) + b)\n",
              why="einsum instead of @"),
        Right("ex-sigmoid",
              "def sigmoid(z):\n    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=float)))\n",
              why="through tanh, which is stable on its own"),
        Right("ex-relu",
              "def relu(z):\n    return np.where(z > 0, z, 0.0)\n\n\n"
              "def leaky_relu(z, negative_slope=0.01):\n"
              "    return np.maximum(z, negative_slope * z)\n",
              why="np.where for ReLU, np.maximum for leaky ReLU (valid for slopes in [0, 1))"),
        Right("ex-softmax",
              "def softmax(z):\n    z = np.asarray(z, dtype=float)\n"
              "    m = np.max(z, axis=-1, keepdims=True)\n"
              "    log_norm = m + np.log(np.sum(np.exp(z - m), axis=-1, keepdims=True))\n"
              "    return np.exp(z - log_norm)\n",
              why="through the log-sum-exp"),
        Right("ex-logistic",
              "def logistic_regression_predict_proba(X, w, b):\n"
              "    return np.array([sigmoid(np.dot(x, w) + b) for x in X])\n",
              why="a loop over the rows"),
        Right("ex-perceptron-update",
              "def perceptron_update(w, b, x, y, lr=1.0):\n"
              "    y_hat = float(np.dot(w, x) + b > 0)\n"
              "    error = y - y_hat\n"
              "    return np.add(w, lr * error * x), b + lr * error\n",
              why="branch-free, with np.dot"),
        Right("ex-perceptron-train",
              "def perceptron_train(X, y, lr=1.0, epochs=100):\n"
              "    N, D = X.shape\n    w, b = np.zeros(D), 0.0\n    history = []\n"
              "    epoch = 0\n    while epoch < epochs:\n        mistakes = 0\n"
              "        for i in range(N):\n"
              "            if (1 if np.dot(X[i], w) + b > 0 else 0) != y[i]:\n"
              "                mistakes += 1\n"
              "                w, b = perceptron_update(w, b, X[i], y[i], lr)\n"
              "        history.append(mistakes)\n        epoch += 1\n"
              "        if mistakes == 0:\n            break\n"
              "    return w, b, history\n",
              why="a while loop over indices, updating only on mistakes"),
        Right("ex-collapse",
              "def collapse_linear(W1, b1, W2, b2):\n"
              "    V = np.einsum('dh,hm->dm', W1, W2)\n"
              "    c = np.einsum('h,hm->m', b1, W2) + b2\n"
              "    return V, c\n",
              why="einsum instead of @"),
        Right("ex-xor",
              "def xor_network():\n"
              "    W1 = np.array([[1.0, -1.0], [1.0, -1.0]])  # relu(x1 + x2), relu(-x1 - x2)\n"
              "    return W1, np.zeros(2), np.array([-1.0, -1.0]), 1.0\n",
              why="other hand-set weights: fire unless both inputs agree"),
    ]
