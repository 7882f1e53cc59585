"""Notebook 04 ``convolutions``: every graded cell re-checked on new inputs outside the
kernel, against ``workbook.numpy_nn.conv`` (stubbed out while the answers run). The
in-notebook checks that a ValueError is raised for a kernel that does not fit stay in the
notebook only: verification compares values."""

import numpy as np

from workbook import checks
from workbook.numpy_nn import conv as ref
from workbook_grading.verify import Plan, Verifier

ASSIGNMENT = "04_convolutions"
VERIFIER = Verifier({}, references=tuple(f"workbook.numpy_nn.conv:{name}" for name in (
    "conv_output_size", "pad2d", "im2col", "col2im", "conv2d_forward_naive",
    "conv2d_backward_naive", "conv2d_forward", "conv2d_backward", "maxpool2d_forward",
    "maxpool2d_backward", "avgpool2d_forward", "avgpool2d_backward", "avgpool2d",
    "batchnorm_forward", "batchnorm_backward")))
cell = VERIFIER.cell
TIGHT = {"rtol": 1e-10, "atol": 1e-12}  # float64 in, float64 out


def _conv_case(p: Plan):
    """x, w, b, stride, padding of a random layer whose kernel fits."""
    N, C, F = (int(v) for v in p.rng.integers(1, 4, size=3))
    kh, kw = (int(v) for v in p.rng.integers(1, 4, size=2))
    stride, padding = int(p.rng.integers(1, 3)), int(p.rng.integers(0, 2))
    H, W = (int(v) for v in p.rng.integers(max(kh, kw), 8, size=2))
    x, w, b = p.rng.normal(size=(N, C, H, W)), p.rng.normal(size=(F, C, kh, kw)), p.rng.normal(size=F)
    return x, w, b, stride, padding


def _tuple(n: int, name: str, *expected, **tolerance):
    def check(got, *_):
        if not isinstance(got, (tuple, list)) or len(got) != n:
            raise AssertionError(f"{name}: expected a tuple of {n}")
        for i, (g, e) in enumerate(zip(got, expected)):
            checks.assert_close(g, e, name=f"{name}, item {i + 1}", **tolerance)
    return check


@cell("test-correlate")
def _correlate(p: Plan):
    for _ in range(2):
        H, W = (int(v) for v in p.rng.integers(3, 9, size=2))
        kh, kw = int(p.rng.integers(1, H + 1)), int(p.rng.integers(1, W + 1))
        image, kernel = p.rng.normal(size=(H, W)), p.rng.normal(size=(kh, kw))
        want = ref.conv2d_forward(image[None, None], kernel[None, None], np.zeros(1))[0][0, 0]
        p.call("correlate2d", image, kernel).close(want, f"correlate2d, image {(H, W)}", **TIGHT)


@cell("test-output-size")
def _output_size(p: Plan):
    for _ in range(6):
        n, k = int(p.rng.integers(1, 15)), int(p.rng.integers(1, 8))
        s, pad = int(p.rng.integers(1, 4)), int(p.rng.integers(0, 3))
        if k > n + 2 * pad:
            k = n + 2 * pad
        p.call("conv_output_size", n, k, s, pad).equal(ref.conv_output_size(n, k, s, pad),
                                                       "conv_output_size")


@cell("test-pad")
def _pad(p: Plan):
    x, pad = p.rng.normal(size=(2, 3, 4, 5)), int(p.rng.integers(1, 4))
    p.call("pad2d", x, pad).close(np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))),
                                  f"pad2d(x, {pad})")


@cell("test-conv-loops")
def _conv_loops(p: Plan):
    x, w, b, s, pad = _conv_case(p)
    p.call("conv2d_loops", x, w, b, stride=s, padding=pad).close(
        ref.conv2d_forward(x, w, b, s, pad)[0], "conv2d_loops", **TIGHT)


@cell("test-im2col")
def _im2col(p: Plan):
    x, kh, kw, s, pad = p.rng.normal(size=(2, 3, 7, 6)), 3, 2, 1, int(p.rng.integers(0, 2))
    p.call("im2col", x, kh, kw, s, pad).close(ref.im2col(x, kh, kw, s, pad), "im2col")


@cell("test-conv-im2col")
def _conv_im2col(p: Plan):
    x, w, b, s, pad = _conv_case(p)
    p.call("conv2d_im2col", x, w, b, stride=s, padding=pad).close(
        ref.conv2d_forward(x, w, b, s, pad)[0], "conv2d_im2col", **TIGHT)
    x32, w32, b32 = (a.astype(np.float32) for a in (x, w, b))

    def float32(got, *_):
        if getattr(got, "dtype", None) != np.float32:
            raise AssertionError("conv2d_im2col on float32 inputs: the result is not float32")
        checks.assert_close(got, ref.conv2d_forward(x, w, b, s, pad)[0], rtol=1e-4, atol=1e-4,
                            name="conv2d_im2col in float32")
    p.call("conv2d_im2col", x32, w32, b32, stride=s, padding=pad).then(float32)


@cell("test-conv-backward")
def _conv_backward(p: Plan):
    x, w, b, s, pad = _conv_case(p)
    out, cache = ref.conv2d_forward(x, w, b, s, pad)
    dout = p.rng.normal(size=out.shape)
    p.call("conv2d_backward", dout, x, w, stride=s, padding=pad).then(
        _tuple(3, "conv2d_backward", *ref.conv2d_backward(dout, cache), **TIGHT))


