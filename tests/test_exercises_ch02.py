"""Checkers of the maximum-likelihood chapter: the model solution passes, typical mistakes fail with their message."""
import math

import pytest
import torch

from nbutils.exercises.ch02_maximum_likelihood import ex_gaussian_nll, ex_se_softmax_grad

# ----------------------------------------------------------------------------- se_softmax_grad

def test_se_softmax_grad_model_solution_passes():
    assert ex_se_softmax_grad.check(ex_se_softmax_grad.model_solution).passed


def test_se_softmax_grad_stub_is_not_attempted():
    def se_softmax_grad(z, t):
        ...  # your code here

    assert ex_se_softmax_grad.check(se_softmax_grad).status == "not_attempted"


def test_se_softmax_grad_names_the_cross_entropy_gradient():
    result = ex_se_softmax_grad.check(lambda z, t: (torch.softmax(z, dim=-1) - t) / z.shape[0])
    assert result.status == "wrong_value" and "gradient of the cross-entropy" in result.message


def test_se_softmax_grad_names_the_forgotten_mean():
    def no_mean(z, t):
        y = torch.softmax(z, dim=-1)
        r = y - t
        return y * (r - (y * r).sum(dim=-1, keepdim=True))

    result = ex_se_softmax_grad.check(no_mean)
    assert result.status == "wrong_value" and "N times too large" in result.message


def test_se_softmax_grad_names_the_diagonal_only_jacobian():
    def diagonal_only(z, t):
        y = torch.softmax(z, dim=-1)
        return y * (1 - y) * (y - t) / z.shape[0]

    result = ex_se_softmax_grad.check(diagonal_only)
    assert result.status == "wrong_value" and "only the diagonal" in result.message


def test_se_softmax_grad_naive_exp_overflows_at_large_logits():
    def naive(z, t):
        e = torch.exp(z)
        y = e / e.sum(dim=-1, keepdim=True)
        r = y - t
        return y * (r - (y * r).sum(dim=-1, keepdim=True)) / z.shape[0]

    result = ex_se_softmax_grad.check(naive)
    assert result.status == "nonfinite" and "±1000" in result.message


def test_se_softmax_grad_refuses_the_explicit_jacobian():
    def explicit_jacobian(z, t):
        y = torch.softmax(z, dim=-1)
        jacobian = torch.diag_embed(y) - y[..., :, None] * y[..., None, :]
        return (jacobian @ (y - t)[..., None]).squeeze(-1) / z.shape[0]

    result = ex_se_softmax_grad.check(explicit_jacobian)
    assert result.status == "memory" and "diag_embed" in result.message


def test_se_softmax_grad_refuses_a_loop_over_the_batch():
    def looped(z, t):
        rows = []
        for z_n, t_n in zip(z, t, strict=True):
            y = torch.softmax(z_n, dim=-1)
            r = y - t_n
            rows.append(y * (r - (y * r).sum()))
        return torch.stack(rows) / z.shape[0]

    result = ex_se_softmax_grad.check(looped)
    assert result.status == "python_loop" and "loop" in result.message


def test_se_softmax_grad_refuses_autograd():
    def by_autograd(z, t):
        leaf = z.detach().clone().requires_grad_(True)
        cost = 0.5 * ((torch.softmax(leaf, dim=-1) - t) ** 2).sum(dim=-1).mean()
        return torch.autograd.grad(cost, leaf)[0]

    result = ex_se_softmax_grad.check(by_autograd)
    assert result.status == "forbidden" and "torch.autograd.grad" in result.message


def test_se_softmax_grad_keeps_float32():
    result = ex_se_softmax_grad.check(lambda z, t: ex_se_softmax_grad.model_solution(z.double(), t.double()))
    assert result.status == "wrong_dtype"


def test_se_softmax_grad_names_the_flipped_sign():
    def flipped(z, t):
        y = torch.softmax(z, dim=-1)
        r = t - y
        return y * (r - (y * r).sum(dim=-1, keepdim=True)) / z.shape[0]

    result = ex_se_softmax_grad.check(flipped)
    assert result.status == "wrong_value" and "sign is flipped" in result.message


def test_se_softmax_grad_written_another_way_still_passes():
    def einsum_form(z, t):
        y = torch.softmax(z, dim=-1)
        r = y - t
        return (y * r - y * torch.einsum("nk,nk->n", y, r)[:, None]) / len(z)

    assert ex_se_softmax_grad.check(einsum_form).passed


# ----------------------------------------------------------------------------- gaussian_nll

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
