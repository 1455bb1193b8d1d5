"""Exercises of the chapter "Multilayer perceptrons and activation functions".

The references are torch's own code (autograd through ``F.silu`` and ``F.prelu``, and
``F.max_pool1d`` for the grouping of a maxout layer), never the chapter's. Besides the
generic checks of :class:`~nbutils.exercises.core.Exercise` (shape, dtype, NaN, forgotten
return, ...), each exercise recognises the typical mistakes of its topic (a forgotten
product rule, an average where the chain rule adds, interleaved maxout groups) and names
them without giving the answer away. The model solutions are what ``solution()`` shows.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from nbutils.exercises.core import Case, Exercise, LoopFree, Mistake
from nbutils.exercises.recording import AUTOGRAD

_gen = torch.Generator().manual_seed(3)


def _derive_by_hand(what: str) -> dict[str, str]:
    """Forbid automatic differentiation: the exercise asks for a derivative worked out by hand."""
    return {name: f"your answer calls {{name}}; derive {what} by hand and compute it with tensor operations"
            for name in AUTOGRAD}


# --------------------------------------------------------------------------- the SiLU derivative

def _silu_grad_reference(z: torch.Tensor) -> torch.Tensor:
    """d/dz of F.silu(z), element by element, by torch's autograd."""
    z = z.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(F.silu(z).sum(), z)
    return grad


def _silu_grad_solution(z: torch.Tensor) -> torch.Tensor:
    """Product rule on z * sigmoid(z): sigmoid(z) + z * sigmoid(z) * (1 - sigmoid(z))."""
    s = torch.sigmoid(z)  # stable at any z, unlike exp(z) / (1 + exp(z))
    return s * (1 + z * (1 - s))


ex_silu_grad = Exercise(
    name="silu_grad",
    reference=_silu_grad_reference,
    cases=[
        Case("eleven points from -5 to 5", (torch.linspace(-5, 5, 11, dtype=torch.float64),)),
        Case("a (3, 4) batch", (torch.randn(3, 4, generator=_gen, dtype=torch.float64),)),
        Case("large inputs (±1000)", (torch.tensor([-1000.0, -50.0, 0.0, 50.0, 1000.0], dtype=torch.float64),),
             nonfinite_hint="At z = 1000, exp(z) overflows to inf and inf / inf is NaN: compute the sigmoid "
                            "so that only exp(-|z|) is ever formed, or use torch.sigmoid."),
        Case("float32 input", (torch.linspace(-4, 4, 9),)),
    ],
    hints=[
        "SiLU is a product of two functions of z, u = z and v = sigmoid(z): use (uv)' = u'v + uv'.",
        "The derivative of the sigmoid is sigmoid(z) * (1 - sigmoid(z)). Compute s = torch.sigmoid(z) once "
        "and write the whole derivative in terms of s and z.",
    ],
    solution=_silu_grad_solution,
    rtol=1e-5,
    forbidden={**_derive_by_hand("the derivative"),
               "torch.nn.functional.silu": "your answer calls F.silu, SiLU itself (also in a finite "
                                           "difference); derive its derivative and write it with tensor operations"},
    mistakes=[
        Mistake(lambda z: torch.sigmoid(z), "this is sigmoid(z) alone. SiLU is the product z * sigmoid(z), "
                "so its derivative has two terms (product rule)."),
        Mistake(lambda z: torch.sigmoid(z) * (1 - torch.sigmoid(z)),
                "this is the derivative of sigmoid(z), not of z * sigmoid(z)."),
        Mistake(lambda z: z * torch.sigmoid(z) * (1 - torch.sigmoid(z)),
                "you kept the term z * sigmoid'(z) of the product rule but lost the other one, 1 * sigmoid(z)."),
        Mistake(lambda z: torch.sigmoid(z) * (1 - z * (1 - torch.sigmoid(z))),
                "a sign is flipped: sigmoid'(z) = sigmoid(z) * (1 - sigmoid(z)) is positive everywhere."),
    ],
)


# --------------------------------------------------------------------------- the PReLU slope gradient

