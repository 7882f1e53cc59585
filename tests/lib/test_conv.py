"""Convolution, pooling and batch normalisation from scratch (workbook.numpy_nn.conv) against
torch.nn.functional and autograd in float64, plus centred differences; the digits CNN."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from workbook import runtime
from workbook.checks import assert_close, check_gradient
from workbook.numpy_nn import conv

CONVS = [(conv.conv2d_forward_naive, conv.conv2d_backward_naive),
         (conv.conv2d_forward, conv.conv2d_backward)]
CONV_IDS = ["loops", "im2col"]

# (N, C, H, W, F, KH, KW, stride, padding): random shapes, 1x1 kernels, a kernel that
# exactly covers the input (one output position), strides that skip rows, padding
SHAPES = [
    (2, 3, 7, 6, 4, 3, 3, 1, 0),
    (2, 3, 7, 6, 4, 3, 3, 2, 1),
    (1, 2, 5, 5, 3, 1, 1, 1, 0),  # 1x1 kernel: a per-pixel linear map over channels
    (3, 4, 6, 6, 2, 1, 1, 2, 1),  # 1x1 kernel, stride and padding
    (2, 2, 4, 5, 3, 4, 5, 1, 0),  # the kernel exactly covers the input: out is (N, F, 1, 1)
    (2, 2, 3, 3, 2, 5, 5, 1, 1),  # ... and covers the padded input exactly
    (1, 1, 8, 9, 2, 3, 2, 3, 2),  # non-square kernel, stride 3, rows the last window cannot reach
    (2, 3, 9, 7, 2, 2, 3, 2, 0),
]


def t(x, grad=True):
    return torch.tensor(x, dtype=torch.float64, requires_grad=grad)


def test_conv_output_size_matches_torch_and_explains_impossible_shapes():
    for size, k, s, p in [(8, 3, 1, 1), (7, 3, 2, 0), (5, 5, 1, 0), (4, 1, 3, 0), (28, 5, 2, 2)]:
        expected = F.conv2d(torch.zeros(1, 1, size, size), torch.zeros(1, 1, k, k),
                            stride=s, padding=p).shape[-1]
        assert conv.conv_output_size(size, k, s, p) == expected
    with pytest.raises(ValueError, match="does not fit"):
        conv.conv_output_size(4, 5)
    with pytest.raises(ValueError, match="does not fit"):
        conv.conv_output_size(3, 6, padding=1)
    for bad in [dict(kernel=0), dict(kernel=3, stride=0), dict(kernel=3, padding=-1)]:
        with pytest.raises(ValueError, match="need size"):
            conv.conv_output_size(5, **bad)
    with pytest.raises(ValueError, match="does not fit"):  # the layer says it too
        conv.conv2d_forward(np.zeros((1, 1, 3, 3)), np.zeros((1, 1, 4, 4)), np.zeros(1))


@pytest.mark.parametrize("forward,backward", CONVS, ids=CONV_IDS)
@pytest.mark.parametrize("shape", SHAPES, ids=[f"shape{i}" for i in range(len(SHAPES))])
def test_conv2d_matches_torch_forward_and_autograd(forward, backward, shape, rng):
    N, C, H, W, Fn, KH, KW, s, p = shape
    x, w, b = rng.normal(size=(N, C, H, W)), rng.normal(size=(Fn, C, KH, KW)), rng.normal(size=Fn)
    out, cache = forward(x, w, b, stride=s, padding=p)
    xt, wt, bt = t(x), t(w), t(b)
    ot = F.conv2d(xt, wt, bt, stride=s, padding=p)
    assert_close(out, ot, name="conv2d forward", rtol=1e-12, atol=1e-12)
    dout = rng.normal(size=out.shape)
    ot.backward(torch.tensor(dout))
    dx, dw, db = backward(dout, cache)
    assert_close(dx, xt.grad, name="dx", rtol=1e-12, atol=1e-12)
    assert_close(dw, wt.grad, name="dw", rtol=1e-12, atol=1e-12)
    assert_close(db, bt.grad, name="db", rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape", SHAPES, ids=[f"shape{i}" for i in range(len(SHAPES))])
def test_loops_and_im2col_agree(shape, rng):
    N, C, H, W, Fn, KH, KW, s, p = shape
    x, w, b = rng.normal(size=(N, C, H, W)), rng.normal(size=(Fn, C, KH, KW)), rng.normal(size=Fn)
    a, cache_a = conv.conv2d_forward_naive(x, w, b, s, p)
    v, cache_v = conv.conv2d_forward(x, w, b, s, p)
    assert_close(v, a, name="im2col vs loops", rtol=1e-12, atol=1e-12)
    dout = rng.normal(size=a.shape)
    for ga, gv, name in zip(conv.conv2d_backward_naive(dout, cache_a),
                            conv.conv2d_backward(dout, cache_v), ["dx", "dw", "db"]):
        assert_close(gv, ga, name=name, rtol=1e-12, atol=1e-12)


def test_conv2d_gradient_matches_finite_differences(rng):
    x, w, b = rng.normal(size=(2, 2, 5, 5)), rng.normal(size=(3, 2, 3, 3)), rng.normal(size=3)
    dout = rng.normal(size=(2, 3, 3, 3))
    _, cache = conv.conv2d_forward(x, w, b, stride=2, padding=1)
    dx, dw, db = conv.conv2d_backward(dout, cache)
    loss = lambda x_, w_, b_: float(np.sum(conv.conv2d_forward(x_, w_, b_, 2, 1)[0] * dout))  # noqa: E731
    check_gradient(lambda v: loss(v, w, b), x, dx, name="dx")
    check_gradient(lambda v: loss(x, v, b), w, dw, name="dw")
    check_gradient(lambda v: loss(x, w, v), b, db, name="db")


def test_im2col_and_col2im_are_adjoint(rng):
    """<im2col(x), c> = <x, col2im(c)>: col2im is exactly the transpose the backward needs."""
    x = rng.normal(size=(2, 3, 7, 6))
    cols = conv.im2col(x, 3, 2, stride=2, padding=1)
    c = rng.normal(size=cols.shape)
    lhs = np.sum(cols * c)
    rhs = np.sum(x * conv.col2im(c, x.shape, 3, 2, stride=2, padding=1))
    assert_close(lhs, rhs, name="<im2col x, c> vs <x, col2im c>", rtol=1e-12)


def test_conv2d_keeps_float32():
    x, w, b = (np.ones((1, 2, 4, 4), np.float32), np.ones((3, 2, 3, 3), np.float32),
               np.zeros(3, np.float32))
    for forward in (conv.conv2d_forward, conv.conv2d_forward_naive):
        out, _ = forward(x, w, b, 1, 1)
        assert out.dtype == np.float32
        assert out[0, 0, 1, 1] == 18.0 and out[0, 0, 0, 0] == 8.0  # 2 channels x 9 or x 4 ones


POOLS = [(4, 4, 2, None), (5, 7, 2, None), (6, 6, 3, 2), (5, 5, 3, 1), (4, 6, 1, 1), (4, 4, 4, None),
         (7, 8, 2, 3)]  # the last: stride > size, windows with gaps between them


@pytest.mark.parametrize("H,W,k,s", POOLS)
def test_maxpool2d_matches_torch(H, W, k, s, rng):
    x = rng.normal(size=(2, 3, H, W))
    out, cache = conv.maxpool2d_forward(x, k, s)
    xt = t(x)
    ot = F.max_pool2d(xt, k, s)
    assert_close(out, ot, name="maxpool forward", rtol=0, atol=0)
    dout = rng.normal(size=out.shape)
    ot.backward(torch.tensor(dout))
    assert_close(conv.maxpool2d_backward(dout, cache), xt.grad, name="maxpool dx", rtol=1e-12, atol=1e-12)


def test_maxpool2d_worked_example_and_ties():
    x = np.array([[1, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]], float)[None, None]
    out, cache = conv.maxpool2d_forward(x, 2, 2)
    assert_close(out[0, 0], [[6, 8], [3, 4]], name="the lecture's example", rtol=0, atol=0)
    dx = conv.maxpool2d_backward(np.ones_like(out), cache)
    assert dx.sum() == 4 and dx[0, 0, 1, 1] == 1 and dx[0, 0, 1, 3] == 1
    # ties: torch gives the whole gradient to the first maximum of the window
    ones = np.ones((1, 1, 2, 2))
    _, cache = conv.maxpool2d_forward(ones, 2)
    xt = t(ones)
    F.max_pool2d(xt, 2).sum().backward()
    assert_close(conv.maxpool2d_backward(np.ones((1, 1, 1, 1)), cache), xt.grad, name="tie", atol=0)


@pytest.mark.parametrize("H,W,k,s", POOLS)
def test_avgpool2d_matches_torch(H, W, k, s, rng):
    x = rng.normal(size=(2, 3, H, W))
    out, cache = conv.avgpool2d_forward(x, k, s)
    xt = t(x)
    ot = F.avg_pool2d(xt, k, s)
    assert_close(out, ot, name="avgpool forward", rtol=1e-12, atol=1e-12)
    assert_close(conv.avgpool2d(x, k, s), ot, name="avgpool2d", rtol=1e-12, atol=1e-12)
    dout = rng.normal(size=out.shape)
    ot.backward(torch.tensor(dout))
    assert_close(conv.avgpool2d_backward(dout, cache), xt.grad, name="avgpool dx", rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape", [(6, 4), (5, 3, 4, 4), (2, 2, 3, 5)])
def test_batchnorm_training_matches_torch_and_updates_running_statistics(shape, rng):
    D = shape[1]
    x = rng.normal(size=shape) * 3 + 1
    gamma, beta = rng.normal(size=D), rng.normal(size=D)
    rm, rv = rng.normal(size=D), rng.uniform(0.5, 2, size=D)
    rm_t, rv_t = torch.tensor(rm), torch.tensor(rv)
    out, cache = conv.batchnorm_forward(x, gamma, beta, rm, rv, training=True, momentum=0.2)
    xt, gt, bt = t(x), t(gamma), t(beta)
    ot = F.batch_norm(xt, rm_t, rv_t, gt, bt, training=True, momentum=0.2, eps=1e-5)
    assert_close(out, ot, name="batchnorm forward", rtol=1e-10, atol=1e-12)
    assert_close(rm, rm_t, name="running mean", rtol=1e-12, atol=1e-14)
    assert_close(rv, rv_t, name="running var (unbiased)", rtol=1e-12, atol=1e-14)
    dout = rng.normal(size=shape)
    ot.backward(torch.tensor(dout))
    dx, dgamma, dbeta = conv.batchnorm_backward(dout, cache)
    assert_close(dx, xt.grad, name="dx", rtol=1e-9, atol=1e-12)
    assert_close(dgamma, gt.grad, name="dgamma", rtol=1e-10, atol=1e-12)
    assert_close(dbeta, bt.grad, name="dbeta", rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("shape", [(6, 4), (3, 2, 3, 3)])
def test_batchnorm_evaluation_uses_running_statistics(shape, rng):
    D = shape[1]
    x = rng.normal(size=shape)
    gamma, beta = rng.normal(size=D), rng.normal(size=D)
    rm, rv = rng.normal(size=D), rng.uniform(0.5, 2, size=D)
    before = rm.copy(), rv.copy()
    out, cache = conv.batchnorm_forward(x, gamma, beta, rm, rv, training=False)
    xt, gt, bt = t(x), t(gamma), t(beta)
    ot = F.batch_norm(xt, torch.tensor(rm), torch.tensor(rv), gt, bt, training=False)
    assert_close(out, ot, name="batchnorm eval forward", rtol=1e-12, atol=1e-12)
    assert_close(rm, before[0], name="running mean untouched in eval", atol=0)
    assert_close(rv, before[1], name="running var untouched in eval", atol=0)
    dout = rng.normal(size=shape)
    ot.backward(torch.tensor(dout))
    dx, dgamma, dbeta = conv.batchnorm_backward(dout, cache)
    for got, want, name in [(dx, xt.grad, "dx"), (dgamma, gt.grad, "dgamma"), (dbeta, bt.grad, "dbeta")]:
        assert_close(got, want, name=name, rtol=1e-10, atol=1e-12)
    # in evaluation one example's output does not depend on its batch-mates
    alone, _ = conv.batchnorm_forward(x[:1], gamma, beta, rm, rv, training=False)
    assert_close(alone, out[:1], name="eval output alone vs in a batch", rtol=1e-12)
    with pytest.raises(ValueError, match="running"):
        conv.batchnorm_forward(x, gamma, beta, training=False)


def test_batchnorm_gradient_matches_finite_differences(rng):
    x, gamma, beta = rng.normal(size=(5, 3)), rng.normal(size=3), rng.normal(size=3)
    dout = rng.normal(size=x.shape)
    _, cache = conv.batchnorm_forward(x, gamma, beta)
    dx, _, _ = conv.batchnorm_backward(dout, cache)
    f = lambda v: float(np.sum(conv.batchnorm_forward(v, gamma, beta)[0] * dout))  # noqa: E731
    check_gradient(f, x, dx, name="batchnorm dx")


# ----------------------------------------------------------------------------- the digits CNN

def _train_and_test(model, split, epochs, lr):
    from workbook.train import evaluate, fit

    data = lambda X, y: (torch.tensor(X, dtype=torch.float32), torch.tensor(y))  # noqa: E731
    fit(model, torch.optim.Adam(model.parameters(), lr=lr), data(split.X_train, split.y_train),
        data(split.X_val, split.y_val), epochs=epochs, progress=False, device="cpu")
    return evaluate(model, data(split.X_test, split.y_test))["accuracy"]


def test_load_digit_images_is_the_same_split_as_load_digits():
    from workbook.data import load_digit_images, load_digits

    flat, images = load_digits(), load_digit_images()
    for part in ["train", "val", "test"]:
        np.testing.assert_array_equal(getattr(flat, f"y_{part}"), getattr(images, f"y_{part}"))
        X = getattr(images, f"X_{part}")
        assert X.shape[1:] == (1, 8, 8) and X.min() >= 0 and X.max() <= 1
    # same examples: the standardised pixels of load_digits are a per-pixel affine map of these
    a, b = flat.X_train[:, 20], images.X_train[:, 0, 2, 4]
    assert abs(np.corrcoef(a, b)[0, 1] - 1) < 1e-9


def test_digits_cnn_shapes_and_size():
    from workbook.nn.cnn import CNNConfig, DigitsCNN, digits_mlp
    from workbook.nn.layers import count_parameters

    cnn, mlp = DigitsCNN(), digits_mlp()
    x = torch.zeros(3, 1, 8, 8)
    assert cnn(x).shape == (3, 10) and cnn(x.flatten(1)).shape == (3, 10)
    assert mlp(x).shape == (3, 10)
    assert count_parameters(cnn) < count_parameters(mlp) / 5
    with pytest.raises(ValueError, match="pooling"):
        DigitsCNN(CNNConfig(channels=(4, 4, 4, 4)))


def test_cnn_beats_notebook_03_mlp_on_the_same_split_in_the_ci_profile(monkeypatch):
    """The notebook's comparison at its ci sizes: same examples, epochs, optimiser and lr (notebook 03's Adam at 1e-3)."""
    from workbook.data import load_digit_images
    from workbook.nn.cnn import DigitsCNN, digits_mlp

    monkeypatch.setenv(runtime.PROFILE_ENV, "ci")
    split = load_digit_images()
    epochs = 8  # the notebook's runtime.pick(ci=8, ...)
    runtime.seed_everything(0)
    mlp_acc = _train_and_test(digits_mlp(), split, epochs, lr=1e-3)
    runtime.seed_everything(0)
    cnn_acc = _train_and_test(DigitsCNN(), split, epochs, lr=1e-3)
    assert cnn_acc > mlp_acc, f"CNN {cnn_acc:.3f} vs MLP {mlp_acc:.3f}"
