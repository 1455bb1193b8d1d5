import math

import numpy as np
import pytest
import torch

from nbutils.verify import VerificationError, check, compare, format_error, numerical_gradient, rel_error


def test_rel_error_is_zero_for_equal_and_bounded_by_one():
    x = torch.randn(5, 3, dtype=torch.float64)
    assert rel_error(x, x) == 0.0
    assert rel_error(x, -x) == pytest.approx(1.0)


def test_rel_error_is_scale_free():
    x = np.array([1.0, 2.0])
    assert rel_error(x * 1e8, (x + 1e-3) * 1e8) == pytest.approx(rel_error(x, x + 1e-3))


NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize("x, y", [([1.0, NAN], [1.0, 2.0]), ([1.0, 2.0], [1.0, NAN]), ([NAN], [NAN]),
                                  ([INF], [INF]), ([-INF, 1.0], [-INF, 1.0]), ([INF], [1e308])])
def test_rel_error_is_infinite_when_either_side_is_not_finite(x, y):
    assert rel_error(x, y) == math.inf


def test_rel_error_allows_nonfinite_only_at_matching_positions():
    assert rel_error([1.0, NAN, INF, -INF], [1.0, NAN, INF, -INF], allow_nonfinite=True) == 0.0
    assert rel_error([1.0, NAN], [1.0 + 1e-3, NAN], allow_nonfinite=True) == pytest.approx(1e-3 / 2.001)
    assert rel_error([NAN, 1.0], [1.0, NAN], allow_nonfinite=True) == math.inf  # positions differ
    assert rel_error([INF], [-INF], allow_nonfinite=True) == math.inf  # signs differ
    assert rel_error([INF], [NAN], allow_nonfinite=True) == math.inf
    assert rel_error([], []) == 0.0


@pytest.mark.parametrize("ours, reference", [([NAN], [NAN]), ([INF, 1.0], [INF, 1.0]), ([1.0], [NAN]),
                                             ([INF], [1.0])])
def test_compare_fails_on_nan_or_inf_on_either_side(ours, reference, capsys):
    with pytest.raises(VerificationError, match="NaN or inf entries"):
        compare("stable softmax", ours, reference)
    assert capsys.readouterr().out.startswith("stable softmax: NaN or inf ✗")


def test_compare_with_allow_nonfinite_needs_the_same_positions(capsys):
    compare("overflow", [INF, 1.0, NAN], [INF, 1.0, NAN], allow_nonfinite=True)
    assert capsys.readouterr().out == "overflow: max rel. error < 1e-10 ✓\n"
    with pytest.raises(VerificationError, match="NaN or inf"):
        compare("overflow", [INF, 1.0], [1.0, INF], allow_nonfinite=True)
    with pytest.raises(VerificationError, match="exceeds the tolerance"):
        compare("overflow", [INF, 1.0], [INF, 2.0], allow_nonfinite=True)


def test_rel_error_shape_mismatch_message():
    with pytest.raises(ValueError, match="same shape"):
        rel_error(np.zeros(3), np.zeros(4))


def test_rel_error_rejects_non_numbers():
    with pytest.raises(TypeError, match="x is None"):
        rel_error(None, 1.0)
    with pytest.raises(TypeError, match="must be an array"):
        rel_error({"a": 1}, 1.0)


def test_numerical_gradient_matches_closed_form():
    x = torch.tensor([[0.3, -1.2], [2.0, 0.5]], dtype=torch.float64)
    grad = numerical_gradient(lambda v: (v ** 3).sum(), x)
    assert grad.dtype == torch.float64 and grad.shape == x.shape
    assert rel_error(grad, 3 * x ** 2) < 1e-8


def test_numerical_gradient_does_not_change_its_input():
    x = torch.tensor([1.0, 2.0], dtype=torch.float64)
    numerical_gradient(lambda v: (v ** 2).sum(), x)
    assert torch.equal(x, torch.tensor([1.0, 2.0], dtype=torch.float64))


def test_numerical_gradient_validates():
    with pytest.raises(TypeError, match="f must be a function"):
        numerical_gradient(3, torch.zeros(2))
    with pytest.raises(ValueError, match="h must be positive"):
        numerical_gradient(lambda v: v.sum(), torch.zeros(2), h=0)
    with pytest.raises(ValueError, match="scalar"):
        numerical_gradient(lambda v: v, torch.zeros(2))


def test_compare_prints_one_stable_line(capsys):
    compare("softmax", torch.tensor([0.5, 0.5]), torch.tensor([0.5, 0.5 + 1e-14]))
    assert capsys.readouterr().out == "softmax: max rel. error < 1e-10 ✓\n"
    compare("gradient", np.array([1.0]), np.array([1.0 + 4e-9]), rtol=1e-7)
    assert capsys.readouterr().out == "gradient: max rel. error 2e-9 ✓\n"


def test_compare_raises_with_a_clear_message(capsys):
    with pytest.raises(VerificationError, match="exceeds the tolerance"):
        compare("bad formula", np.array([1.0]), np.array([1.1]))
    assert "✗" in capsys.readouterr().out
    with pytest.raises(VerificationError, match="shapes differ"):
        compare("shape", np.zeros(2), np.zeros(3))


def test_compare_validates_arguments():
    with pytest.raises(TypeError, match="name"):
        compare("", 1.0, 1.0)
    with pytest.raises(ValueError, match="rtol"):
        compare("x", 1.0, 1.0, rtol=-1)


def test_format_error():
    assert format_error(0.0) == "0"
    assert format_error(3.14e-16) == "3e-16"
    assert format_error(float("inf")) == "inf"


def test_check(capsys):
    check("probabilities sum to one", True)
    assert capsys.readouterr().out == "probabilities sum to one ✓\n"
    with pytest.raises(VerificationError, match="off by 0.1"):
        check("probabilities sum to one", False, "off by 0.1")
