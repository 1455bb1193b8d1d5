"""Checkers of the maximum-likelihood chapter: the model solution passes, typical mistakes fail."""
import math

import torch
import torch.nn.functional as F

from nbutils.exercises.ch02_maximum_likelihood import ex_bce_with_logits, ex_gaussian_nll


def test_bce_with_logits_model_solution_passes():
    assert ex_bce_with_logits.check(ex_bce_with_logits.model_solution).passed


def test_bce_with_logits_typical_mistakes():
    def naive(z, t):
        p = torch.sigmoid(z)
        return (-t * torch.log(p) - (1 - t) * torch.log(1 - p)).mean()

    result = ex_bce_with_logits.check(naive)
    assert result.status == "nonfinite" and "±800" in result.message
    assert ex_bce_with_logits.check(lambda z, t: F.binary_cross_entropy_with_logits(z, t, reduction="sum")).status \
        == "wrong_value"
    assert ex_bce_with_logits.check(lambda z, t: F.binary_cross_entropy_with_logits(z, t, reduction="none")).status \
        == "wrong_shape"
    # the sign slip: sigmoid(z) = 1 / (1 + exp(z))
    assert ex_bce_with_logits.check(lambda z, t: F.binary_cross_entropy_with_logits(-z, t)).status == "wrong_value"


def test_gaussian_nll_model_solution_passes():
    assert ex_gaussian_nll.check(ex_gaussian_nll.model_solution).passed


def test_gaussian_nll_typical_mistakes():
    def divides_by_variance(mu, log_var, t):
        var = torch.exp(log_var)
        return (0.5 * torch.log(2 * math.pi * var) + (t - mu) ** 2 / (2 * var)).mean()

    result = ex_gaussian_nll.check(divides_by_variance)
    assert result.status == "nonfinite" and "exp(-log_var)" in result.message

    def no_constant(mu, log_var, t):
        return 0.5 * (log_var + (t - mu) ** 2 * torch.exp(-log_var)).mean()

    assert ex_gaussian_nll.check(no_constant).status == "wrong_value"

    def mse_only(mu, log_var, t):
        return ((t - mu) ** 2).mean()

    assert ex_gaussian_nll.check(mse_only).status == "wrong_value"

    def stub(mu, log_var, t):
        raise NotImplementedError

    assert ex_gaussian_nll.check(stub).status == "not_attempted"
