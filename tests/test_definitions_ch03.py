"""Chapter 3's own definitions on float32 and float64 inputs and at +-inf, against PyTorch.

The functions are loaded from the notebook's ``definitions`` cells with
``nbutils.notebook.load_definitions`` and compared with PyTorch's built-ins or
autograd on inputs the chapter never shows: both floating dtypes, very large
and very small pre-activations, exact kinks and the infinities. A function
passes when it keeps its input's dtype, agrees with PyTorch to the dtype's
precision, and returns NaN or inf exactly where PyTorch does (a NaN where
PyTorch is finite is a bug).
"""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from nbutils.notebook import load_definitions

DTYPES = [torch.float32, torch.float64]
RTOL = {torch.float32: 2e-6, torch.float64: 1e-12}
INF = math.inf


@pytest.fixture(scope="module")
def ch():
    return load_definitions("03_mlp_activations")


def grid(dtype: torch.dtype, infinities: bool = True) -> torch.Tensor:
    """Pre-activations from -800 to 800 (saturating every activation), the kinks 0 and +-1, and +-inf."""
    values = torch.cat([
        torch.linspace(-30, 30, 601, dtype=torch.float64),
        torch.tensor([-800.0, -100.0, -1e-30, 0.0, 1e-30, 100.0, 800.0, -1.0, 1.0, 0.5]),
    ])
    if infinities:
        values = torch.cat([values, torch.tensor([-INF, INF])])
    return values.to(dtype)


def autograd_derivative(phi, z: torch.Tensor) -> torch.Tensor:
    leaf = z.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(phi(leaf).sum(), leaf)
    return grad


def assert_matches(ours, reference, what: str, floor: float = 1e-3, rtol: float | None = None) -> None:
    """Same dtype and shape, NaN/inf exactly where the reference has them, else close to RTOL."""
    assert isinstance(ours, torch.Tensor), f"{what}: returned {type(ours).__name__}, not a tensor"
    assert ours.dtype == reference.dtype, f"{what}: dtype {ours.dtype}, PyTorch gives {reference.dtype}"
    assert ours.shape == reference.shape, f"{what}: shape {tuple(ours.shape)} vs {tuple(reference.shape)}"
    finite = torch.isfinite(reference)
    bad = torch.isnan(ours) & ~torch.isnan(reference)
    assert not bad.any(), f"{what}: NaN where PyTorch gives {reference[bad][:3].tolist()}"
    infinite = torch.isinf(reference)
    same = torch.equal(torch.isnan(ours), torch.isnan(reference)) and torch.equal(ours[infinite], reference[infinite])
    assert same, f"{what}: {ours[~finite][:4].tolist()} where PyTorch gives {reference[~finite][:4].tolist()}"
    assert torch.isfinite(ours[finite]).all(), f"{what}: inf or NaN where PyTorch is finite"
    scale = reference[finite].abs().clamp(min=floor)
    err = ((ours[finite] - reference[finite]).abs() / scale).max().item() if finite.any() else 0.0
    tolerance = RTOL[reference.dtype] if rtol is None else rtol
    assert err <= tolerance, f"{what}: max rel. error {err:.1e} in {reference.dtype}"


def in_float64(f, z: torch.Tensor) -> torch.Tensor:
    """PyTorch's f evaluated in float64 and rounded to z's dtype: the reference for float32 inputs."""
    return f(z.double()).to(z.dtype)


def softplus_reference(z: torch.Tensor) -> torch.Tensor:
    """log(1 + e^z) in closed form, accurate in either dtype (F.softplus switches to z above 20)."""
    return torch.where(z > 30, z + torch.exp(-z.clamp(min=30)), torch.log1p(torch.exp(z.clamp(max=30))))


# --------------------------------------------------------------------------- activations and their derivatives

