"""Exercises of the chapter "Regularisation and dropout".

The references are closed forms computed independently of the chapter's code:
``torch.nn.functional.softshrink`` for the proximal L1 step, and an explicit
enumeration of the masks with ``itertools.product`` for the exact average of a
dropout layer. Each exercise names the typical mistakes of its topic (the
subgradient step instead of the proximal one, a threshold without the learning
rate, the wrong mask weights, weight scaling instead of the average) without
giving the answer away. The model solutions are what ``solution()`` shows.
"""
from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F

from nbutils.exercises.core import Case, Exercise, LoopFree, Mistake, seeded_normal
from nbutils.exercises.recording import LEAVING_TORCH

_randn = seeded_normal(7)  # the cases' own stream of random numbers


# ------------------------------------------------ 1. the proximal L1 step

def _prox_reference(W, grad_J, lr, l1):
    """Soft threshold of the gradient step, by torch's softshrink."""
    return F.softshrink(W - lr * grad_J, lr * l1)


def _prox_solution(W, grad_J, lr, l1):
    """Gradient step on J, then shrink every entry towards 0 by lr * l1."""
    U = W - lr * grad_J
    return torch.sign(U) * torch.clamp(U.abs() - lr * l1, min=0)


def _prox_subgradient(W, grad_J, lr, l1):
    return W - lr * (grad_J + l1 * torch.sign(W))


def _prox_threshold_without_lr(W, grad_J, lr, l1):
    u = W - lr * grad_J
    return torch.sign(u) * torch.clamp(u.abs() - l1, min=0)


def _prox_shrink_first(W, grad_J, lr, l1):
    shrunk = torch.sign(W) * torch.clamp(W.abs() - lr * l1, min=0)
    return shrunk - lr * grad_J


def _prox_hard_threshold(W, grad_J, lr, l1):
    u = W - lr * grad_J
    return torch.where(u.abs() > lr * l1, u, torch.zeros_like(u))


def _prox_case(rows: int, cols: int, dtype=torch.float64) -> tuple:
    W, grad_J = _randn(rows, cols, dtype=dtype), _randn(rows, cols, dtype=dtype)
    return W, grad_J, 0.1, 2.0


def _prox_size(n: int) -> tuple:
    gen = torch.Generator().manual_seed(n)
    W, grad_J = torch.randn(2, n, 3, generator=gen, dtype=torch.float64)
    return W, grad_J, 0.1, 1.0


_with_zeros = list(_prox_case(4, 5))
_with_zeros[0] = _with_zeros[0].clone()
_with_zeros[0][0] = 0.0
_with_zeros[1] = _with_zeros[1].clone()
_with_zeros[1][0] = 0.0

ex_l1_prox_step = Exercise(
    name="l1_prox_step",
    reference=_prox_reference,
    cases=[
        Case("a 4 x 5 weight matrix, lr 0.1, l1 2", _prox_case(4, 5)),
        Case("a row of zero weights with zero gradient", tuple(_with_zeros)),
        Case("l1 = 0 (a plain gradient step)",
             (_randn(3, 3), _randn(3, 3), 0.5, 0.0)),
        Case("float32 input", _prox_case(6, 2, dtype=torch.float32)),
        Case("a vector of 7 weights, lr 1, l1 0.3",
             (_randn(7), _randn(7), 1.0, 0.3)),
    ],
    hints=[
        "First take the gradient step on J alone: U = W - lr * grad_J. The "
        "proximal problem is a sum over entries, so solve it for one entry "
        "u: where is the derivative of (w - u)^2 / (2 lr) + l1 |w| zero for "
        "w > 0, for w < 0, and when is neither possible?",
        "For w > 0 the answer is w = u - lr * l1, valid only when u > lr * "
        "l1; for w < 0 it is w = u + lr * l1. When |u| <= lr * l1 the "
        "minimum is at 0. Write that for all entries at once with the sign, "
        "the absolute value and a clamp at 0.",
    ],
    solution=_prox_solution,
    rtol=1e-6,
    mistakes=[
        Mistake(_prox_subgradient,
                "this is the subgradient step W - lr (grad_J + l1 sign(W)), "
                "which jumps over 0 instead of stopping there: take the "
                "gradient step on J first, then shrink."),
        Mistake(_prox_threshold_without_lr,
                "the threshold is too large: the proximal problem has the "
                "factor 1 / (2 lr), so the shrinkage is lr times l1."),
        Mistake(_prox_shrink_first,
                "you shrank W before the gradient step; shrink the result "
                "U = W - lr grad_J of the gradient step instead."),
        Mistake(_prox_hard_threshold,
                "entries above the threshold must also move towards 0 by the "
                "threshold (soft thresholding), not stay as they are."),
    ],
    forbidden={
        "torch.nn.functional.softshrink": "your answer calls {name}; write "
        "the soft threshold with sign, abs and clamp instead.",
        # a loop over Python numbers would not show in the operation count
        **{name: "your answer leaves torch with {name}; compute on the whole "
                 "tensor with tensor operations"
           for name in LEAVING_TORCH},
    },
    loop_free=LoopFree(_prox_size, sizes=(4, 16), what="the weights"),
    memory_bound=4.0,
)


