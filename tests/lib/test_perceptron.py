"""The perceptron reference (workbook.numpy_nn.perceptron) that notebook 01 grades against."""

import numpy as np
import pytest

from workbook.data.toy import linearly_separable, xor
from workbook.numpy_nn.perceptron import perceptron_predict, perceptron_train, perceptron_update

# Three points worked by hand (predict 1 iff w.x + b > 0, start from w = 0, b = 0):
# epoch 1: (1,0),y=1 score 0 -> 0, wrong: w=(1,0) b=1;  (0,1),y=0 score 1 -> 1, wrong:
#   w=(1,-1) b=0;  (1,1),y=1 score 0 -> 0, wrong: w=(2,0) b=1            -> 3 mistakes
# epoch 2: (1,0) score 3 ok;  (0,1) score 1, wrong: w=(2,-1) b=0;  (1,1) score 1 ok -> 1
# epoch 3: scores 2, -1, 1: all right                                               -> 0
HAND_X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
HAND_Y = np.array([1, 0, 1])


def test_hand_computed_sequence():
    w, b, history = perceptron_train(HAND_X, HAND_Y)
    np.testing.assert_array_equal(w, [2.0, -1.0])
    assert b == 0.0
    assert history == [3, 1, 0]


def test_learning_rate_only_rescales_from_zero():
    w, b, history = perceptron_train(HAND_X, HAND_Y, lr=0.5)
    np.testing.assert_array_equal(w, [1.0, -0.5])
    assert b == 0.0 and history == [3, 1, 0]


def test_update_changes_weights_only_on_a_mistake_and_not_in_place():
    w = np.array([1.0, -1.0])
    w_new, b_new = perceptron_update(w, 0.5, np.array([2.0, 1.0]), 1)  # score 1.5: right
    np.testing.assert_array_equal(w_new, w)
    assert b_new == 0.5
    w_new, b_new = perceptron_update(w, 0.5, np.array([2.0, 1.0]), 0, lr=0.1)  # wrong
    np.testing.assert_allclose(w_new, [0.8, -1.1])
    assert b_new == pytest.approx(0.4)
    np.testing.assert_array_equal(w, [1.0, -1.0])


def test_score_zero_predicts_class_zero():
    assert perceptron_predict(np.array([1.0, 1.0]), np.array([1.0, -1.0]), 0.0) == 0
    np.testing.assert_array_equal(
        perceptron_predict(np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([1.0, -1.0]), 0.0), [1, 0])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_converges_on_separable_data(seed):
    X, y = linearly_separable(100, margin=0.3, seed=seed)
    X = X + np.array([2.0, 1.0])  # off the origin, so the bias matters
    w, b, history = perceptron_train(X, y, epochs=200)
    assert history[-1] == 0 and len(history) < 200
    np.testing.assert_array_equal(perceptron_predict(X, w, b), y)


def test_shuffled_order_also_converges():
    X, y = linearly_separable(100, seed=3)
    w, b, history = perceptron_train(X, y, rng=np.random.default_rng(0))
    assert history[-1] == 0
    np.testing.assert_array_equal(perceptron_predict(X, w, b), y)


def test_never_separates_xor():
    X, y = xor(200)
    w, b, history = perceptron_train(X, y, epochs=30)
    assert len(history) == 30 and min(history) > 0
    assert np.mean(perceptron_predict(X, w, b) == y) < 0.8


def test_rejects_minus_one_labels():
    with pytest.raises(ValueError, match="0 or 1"):
        perceptron_train(HAND_X, np.array([1, -1, 1]))
