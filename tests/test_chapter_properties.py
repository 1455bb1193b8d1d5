"""Property tests of the chapters' own code, loaded from the notebooks, on inputs the chapters never show.

Each chapter's from-scratch functions (its cells tagged ``definitions``) are
run by ``nbutils.notebook.load_definitions`` and compared with PyTorch on
shapes and values drawn by hypothesis: random batch and class sizes, logits
up to ±1e4, variances over many orders of magnitude, ill-placed targets. A
chapter named here whose notebook is missing (renamed or removed) fails, so
its property tests can never be skipped without anyone noticing.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from nbutils.notebook import CHAPTERS, load_definitions
from nbutils.verify import rel_error

# Derandomised: the same examples on every machine and run, so CI is repeatable.
repeatable = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                      suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def chapter(stem: str):
    """The chapter's definitions; a missing notebook fails the tests that use it."""
    assert (CHAPTERS / f"{stem}.ipynb").is_file(), f"chapters/{stem}.ipynb is missing: renamed? rename it here too"
    return load_definitions(stem)


def assert_close(ours, reference, rtol: float, what: str, floor: float = 1e-3) -> None:
    """Max element-wise relative error at most ``rtol``; entries below ``floor`` are compared absolutely.

    Values formed by cancellation (a loss or a gradient that happens to be
    near 0, 1 - y^2 at y ~ 1, log(1 + 1e-13)) have a large *relative*
    round-off in any implementation, so entries far below the values' scale
    are held to ``rtol * floor`` in absolute terms. Tail checks (sigmoid of
    -700) pass a tiny floor to demand relative accuracy there (down to
    1e-290: subnormal results keep only a few digits in any implementation).
    """
    err = rel_error(ours, reference, eps=floor)
    assert err <= rtol, f"{what}: max rel. error {err:.1e} > {rtol:.0e}"


def tensors(draw, shape, low=-1.0, high=1.0) -> torch.Tensor:
    """A float64 tensor of ``shape`` with entries in [low, high] chosen by hypothesis (ties, zeros, extremes)."""
    values = draw(arrays(np.float64, shape, elements=st.floats(low, high, allow_nan=False, allow_infinity=False)))
    return torch.from_numpy(values)


def softplus_reference(z: torch.Tensor) -> torch.Tensor:
    """log(1 + e^z) in closed form, accurate for any float64 z (torch's softplus switches to z above 20)."""
    return torch.where(z > 30, z + torch.exp(-z.clamp(min=30)), torch.log1p(torch.exp(z.clamp(max=30))))


def seeded(seed: int, *shape: int, scale: float = 1.0) -> torch.Tensor:
    return scale * torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


LOGIT_SCALES = st.sampled_from([1.0, 30.0, 1e3, 1e4])
SIZES = st.integers(1, 7)
SEEDS = st.integers(0, 2 ** 16)


# --------------------------------------------------------------------------- chapter 02: maximum likelihood

@pytest.fixture(scope="module")
def ml():
    return chapter("02_maximum_likelihood")


@repeatable
@given(data=st.data(), k=st.integers(1, 6), scale=st.sampled_from([1.0, 20.0]))
def test_ml_softmax_jacobian_matches_jacrev(ml, data, k, scale):
    z = tensors(data.draw, (k,)) * scale
    assert_close(ml.softmax_jacobian(z), torch.func.jacrev(lambda v: torch.softmax(v, 0))(z), 1e-10,
                 "softmax_jacobian")


@repeatable
@given(data=st.data(), n=SIZES)
def test_ml_bce_and_its_gradients_match_torch(ml, data, n):
    z = tensors(data.draw, (n,), -30.0, 30.0)
    t = tensors(data.draw, (n,), 0.0, 1.0)
    p = torch.sigmoid(z).clamp(1e-12, 1 - 1e-12)
    # From probabilities, as the chapter derives it: log(1 - p) near p = 1 costs digits (the chapter's point).
    assert_close(ml.binary_cross_entropy(p, t), F.binary_cross_entropy(p, t), 1e-8, "binary_cross_entropy")
    leaf = z.clone().requires_grad_()
    F.binary_cross_entropy_with_logits(leaf, t, reduction="sum").backward()
    assert_close(ml.bce_grad(z, t), leaf.grad, 1e-12, "bce_grad")
    leaf.grad = None
    (0.5 * (torch.sigmoid(leaf) - t) ** 2).sum().backward()
    assert_close(ml.squared_error_grad(z, t), leaf.grad, 1e-10, "squared_error_grad")


