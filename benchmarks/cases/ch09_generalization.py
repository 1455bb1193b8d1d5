"""Chapter 9: the closed-form tangent kernel of the two-layer network against torch.func's per-example
Jacobians, and ridge from one SVD against the normal equations."""
import math

import torch
from torch.func import jacrev, vmap

from benchmarks.cases import ELEMENTWISE_GOAL, RatioCase

CHAPTER = "09_generalization"
WIDTH, INPUTS = 512, 2  # the chapter's two-layer network on points of the plane
FEATURES, OUTPUTS, LAM = 2000, 10, 1e-4  # the widest random-features model of the sweep


def two_layer(size: int, generator: torch.Generator) -> tuple:
    """Parameters W (512, 2), b (512,), a (512,) from N(0, 1) and ``size`` inputs X (size, 2), float64."""
    def normal(*shape):
        return torch.randn(*shape, generator=generator, dtype=torch.float64)

    return normal(WIDTH, INPUTS), normal(WIDTH), normal(WIDTH), normal(size, INPUTS)


def ntk_by_torch_func(W, b, a, X):
    """G G^T with G from jacrev of one example's output, vmapped over the examples."""
    def f(params, x):
        W, b, a = params
        return torch.tanh(W @ x + b) @ a / math.sqrt(len(a))

    jac = vmap(jacrev(f), in_dims=(None, 0))((W, b, a), X)
    G = torch.cat([j.reshape(len(X), -1) for j in jac], 1)
    return G @ G.T


def features(size: int, generator: torch.Generator) -> tuple:
    """A (size, 2000) feature matrix of ReLU random features and one-hot-like targets (size, 10)."""
    X = torch.randn(size, 64, generator=generator, dtype=torch.float64)
    R = torch.randn(FEATURES, 64, generator=generator, dtype=torch.float64) / 8
    T = torch.randn(size, OUTPUTS, generator=generator, dtype=torch.float64)
    return torch.relu(X @ R.T) / math.sqrt(FEATURES), T


def ridge_by_normal_equations(Psi, T):
    """(Psi^T Psi + N lam I) w = Psi^T T, solved for the P x P system."""
    n, p = Psi.shape
    return torch.linalg.solve(Psi.T @ Psi + n * LAM * torch.eye(p, dtype=Psi.dtype), Psi.T @ T)


RATIOS = [
    RatioCase("two-layer NTK in closed form (ntk_two_layer) vs torch.func Jacobians",
              lambda ch: lambda W, b, a, X: ch.ntk_two_layer(W, b, a, X, X), ntk_by_torch_func, two_layer,
              size=256, goal=ELEMENTWISE_GOAL, rtol=1e-10),
    RatioCase("ridge from one SVD (ridge_path) vs the P x P normal equations",
              lambda ch: lambda Psi, T: ch.ridge_path(Psi, T, [LAM])[0], ridge_by_normal_equations, features,
              size=200, goal=ELEMENTWISE_GOAL, rtol=1e-8),
]

SCALING = []