# ------------------------------------------ 2. the exact average over masks

def _average_reference(x, W, b, p):
    """Enumerate the 2^D masks one by one and weight each by its probability."""
    d = x.shape[0]
    total = torch.zeros(W.shape[0], dtype=x.dtype)
    for bits in itertools.product((0.0, 1.0), repeat=d):
        mask = torch.tensor(bits, dtype=x.dtype)
        kept = int(sum(bits))
        prob = (1 - p) ** kept * p ** (d - kept)
        total = total + prob * torch.relu(W @ (mask * x / (1 - p)) + b)
    return total


def _masks(d: int, dtype) -> torch.Tensor:
    return ((torch.arange(2**d)[:, None] >> torch.arange(d)) & 1).to(dtype)


def _average_solution(x, W, b, p):
    """All masks as a (2^D, D) tensor, their probabilities, one layer call."""
    d = x.shape[0]
    bits = (torch.arange(2**d)[:, None] >> torch.arange(d)) & 1
    masks = bits.to(x.dtype)  # row k: the binary digits of k
    probs = ((1 - p) ** masks * p ** (1 - masks)).prod(dim=1)
    outputs = torch.relu((masks * x / (1 - p)) @ W.T + b)
    return probs @ outputs


def _average_unscaled(x, W, b, p):
    masks = _masks(x.shape[0], x.dtype)
    probs = ((1 - p) ** masks * p ** (1 - masks)).prod(dim=1)
    return probs @ torch.relu((masks * x) @ W.T + b)


def _average_uniform(x, W, b, p):
    masks = _masks(x.shape[0], x.dtype)
    return torch.relu((masks * x / (1 - p)) @ W.T + b).mean(dim=0)


def _average_weight_scaling(x, W, b, p):
    return torch.relu(W @ x + b)


def _average_divide_by_p(x, W, b, p):
    masks = _masks(x.shape[0], x.dtype)
    probs = ((1 - p) ** masks * p ** (1 - masks)).prod(dim=1)
    return probs @ torch.relu((masks * x / p) @ W.T + b)


def _average_swapped_probs(x, W, b, p):
    masks = _masks(x.shape[0], x.dtype)
    probs = (p ** masks * (1 - p) ** (1 - masks)).prod(dim=1)
    return probs @ torch.relu((masks * x / (1 - p)) @ W.T + b)


def _layer(d: int, m: int, dtype=torch.float64) -> tuple:
    x, W = _randn(d, dtype=dtype), _randn(m, d, dtype=dtype)
    return x, W, _randn(m, dtype=dtype)


def _average_size(n: int) -> tuple:
    gen = torch.Generator().manual_seed(n)
    return (torch.randn(n, generator=gen, dtype=torch.float64),
            torch.randn(3, n, generator=gen, dtype=torch.float64),
            torch.randn(3, generator=gen, dtype=torch.float64), 0.3)


ex_mask_average = Exercise(
    name="mask_average",
    reference=_average_reference,
    cases=[
        Case("D = 3 inputs, M = 2 units, p = 0.3", (*_layer(3, 2), 0.3)),
        Case("D = 8 inputs, M = 5 units, p = 0.2", (*_layer(8, 5), 0.2)),
        Case("p = 0.5", (*_layer(4, 3), 0.5)),
        Case("one input", (*_layer(1, 2), 0.4)),
        Case("float32 input", (*_layer(5, 4, dtype=torch.float32), 0.25)),
    ],
    hints=[
        "The integers 0 .. 2^D - 1 written in binary are all the masks: "
        "(torch.arange(2**D)[:, None] >> torch.arange(D)) & 1 gives them as "
        "rows. Convert them to the input's dtype.",
        "A mask's probability is the product over inputs of (1 - p) where it "
        "keeps and p where it drops. Run the layer on all masked inputs "
        "(masks * x / (1 - p)) at once, then take the probability-weighted "
        "sum of the rows.",
    ],
    solution=_average_solution,
    rtol=1e-5,
    mistakes=[
        Mistake(_average_weight_scaling,
                "this is weight scaling, relu(W x + b): the ReLU does not "
                "commute with the average, so average the outputs over the "
                "masks instead."),
        Mistake(_average_unscaled,
                "the layer receives inverted dropout: divide the kept inputs "
                "by the keep probability 1 - p."),
        Mistake(_average_divide_by_p,
                "divide the kept inputs by the keep probability 1 - p, not by "
                "the drop rate p."),
        Mistake(_average_uniform,
                "the masks are not equally likely unless p = 0.5: weight each "
                "by its probability."),
        Mistake(_average_swapped_probs,
                "a kept input has probability 1 - p and a dropped one p; your "
                "mask probabilities have them the other way round."),
    ],
    loop_free=LoopFree(_average_size, sizes=(3, 6), what="the masks or inputs"),
)

__all__ = ["ex_l1_prox_step", "ex_mask_average"]
