"""Exercises of the chapter "Backpropagation, computational graphs and Jacobians".

The references are torch's own automatic differentiation (``torch.func.jacrev`` and
``torch.func.vjp``), never the chapter's code. Besides the generic checks of
:class:`~nbutils.exercises.core.Exercise` (shape, dtype, NaN, forgotten return, ...),
each exercise recognises the typical mistakes of its topic (a transposed Jacobian, a
dropped off-diagonal term, a sum over the wrong dimension) and names them without
giving the answer away. The model solutions are what ``solution()`` shows.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from nbutils.exercises.core import Case, Exercise, Mistake, seeded_normal
from nbutils.exercises.recording import AUTOGRAD

_randn = seeded_normal(4)  # the cases' own stream of random numbers


def _no_autograd(advice: str) -> dict[str, str]:
    """Forbid automatic differentiation, which the checker uses as its reference."""
    return {name: f"your answer calls {{name}}; {advice}" for name in AUTOGRAD}


# -- 1. A numerical Jacobian ---------------------------------------------------------------------

def _two_outputs(x: torch.Tensor) -> torch.Tensor:
    """R^3 -> R^2."""
    return torch.stack([x[0] * x[1] + torch.sin(x[2]), x[0] ** 2 - 3.0 * x[2]])


_A = torch.tensor([[1.0, 2.0, 0.0, -1.0], [0.5, -1.0, 1.5, 0.0], [0.0, 0.3, -0.7, 2.0], [-1.2, 0.0, 0.4, 0.9]],
                  dtype=torch.float64)


def _square_layer(x: torch.Tensor) -> torch.Tensor:
    """R^4 -> R^4 with a non-symmetric Jacobian."""
    return torch.tanh(_A @ x / 2.0)


def _scalar_as_vector(x: torch.Tensor) -> torch.Tensor:
    """R^5 -> R^1: a log-sum-exp kept as a vector of one element."""
    return torch.logsumexp(x, dim=0).reshape(1)


def _wide_range(x: torch.Tensor) -> torch.Tensor:
    """R^2 -> R^3 with outputs and derivatives of very different sizes."""
    return torch.stack([torch.exp(x[0]), x[0] * x[1], x[1] ** 3])


def _large_inputs(x: torch.Tensor) -> torch.Tensor:
    """R^2 -> R^2 at inputs of size 1e4, where a step that ignores the size of x_j drowns in round-off."""
    return torch.stack([torch.exp(x[0] / 1e4), torch.log(x[1]) + x[0] / x[1]])


def _numerical_jacobian_solution(f, x: torch.Tensor) -> torch.Tensor:
    """Central differences, one column per input coordinate: J[:, j] = (f(x + h_j e_j) - f(x - h_j e_j)) / (2 h_j)."""
    eps = torch.finfo(x.dtype).eps
    columns = []
    for j in range(x.numel()):
        h = eps ** (1 / 3) * max(1.0, abs(float(x[j])))  # the step grows with the coordinate it perturbs
        step = torch.zeros_like(x)
        step[j] = h
        columns.append((f(x + step) - f(x - step)) / (2 * h))
    return torch.stack(columns, dim=1)


ex_numerical_jacobian = Exercise(
    name="numerical_jacobian",
    reference=lambda f, x: torch.func.jacrev(f)(x),
    cases=[
        Case("f: R^3 -> R^2", (_two_outputs, torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64))),
        Case("f: R^4 -> R^4 with a non-symmetric Jacobian", (_square_layer, _randn(4))),
        Case("f: R^5 -> R^1", (_scalar_as_vector, _randn(5))),
        Case("f: R^2 -> R^3 at x = (3, 10)", (_wide_range, torch.tensor([3.0, 10.0], dtype=torch.float64))),
        Case("f: R^2 -> R^2 at x = (20000, 50000)",
             (_large_inputs, torch.tensor([2e4, 5e4], dtype=torch.float64))),
    ],
    hints=[
        "Column j of the Jacobian is the derivative of the whole output vector f(x) along the input coordinate "
        "x_j. Perturb one coordinate at a time by ±h and divide the change in f by 2h.",
        "Build the perturbations as the rows of h * torch.eye(n), collect the n difference quotients (each of "
        "length m) and torch.stack them with dim=1, so that the result has shape (m, n). Central differences "
        "with a step h_j = eps ** (1/3) * max(1, |x_j|), about 6e-6 * max(1, |x_j|) in float64, balance "
        "truncation and round-off.",
    ],
    solution=_numerical_jacobian_solution,
    rtol=1e-8,
    forbidden=_no_autograd("compute the Jacobian by central differences, as the exercise asks"),
    mistakes=[
        Mistake(lambda f, x: torch.func.jacrev(f)(x).T,
                "you returned the transpose of the Jacobian. Entry (i, j) is d f_i / d x_j: one row per output, "
                "one column per input, so the shape is (len(f(x)), len(x)).", status="transposed"),
    ],
    near_miss=(1e-3, "Use central differences (f(x + h) - f(x - h)) / (2 h), whose error falls like h^2, with a "
                     "step h = eps ** (1/3) * max(1, |x_j|) (about 6e-6 * max(1, |x_j|)) for coordinate j: "
                     "forward differences cannot get this close, and a step that is small next to x_j drowns in "
                     "round-off."),
)


# -- 2. The VJP of softmax ------------------------------------------------------------------------

def _vjp_reference(function):
    """The VJP ``(x, v) -> J(x)^T v`` of ``function``, by torch.func.vjp."""
    def vjp(x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        _, pullback = torch.func.vjp(function, x)
        return pullback(v)[0]
    return vjp


_softmax_vjp_reference = _vjp_reference(lambda logits: torch.softmax(logits, dim=-1))


def _softmax_vjp_solution(z: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Gradient of sum(v * softmax(z)) with respect to z, row by row: y * (v - <v, y>)."""
    y = torch.softmax(z, dim=-1)
    return y * (v - (v * y).sum(dim=-1, keepdim=True))