@repeatable
@given(seed=SEEDS, n=SIZES, sigma=st.floats(1e-3, 1e3))
def test_ml_gaussian_nll_matches_torch_distributions(ml, seed, n, sigma):
    mu, t = seeded(seed, n), seeded(seed + 1, n, scale=5.0)
    assert_close(ml.gaussian_nll_fixed(mu, t, sigma), -torch.distributions.Normal(mu, sigma).log_prob(t).mean(),
                 1e-10, "gaussian_nll_fixed", floor=1.0)


@repeatable
@given(seed=SEEDS, n=SIZES, m=st.integers(1, 5), log_sigma_scale=st.sampled_from([0.1, 1.0, 3.0]),
       logit_scale=LOGIT_SCALES, spread=st.sampled_from([1.0, 10.0]))
def test_ml_mixture_nll_matches_mixture_same_family(ml, seed, n, m, log_sigma_scale, logit_scale, spread):
    logit_pi = seeded(seed, n, m, scale=logit_scale)
    mu = seeded(seed + 1, n, m, scale=spread)
    log_sigma = seeded(seed + 2, n, m, scale=log_sigma_scale).clamp(-6, 6)
    t = seeded(seed + 3, n, scale=spread)
    mixture = torch.distributions.MixtureSameFamily(torch.distributions.Categorical(logits=logit_pi),
                                                    torch.distributions.Normal(mu, torch.exp(log_sigma)))
    ours = ml.mixture_nll(logit_pi, mu, log_sigma, t)
    assert torch.isfinite(ours)
    assert_close(ours, -mixture.log_prob(t).mean(), 1e-10, "mixture_nll", floor=1.0)


# --------------------------------------------------------------------------- chapter 01: linear models

@pytest.fixture(scope="module")
def lin():
    return chapter("01_linear_models")


@repeatable
@given(data=st.data(), n=SIZES, k=SIZES, scale=LOGIT_SCALES)
def test_lin_softmax_matches_torch_at_any_scale(lin, data, n, k, scale):
    z = tensors(data.draw, (n, k)) * scale
    assert_close(lin.softmax(z), torch.softmax(z, dim=1), 1e-12, "softmax", floor=1e-12)
    assert torch.isfinite(lin.softmax(z)).all()


def regression_problem(seed: int, n_extra: int, d: int):
    X = torch.cat([torch.ones(d + n_extra + 1, 1, dtype=torch.float64), seeded(seed, d + n_extra + 1, d)], dim=1)
    return X, seeded(seed + 1, X.shape[0])


@repeatable
@given(seed=SEEDS, n_extra=st.integers(1, 20), d=st.integers(1, 5), lam=st.floats(1e-4, 10.0))
def test_lin_cost_gradient_and_solvers_match_torch(lin, seed, n_extra, d, lam):
    X, t = regression_problem(seed, n_extra, d)
    w = seeded(seed + 2, X.shape[1]).requires_grad_()
    cost = 0.5 * F.mse_loss(X @ w, t)
    cost.backward()
    assert_close(lin.linreg_cost(X, w.detach(), t), cost.detach(), 1e-12, "linreg_cost")
    assert_close(lin.linreg_grad(X, w.detach(), t), w.grad, 1e-10, "linreg_grad")
    w_star = torch.linalg.lstsq(X, t.unsqueeze(1)).solution.squeeze(1)
    assert_close(lin.fit_qr(X, t), w_star, 1e-8, "fit_qr")
    assert_close(lin.fit_cholesky(X, t), w_star, 1e-6, "fit_cholesky")
    w.grad = None
    ridge = 0.5 * F.mse_loss(X @ w, t) + lam / 2 * (w[1:] @ w[1:])
    ridge.backward()
    assert_close(lin.ridge_grad(X, w.detach(), t, lam), w.grad, 1e-10, "ridge_grad")
    assert lin.ridge_grad(X, lin.fit_ridge(X, t, lam), t, lam).abs().max() < 1e-8, "fit_ridge is not a minimum"


