"""Notebook 01 ``neurons``: every graded cell re-checked on new inputs outside the kernel."""

import numpy as np

from workbook.data import toy
from workbook_grading.verify import Fn, Plan, Verifier
from workbook.numpy_nn import layers, losses, perceptron

ASSIGNMENT = "01_neurons"
VERIFIER = Verifier({}, references=(
    "workbook.numpy_nn.layers:sigmoid", "workbook.numpy_nn.layers:sigmoid_forward",
    "workbook.numpy_nn.layers:relu_forward", "workbook.numpy_nn.layers:leaky_relu_forward",
    "workbook.numpy_nn.losses:softmax", "workbook.numpy_nn.perceptron:perceptron_update",
    "workbook.numpy_nn.perceptron:perceptron_train"))
cell = VERIFIER.cell


def _shape(p: Plan, low=2, high=8, ndim=2):
    return tuple(int(n) for n in p.rng.integers(low, high, size=ndim))


@cell("test-neuron")
def _neuron(p: Plan):
    N, D = _shape(p)
    X, w, b = p.rng.normal(size=(N, D)), p.rng.normal(size=D), float(p.rng.normal())
    p.call("neuron", X, w, b, Fn("tanh")).close(np.tanh(X @ w + b), f"neuron, batch {X.shape}")
    p.call("neuron", X[0], w, b, Fn("identity")).close(X[0] @ w + b, "neuron, one example")


@cell("test-sigmoid")
def _sigmoid(p: Plan):
    Z = p.rng.normal(scale=4.0, size=_shape(p, ndim=3))
    p.call("sigmoid", Z).close(layers.sigmoid(Z), f"sigmoid, {Z.shape}")
    z = float(p.rng.normal())
    p.call("sigmoid", z).close(layers.sigmoid(np.array(z)), "sigmoid of a float")


@cell("test-sigmoid-stable")
def _sigmoid_stable(p: Plan):
    Z = p.rng.normal(scale=900.0, size=_shape(p))
    p.call("sigmoid", Z).close(layers.sigmoid(Z), "sigmoid, inputs of scale 900", atol=1e-12)


@cell("test-relu")
def _relu(p: Plan):
    Z = p.rng.normal(size=_shape(p, ndim=3))
    p.call("relu", Z).close(np.maximum(Z, 0), f"relu, {Z.shape}").unchanged_inputs("relu")


@cell("test-leaky-relu")
def _leaky(p: Plan):
    Z = p.rng.normal(size=_shape(p))
    slope = float(p.rng.uniform(0.05, 0.5))
    p.call("leaky_relu", Z, slope).close(np.where(Z > 0, Z, slope * Z),
                                         "leaky_relu, a random slope").unchanged_inputs("leaky_relu")
    p.call("leaky_relu", Z).close(np.where(Z > 0, Z, 0.01 * Z), "leaky_relu, default slope")


@cell("test-softmax")
def _softmax(p: Plan):
    Z = p.rng.normal(scale=3.0, size=_shape(p))
    p.call("softmax", Z).close(losses.softmax(Z), f"softmax, {Z.shape}")
    p.call("softmax", Z[0]).close(losses.softmax(Z[0]), "softmax, one row")


@cell("test-softmax-stable")
def _softmax_stable(p: Plan):
    Z = p.rng.normal(scale=3e3, size=_shape(p))
    p.call("softmax", Z).close(losses.softmax(Z), "softmax, scores of scale 3000")


@cell("test-logistic")
def _logistic(p: Plan):
    N, D = _shape(p, 5, 30, 1)[0], _shape(p, 1, 5, 1)[0]
    X, w, b = p.rng.normal(size=(N, D)), p.rng.normal(size=D), float(p.rng.normal())
    p.call("logistic_regression_predict_proba", X, w, b).close(
        layers.sigmoid(X @ w + b), f"predict_proba, {X.shape}")


@cell("test-perceptron-update")
def _update(p: Plan):
    # a score of exactly 0 predicts class 0 (integers: the sum is exact)
    w, x = p.rng.integers(-3, 4, size=3).astype(float), p.rng.integers(-3, 4, size=3).astype(float)
    w_ref, b_ref = perceptron.perceptron_update(w, -float(w @ x), x, 1, lr=0.5)
    p.call("perceptron_update", w, -float(w @ x), x, 1, lr=0.5).then(
        _pair(w_ref, b_ref, "an update at a score of exactly 0"))
    w, b = p.rng.normal(size=3), float(p.rng.normal())
    for t in range(6):
        x, y = p.rng.normal(size=3), int(p.rng.integers(2))
        w_ref, b_ref = perceptron.perceptron_update(w, b, x, y, lr=0.3)
        p.call("perceptron_update", w, b, x, y, lr=0.3).then(
            _pair(w_ref, b_ref, f"update {t}")).unchanged_inputs("perceptron_update")


def _pair(w_ref, b_ref, name):
    from workbook import checks

    def check(got, *_):
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            raise AssertionError(f"{name}: expected (w_new, b_new)")
        checks.assert_close(got[0], w_ref, name=f"w after {name}")
        checks.assert_close(got[1], b_ref, name=f"b after {name}")
    return check


@cell("test-perceptron-train")
def _train(p: Plan):
    from workbook import checks

    seed = int(p.rng.integers(1000, 10**6))
    X, y = toy.linearly_separable(40, margin=0.3, seed=seed)
    X = X + p.rng.normal(size=2)
    w_ref, b_ref, h_ref = perceptron.perceptron_train(X, y, lr=0.5, epochs=30)

    def check(got, *_):
        if not isinstance(got, (tuple, list)) or len(got) != 3:
            raise AssertionError("perceptron_train: expected (w, b, history)")
        checks.assert_equal(list(got[2]), list(h_ref), name="history")
        checks.assert_close(got[0], w_ref, name="w")
        checks.assert_close(got[1], b_ref, name="b")
    p.call("perceptron_train", X, y, lr=0.5, epochs=30).then(check)


@cell("test-collapse")
def _collapse(p: Plan):
    from workbook import checks

    D, H, M = _shape(p, 1, 6, 3)
    W1, b1 = p.rng.normal(size=(D, H)), p.rng.normal(size=H)
    W2, b2 = p.rng.normal(size=(H, M)), p.rng.normal(size=M)

    def check(got, *_):
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            raise AssertionError("collapse_linear: expected (V, c)")
        checks.assert_close(got[0], W1 @ W2, name=f"V for D, H, M = {D}, {H}, {M}")
        checks.assert_close(got[1], b1 @ W2 + b2, name=f"c for D, H, M = {D}, {H}, {M}")
    p.call("collapse_linear", W1, b1, W2, b2).then(check)


@cell("test-xor-network")
def _xor(p: Plan):
    X, y = toy.xor(400, seed=int(p.rng.integers(1000, 10**6)))

    def check(got, *_):
        if not isinstance(got, (tuple, list)) or len(got) != 4:
            raise AssertionError("xor_network: expected (W1, b1, W2, b2)")
        W1, b1, W2, b2 = (np.asarray(a, dtype=float) for a in got)
        pred = (np.maximum(X @ W1 + b1, 0) @ W2 + b2 > 0).astype(int)
        accuracy = float(np.mean(pred.reshape(-1) == y))
        if accuracy < 0.99:
            raise AssertionError(f"accuracy {accuracy:.3f} on new XOR points")
    p.call("xor_network").then(check)
