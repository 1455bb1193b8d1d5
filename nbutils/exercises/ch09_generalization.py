"""Exercises of the chapter "Generalisation in over-parameterised networks".

The references are torch built-ins or closed forms, never the chapter's code:
the pseudo-inverse for the interpolant closest to a starting point, the
concatenated Jacobian matrix times its transpose for the tangent kernel, and
the ridge normal equations in parameter space (a P x P solve) for the ridge
solution that the learner computes in the N x N form.
"""
from __future__ import annotations

import torch

from nbutils.exercises.core import Case, Exercise, LoopFree, Mistake, seeded_normal
from nbutils.exercises.recording import LEAVING_TORCH

_randn = seeded_normal(9)  # the cases' own stream of random numbers


# ------------------------------------ 1. the interpolant closest to a start

# "no NumPy": an answer that hands the tensors to NumPy (and calls
# np.linalg.pinv there) would escape every declaration below.
_NUMPY_ESCAPE = {
    name: "your answer calls {name} and computes in NumPy; write it with "
          "torch operations on the tensors."
    for name in LEAVING_TORCH
}


def _closest_reference(features, targets, start):
    """pinv(Psi) t + (I - pinv(Psi) Psi) w0: the limit of descent from w0."""
    pinv = torch.linalg.pinv(features)
    return pinv @ targets + start - pinv @ (features @ start)


def _closest_solution(features, targets, start):
    """w0 + Psi^T a with (Psi Psi^T) a = t - Psi w0: a move in the row space."""
    gram = features @ features.T
    residual = targets - features @ start
    return start + features.T @ torch.linalg.solve(gram, residual)


def _ignores_start(features, targets, start):
    gram = features @ features.T
    return features.T @ torch.linalg.solve(gram, targets)


def _adds_start(features, targets, start):
    return _ignores_start(features, targets, start) + start


def _wide(n: int, p: int, k: int | None = None, dtype=torch.float64) -> tuple:
    shape = (n,) if k is None else (n, k)
    return _randn(n, p, dtype=dtype), _randn(*shape, dtype=dtype)


def _with_start(n: int, p: int, k: int | None = None, dtype=torch.float64,
                scale: float = 1.0) -> tuple:
    features, targets = _wide(n, p, k, dtype)
    start = _randn(*((p,) if k is None else (p, k)), dtype=dtype)
    return scale * features, targets, start


# "no pseudo-inverse, least-squares solver, inverse, SVD, QR or
# eigendecomposition": every torch spelling of these (the aliases, such as
# torch.inverse and Tensor.pinverse, are caught with them).
_FORBIDDEN_FACTOR = {
    name: "your answer calls {name}; use one torch.linalg.solve with the "
          "N x N Gram matrix of the rows instead."
    for name in ("torch.linalg.pinv", "torch.linalg.lstsq", "torch.linalg.svd",
                 "torch.svd", "torch.linalg.svdvals", "torch.svd_lowrank",
                 "torch.pca_lowrank", "torch.linalg.inv",
                 "torch.cholesky_inverse", "torch.linalg.qr",
                 "torch.linalg.eigh", "torch.linalg.eigvalsh",
                 "torch.linalg.eig", "torch.linalg.eigvals", "torch.pinverse")
} | {
    # matrix_power(G, -1) is the inverse under another name
    "torch.linalg.matrix_power": "your answer calls {name}; a negative power "
                                 "is an inverse. Use one torch.linalg.solve "
                                 "with the N x N Gram matrix of the rows "
                                 "instead.",
} | _NUMPY_ESCAPE


def _rows(n: int) -> tuple:
    """n examples of 64 features and a start, the same for the same n."""
    gen = torch.Generator().manual_seed(n)
    return (torch.randn(n, 64, generator=gen, dtype=torch.float64),
            torch.randn(n, generator=gen, dtype=torch.float64),
            torch.randn(64, generator=gen, dtype=torch.float64))


