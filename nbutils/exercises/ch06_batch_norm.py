"""Exercises of the chapter "Batch normalisation".

The references are torch's own code, never the chapter's: autograd through
``F.batch_norm`` for the backward pass, and ``nn.Linear`` followed by
``nn.BatchNorm1d`` in evaluation mode, probed with unit vectors, for the folded
layer. Each exercise names the typical mistakes of its topic (a path of the
graph left out, the wrong variance, a forgotten epsilon) without giving the
answer away. The model solutions are what ``solution()`` shows.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from nbutils.exercises.core import Case, Exercise, LoopFree, Mistake, seeded_normal
from nbutils.exercises.recording import AUTOGRAD

_randn = seeded_normal(6)  # the cases' own stream of random numbers


_FORBIDDEN_AUTOGRAD = {
    name: "your answer calls {name}; do not use autograd: write the gradients "
          "from the compact formula, with tensor operations only."
    for name in AUTOGRAD
} | {
    name: "your answer calls {name}, PyTorch's own batch-norm kernel; write "
          "the gradients from the compact formula, with tensor operations only."
    for name in ("torch.ops.aten.native_batch_norm_backward",
                 "torch.ops.aten.native_batch_norm",
                 "torch.ops.aten.batch_norm_backward",
                 "torch.nn.functional.batch_norm")
}


# -------------------------------------------------------- 1. the compact backward pass

def _backward_reference(grad_a, z, gamma, eps=1e-5):
    """(dz, dgamma, dbeta) by autograd through F.batch_norm in training mode."""
    z = z.detach().clone().requires_grad_(True)
    gamma = gamma.detach().clone().requires_grad_(True)
    beta = torch.zeros_like(gamma, requires_grad=True)
    out = F.batch_norm(z, None, None, gamma, beta, training=True, eps=eps)
    return torch.autograd.grad(out, (z, gamma, beta), grad_a)


def _backward_solution(grad_a, z, gamma, eps=1e-5):
    """The compact form: (s / N) (N g - sum g - z_hat sum(g z_hat)), g = gamma * grad_a."""
    n = z.shape[0]
    mean = z.mean(dim=0)
    inv_std = torch.rsqrt(((z - mean) ** 2).mean(dim=0) + eps)
    z_hat = (z - mean) * inv_std
    g = gamma * grad_a
    grad_z = inv_std / n * (n * g - g.sum(dim=0) - z_hat * (g * z_hat).sum(dim=0))
    return grad_z, (grad_a * z_hat).sum(dim=0), grad_a.sum(dim=0)


def _z_hat(z, eps):
    return (z - z.mean(0)) / torch.sqrt(z.var(0, correction=0) + eps)


def _without_mean_path(grad_a, z, gamma, eps=1e-5):
    g = gamma * grad_a
    zh = _z_hat(z, eps)
    s = torch.rsqrt(z.var(0, correction=0) + eps)
    return (s * (g - zh * (g * zh).mean(0)), (grad_a * zh).sum(0), grad_a.sum(0))


def _without_variance_path(grad_a, z, gamma, eps=1e-5):
    g = gamma * grad_a
    zh = _z_hat(z, eps)
    s = torch.rsqrt(z.var(0, correction=0) + eps)
    return (s * (g - g.mean(0)), (grad_a * zh).sum(0), grad_a.sum(0))


def _constant_statistics(grad_a, z, gamma, eps=1e-5):
    zh = _z_hat(z, eps)
    s = torch.rsqrt(z.var(0, correction=0) + eps)
    return (s * gamma * grad_a, (grad_a * zh).sum(0), grad_a.sum(0))


def _unbiased_variance(grad_a, z, gamma, eps=1e-5):
    n = z.shape[0]
    s = torch.rsqrt(z.var(0) + eps)
    zh = (z - z.mean(0)) * s
    g = gamma * grad_a
    return (s / n * (n * g - g.sum(0) - zh * (g * zh).sum(0)),
            (grad_a * zh).sum(0), grad_a.sum(0))


def _dgamma_with_raw_input(grad_a, z, gamma, eps=1e-5):
    dz, _, dbeta = _backward_reference(grad_a, z, gamma, eps)
    return dz, (grad_a * z).sum(0), dbeta


def _batch(n: int, units: int = 3) -> tuple:
    """(grad_a, z, gamma): n examples of `units` units, the same for the same sizes."""
    gen = torch.Generator().manual_seed(n * 100 + units)
    grad_a, z = torch.randn(2, n, units, generator=gen, dtype=torch.float64)
    gamma = torch.rand(units, generator=gen, dtype=torch.float64) + 0.5
    return grad_a, 2 * z + 1, gamma


def _units(m: int) -> tuple:
    return _batch(8, units=m)


ex_batchnorm_backward = Exercise(
    name="batchnorm_backward",
    reference=_backward_reference,
    result_names=("grad_z", "grad_gamma", "grad_beta"),
    cases=[
        Case("a batch of 8 examples, 3 units", _batch(8)),
        Case("a batch of 2 (the smallest)", _batch(2)),
        Case("large, shifted inputs (z about 1e4 +- 1e3)",
             (_randn(16, 4), 1e3 * _randn(16, 4) + 1e4, _randn(4).abs() + 0.5)),
        Case("float32 input", (_randn(32, 5, dtype=torch.float32),
                               _randn(32, 5, dtype=torch.float32),
                               _randn(5, dtype=torch.float32).abs() + 0.5)),
        Case("eps = 0.1", _batch(8), {"eps": 0.1}),
    ],
    hints=[
        "Compute the per-unit statistics first, mean over dim=0 and the biased "
        "variance (divide by N), then s = 1 / sqrt(var + eps) and the "
        "standardised z_hat. The two parameter gradients are column sums.",
        "With g = gamma * grad_a, the input gradient is "
        "s / N * (N * g - g.sum(0) - z_hat * (g * z_hat).sum(0)): two column "
        "sums that broadcast over the rows.",
    ],
    solution=_backward_solution,
    rtol=1e-5,
    mistakes=[
        Mistake(_without_mean_path,
                "the gradient does not sum to zero over the batch: the path "
                "through the batch mean is missing."),
        Mistake(_without_variance_path,
                "the path through the batch variance is missing: the gradient "
                "must also lose its component along the standardised input."),
        Mistake(_constant_statistics,
                "you treated the batch mean and variance as constants. Both "
                "depend on every example, so the input gradient has two more "
                "terms."),
        Mistake(_unbiased_variance,
                "the training-mode layer divides by the biased variance (over "
                "N), not the unbiased one (over N - 1)."),
        Mistake(_dgamma_with_raw_input,
                "grad_gamma multiplies grad_a by the standardised input z_hat, "
                "not by the raw input z."),
    ],
    forbidden=_FORBIDDEN_AUTOGRAD,
    loop_free=(LoopFree(_batch, sizes=(4, 16), what="the batch"),
               LoopFree(_units, sizes=(2, 8), what="the units")),
    memory_bound=4.0,
)


# -------------------------------------------------------- 2. folding into the linear layer

def _fold_reference(weight, bias, running_mean, running_var, gamma, beta, eps):
    """Probe nn.Linear + nn.BatchNorm1d (eval) with 0 and the unit vectors."""
    d_out, d_in = weight.shape
    linear = torch.nn.Linear(d_in, d_out, dtype=weight.dtype)
    norm = torch.nn.BatchNorm1d(d_out, eps=eps, dtype=weight.dtype)
    with torch.no_grad():
        linear.weight.copy_(weight)
        linear.bias.copy_(bias)
        norm.running_mean.copy_(running_mean)
        norm.running_var.copy_(running_var)
        norm.weight.copy_(gamma)
        norm.bias.copy_(beta)
        model = torch.nn.Sequential(linear, norm).eval()
        probes = torch.cat([torch.zeros(1, d_in, dtype=weight.dtype),
                            torch.eye(d_in, dtype=weight.dtype)])
        out = model(probes)
    return (out[1:] - out[0]).T.contiguous(), out[0].contiguous()


def _fold_solution(weight, bias, running_mean, running_var, gamma, beta, eps):
    """Row d of the layer is scaled by gamma_d / sqrt(var_d + eps)."""
    scale = gamma / torch.sqrt(running_var + eps)
    return weight * scale[:, None], (bias - running_mean) * scale + beta


def _fold_no_eps(weight, bias, running_mean, running_var, gamma, beta, eps):
    return _fold_solution(weight, bias, running_mean, running_var, gamma, beta, 0.0)


def _fold_variance_not_std(weight, bias, running_mean, running_var, gamma, beta, eps):
    scale = gamma / (running_var + eps)
    return weight * scale[:, None], (bias - running_mean) * scale + beta


def _fold_columns(weight, bias, running_mean, running_var, gamma, beta, eps):
    scale = gamma / torch.sqrt(running_var + eps)
    return weight * scale[None, :], (bias - running_mean) * scale + beta


def _fold_mean_unscaled(weight, bias, running_mean, running_var, gamma, beta, eps):
    scale = gamma / torch.sqrt(running_var + eps)
    return weight * scale[:, None], bias * scale - running_mean + beta


def _layer(d_out: int, d_in: int, dtype: torch.dtype = torch.float64) -> tuple:
    return (_randn(d_out, d_in, dtype=dtype), _randn(d_out, dtype=dtype),
            _randn(d_out, dtype=dtype), _randn(d_out, dtype=dtype).abs() + 0.1,
            _randn(d_out, dtype=dtype), _randn(d_out, dtype=dtype), 1e-5)


_tiny_var = list(_layer(3, 3))
_tiny_var[3] = torch.tensor([1e-6, 2e-6, 4.0], dtype=torch.float64)

ex_fold_batchnorm = Exercise(
    name="fold_batchnorm",
    reference=_fold_reference,
    result_names=("weight", "bias"),
    cases=[
        Case("a 4 -> 3 layer", _layer(3, 4)),
        Case("a square 5 -> 5 layer", _layer(5, 5)),
        Case("running variances near 0 (eps matters)", tuple(_tiny_var)),
        Case("float32 input", _layer(4, 6, dtype=torch.float32)),
    ],
    hints=[
        "In evaluation mode the batch-norm layer computes "
        "gamma * (y - running_mean) / sqrt(running_var + eps) + beta with "
        "y = weight @ x + bias. Substitute and collect the terms in x.",
        "Every output unit d is multiplied by one number, "
        "gamma_d / sqrt(running_var_d + eps): it scales row d of the weight "
        "matrix, and the bias collects everything that does not depend on x.",
    ],
    solution=_fold_solution,
    rtol=1e-5,
    mistakes=[
        Mistake(_fold_no_eps, "keep eps: the layer divides by "
                "sqrt(running_var + eps), which matters when a variance is "
                "small."),
        Mistake(_fold_variance_not_std, "the layer divides by the standard "
                "deviation sqrt(running_var + eps), not by the variance."),
        Mistake(_fold_columns, "the scale belongs to the output units: it "
                "multiplies the rows of the weight matrix, not its columns."),
        Mistake(_fold_mean_unscaled, "the running mean is subtracted before "
                "the scaling, so it is scaled too."),
    ],
    forbidden={"torch.nn.utils.fusion.fuse_linear_bn_weights":
               "your answer calls {name}, PyTorch's own folding helper; derive "
               "the folded weight and bias from the evaluation-mode formula."},
)

__all__ = ["ex_batchnorm_backward", "ex_fold_batchnorm"]