@pytest.mark.parametrize("dtype", DTYPES)
def test_smooth_activations_and_derivatives_match_torch(ch, dtype):
    z = grid(dtype)
    assert_matches(ch.sigmoid(z), in_float64(torch.sigmoid, z), "sigmoid", floor=1e-30)
    assert_matches(ch.sigmoid_grad(z), torch.sigmoid(z) * (1 - torch.sigmoid(z)), "sigmoid_grad", floor=1.0)
    assert_matches(ch.tanh(z), in_float64(torch.tanh, z), "tanh", floor=1e-30)
    assert_matches(ch.tanh_grad(z), 1 - torch.tanh(z) ** 2, "tanh_grad", floor=1.0)  # 1 - y^2 cancels
    assert_matches(ch.softplus(z), softplus_reference(z), "softplus", floor=1e-30)
    assert_matches(ch.softplus_grad(z), torch.sigmoid(z), "softplus_grad")
    assert_matches(ch.hardtanh(z), F.hardtanh(z), "hardtanh")
    assert_matches(ch.hardtanh_grad(z), autograd_derivative(F.hardtanh, z), "hardtanh_grad")
    assert_matches(ch.elu(z), in_float64(F.elu, z), "elu", floor=1e-30)
    assert_matches(ch.elu_grad(z), autograd_derivative(F.elu, z), "elu_grad", floor=1e-30)
    finite = grid(dtype, infinities=False)  # F.gelu is NaN at +-inf
    assert_matches(ch.gelu(finite), in_float64(F.gelu, finite), "gelu")  # F.gelu cancels for z << 0
    assert_matches(ch.gelu_grad(finite), in_float64(lambda v: autograd_derivative(F.gelu, v), finite), "gelu_grad")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("alpha", [0.0, 0.01, 0.25, 1.0, -1.0, -0.3])
def test_rectifier_family_matches_torch_also_at_infinity(ch, dtype, alpha):
    z = grid(dtype)
    weight = torch.tensor([alpha], dtype=dtype)
    reference = F.relu(z) if alpha == 0 else F.prelu(z, weight)
    assert_matches(ch.rectifier(z, alpha), reference, f"rectifier(z, {alpha})")
    assert_matches(ch.rectifier_grad(z, alpha), autograd_derivative(lambda v: F.prelu(v, weight), z),
                   f"rectifier_grad(z, {alpha}) (at 0: F.prelu's alpha)")
    # one slope per entry (PReLU channels), so autograd returns every entry's d/d alpha
    slopes = torch.full((len(z),), alpha, dtype=dtype, requires_grad=True)
    (alpha_grad,) = torch.autograd.grad(F.prelu(z[None, :], slopes).sum(), slopes)
    assert_matches(ch.rectifier_alpha_grad(z), alpha_grad, "rectifier_alpha_grad")


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_and_tent_are_finite_at_minus_infinity(ch, dtype):
    z = grid(dtype)
    assert_matches(ch.relu(z), F.relu(z), "relu")
    assert_matches(ch.rectifier(z, ch.LEAKY_SLOPE), F.leaky_relu(z, ch.LEAKY_SLOPE), "leaky ReLU")
    x = torch.tensor([-INF, -1e30, -1.0, 0.0, 0.25, 0.5, 0.75, 1.0], dtype=dtype)
    assert_matches(ch.tent(x), 2 * F.relu(x) - 4 * F.relu(x - 0.5), "tent")
    torch_tent = lambda v: 2 * F.relu(v) - 4 * F.relu(v - 0.5)  # noqa: E731
    assert_matches(ch.sawtooth(x, 3), torch_tent(torch_tent(torch_tent(x))), "sawtooth")


def test_rectifier_refuses_a_slope_above_one(ch):
    with pytest.raises(ValueError, match="alpha <= 1"):
        ch.rectifier(torch.zeros(3), 1.5)


def test_relu_keeps_nan(ch):
    z = torch.tensor([math.nan, -1.0, 1.0])
    assert torch.isnan(ch.relu(z)[0]) and torch.isnan(ch.rectifier(z, 0.01)[0])


def maxout_reference(z, slopes, intercepts):
    pieces = torch.stack([a * z + c for a, c in zip(slopes.to(z.dtype), intercepts.to(z.dtype), strict=True)])
    return pieces.max(dim=0).values


@pytest.mark.parametrize("dtype", DTYPES)
def test_maxout_unit_keeps_dtype_and_matches_torch(ch, dtype):
    z = grid(dtype)
    slopes, intercepts = ch.MAXOUT_EXAMPLE
    assert_matches(ch.maxout_unit(z, slopes, intercepts), maxout_reference(z, slopes, intercepts), "maxout_unit")
    away = z[torch.isfinite(z)]
    away = away[((away - ch.MAXOUT_KINKS[0]).abs() > 1e-3) & ((away - ch.MAXOUT_KINKS[1]).abs() > 1e-3)]
    assert_matches(ch.maxout_unit_grad(away, slopes, intercepts),
                   autograd_derivative(lambda v: maxout_reference(v, slopes, intercepts), away), "maxout_unit_grad")


def srelu_reference(z, z_minus, a_minus, z_plus, a_plus):
    return torch.clamp(z, z_minus, z_plus) + a_plus * F.relu(z - z_plus) - a_minus * F.relu(z_minus - z)


