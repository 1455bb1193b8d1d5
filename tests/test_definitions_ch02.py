"""Chapter 2's own definitions on float32 and float64 inputs and at ±inf, against PyTorch.

The functions are loaded from the notebook's ``definitions`` cells
(``nbutils.notebook.load_definitions``), so these tests exercise the
chapter's code itself. Each test checks three things: the values agree with
an independent torch computation, the result keeps the input's dtype, and
there is no NaN where torch's answer is finite. Where the chapter's answer
is legitimately infinite (a certain, wrong prediction), the test says so.
"""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from tensor_checks import DTYPES, assert_matches, randn

from nbutils.notebook import load_definitions


@pytest.fixture(scope="module")
def ml():
    return load_definitions("02_maximum_likelihood")


def autograd(function, z: torch.Tensor, *args) -> torch.Tensor:
    leaf = z.detach().clone().requires_grad_()
    (grad,) = torch.autograd.grad(function(leaf, *args), leaf)
    return grad


# ----------------------------------------------------------------------------- binary cross-entropy

@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_cross_entropy_matches_torch(ml, dtype):
    y = torch.sigmoid(randn(0, 6, 5, dtype=dtype, scale=3.0))
    t = (randn(1, 6, 5, dtype=dtype) > 0).to(dtype)
    assert_matches(ml.binary_cross_entropy(y, t), F.binary_cross_entropy(y, t), f"binary_cross_entropy {dtype}")
    soft = torch.full_like(y, 0.3)
    assert_matches(ml.binary_cross_entropy(y, soft), F.binary_cross_entropy(y, soft),
                   f"binary_cross_entropy, soft targets, {dtype}")


@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_cross_entropy_of_certain_right_predictions_is_zero(ml, dtype):
    # 0 log 0 = 0: torch gives exactly 0, a literal t log y gives NaN.
    y = t = torch.tensor([0.0, 1.0, 1.0, 0.0], dtype=dtype)
    assert_matches(ml.binary_cross_entropy(y, t), F.binary_cross_entropy(y, t), f"certain and right, {dtype}")
    mixed_y = torch.tensor([0.0, 1.0, 0.5], dtype=dtype)
    mixed_t = torch.tensor([0.0, 1.0, 1.0], dtype=dtype)
    assert_matches(ml.binary_cross_entropy(mixed_y, mixed_t), F.binary_cross_entropy(mixed_y, mixed_t),
                   f"certain and right next to an uncertain prediction, {dtype}")


@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_cross_entropy_of_a_certain_wrong_prediction_is_infinite(ml, dtype):
    # The true loss is -log 0 = inf. torch clamps each log at -100 and returns a
    # finite 50 here; the chapter returns the exact value, never NaN.
    y, t = torch.tensor([0.0, 0.5], dtype=dtype), torch.tensor([1.0, 1.0], dtype=dtype)
    ours = ml.binary_cross_entropy(y, t)
    assert ours.dtype == dtype and ours.isinf() and ours > 0


# ----------------------------------------------------------------------------- Gaussian NLL, fixed scale

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scale", [1e-10, 0.5, 3.0, 1e10])
def test_gaussian_nll_fixed_matches_normal_log_prob(ml, dtype, scale):
    mu, t = randn(2, 7, dtype=dtype), randn(3, 7, dtype=dtype, scale=2.0)
    reference = -torch.distributions.Normal(mu, torch.tensor(scale, dtype=dtype)).log_prob(t).mean()
    assert_matches(ml.gaussian_nll_fixed(mu, t, scale), reference, f"gaussian_nll_fixed scale={scale} {dtype}",
                   floor=1.0)


@pytest.mark.parametrize("scale", [1e-150, 1e200])
def test_gaussian_nll_fixed_at_extreme_scales(ml, scale):
    # scale**2 would under/overflow (1e-300 is fine, but 1e400 is not); the chapter never forms it.
    mu, t = randn(4, 5, dtype=torch.float64), randn(5, 5, dtype=torch.float64)
    ours = ml.gaussian_nll_fixed(mu, t, scale)
    z = (t - mu) / scale  # the closed form, term by term
    expected = (0.5 * z**2 + math.log(scale) + 0.5 * math.log(2 * math.pi)).mean()
    assert_matches(ours, expected, f"gaussian_nll_fixed scale={scale}", floor=1.0)
    assert_matches(ours, -torch.distributions.Normal(mu, scale).log_prob(t).mean(),
                   f"gaussian_nll_fixed vs torch at scale {scale}", floor=1.0)


