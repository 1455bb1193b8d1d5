"""Chapter 11: the linear autoencoder's gradients, written out as two matrix products, against PyTorch's autograd."""
import torch

from benchmarks.cases import ELEMENTWISE_GOAL, RatioCase

CHAPTER = "11_autoencoders"
D, Q = 64, 8  # digits-sized inputs, the chapter's code size


def linear_problem(size: int, generator: torch.Generator) -> tuple:
    """A centred batch X (size, 64) and the weights W1 (8, 64), W2 (64, 8), in float64."""
    X = torch.randn(size, D, generator=generator, dtype=torch.float64)
    return (X - X.mean(0), torch.randn(Q, D, generator=generator, dtype=torch.float64),
            torch.randn(D, Q, generator=generator, dtype=torch.float64))


def autograd_linear_grads(X, W1, W2) -> tuple:
    """(dJ/dW1, dJ/dW2) of J = mean_n ||W2 W1 x_n - x_n||^2 by autograd."""
    W1, W2 = W1.clone().requires_grad_(), W2.clone().requires_grad_()
    J = ((X @ W1.T @ W2.T - X) ** 2).sum(1).mean()
    return torch.autograd.grad(J, (W1, W2))


RATIOS = [
    RatioCase("linear autoencoder gradients vs autograd", "linear_ae_grads", autograd_linear_grads,
              linear_problem, size=4096, rtol=1e-10, goal=ELEMENTWISE_GOAL),
]