_z_batch, _v_batch = _randn(3, 5), _randn(3, 5)
_SOFTMAX_OVERFLOW = ("exp(1000) overflows to inf: compute the softmax stably (subtract each row's largest "
                     "logit first) or use torch.softmax.")

ex_softmax_vjp = Exercise(
    name="softmax_vjp",
    reference=_softmax_vjp_reference,
    cases=[
        Case("one vector of 4 logits", (torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64),
                                         torch.tensor([0.5, -1.0, 2.0, 0.0], dtype=torch.float64))),
        Case("a batch of 3 rows, 5 classes", (_z_batch, _v_batch)),
        Case("v is one-hot in every row", (_z_batch, torch.eye(5, dtype=torch.float64)[[0, 3, 4]])),
        Case("large logits (±1000)", (torch.tensor([[1000.0, -1000.0, 999.0], [-1000.0, -1001.0, -999.0]],
                                                   dtype=torch.float64), _randn(2, 3)),
             nonfinite_hint=_SOFTMAX_OVERFLOW),
        Case("float32 input", (_randn(4, 6, dtype=torch.float32), _randn(4, 6, dtype=torch.float32))),
        Case("2 rows of 32 classes", (_randn(2, 32), _randn(2, 32))),
    ],
    hints=[
        "Write y = softmax(z). Differentiate y_j = exp(z_j) / sum_k exp(z_k) with respect to z_i for i = j and "
        "for i != j; you get d y_j / d z_i = y_j (delta_ij - y_i).",
        "The VJP is sum_j v_j y_j (delta_ij - y_i) = y_i v_i - y_i sum_j v_j y_j. The sum is one number per "
        "row: compute it with .sum(dim=-1, keepdim=True) so that it broadcasts.",
    ],
    solution=_softmax_vjp_solution,
    rtol=1e-5,
    forbidden=_no_autograd("derive the VJP by hand, as the exercise asks"),
    memory_bound=3,  # the text: "Do not form the K x K Jacobian"; a Jacobian per row is K times the input
    mistakes=[
        Mistake(lambda z, v: torch.softmax(z, -1) * (1 - torch.softmax(z, -1)) * v,
                "you kept only the diagonal of the Jacobian, d y_i / d z_i = y_i (1 - y_i). Softmax couples the "
                "classes: every y_j depends on z_i too, and those off-diagonal terms add to the gradient.",
                status="diagonal_only"),
        Mistake(lambda z, v: torch.softmax(z, -1) * v,
                "you computed y * v, which is only part of the answer. Every output y_j depends on every logit z_i "
                "through the normalising sum: a second term is missing.", status="missing_term"),
        Mistake(lambda z, v: v - (v * torch.softmax(z, -1)).sum(-1, keepdim=True),
                "each component of the gradient must be multiplied by the probability y_i of its own class.",
                status="missing_factor"),
        Mistake(lambda z, v: torch.softmax(z, -1) * (v - (v * torch.softmax(z, -1)).sum(0, keepdim=True)),
                "you summed over the batch dimension. The inner product <v, y> is taken over the classes of each "
                "row (the last dimension), one number per example.", status="wrong_dim"),
    ],
)