def test_gaussian_nll_fixed_beyond_float64_is_inf_not_an_error(ml):
    # At scale 1e-200 the true NLL is about 1e400, beyond float64: inf, as torch gives.
    mu, t = randn(4, 5, dtype=torch.float64), randn(5, 5, dtype=torch.float64)
    ours = ml.gaussian_nll_fixed(mu, t, 1e-200)
    reference = -torch.distributions.Normal(mu, 1e-200).log_prob(t).mean()
    assert ours.isinf() and ours > 0 and reference.isinf() and reference > 0


@pytest.mark.parametrize("dtype", DTYPES)
def test_gaussian_nll_fixed_with_a_scale_per_example_and_infinite_targets(ml, dtype):
    mu, t = randn(6, 4, dtype=dtype), randn(7, 4, dtype=dtype)
    scale = torch.tensor([0.1, 1.0, 10.0, 100.0], dtype=dtype)
    assert_matches(ml.gaussian_nll_fixed(mu, t, scale), -torch.distributions.Normal(mu, scale).log_prob(t).mean(),
                   f"gaussian_nll_fixed, tensor scale, {dtype}", floor=1.0)
    t_inf = torch.tensor([math.inf, -math.inf, 0.0, 1.0], dtype=dtype)
    reference = -torch.distributions.Normal(mu, scale).log_prob(t_inf).mean()
    assert_matches(ml.gaussian_nll_fixed(mu, t_inf, scale), reference, f"gaussian_nll_fixed at t = ±inf, {dtype}",
                   allow_nonfinite=True)


# ----------------------------------------------------------------------------- saturation gradients