ex_closest_interpolant = Exercise(
    name="closest_interpolant",
    reference=_closest_reference,
    cases=[
        Case("5 examples, 12 features", _with_start(5, 12)),
        Case("one-hot-like targets: 8 examples, 30 features, 3 outputs",
             _with_start(8, 30, 3)),
        Case("features of size about 1e3; 4 examples, 200 features",
             _with_start(4, 200, scale=1e3)),
        Case("float32 input", _with_start(6, 50, dtype=torch.float32)),
        Case("as many features as examples (square)", _with_start(7, 7)),
    ],
    hints=[
        "Gradient descent from w0 only adds combinations of the rows of Psi, "
        "so the answer is w = w0 + Psi^T a for some vector a of N numbers. "
        "Which a makes Psi w = t?",
        "Substituting w = w0 + Psi^T a into Psi w = t gives (Psi Psi^T) a = "
        "t - Psi w0: one N x N linear system. Solve it and return "
        "w0 + Psi^T a.",
    ],
    solution=_closest_solution,
    rtol=1e-4,
    mistakes=[
        Mistake(_ignores_start,
                "this is the minimum-norm interpolant, the limit from zero: "
                "the part of the start outside the row space is missing."),
        Mistake(_adds_start,
                "adding the whole start to the minimum-norm interpolant "
                "breaks the fit: only the start's part outside the row space "
                "survives."),
    ],
    # "only one N x N linear system": a P x P matrix (the normal equations in
    # parameter space) is P / N times the features, 50 times in the third case
    memory_bound=3.0,
    forbidden=_FORBIDDEN_FACTOR,
    loop_free=LoopFree(_rows, sizes=(4, 16), what="the examples"),
)


# ------------------------------------------ 2. the tangent-kernel Gram matrix

def _gram_reference(jacobians):
    """Concatenate the flattened per-example Jacobians into G (N, P); G G^T."""
    flat = [j.reshape(j.shape[0], -1) for j in jacobians.values()]
    g = torch.cat(flat, 1)
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
        Case("one example, 32 parameter tensors of 8 entries each",
             ({f"w{i}": _randn(1, 8) for i in range(32)},)),
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
    # "without assembling G": G is P / (largest tensor's size) times the
    # largest Jacobian, 32 times in the second case, however it is built (by
    # torch.cat, by filling the slices of a zero matrix, by padding and
    # adding). Broadcast products of rows, N x N x size, are at most N = 16
    # times the largest input (in the loop check), and stay allowed.
    memory_bound=20.0,
    # "no torch.cat or other concatenation"
    forbidden={
        name: "your answer calls {name}, which assembles the N x P matrix G; "
              "add one contribution per parameter tensor instead."
        for name in ("torch.cat", "torch.concat", "torch.concatenate",
                     "torch.hstack", "torch.column_stack")
    } | _NUMPY_ESCAPE,
    loop_free=(LoopFree(lambda n: (_jacobians(n),), sizes=(4, 16),
                        what="the examples"),
               LoopFree(lambda m: (_jacobians(4, hidden=m),), sizes=(4, 16),
                        what="the hidden units")),
)


# -------------------------------------------------- 3. ridge in the N x N form

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
    system = features @ features.T + n * lam * eye
    return features.T @ torch.linalg.solve(system, targets)


def _ridge_without_n(features, targets, lam):
    return _ridge_solution(features, targets, lam / features.shape[0])


def _ridge_ignores_lam(features, targets, lam):
    gram = features @ features.T
    return features.T @ torch.linalg.solve(gram, targets)


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
    # "computes w that way", from the N x N linear system: the thin SVD of
    # Psi with the filter factors of (9.4) is another route, not this one
    forbidden={
        name: "your answer calls {name}; derive the N x N linear system from "
              "the normal equations and solve it instead."
        for name in ("torch.linalg.svd", "torch.svd", "torch.svd_lowrank",
                     "torch.pca_lowrank")
    } | _NUMPY_ESCAPE,
)

__all__ = ["ex_closest_interpolant", "ex_gram_from_jacobians", "ex_ridge_dual"]