@repeatable
@given(data=st.data(), n=SIZES, d=st.integers(1, 4), scale=LOGIT_SCALES)
def test_lin_logistic_cost_is_finite_and_matches_torch_at_large_logits(lin, data, n, d, scale):
    X = tensors(data.draw, (n, d)) * scale
    w = tensors(data.draw, (d,))
    t = torch.tensor(data.draw(st.lists(st.sampled_from([0.0, 1.0]), min_size=n, max_size=n)), dtype=torch.float64)
    assert_close(lin.softplus(X @ w), softplus_reference(X @ w), 1e-12, "softplus", floor=1e-290)
    assert_close(lin.logistic_cost(X, w, t), F.binary_cross_entropy_with_logits(X @ w, t), 1e-10, "logistic_cost",
                 floor=1.0)
    leaf = w.clone().requires_grad_()
    F.binary_cross_entropy_with_logits(X @ leaf, t).backward()
    assert_close(lin.logistic_grad(X, w, t), leaf.grad, 1e-10, "logistic_grad")


@repeatable
@given(seed=SEEDS, n=SIZES, d=st.integers(1, 5), k=st.integers(2, 6), scale=LOGIT_SCALES)
def test_lin_softmax_regression_cost_and_grads_match_autograd(lin, seed, n, d, k, scale):
    X = seeded(seed, n, d, scale=scale)
    y = torch.randint(0, k, (n,), generator=torch.Generator().manual_seed(seed))
    W, b = seeded(seed + 1, k, d).requires_grad_(), seeded(seed + 2, k).requires_grad_()
    loss = F.cross_entropy(X @ W.T + b, y)
    loss.backward()
    T = lin.one_hot(y, k)
    assert_close(lin.softmax(X @ W.detach().T + b.detach()), torch.softmax(X @ W.T + b, 1).detach(), 1e-12, "softmax",
                 floor=1e-12)
    assert_close(lin.softmax_regression_cost(X, T, W.detach(), b.detach()), loss.detach(), 1e-10,
                 "softmax_regression_cost", floor=1.0)
    grad_W, grad_b = lin.softmax_regression_grads(X, T, W.detach(), b.detach())
    assert_close(grad_W, W.grad, 1e-10, "softmax_regression_grads (W)")
    assert_close(grad_b, b.grad, 1e-10, "softmax_regression_grads (b)")


@repeatable
@given(seed=SEEDS, n=st.integers(0, 40), k=st.integers(1, 6))
def test_lin_confusion_matrix_counts_every_pair(lin, seed, n, k):
    generator = torch.Generator().manual_seed(seed)
    y_true, y_pred = torch.randint(0, k, (n,), generator=generator), torch.randint(0, k, (n,), generator=generator)
    counts = lin.confusion_matrix(y_true, y_pred, k)
    expected = torch.zeros(k, k, dtype=counts.dtype)
    for i, j in zip(y_true.tolist(), y_pred.tolist(), strict=True):
        expected[i, j] += 1
    assert torch.equal(counts, expected)


# --------------------------------------------------------------------------- chapter 03: MLPs and activations

@pytest.fixture(scope="module")
def mlp():
    return chapter("03_mlp_activations")


@repeatable
@given(data=st.data(), n=SIZES, alpha=st.floats(-1.0, 1.0))
def test_mlp_activations_match_torch_over_a_wide_range(mlp, data, n, alpha):
    z = tensors(data.draw, (n,), -700.0, 700.0)
    assert_close(mlp.sigmoid(z), torch.sigmoid(z), 1e-14, "sigmoid", floor=1e-290)
    assert_close(mlp.tanh(z), torch.tanh(z), 1e-14, "tanh", floor=1e-290)
    assert_close(mlp.softplus(z), softplus_reference(z), 1e-14, "softplus", floor=1e-290)
    assert_close(mlp.rectifier(z, alpha), torch.where(z >= 0, z, alpha * z), 1e-15, "rectifier", floor=1e-290)


@repeatable
@given(data=st.data(), n=SIZES)
def test_mlp_activation_derivatives_match_autograd(mlp, data, n):
    z = tensors(data.draw, (n,), -30.0, 30.0)
    for phi, phi_grad, name in ((torch.sigmoid, mlp.sigmoid_grad, "sigmoid_grad"),
                                (torch.tanh, mlp.tanh_grad, "tanh_grad"),
                                (lambda v: F.softplus(v, threshold=1e9), mlp.softplus_grad, "softplus_grad")):
        leaf = z.clone().requires_grad_()
        phi(leaf).sum().backward()
        assert_close(phi_grad(z), leaf.grad, 1e-10, name)