@pytest.mark.parametrize("dtype", DTYPES)
def test_srelu_and_its_derivative_match_the_clamp_form(ch, dtype):
    z = grid(dtype)
    p = ch.SRELU_EXAMPLE
    assert_matches(ch.srelu(z, **p), srelu_reference(z, **p), "srelu")
    away = z[torch.isfinite(z) & ((z - p["z_minus"]).abs() > 1e-3) & ((z - p["z_plus"]).abs() > 1e-3)]
    assert_matches(ch.srelu_grads(away, **p)["z"], autograd_derivative(lambda v: srelu_reference(v, **p), away),
                   "srelu_grads['z']")


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_activation_in_the_table_keeps_dtype(ch, dtype):
    z = grid(dtype, infinities=False)
    for name, (phi, phi_grad, _) in ch.ACTIVATIONS.items():
        assert phi(z).dtype == dtype, f"{name}: returns {phi(z).dtype} for {dtype} input"
        assert phi_grad(z).dtype == dtype, f"{name} derivative: returns {phi_grad(z).dtype} for {dtype} input"
        assert not torch.isnan(phi(z)).any(), f"{name}: NaN on finite input"


# --------------------------------------------------------------------------- networks built from the definitions

@pytest.mark.parametrize("dtype", DTYPES)
def test_xor_network_keeps_dtype_and_matches_torch_nn(ch, dtype):
    X = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.3, -2.0]], dtype=dtype)
    Z, H, y = ch.xor_network(X)
    net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU(), torch.nn.Linear(2, 1)).to(dtype)
    with torch.no_grad():
        net[0].weight.copy_(ch.XOR_W1)
        net[0].bias.copy_(ch.XOR_B1)
        net[2].weight.copy_(ch.XOR_W2[None, :])
        net[2].bias.fill_(ch.XOR_B2)
        assert_matches(y, net(X)[:, 0], "xor_network output")
        assert_matches(H, F.relu(net[0](X)), "xor_network hidden layer")
    assert Z.dtype == dtype
    assert ch.xor_features(X).dtype == dtype


@pytest.mark.parametrize("dtype", DTYPES)
def test_dense_mlp_and_stack_jacobian_in_both_dtypes(ch, dtype):
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(7, 5, generator=gen, dtype=dtype)
    net = torch.nn.Sequential(torch.nn.Linear(5, 6), torch.nn.ReLU(), torch.nn.Linear(6, 3)).to(dtype)
    layers = [(net[0].weight.detach(), net[0].bias.detach()), (net[2].weight.detach(), net[2].bias.detach())]
    with torch.no_grad():
        assert_matches(ch.mlp_forward(X, layers, ch.relu), net(X), "mlp_forward")
    weights = [torch.randn(4, 4, generator=gen, dtype=dtype) for _ in range(3)]
    x = torch.randn(4, generator=gen, dtype=dtype)
    for phi, phi_grad, builtin in [(ch.tanh, ch.tanh_grad, torch.tanh), (ch.relu, lambda z: ch.rectifier_grad(z, 0.0),
                                                                          torch.relu)]:
        reference = torch.func.jacrev(lambda v, f=builtin: ch.stack_forward(v, weights, f))(x)
        assert_matches(ch.stack_jacobian(x, weights, phi, phi_grad), reference, "stack_jacobian", floor=1e-2,
                       rtol=1e-4 if dtype == torch.float32 else 1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("default", DTYPES)
def test_fitting_helpers_keep_dtype_whatever_the_default(ch, dtype, default):
    previous = torch.get_default_dtype()
    torch.set_default_dtype(default)
    try:
        x = torch.linspace(-2, 2, 101, dtype=dtype)
        for width in (1, 5):
            fit = ch.fit_output_layer(ch.tanh, width, x, ch.wiggly(x))
            assert fit.dtype == dtype, f"fit_output_layer(width={width}) returns {fit.dtype} for {dtype}"
            assert torch.isfinite(fit).all()
        knots = torch.linspace(-2, 2, 9, dtype=dtype)
        layers = ch.relu_interpolant(knots, ch.wiggly(knots))
        g = ch.mlp_forward(knots[:, None], layers, ch.relu)[:, 0]
        assert_matches(g, ch.wiggly(knots), "relu_interpolant at its knots", floor=1.0)
        P, Q = ch.low_rank_factors(torch.randn(6, 4, dtype=dtype), 2)
        assert P.dtype == Q.dtype == dtype
        params = ch.init_ensemble([3, 4, 2], 2, torch.Generator().manual_seed(1), init="he", dtype=dtype)
        assert all(p.dtype == dtype for p in params)
        out = ch.ensemble_forward(params, torch.randn(5, 3, dtype=dtype))
        assert out.dtype == dtype and out.shape == (2, 5, 2)
    finally:
        torch.set_default_dtype(previous)