def _prelu_slope_grad_reference(z: torch.Tensor, a: torch.Tensor, grad_h: torch.Tensor) -> torch.Tensor:
    """dL/da for h = F.prelu(z, a) and upstream gradient dL/dh = grad_h, by torch's autograd."""
    a = a.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(F.prelu(z, a), a, grad_outputs=grad_h)
    return grad


def _prelu_slope_grad_solution(z: torch.Tensor, a: torch.Tensor, grad_h: torch.Tensor) -> torch.Tensor:
    """Chain rule: dh/da = min(z, 0) entry by entry; a slope's gradient adds the entries that share it."""
    per_entry = grad_h * torch.clamp(z, max=0)  # (N, C)
    if a.numel() == 1:  # one slope shared by every channel
        return per_entry.sum().reshape(a.shape)
    return per_entry.sum(dim=0)  # one slope per channel: add over the N examples


def _prelu_case(n: int, c: int, n_slopes: int, dtype=torch.float64) -> tuple:
    z = torch.randn(n, c, generator=_gen, dtype=dtype)
    a = 0.25 + 0.1 * torch.randn(n_slopes, generator=_gen, dtype=dtype)
    grad_h = torch.randn(n, c, generator=_gen, dtype=dtype)
    return z, a, grad_h


_z_with_zeros = torch.tensor([[-1.5, 0.0, 2.0], [0.0, -0.5, -3.0], [1.0, 0.0, -2.0], [-0.25, 4.0, 0.0]],
                             dtype=torch.float64)

ex_prelu_slope_grad = Exercise(
    name="prelu_slope_grad",
    reference=_prelu_slope_grad_reference,
    cases=[
        Case("8 examples, 3 channels, one slope per channel", _prelu_case(8, 3, 3)),
        Case("one slope shared by all 4 channels (a has shape (1,))", _prelu_case(6, 4, 1)),
        Case("inputs with exact zeros", (_z_with_zeros, torch.tensor([0.1, 0.2, 0.3], dtype=torch.float64),
                                         torch.randn(4, 3, generator=_gen, dtype=torch.float64))),
        Case("float32 input", _prelu_case(5, 2, 2, dtype=torch.float32)),
    ],
    hints=[
        "For one entry, h = z if z > 0 and h = a z otherwise, so dh/da is 0 where z > 0 and z where z <= 0, "
        "that is min(z, 0). The chain rule multiplies it by dL/dh = grad_h.",
        "Each slope is used by many entries (all N examples of its channel, or every entry when a has one "
        "element). The gradient of a shared parameter is the sum of the contributions of every entry that "
        "uses it. Return a tensor with a's shape.",
    ],
    solution=_prelu_slope_grad_solution,
    rtol=1e-5,
    forbidden=_derive_by_hand("the gradient"),
    mistakes=[
        Mistake(lambda z, a, g: g * torch.clamp(z, max=0),
                "you returned one value per example and channel. A slope is shared by all N examples, "
                "so its gradient adds their contributions."),
        Mistake(lambda z, a, g: (g * torch.clamp(z, max=0)).mean(dim=0),
                "you averaged over the examples. The chain rule adds the contributions of every use of a "
                "shared parameter; it does not average them."),
        Mistake(lambda z, a, g: (g * torch.clamp(z, max=0)).sum(dim=0),
                "you returned one gradient per channel, but here a has a single slope shared by every "
                "channel: add the channels' contributions too."),
        Mistake(lambda z, a, g: (g * z).sum(dim=0),
                "you used z for every entry. Where z > 0 the unit outputs z, which does not depend on a, "
                "so those entries contribute nothing."),
        Mistake(lambda z, a, g: (g * z).sum().reshape(a.shape),
                "you used z for every entry. Where z > 0 the unit outputs z, which does not depend on a, "
                "so those entries contribute nothing."),
        Mistake(lambda z, a, g: torch.clamp(z, max=0).sum(dim=0),
                "you left out grad_h. By the chain rule, dL/da multiplies dh/da by the upstream gradient dL/dh."),
    ],
)


# --------------------------------------------------------------------------- a maxout layer