EDGE_LOGITS = [-math.inf, -1e30, -800.0, -30.0, -1.0, 0.0, 1.0, 30.0, 800.0, 1e30, math.inf]


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_gradients_match_autograd_including_infinite_logits(ml, dtype):
    z = torch.tensor(EDGE_LOGITS * 2, dtype=dtype)
    t = torch.tensor([1.0] * len(EDGE_LOGITS) + [0.0] * len(EDGE_LOGITS), dtype=dtype)
    se = autograd(lambda v: (0.5 * (torch.sigmoid(v) - t) ** 2).sum(), z)
    bce = autograd(lambda v: F.binary_cross_entropy_with_logits(v, t, reduction="sum"), z)
    assert_matches(ml.squared_error_grad(z, t), se, f"squared_error_grad {dtype}", floor=1e-30)
    assert_matches(ml.bce_grad(z, t), bce, f"bce_grad {dtype}", floor=1e-30)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_jacobian_matches_jacrev(ml, dtype):
    jacobian = torch.func.jacrev(lambda v: torch.softmax(v, dim=-1))
    z = randn(8, 5, dtype=dtype, scale=3.0)
    assert_matches(ml.softmax_jacobian(z), jacobian(z), f"softmax_jacobian {dtype}", floor=1e-6)
    batch = randn(9, 2, 3, 4, dtype=dtype, scale=3.0)
    assert_matches(ml.softmax_jacobian(batch), torch.func.vmap(torch.func.vmap(jacobian))(batch),
                   f"softmax_jacobian, a (2, 3, 4) batch, {dtype}", floor=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_jacobian_at_minus_inf_and_huge_logits(ml, dtype):
    # A class with logit -inf has probability 0: its row and column of the Jacobian are 0.
    jacobian = torch.func.jacrev(lambda v: torch.softmax(v, dim=-1))
    for z in ([0.0, -math.inf, 1.0], [1e4, -1e4, 0.0], [-math.inf, 2.0, -math.inf]):
        z = torch.tensor(z, dtype=dtype)
        assert_matches(ml.softmax_jacobian(z), jacobian(z), f"softmax_jacobian at {z.tolist()}, {dtype}",
                       floor=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_squared_error_gradient_matches_autograd(ml, dtype):
    z = randn(10, 6, 4, dtype=dtype, scale=5.0)
    z[0, 1], z[1] = -math.inf, torch.tensor([1e4, 0.0, -1e4, 3.0], dtype=dtype)
    t = F.one_hot(torch.tensor([0, 3, 2, 1, 1, 0]), 4).to(dtype)
    reference = autograd(lambda v: (0.5 * (torch.softmax(v, dim=-1) - t) ** 2).sum(), z)
    # floor 1e-3: entries far below the gradient's scale (~0.1) are sums that cancel in any implementation
    assert_matches(ml.softmax_se_grad_by_jacobian(z, t), reference, f"softmax_se_grad_by_jacobian {dtype}",
                   floor=1e-3)


# ----------------------------------------------------------------------------- mixture NLL and the network

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("spread", [1.0, 30.0])
def test_mixture_nll_matches_mixture_same_family(ml, dtype, spread):
    logit_mix = randn(11, 6, 3, dtype=dtype, scale=3.0)
    logit_mix[0, 2] = -math.inf  # a component switched off
    mu, t = randn(12, 6, 3, dtype=dtype, scale=spread), randn(13, 6, dtype=dtype, scale=spread)
    log_scale = randn(14, 6, 3, dtype=dtype, scale=0.5)
    mixture = torch.distributions.MixtureSameFamily(torch.distributions.Categorical(logits=logit_mix),
                                                    torch.distributions.Normal(mu, torch.exp(log_scale)))
    assert_matches(ml.mixture_nll(logit_mix, mu, log_scale, t), -mixture.log_prob(t).mean(),
                   f"mixture_nll spread={spread} {dtype}", floor=1.0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_mixture_nll_of_infinite_targets_is_infinite_not_nan(ml, dtype):
    logit_mix, mu, log_scale = (torch.zeros(2, 3, dtype=dtype) for _ in range(3))
    t = torch.tensor([math.inf, -math.inf], dtype=dtype)
    mixture = torch.distributions.MixtureSameFamily(torch.distributions.Categorical(logits=logit_mix),
                                                    torch.distributions.Normal(mu, torch.exp(log_scale)))
    assert_matches(ml.mixture_nll(logit_mix, mu, log_scale, t), -mixture.log_prob(t).mean(),
                   f"mixture_nll at t = ±inf, {dtype}", allow_nonfinite=True)


@pytest.mark.parametrize("dtype", DTYPES)
def test_mixture_nll_keeps_leading_dimensions(ml, dtype):
    # (models, N, M) parameters and (models, N) targets: one mean NLL per model.
    logit_mix, mu = randn(17, 3, 6, 2, dtype=dtype), randn(18, 3, 6, 2, dtype=dtype)
    log_scale, t = randn(19, 3, 6, 2, dtype=dtype, scale=0.3), randn(20, 3, 6, dtype=dtype)
    mixture = torch.distributions.MixtureSameFamily(torch.distributions.Categorical(logits=logit_mix),
                                                    torch.distributions.Normal(mu, torch.exp(log_scale)))
    assert_matches(ml.mixture_nll(logit_mix, mu, log_scale, t), -mixture.log_prob(t).mean(dim=-1),
                   f"mixture_nll with a leading dimension, {dtype}", floor=1.0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_networks_keep_the_dtype_and_models_are_independent(ml, dtype):
    torch.manual_seed(0)
    network = ml.MixtureDensityNetwork(n_components=4, hidden=8, n_models=2).to(dtype)
    x = randn(15, 2, 5, dtype=dtype)
    outputs = network(x)
    assert [tuple(o.shape) for o in outputs] == [(2, 5, 4)] * 3
    assert all(o.dtype == dtype for o in outputs)
    loss = ml.mixture_nll(*outputs, randn(16, 2, 5, dtype=dtype))
    assert loss.dtype == dtype and loss.shape == (2,) and torch.isfinite(loss).all()
    # The second model's loss does not depend on the first model's parameters.
    loss[1].backward()
    assert all(p.grad[0].abs().max() == 0 and p.grad[1].abs().max() > 0 for p in network.parameters())
    single = ml.TanhNetwork(n_outputs=1, hidden=8).to(dtype)
    assert tuple(single(randn(21, 7, dtype=dtype)).shape) == (1, 7, 1)