@repeatable
@given(seed=SEEDS, sizes=st.lists(st.integers(1, 6), min_size=2, max_size=5))
def test_mlp_forward_and_parameter_count_match_torch_layers(mlp, seed, sizes):
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        net = torch.nn.Sequential(*[module for d_in, d_out in zip(sizes[:-1], sizes[1:], strict=False)
                                    for module in (torch.nn.Linear(d_in, d_out), torch.nn.Tanh())][:-1]).double()
    assert mlp.count_parameters(sizes) == sum(p.numel() for p in net.parameters())
    layers = [(m.weight.detach(), m.bias.detach()) for m in net if isinstance(m, torch.nn.Linear)]
    X = seeded(seed, 5, sizes[0])
    assert_close(mlp.mlp_forward(X, layers, torch.tanh), net(X).detach(), 1e-12, "mlp_forward")


# --------------------------------------------------------------------------- chapter 04: backpropagation

@pytest.fixture(scope="module")
def bp():
    return chapter("04_backprop_jacobians")


@repeatable
@given(seed=SEEDS, n=st.integers(1, 6), m=st.integers(1, 6))
def test_bp_jacobians_by_jvps_and_vjps_match_jacrev(bp, seed, n, m):
    f, _, _ = bp.make_two_layer_map(n, m, width=8, seed=seed)
    x = seeded(seed, n).float()
    reference = torch.func.jacrev(f)(x)
    assert_close(bp.jacobian_by_jvps(f, x), reference, 1e-5, "jacobian_by_jvps", floor=1e-2)  # float32
    assert_close(bp.jacobian_by_vjps(f, x), reference, 1e-5, "jacobian_by_vjps", floor=1e-2)


@repeatable
@given(seed=SEEDS, n=st.integers(1, 8), d=st.integers(1, 5), hidden=st.integers(1, 6), k=st.integers(2, 5),
       scale=st.sampled_from([1.0, 30.0]))
def test_bp_mlp_backward_matches_autograd(bp, seed, n, d, hidden, k, scale):
    params = bp.init_mlp(d, hidden, k, np.random.default_rng(seed))
    X = seeded(seed, n, d, scale=scale).numpy()
    labels = np.random.default_rng(seed + 1).integers(0, k, n)
    T = np.eye(k)[labels]
    Z, cache = bp.mlp_forward(params, X)
    ours = bp.mlp_backward(params, Z, cache, T)
    leaves = {name: torch.tensor(value, requires_grad=True) for name, value in params.items()}
    hidden_torch = torch.relu(torch.from_numpy(X) @ leaves["W1"].T + leaves["b1"])
    loss = F.cross_entropy(hidden_torch @ leaves["W2"].T + leaves["b2"], torch.from_numpy(labels))
    loss.backward()
    assert_close(bp.mlp_cost(Z, T), loss.item(), 1e-10, "mlp_cost", floor=1.0)
    for name, leaf in leaves.items():
        assert_close(ours[name], leaf.grad, 1e-9, f"mlp_backward ({name})")


@repeatable
@given(seed=SEEDS, n=st.integers(1, 6), k=st.integers(2, 5), scale=LOGIT_SCALES)
def test_bp_engine_cross_entropy_gradient_matches_autograd(bp, seed, n, k, scale):
    Z = seeded(seed, n, k, scale=scale)
    labels = torch.randint(0, k, (n,), generator=torch.Generator().manual_seed(seed))
    node = bp.Node(Z.numpy())
    loss = bp.cross_entropy(node, np.eye(k)[labels.numpy()])
    bp.backward(loss)
    leaf = Z.clone().requires_grad_()
    reference = F.cross_entropy(leaf, labels)
    reference.backward()
    # logsumexp(z) - z_label cancels when the label's logit is the largest: digits are lost at scale 1e4.
    assert_close(float(loss.value), reference.item(), 1e-10, "engine cross_entropy", floor=1e-3 * scale)
    assert_close(node.grad, leaf.grad, 1e-10, "engine backward", floor=1e-3 / n)


@repeatable
@given(seed=SEEDS, x=st.floats(0.5, 3.0))
def test_bp_central_difference_beats_forward_difference(bp, seed, x):
    exact = math.cos(x) + math.exp(x)
    f = lambda v: math.sin(v) + math.exp(v)  # noqa: E731 - a one-line function of one number
    forward = abs(bp.forward_difference(f, x, 1e-5) - exact)
    central = abs(bp.central_difference(f, x, 1e-5) - exact)
    assert central < forward or central < 1e-9
