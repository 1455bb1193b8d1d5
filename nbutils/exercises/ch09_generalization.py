"""Exercises of the chapter "Generalisation in over-parameterised networks".

The references are torch built-ins or closed forms, never the chapter's code:
the pseudo-inverse for the minimum-norm interpolant, the concatenated
Jacobian matrix times its transpose for the tangent kernel, and the ridge
normal equations in parameter space (a P x P solve) for the ridge solution
that the learner computes in the N x N form.
"""
from __future__ import annotations

import torch

from nbutils.exercises.core import Case, Exercise, LoopFree, Mistake

_gen = torch.Generator().manual_seed(9)


def _randn(*shape: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    return torch.randn(*shape, generator=_gen, dtype=torch.float64).to(dtype)


# -------------------------------------------------------- 1. the minimum-norm interpolant

def _min_norm_reference(features, targets):
    """The pseudo-inverse applied to the targets."""
    return torch.linalg.pinv(features) @ targets


def _min_norm_solution(features, targets):
    """w = Psi^T a with (Psi Psi^T) a = t: the interpolant in the row space."""
    gram = features @ features.T
    return features.T @ torch.linalg.solve(gram, targets)


def _without_gram(features, targets):
    return features.T @ targets


def _divided_by_n(features, targets):
    return _min_norm_solution(features, targets) / features.shape[0]


def _wide(n: int, p: int, k: int | None = None, dtype=torch.float64) -> tuple:
    shape = (n,) if k is None else (n, k)
    return _randn(n, p, dtype=dtype), _randn(*shape, dtype=dtype)


_scaled = _wide(6, 40)
_scaled = (1e3 * _scaled[0], _scaled[1])

_FORBIDDEN_FACTOR = {
    name: "your answer calls {name}; use one torch.linalg.solve with the "
          "N x N Gram matrix of the rows instead."
    for name in ("torch.linalg.pinv", "torch.linalg.lstsq", "torch.linalg.svd",
                 "torch.svd", "torch.linalg.inv", "torch.linalg.qr",
                 "torch.linalg.eigh", "torch.pinverse")
}


def _rows(n: int) -> tuple:
    """n examples of 64 features, the same for the same n."""
    gen = torch.Generator().manual_seed(n)
    return (torch.randn(n, 64, generator=gen, dtype=torch.float64),
            torch.randn(n, generator=gen, dtype=torch.float64))


ex_min_norm_solution = Exercise(
    name="min_norm_solution",
    reference=_min_norm_reference,
    cases=[
        Case("5 examples, 12 features", _wide(5, 12)),
        Case("one-hot-like targets: 8 examples, 30 features, 3 outputs",
             _wide(8, 30, 3)),
        Case("features of size about 1e3", _scaled),
        Case("float32 input", _wide(6, 50, dtype=torch.float32)),
        Case("as many features as examples (square)", _wide(7, 7)),
    ],
    hints=[
        "Every gradient step adds a combination of the rows of Psi, so the "
        "answer is w = Psi^T a for some vector a of N numbers. Which a makes "
        "Psi w = t?",
        "Substituting w = Psi^T a into Psi w = t gives (Psi Psi^T) a = t: one "
        "N x N linear system. Solve it and return Psi^T a.",
    ],
    solution=_min_norm_solution,
    rtol=1e-4,
    mistakes=[
        Mistake(_without_gram,
                "Psi^T t is the first gradient direction, not the "
                "interpolant: it does not satisfy Psi w = t."),
        Mistake(_divided_by_n,
                "the answer is N times too small: the 1/N of the cost "
                "changes the gradient, not the interpolant."),
    ],
    forbidden=_FORBIDDEN_FACTOR,
    loop_free=LoopFree(_rows, sizes=(4, 16), what="the examples"),
)


# -------------------------------------------------------- 2. the tangent-kernel Gram matrix

def _gram_reference(jacobians):
    """Concatenate the flattened per-example Jacobians into G (N, P); G G^T."""
    g = torch.cat([j.reshape(j.shape[0], -1) for j in jacobians.values()], 1)
    return g @ g.T


def _gram_solution(jacobians):
    """One matrix product per parameter tensor, summed."""
    total = 0
    for jac in jacobians.values():
        flat = jac.reshape(jac.shape[0], -1)
        total = total + flat @ flat.T
    return total


def _first_tensor_only(jacobians):
    jac = next(iter(jacobians.values()))
    flat = jac.reshape(jac.shape[0], -1)
    return flat @ flat.T


def _mean_over_parameters(jacobians):
    n_params = sum(j[0].numel() for j in jacobians.values())
    return _gram_reference(jacobians) / n_params


def _jacobians(n: int, hidden: int = 5, inputs: int = 3,
               dtype=torch.float64) -> dict:
    """Per-example Jacobians of a two-layer network's scalar output."""
    gen = torch.Generator().manual_seed(100 * n + hidden)

    def randn(*shape):
        return torch.randn(*shape, generator=gen, dtype=torch.float64).to(dtype)

    return {"W": randn(n, hidden, inputs), "b": randn(n, hidden),
            "a": randn(n, hidden)}


ex_gram_from_jacobians = Exercise(
    name="gram_from_jacobians",
    reference=_gram_reference,
    cases=[
        Case("4 examples, W (5, 3), b (5,), a (5,)", (_jacobians(4),)),
        Case("one example", (_jacobians(1),)),
        Case("wider: 6 examples, 40 hidden units", (_jacobians(6, 40),)),
        Case("float32 input", (_jacobians(5, dtype=torch.float32),)),
        Case("a single parameter tensor", ({"w": _randn(3, 7)},)),
    ],
    hints=[
        "Entry (n, m) is the dot product of two gradients: sum over every "
        "parameter of d f(x_n)/d theta times d f(x_m)/d theta. Each parameter "
        "tensor contributes its own sum.",
        "Flatten each Jacobian to (N, size) with reshape(N, -1); flat @ flat.T "
        "is that tensor's (N, N) contribution. Add the contributions.",
    ],
    solution=_gram_solution,
    rtol=1e-5,
    mistakes=[
        Mistake(_first_tensor_only,
                "the kernel sums over all parameter tensors, not only the "
                "first one."),
        Mistake(_mean_over_parameters,
                "the kernel is a sum over the parameters, not a mean."),
    ],
    loop_free=(LoopFree(lambda n: (_jacobians(n),), sizes=(4, 16),
                        what="the examples"),
               LoopFree(lambda m: (_jacobians(4, hidden=m),), sizes=(4, 16),
                        what="the hidden units")),
)


# -------------------------------------------------------- 3. ridge in the N x N form

def _ridge_reference(features, targets, lam):
    """Normal equations (Psi^T Psi + N lam I) w = Psi^T t, a P x P solve.

    Solved in float64 and returned in the input's dtype.
    """
    n, p = features.shape
    f64, t64 = features.double(), targets.double()
    eye = torch.eye(p, dtype=torch.float64)
    w = torch.linalg.solve(f64.T @ f64 + n * lam * eye, f64.T @ t64)
    return w.to(features.dtype)


def _ridge_solution(features, targets, lam):
    """w = Psi^T (Psi Psi^T + N lam I)^{-1} t: only N x N matrices."""
    n = features.shape[0]
    eye = torch.eye(n, dtype=features.dtype)
    return features.T @ torch.linalg.solve(features @ features.T + n * lam * eye,
                                           targets)


def _ridge_without_n(features, targets, lam):
    return _ridge_solution(features, targets, lam / features.shape[0])


def _ridge_ignores_lam(features, targets, lam):
    return _min_norm_solution(features, targets)


ex_ridge_dual = Exercise(
    name="ridge_dual",
    reference=_ridge_reference,
    cases=[
        Case("8 examples, 256 features, lam = 0.1",
             (*_wide(8, 256), 0.1)),
        Case("large lam = 10", (*_wide(6, 100), 10.0)),
        Case("3 outputs, lam = 1e-3", (*_wide(10, 200, 3), 1e-3)),
        Case("float32 input, lam = 0.5",
             (*_wide(8, 128, dtype=torch.float32), 0.5)),
    ],
    hints=[
        "Multiply the normal equations (Psi^T Psi + N lam I) w = Psi^T t on "
        "the left by Psi and look for w of the form Psi^T a.",
        "w = Psi^T a with (Psi Psi^T + N lam I) a = t. The N x N identity is "
        "torch.eye(N, dtype=features.dtype).",
    ],
    solution=_ridge_solution,
    rtol=1e-4,
    mistakes=[
        Mistake(_ridge_without_n,
                "the book's ridge cost has 1/(2N) in front of the squared "
                "error, so the penalty enters the normal equations as "
                "N * lam, not lam."),
        Mistake(_ridge_ignores_lam,
                "this is the interpolant without the penalty: lam is missing "
                "from the N x N system."),
    ],
    memory_bound=3.0,
)

__all__ = ["ex_min_norm_solution", "ex_gram_from_jacobians", "ex_ridge_dual"]