def _maxout_layer_reference(X: torch.Tensor, W: torch.Tensor, b: torch.Tensor, k: int) -> torch.Tensor:
    """All M*k affine pieces by F.linear, then the max of each run of k consecutive pieces by F.max_pool1d."""
    return F.max_pool1d(F.linear(X, W, b).unsqueeze(1), kernel_size=k).squeeze(1)


def _maxout_layer_solution(X: torch.Tensor, W: torch.Tensor, b: torch.Tensor, k: int) -> torch.Tensor:
    """Maxout: unit i keeps the largest of the pieces i*k, ..., i*k + k - 1."""
    Z = X @ W.T + b  # (N, M*k): every piece of every unit
    return Z.unflatten(-1, (-1, k)).amax(dim=-1)  # (N, M, k) -> (N, M)


def _maxout_case(n: int, d: int, m: int, k: int, dtype=torch.float64, gen: torch.Generator = _gen) -> tuple:
    return (torch.randn(n, d, generator=gen, dtype=dtype), torch.randn(m * k, d, generator=gen, dtype=dtype),
            torch.randn(m * k, generator=gen, dtype=dtype), k)


def _maxout_sized(n_examples: int, n_units: int, k: int) -> tuple:
    """A maxout case of the given sizes, the same at every call (for the loop tests)."""
    return _maxout_case(n_examples, 4, n_units, k, gen=torch.Generator().manual_seed(n_examples * n_units * k))


ex_maxout_layer = Exercise(
    name="maxout_layer",
    reference=_maxout_layer_reference,
    cases=[
        Case("5 examples, 4 inputs, 3 units of k = 2 pieces", _maxout_case(5, 4, 3, 2)),
        Case("6 examples, 3 inputs, 2 units of k = 3 pieces", _maxout_case(6, 3, 2, 3)),
        Case("k = 1 (a plain linear layer)", _maxout_case(4, 3, 5, 1)),
        Case("float32 input, 4 units of k = 5 pieces", _maxout_case(3, 6, 4, 5, dtype=torch.float32)),
    ],
    hints=[
        "First compute all M*k affine pieces at once, Z = X W^T + b, of shape (N, M*k). Then each unit "
        "keeps the largest of its own k pieces.",
        "Unit i owns the k consecutive columns i*k, ..., i*k + k - 1 of Z. Reshape Z to (N, M, k) so the last "
        "dimension holds one unit's pieces (Z.unflatten or Z.reshape), then take the max over it "
        "(amax, or .max(dim=...).values: torch.max with a dim returns values and indices).",
    ],
    solution=_maxout_layer_solution,
    rtol=1e-6,
    loop_free=(  # the text: "No Python loops: use one matrix product and one reduction."
        LoopFree(lambda n: _maxout_sized(n, 3, 2), what="the examples"),
        LoopFree(lambda n: _maxout_sized(3, n, 2), what="the units"),
        LoopFree(lambda n: _maxout_sized(3, 2, n), sizes=(2, 6), what="the pieces of a unit"),
    ),
    mistakes=[
        Mistake(lambda X, W, b, k: (X @ W.T + b).unflatten(-1, (k, -1)).amax(dim=-2),
                "your groups are interleaved: they take every M-th piece. Unit i must own the k consecutive "
                "pieces i*k, ..., i*k + k - 1 (rows of W)."),
        Mistake(lambda X, W, b, k: (X @ W.T).unflatten(-1, (-1, k)).amax(dim=-1),
                "the bias b is missing: each piece is w^T x + b."),
        Mistake(lambda X, W, b, k: (X @ W.T + b).unflatten(-1, (-1, k)).amin(dim=-1),
                "you took the minimum of each group; maxout keeps the maximum."),
        Mistake(lambda X, W, b, k: (X @ W.T + b).amax(dim=-1),
                "you took one maximum over all M*k pieces. Each of the M units keeps the maximum of its own "
                "k pieces, so the result has shape (N, M)."),
        Mistake(lambda X, W, b, k: (X @ W.T + b).amax(dim=0),
                "you took the maximum over the examples (dimension 0). The maximum is over each unit's k pieces."),
    ],
)

__all__ = ["ex_silu_grad", "ex_prelu_slope_grad", "ex_maxout_layer"]
