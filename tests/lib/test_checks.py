"""The checks that test cells call: they fail on wrong answers, explain why, never touch stderr."""

import numpy as np
import pytest
import torch

from workbook import checks


def failure(fn, *args, **kwargs) -> str:
    with pytest.raises(AssertionError) as err:
        fn(*args, **kwargs)
    return str(err.value)


def test_close_values_pass_for_arrays_tensors_lists_and_scalars():
    checks.assert_close(np.array([1.0, 2.0]), [1.0, 2.0 + 1e-9])
    checks.assert_close(torch.tensor([1.0, 2.0]), np.array([1.0, 2.0]))
    checks.assert_close(0.5, np.float64(0.5))
    checks.assert_close(np.array([[3.0]]), 3.0)  # one value in any shape


def test_wrong_row_is_named_with_values_side_by_side():
    expected = np.array([[0.09, 0.245, 0.665]] * 4)
    got = expected.copy()
    got[2] = 1 / 3
    msg = failure(checks.assert_close, got, expected, name="softmax", hint="subtract the max")
    assert "softmax: wrong values in row 2 of 4" in msg
    assert "expected [0.09  0.245 0.665]" in msg
    assert "got      [0.333 0.333 0.333]" in msg
    assert "max abs error 0.332 at [2, 2]" in msg
    assert "hint: subtract the max" in msg


def test_shape_mismatch_suggests_a_transpose():
    msg = failure(checks.assert_close, np.zeros((3, 4)), np.zeros((4, 3)), name="dW")
    assert "dW: wrong shape" in msg and "expected (4, 3)" in msg and "got      (3, 4)" in msg
    assert "transpose" in msg


def test_none_and_tuples_get_their_own_explanations():
    assert "return" in failure(checks.assert_close, None, [1.0])
    assert "tuple" in failure(checks.assert_close, (np.zeros(2), {}), np.zeros(2))


def test_relative_error_against_zero_is_not_a_huge_number():
    msg = failure(checks.assert_close, [0.5], [0.0])
    assert "n/a (expected 0)" in msg and "e+300" not in msg


def test_nan_is_reported_with_its_first_index():
    msg = failure(checks.assert_close, [1.0, np.nan, np.nan], [1.0, 2.0, 3.0], name="p")
    assert "contains NaN (2 of 3 values), first at index (1,)" in msg


def test_matching_infinities_and_nans_compare_equal():
    checks.assert_close([np.inf, -np.inf, np.nan], [np.inf, -np.inf, np.nan])
    failure(checks.assert_close, [np.inf], [-np.inf])


def test_assert_equal_is_exact_and_assert_shape_checks_shapes():
    checks.assert_equal(np.array([1, 2, 3]), [1, 2, 3])
    assert "1 of 3" in failure(checks.assert_equal, [1, 2, 4], [1, 2, 3])
    checks.assert_shape(np.zeros((2, 5)), (2, 5))
    assert "expected (2, 5)" in failure(checks.assert_shape, np.zeros(10), (2, 5))


def test_check_gradient_accepts_a_right_gradient_and_names_the_worst_entry_of_a_wrong_one():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    f = lambda v: float(np.sum(v**3))  # noqa: E731
    assert checks.check_gradient(f, x, 3 * x**2) < 1e-8
    wrong = 3 * x**2
    wrong[1, 0] = 0.0
    msg = failure(checks.check_gradient, f, x, wrong, name="dx")
    assert "dx: does not match centred finite differences" in msg
    assert "worst entry [1, 0]: analytic 0, numerical 0.75" in msg


def test_check_gradient_rejects_a_gradient_of_the_wrong_shape():
    msg = failure(checks.check_gradient, np.sum, np.zeros((2, 3)), np.zeros(6))
    assert "wrong shape" in msg


def test_checks_never_write_to_stderr(capfd):
    """nbgrader scores a test cell that writes to stderr as failed, even when it is right."""
    with np.errstate(all="warn"):
        for args in [([np.inf, 1e308], [1e308, np.inf]), ([0.0], [0.0]), ([np.nan], [1.0])]:
            try:
                checks.assert_close(*args)
            except AssertionError:
                pass
        try:
            checks.check_gradient(lambda v: float(np.sum(np.log(v))), np.array([0.0, 1.0]),
                                  np.array([np.inf, 1.0]))
        except AssertionError:
            pass
    out, err = capfd.readouterr()
    assert err == "" and out == ""
