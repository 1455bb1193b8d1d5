"""Exercises of the chapter "Initialisation".

The references are closed forms or torch's own code, never the chapter's: the
variance recursion is summed in closed form as a sum of products, and the
data-dependent rescaling (LSUV) is computed from the homogeneity of the ReLU,
with ``F.linear`` and ``torch.var`` on the *original* network. Besides the
generic checks of :class:`~nbutils.exercises.core.Exercise` (shape, dtype,
NaN, forgotten return, ...), each exercise names the typical mistakes of its
topic (a forgotten factor 1/2, a forgotten bias, scales computed from the
unscaled network) without giving the answer away. The model solutions are
what ``solution()`` shows.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from nbutils.exercises.core import Case, Exercise, LoopFree, Mistake

_gen = torch.Generator().manual_seed(5)


# ----------------------------------------------- 1. the variance recursion of a ReLU network

def _relu_variances_reference(second_moment_x, fan_ins, weight_vars, bias_vars):
    """Closed form of the recursion: q_l = sum_k c_k prod_{j=k+1..l} a_j with a_j = n_j Var[w_j] / 2.

    c_1 = n_1 Var[w_1] E[x^2] + Var[b_1] (the input is not a ReLU output) and
    c_k = Var[b_k] for k > 1.
    """
    gains = fan_ins * weight_vars / 2  # a_j: what layer j multiplies the previous variance by
    constants = bias_vars.clone()
    constants[0] = fan_ins[0] * weight_vars[0] * second_moment_x + bias_vars[0]
    # ratio[l, k] = prod_{j=k+1..l} a_j for k <= l (1 on the diagonal), 0 above the diagonal
    length = len(fan_ins)
    ratio = torch.ones(length, length, dtype=fan_ins.dtype)
    for i in range(length):
        for k in range(i):
            ratio[i, k] = torch.prod(gains[k + 1:i + 1])
    ratio = torch.tril(ratio)
    return ratio @ constants


def _relu_variances_solution(second_moment_x, fan_ins, weight_vars, bias_vars):
    """Forward recursion: the first layer sees E[x^2]; every later one sees E[relu(z)^2] = q / 2."""
    q = fan_ins[0] * weight_vars[0] * second_moment_x + bias_vars[0]
    variances = [q]
    for n, var_w, var_b in zip(fan_ins[1:], weight_vars[1:], bias_vars[1:], strict=True):
        q = n * var_w * q / 2 + var_b
        variances.append(q)
    return torch.stack(variances)


def _recursion(second_moment_x, fan_ins, weight_vars, bias_vars, first=1.0, later=0.5, bias=True):
    """The recursion with the input's factor ``first`` and the ReLU's factor ``later`` (for the mistakes)."""
    bias_vars = bias_vars if bias else torch.zeros_like(bias_vars)
    q = fan_ins[0] * weight_vars[0] * second_moment_x * first + bias_vars[0]
    variances = [q]
    for n, var_w, var_b in zip(fan_ins[1:], weight_vars[1:], bias_vars[1:], strict=True):
        q = n * var_w * q * later + var_b
        variances.append(q)
    return torch.stack(variances)


def _no_half(*args):
    return _recursion(*args, later=1.0)


def _half_everywhere(*args):
    return _recursion(*args, first=0.5)


def _no_bias(*args):
    return _recursion(*args, bias=False)


def _relu_case(widths, weight_vars, bias_vars, second_moment_x=1.0):
    fan_ins = torch.tensor(widths[:-1], dtype=torch.float64)
    return (second_moment_x, fan_ins, torch.tensor(weight_vars, dtype=torch.float64),
            torch.tensor(bias_vars, dtype=torch.float64))


def _torch_default_case(widths):
    fan_ins = torch.tensor(widths[:-1], dtype=torch.float64)
    third = 1 / (3 * fan_ins)  # U(-1/sqrt(n), 1/sqrt(n)) has variance 1/(3n), for weights and biases alike
    return 0.8, fan_ins, third, third.clone()


ex_relu_variances = Exercise(
    name="relu_variances",
    reference=_relu_variances_reference,
    cases=[
        Case("He initialisation, no biases, 64 -> 100 -> 100 -> 100",
             _relu_case([64, 100, 100, 100], [2 / 64, 2 / 100, 2 / 100], [0.0, 0.0, 0.0])),
        Case("weights with variance 1/n and biases with variance 0.01",
             _relu_case([10, 20, 20, 20, 20], [1 / 10, 1 / 20, 1 / 20, 1 / 20], [0.01] * 4, 2.0)),
        Case("PyTorch's default nn.Linear initialisation, 64 -> 128 x 6", _torch_default_case([64] + [128] * 6)),
        Case("a single layer", _relu_case([30, 50], [0.1], [0.5], 3.0)),
    ],
    hints=[
        "Write q_l for the variance of the pre-activations of layer l. Each layer adds n Var[w] E[h^2] (its "
        "weights) and Var[b] (its bias). What is E[h^2] for the input, and what is it for h = relu(z)?",
        "For the first layer E[h^2] is the input's second moment, given. After a ReLU, E[relu(z)^2] = q / 2 "
        "for a zero-mean symmetric z. So q_1 = n_1 Var[w_1] E[x^2] + Var[b_1], then "
        "q_l = n_l Var[w_l] q_(l-1) / 2 + Var[b_l]. Collect the q_l with torch.stack.",
    ],
    solution=_relu_variances_solution,
    rtol=1e-10,
    mistakes=[
        Mistake(_half_everywhere, "the first layer's input is the data x, not a ReLU output: use E[x^2] "
                "itself there, without the factor 1/2."),
        Mistake(_no_half, "a ReLU zeroes half of a symmetric input, so E[relu(z)^2] is half of Var[z]: "
                "a factor 1/2 is missing after every ReLU."),
        Mistake(_no_bias, "the biases are missing. A bias is independent of the weighted sum, so its "
                "variance adds to the pre-activation's."),
    ],
)


# ----------------------------------------------- 2. layer-sequential unit-variance rescaling (LSUV)

def _lsuv_reference(X: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Closed form for a bias-free ReLU network: W_l * std(z_(l-1)) / std(z_l), stds of the *original* net.

    relu(c z) = c relu(z) for c > 0, so rescaling layer k rescales every later
    pre-activation by the same factor; the sequential procedure therefore ends
    with z_l / std(z_l) at every layer.
    """
    stds, h = [], X
    for W in weights:
        z = F.linear(h, W)
        stds.append(torch.var(z, correction=0).sqrt())
        h = F.relu(z)
    stds = torch.stack(stds)
    previous = torch.cat([torch.ones(1, dtype=stds.dtype), stds[:-1]])
    return weights * (previous / stds)[:, None, None]