def _pool_cases(p: Plan):
    """(x, size, stride): non-overlapping windows (the default stride) and overlapping ones."""
    out = []
    for size, stride in ((2, None), (3, int(p.rng.integers(1, 3)))):
        H, W = (int(v) for v in p.rng.integers(size + 2, 9, size=2))
        out.append((p.rng.normal(size=(2, 2, H, W)), size, stride))
    return out


@cell("test-maxpool")
def _maxpool(p: Plan):
    for x, size, stride in _pool_cases(p):
        p.call("maxpool2d", x, size, stride).close(ref.maxpool2d_forward(x, size, stride)[0],
                                                   f"maxpool2d, size {size}, stride {stride}")


@cell("test-maxpool-backward")
def _maxpool_backward(p: Plan):
    for x, size, stride in _pool_cases(p):
        out, cache = ref.maxpool2d_forward(x, size, stride)
        dout = p.rng.normal(size=out.shape)
        p.call("maxpool2d_backward", dout, x, size, stride).close(
            ref.maxpool2d_backward(dout, cache),
            f"maxpool2d_backward, size {size}, stride {stride}", **TIGHT)


@cell("test-avgpool")
def _avgpool(p: Plan):
    for x, size, stride in _pool_cases(p):
        p.call("avgpool2d", x, size, stride).close(
            ref.avgpool2d(x, size, stride), f"avgpool2d, size {size}, stride {stride}", **TIGHT)


def _bn_cases(p: Plan):
    """(x, gamma, beta) for a batch of vectors (N, D) and of images (N, C, H, W)."""
    return [(p.rng.normal(size=shape) * 2 + 1, p.rng.normal(size=shape[1]),
             p.rng.normal(size=shape[1]))
            for shape in ((int(p.rng.integers(3, 9)), 4), (3, 2, 3, 4))]


@cell("test-batchnorm")
def _batchnorm(p: Plan):
    for x, gamma, beta in _bn_cases(p):
        D = gamma.shape[0]
        want = ref.batchnorm_forward(x, gamma, beta, training=True)[0]
        p.call("batchnorm_forward", x, gamma, beta, np.zeros(D), np.ones(D),
               training=True).close(want, f"batchnorm_forward(training=True), x {x.shape}",
                                    rtol=1e-8, atol=1e-10)


@cell("test-batchnorm-running")
def _batchnorm_running(p: Plan):
    x, gamma, beta = _bn_cases(p)[0]
    D = gamma.shape[0]
    rm, rv = p.rng.normal(size=D), p.rng.uniform(0.5, 2.0, size=D)
    momentum = float(p.rng.uniform(0.05, 0.5))
    rm_ref, rv_ref = rm.copy(), rv.copy()
    want = ref.batchnorm_forward(x, gamma, beta, rm_ref, rv_ref, training=True,
                                 momentum=momentum)[0]
    call = p.call("batchnorm_forward", x, gamma, beta, rm, rv, training=True, momentum=momentum)
    call.check_inputs = True  # the running statistics are updated in place

    def running(got, after):
        checks.assert_close(got, want, rtol=1e-8, atol=1e-10, name="training output")
        checks.assert_close(after[3], rm_ref, rtol=1e-10, atol=1e-12,
                            name="running_mean after a training step")
        checks.assert_close(after[4], rv_ref, rtol=1e-10, atol=1e-12,
                            name="running_var after a training step")
    call.then(running)
    p.call("batchnorm_forward", x, gamma, beta, rm_ref, rv_ref, training=False).close(
        ref.batchnorm_forward(x, gamma, beta, rm_ref.copy(), rv_ref.copy(), training=False)[0],
        "evaluation output", rtol=1e-8, atol=1e-10).unchanged_inputs("batchnorm_forward")


@cell("test-batchnorm-backward")
def _batchnorm_backward(p: Plan):
    for x, gamma, beta in _bn_cases(p):
        out, cache = ref.batchnorm_forward(x, gamma, beta, training=True)
        dout = p.rng.normal(size=out.shape)
        p.call("batchnorm_backward", dout, x, gamma).then(
            _tuple(3, f"batchnorm_backward, x {x.shape}", *ref.batchnorm_backward(dout, cache),
                   rtol=1e-7, atol=1e-9))


@cell("test-shift")
def _shift(p: Plan):
    x = p.rng.normal(size=(2, 2, 5, 6))
    dy, dx = (int(v) for v in p.rng.integers(-4, 5, size=2))
    want = np.zeros_like(x)
    for i in range(5):
        for j in range(6):
            if 0 <= i - dy < 5 and 0 <= j - dx < 6:
                want[..., i, j] = x[..., i - dy, j - dx]
    p.call("shift_images", x, dy, dx).close(want, f"shift_images(x, {dy}, {dx})")


@cell("test-conv-cost")
def _cost(p: Plan):
    for _ in range(3):
        H, W = (int(v) for v in p.rng.integers(4, 30, size=2))
        c_in, c_out = (int(v) for v in p.rng.integers(1, 9, size=2))
        k, s, pad = int(p.rng.integers(1, 4)), int(p.rng.integers(1, 3)), int(p.rng.integers(0, 2))
        want = (ref.conv_output_size(H, k, s, pad) * ref.conv_output_size(W, k, s, pad)
                * c_out * c_in * k * k)
        p.call("conv2d_macs", H, W, c_in, c_out, k, s, pad).equal(want, "conv2d_macs")
