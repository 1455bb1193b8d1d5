"""Checkers of the maximum-likelihood chapter: the model solution passes, typical mistakes fail."""
import math

import pytest
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
    summed = ex_bce_with_logits.check(lambda z, t: per_entry(z, t).sum())
    assert summed.status == "wrong_value" and "you summed the losses" in summed.message
    unreduced = ex_bce_with_logits.check(per_entry)
    assert unreduced.status == "wrong_shape" and "a reduction is missing" in unreduced.message
    negated = ex_bce_with_logits.check(lambda z, t: -per_entry(z, t).mean())
    assert "the sign is flipped" in negated.message
    swapped = ex_bce_with_logits.check(lambda z, t: per_entry(z, 1 - t).mean())
    assert "t and 1 - t are swapped" in swapped.message
    no_max = ex_bce_with_logits.check(lambda z, t: (-z * t + torch.log1p(torch.exp(-z.abs()))).mean())
    assert "max(z, 0) is missing" in no_max.message
    # the sign slip: sigmoid(z) = 1 / (1 + exp(z)); no named mistake, but wrong values
    assert ex_bce_with_logits.check(lambda z, t: per_entry(-z, t).mean()).status == "wrong_value"


def per_entry(z, t):
    return z.clamp(min=0) - z * t + torch.log1p(torch.exp(-z.abs()))


def test_bce_with_logits_keeps_the_input_dtype():
    result = ex_bce_with_logits.check(lambda z, t: per_entry(z.double(), t.double()).mean())
    assert result.status == "wrong_dtype" and "'float32 input'" in result.message
    assert "expected torch.float32" in result.message


def test_bce_with_logits_written_another_way_still_passes():
    def with_logsigmoid(z, t):
        return -(t * F.logsigmoid(z) + (1 - t) * F.logsigmoid(-z)).mean()

    assert ex_bce_with_logits.check(with_logsigmoid).passed


def test_bce_with_logits_built_in_is_refused():
    result = ex_bce_with_logits.check(lambda z, t: torch.nn.BCEWithLogitsLoss()(z, t))
    assert result.status == "forbidden"
    assert "calls torch.nn.functional.binary_cross_entropy_with_logits, the built-in" in result.message


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

    result = ex_gaussian_nll.check(no_constant)
    assert result.status == "wrong_value" and "the constant ½ log 2π is missing" in result.message

    def mse_only(mu, log_var, t):
        return ((t - mu) ** 2).mean()

    assert ex_gaussian_nll.check(mse_only).status == "wrong_value"

    def stub(mu, log_var, t):
        raise NotImplementedError

    assert ex_gaussian_nll.check(stub).status == "not_attempted"


def _nll_terms(mu, log_var, t):
    return log_var, (t - mu) ** 2 * torch.exp(-log_var), math.log(2 * math.pi)


@pytest.mark.parametrize("answer, named", [
    (lambda mu, s, t: sum(_nll_terms(mu, s, t)).mean(), "the ½ in front of the negative log-density is missing"),
    (lambda mu, s, t: 0.5 * sum(_nll_terms(mu, s, t)).sum(), "you summed over the entries"),
    (lambda mu, s, t: (s + 0.5 * _nll_terms(mu, s, t)[1] + 0.5 * math.log(2 * math.pi)).mean(),
     "the log-variance term lacks its ½"),
    (lambda mu, s, t: (0.5 * s + _nll_terms(mu, s, t)[1] + 0.5 * math.log(2 * math.pi)).mean(),
     "the squared-error term lacks its ½"),
    (lambda mu, s, t: (0.5 * s + 0.5 * _nll_terms(mu, s, t)[1] + math.log(2 * math.pi)).mean(),
     "the constant is ½ log 2π, not log 2π"),
    (lambda mu, s, t: (s + 0.5 * (t - mu) ** 2 * torch.exp(-2 * s) + 0.5 * math.log(2 * math.pi)).mean(),
     "you used exp(log_var) as the standard deviation"),
])
def test_gaussian_nll_named_mistakes(answer, named):
    result = ex_gaussian_nll.check(answer)
    assert result.status == "wrong_value" and named in result.message, result.message


def test_gaussian_nll_keeps_the_input_dtype_and_refuses_the_reference():
    result = ex_gaussian_nll.check(lambda mu, s, t: ex_gaussian_nll.model_solution(mu.double(), s.double(),
                                                                                  t.double()))
    assert result.status == "wrong_dtype" and "'float32 input'" in result.message
    by_distribution = ex_gaussian_nll.check(
        lambda mu, s, t: -torch.distributions.Normal(mu, torch.exp(0.5 * s)).log_prob(t).mean())
    assert by_distribution.status == "forbidden" and "torch.distributions.Normal.log_prob" in by_distribution.message


def test_gaussian_nll_written_another_way_still_passes():
    assert ex_gaussian_nll.check(lambda mu, s, t: 0.5 * (s + (t - mu).square() * (-s).exp()).mean()
                                 + 0.5 * math.log(2 * math.pi)).passed