def _lsuv_solution(X: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Layer by layer: rescale W_l so that its pre-activations on the batch have variance 1, then go on."""
    scaled, h = [], X
    for W in weights:
        z = h @ W.T
        scale = 1 / z.var(correction=0).sqrt()
        scaled.append(W * scale)
        h = torch.relu(z * scale)  # the next layer sees the rescaled activations
    return torch.stack(scaled)


def _lsuv_unsequenced(X, weights):
    stds, h = [], X
    for W in weights:
        z = F.linear(h, W)
        stds.append(torch.var(z, correction=0).sqrt())
        h = F.relu(z)
    return weights / torch.stack(stds)[:, None, None]


def _lsuv_scaling_by(scale_of):
    """The sequential LSUV loop with the scale of each layer computed from its pre-activations z by ``scale_of``."""
    def lsuv(X, weights):
        scaled, h = [], X
        for W in weights:
            z = F.linear(h, W)
            scale = scale_of(z)
            scaled.append(W * scale)
            h = F.relu(z * scale)
        return torch.stack(scaled)
    return lsuv


_lsuv_after_relu = _lsuv_scaling_by(lambda z: 1 / torch.var(F.relu(z), correction=0).sqrt())
_lsuv_by_variance = _lsuv_scaling_by(lambda z: 1 / torch.var(z, correction=0))
_lsuv_unbiased = _lsuv_scaling_by(lambda z: 1 / torch.var(z, correction=1).sqrt())


def _lsuv_case(n: int, width: int, depth: int, scale: float, dtype=torch.float64) -> tuple:
    X = torch.randn(n, width, generator=_gen, dtype=torch.float64)
    weights = scale * torch.randn(depth, width, width, generator=_gen, dtype=torch.float64) / width ** 0.5
    return X.to(dtype), weights.to(dtype)


def _lsuv_batch(n: int) -> tuple:
    """A batch of n examples for the loop check; deterministic in n, as LoopFree requires."""
    gen = torch.Generator().manual_seed(n)
    X = torch.randn(n, 8, generator=gen, dtype=torch.float64)
    return X, torch.randn(3, 8, 8, generator=gen, dtype=torch.float64) / 8 ** 0.5


ex_lsuv = Exercise(
    name="lsuv",
    reference=_lsuv_reference,
    cases=[
        Case("64 examples, 4 layers of width 16, weights far too small", _lsuv_case(64, 16, 4, 0.2)),
        Case("32 examples, 6 layers of width 32, weights far too large", _lsuv_case(32, 32, 6, 3.0)),
        Case("a single layer", _lsuv_case(50, 10, 1, 1.0)),
        Case("float32 inputs", _lsuv_case(40, 12, 3, 0.5, dtype=torch.float32)),
    ],
    hints=[
        "Go through the layers in order. For layer l compute its pre-activations z = h W_l^T on the batch, "
        "divide W_l by the standard deviation of z, and pass relu of the *rescaled* z on to the next layer.",
        "The standard deviation is over all N x n entries of z at once: z.var(correction=0).sqrt(). "
        "Collect the rescaled matrices with torch.stack, so the result has the shape of `weights`.",
    ],
    solution=_lsuv_solution,
    rtol=1e-5,
    mistakes=[
        Mistake(_lsuv_unsequenced, "each layer's scale must be measured after the layers below it have "
                "been rescaled; yours uses the pre-activations of the original network."),
        Mistake(_lsuv_after_relu, "you normalised the output of the ReLU; normalise the pre-activation "
                "z = h W^T, before the ReLU."),
        Mistake(_lsuv_by_variance, "you divided by the variance; to make the variance 1, divide the "
                "weights by the standard deviation (the variance scales with the square of the weights)."),
        Mistake(_lsuv_unbiased, "use the variance with correction=0 (divide by the number of entries), "
                "as the exercise asks, not torch.var's default correction=1."),
    ],
    forbidden={"torch.autograd.grad": "your answer calls torch.autograd.grad; no gradients are needed "
               "here, only a forward pass."},
    loop_free=LoopFree(_lsuv_batch, sizes=(4, 16), what="the batch"),
    memory_bound=4.0,
)
