"""Exercises of the chapter "Learning from data with linear models".

References come from torch's autograd (``torch.func``), never from the
chapter's own code. Each exercise also knows the typical wrong answers
(:class:`Mistake`): when a learner's result equals one of them, the message
names the mistake instead of only saying "wrong values".
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.func import grad, hessian

from nbutils.exercises.core import Case, Exercise, Mistake
from nbutils.exercises.recording import AUTOGRAD

__all__ = ["ex_logistic_hessian", "ex_newton_step"]


_gen = torch.Generator().manual_seed(1)
# The exercise text asks to differentiate by hand; automatic differentiation would skip the lesson.
_DERIVE_BY_HAND = {name: "your answer calls {name}; derive the Hessian by hand and compute it with tensor "
                         "operations" for name in AUTOGRAD}


def _logistic_cost(X: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of logistic regression; the targets do not change the Hessian, so t = 0."""
    z = X @ w
    return F.binary_cross_entropy_with_logits(z, torch.zeros_like(z))


def _logistic_hessian_reference(X: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return hessian(lambda v: _logistic_cost(X, v))(w)


def _logistic_hessian_solution(X: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """H = (1/N) X^T diag(y (1 - y)) X with y = sigmoid(X w), without building the N x N diagonal."""
    y = torch.sigmoid(X @ w)
    return X.T @ (X * (y * (1 - y)).unsqueeze(1)) / X.shape[0]


def _with_bias(X: torch.Tensor) -> torch.Tensor:
    return torch.cat([torch.ones(X.shape[0], 1, dtype=X.dtype), X], dim=1)


def _sigmoid_weights(X: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    y = torch.sigmoid(X @ w)
    return y * (1 - y)


_X1 = _with_bias(torch.randn(6, 2, generator=_gen, dtype=torch.float64))
_w1 = torch.randn(3, generator=_gen, dtype=torch.float64)
_X2 = _with_bias(torch.randn(40, 4, generator=_gen, dtype=torch.float64))
_w2 = torch.randn(5, generator=_gen, dtype=torch.float64)
_X3 = _with_bias(torch.randn(8, 2, generator=_gen, dtype=torch.float64))
_w3 = torch.tensor([0.0, 400.0, -400.0], dtype=torch.float64)

ex_logistic_hessian = Exercise(
    name="logistic_hessian",
    reference=_logistic_hessian_reference,
    cases=[
        Case("6 examples, bias + 2 features", (_X1, _w1)),
        Case("40 examples, bias + 4 features", (_X2, _w2)),
        Case("w = 0 (every y = 1/2)", (_X2, torch.zeros(5, dtype=torch.float64))),
        Case("confident predictions (|z| up to about 1000)", (_X3, _w3),
             nonfinite_hint="Here |z| reaches about 1000 and exp(z) overflows: compute y with torch.sigmoid "
                            "(or 1 / (1 + exp(-z))), then y (1 - y)."),
        Case("float32 input", (_X1.float(), _w1.float())),
    ],
    hints=[
        "Start from the gradient (1/N) X^T (y - t) and differentiate it once more with respect to w. "
        "Only y depends on w, and dy_n/dz_n = y_n (1 - y_n).",
        "The Hessian is (1/N) X^T S X, where S is diagonal with entries y_n (1 - y_n). Instead of building "
        "the N x N matrix S, scale the rows of X: X * s.unsqueeze(1).",
    ],
    solution=_logistic_hessian_solution,
    rtol=1e-5,
    forbidden=_DERIVE_BY_HAND,
    mistakes=(
        Mistake(lambda X, w: X.shape[0] * _logistic_hessian_reference(X, w),
                "it is N times too large. The cost J is the mean loss over the N examples, so its Hessian "
                "has a factor 1/N."),
        Mistake(lambda X, w: X.T @ X / X.shape[0],
                "this is the Hessian of linear regression's cost. Here the prediction y = sigmoid(z) bends, "
                "so every example is weighted by the slope of the sigmoid at its z."),
        Mistake(lambda X, w: X.T @ (X * torch.sigmoid(X @ w).unsqueeze(1)) / X.shape[0],
                "every example is weighted by y_n. Differentiate y = sigmoid(z) once more: "
                "dy/dz is not y."),
        Mistake(lambda X, w: (X * _sigmoid_weights(X, w).unsqueeze(1)) @ X.T / X.shape[0],
                "the result is N x N: you multiplied X S X^T. The Hessian with respect to w has one row "
                "and one column per weight, so it is (D + 1) x (D + 1): X^T S X."),
        Mistake(lambda X, w: -_logistic_hessian_reference(X, w),
                "the sign is flipped. The cross-entropy cost is convex, so its Hessian has no negative "
                "eigenvalue; check the sign of the derivative of the sigmoid."),
    ),
)


# --------------------------------------------------------------------------- Newton's method

def _mean_cross_entropy(X: torch.Tensor, w: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(X @ w, t)


def _newton_reference(X: torch.Tensor, w: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """w - H^{-1} grad J with the gradient and Hessian from torch.func, solved (not inverted)."""
    gradient = grad(lambda v: _mean_cross_entropy(X, v, t))(w)
    return w - torch.linalg.solve(_logistic_hessian_reference(X, w), gradient)


def _newton_step_solution(X: torch.Tensor, w: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """One Newton step on the mean cross-entropy: solve H s = grad J, return w - s."""
    N = X.shape[0]
    y = torch.sigmoid(X @ w)
    gradient = X.T @ (y - t) / N
    hessian_matrix = X.T @ (X * (y * (1 - y)).unsqueeze(1)) / N
    return w - torch.linalg.solve(hessian_matrix, gradient)


def _newton_with(X: torch.Tensor, w: torch.Tensor, t: torch.Tensor, hessian_matrix: torch.Tensor) -> torch.Tensor:
    gradient = X.T @ (torch.sigmoid(X @ w) - t) / X.shape[0]
    return w - torch.linalg.solve(hessian_matrix, gradient)


_X4 = _with_bias(torch.randn(50, 2, generator=_gen, dtype=torch.float64))
_t4 = (torch.rand(50, generator=_gen) < torch.sigmoid(_X4 @ torch.tensor([0.3, 1.5, -1.0], dtype=torch.float64))
       ).to(torch.float64)
_w4 = 0.5 * torch.randn(3, generator=_gen, dtype=torch.float64)
_X5 = _with_bias(torch.randn(30, 4, generator=_gen, dtype=torch.float64))
_t5 = (torch.rand(30, generator=_gen) < 0.5).to(torch.float64)

ex_newton_step = Exercise(
    name="newton_step",
    reference=_newton_reference,
    cases=[
        Case("50 examples, bias + 2 features", (_X4, _w4, _t4)),
        Case("starting from w = 0", (_X4, torch.zeros(3, dtype=torch.float64), _t4)),
        Case("30 examples, bias + 4 features", (_X5, 0.3 * torch.ones(5, dtype=torch.float64), _t5)),
        Case("float32 input", (_X4.float(), _w4.float(), _t4.float())),
    ],
    hints=[
        "Newton's method jumps to the minimum of the quadratic that matches J's value, gradient and Hessian "
        "at w. That minimum is w - H^{-1} grad J, with the gradient (1/N) X^T (y - t) and the Hessian of "
        "the previous exercise.",
        "Compute s with torch.linalg.solve(H, gradient) rather than torch.linalg.inv(H) @ gradient, and "
        "return w - s (the new weights, not the step).",
    ],
    solution=_newton_step_solution,
    rtol=1e-5,
    forbidden={  # the text: "Solve a linear system; do not invert H"
        "torch.linalg.inv": "your answer calls torch.linalg.inv; solve the linear system H s = grad J "
                            "instead of inverting H",
        "torch.linalg.pinv": "your answer calls torch.linalg.pinv; solve the linear system H s = grad J "
                             "instead of inverting H",
    },
    mistakes=(
        Mistake(lambda X, w, t: 2 * w - _newton_reference(X, w, t),
                "the step goes the wrong way: it climbs the cost. Subtract H^{-1} grad J from w."),
        Mistake(lambda X, w, t: _newton_reference(X, w, t) - w,
                "you returned the step -H^{-1} grad J. Return the new weights, w minus H^{-1} grad J."),
        Mistake(lambda X, w, t: _newton_with(X, w, t, X.shape[0] * _logistic_hessian_reference(X, w)),
                "the step is N times too short: the Hessian is of the summed loss while the gradient is of the "
                "mean. Use the mean cost J for both."),
        Mistake(lambda X, w, t: _newton_with(X, w, t, X.T @ X / X.shape[0]),
                "you used X^T X / N, the Hessian of linear regression. Logistic regression's Hessian weights "
                "each example by y_n (1 - y_n)."),
        Mistake(lambda X, w, t: w - X.T @ (torch.sigmoid(X @ w) - t) / X.shape[0],
                "this is a gradient-descent step with learning rate 1. Newton's method multiplies the gradient "
                "by the inverse Hessian (solve H s = grad J)."),
    ),
)