# -- 3. The backward rule of a new node: L2 normalisation -----------------------------------------

_normalize_vjp_reference = _vjp_reference(lambda inputs: F.normalize(inputs, dim=-1))


def _normalize_vjp_solution(x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Gradient of sum(v * x / ||x||) with respect to x, row by row: (v - y <y, v>) / ||x||."""
    norm = x.norm(dim=-1, keepdim=True)
    y = x / norm
    return (v - y * (y * v).sum(dim=-1, keepdim=True)) / norm


def _unit(x: torch.Tensor) -> torch.Tensor:
    return x / x.norm(dim=-1, keepdim=True)


ex_normalize_vjp = Exercise(
    name="normalize_vjp",
    reference=_normalize_vjp_reference,
    cases=[
        Case("one vector x = (3, 4, 0)", (torch.tensor([3.0, 4.0, 0.0], dtype=torch.float64),
                                           torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64))),
        Case("a batch of 4 rows of 5", (_randn(4, 5), _randn(4, 5))),
        Case("long vectors (norm about 1e4)", (1e4 * _randn(2, 3), _randn(2, 3))),
        Case("float32 input", (_randn(3, 4, dtype=torch.float32), _randn(3, 4, dtype=torch.float32))),
    ],
    hints=[
        "Write r = ||x|| and y = x / r. Differentiate y_j = x_j / r with the quotient rule, using "
        "d r / d x_i = x_i / r = y_i. You get d y_j / d x_i = (delta_ij - y_i y_j) / r.",
        "The VJP is sum_j v_j (delta_ij - y_i y_j) / r = (v_i - y_i <y, v>) / r, with one inner product <y, v> "
        "per row (.sum(dim=-1, keepdim=True)). It is orthogonal to x: scaling x does not change y.",
    ],
    solution=_normalize_vjp_solution,
    rtol=1e-5,
    forbidden=_no_autograd("derive the backward rule by hand, as the exercise asks"),
    mistakes=[
        Mistake(lambda x, v: v / x.norm(dim=-1, keepdim=True),
                "you treated ||x|| as a constant. The norm depends on x too, and its derivative adds a term along "
                "the direction of x.", status="norm_as_constant"),
        Mistake(lambda x, v: (v + _unit(x) * (_unit(x) * v).sum(-1, keepdim=True))
                / x.norm(dim=-1, keepdim=True),
                "check the sign of the term along y = x / ||x||: the gradient must be orthogonal to x, because "
                "stretching x does not change x / ||x||.", status="wrong_sign"),
        Mistake(lambda x, v: (v - _unit(x) * (_unit(x) * v).sum(-1, keepdim=True))
                / x.norm(dim=-1, keepdim=True) ** 2,
                "check the power of ||x||: doubling x must halve the gradient, so it scales like 1 / ||x||.",
                status="wrong_power"),
        Mistake(lambda x, v: (v - _unit(x) * (_unit(x) * v).sum(0, keepdim=True))
                / x.norm(dim=-1, keepdim=True),
                "you summed over the batch dimension. The inner product <y, v> is taken over the last dimension, "
                "one number per row.", status="wrong_dim"),
    ],
)

__all__ = ["ex_numerical_jacobian", "ex_softmax_vjp", "ex_normalize_vjp"]
