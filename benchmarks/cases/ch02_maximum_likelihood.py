"""Chapter 2: binary cross-entropy, the softmax Jacobian and the squared-error gradient through it, against PyTorch.

(The stable softmax and its gradient are chapter 1's: benchmarks/cases/ch01_linear_models.py.)
"""
import torch
import torch.nn.functional as F

from benchmarks.cases import RatioCase

CHAPTER = "02_maximum_likelihood"
OUTPUTS = 1000  # independent binary outputs per example
CLASSES = 100  # classes of the softmax whose K x K Jacobian is formed per example


def probabilities_and_targets(size: int, generator: torch.Generator) -> tuple:
    """Predicted probabilities y in (0, 1) and 0/1 targets t, both (size, OUTPUTS) float32."""
    y = torch.rand(size, OUTPUTS, generator=generator).clamp_(1e-6, 1 - 1e-6)
    return y, torch.randint(2, (size, OUTPUTS), generator=generator).float()


def logit_vector(size: int, generator: torch.Generator) -> tuple:
    """One vector of ``size`` logits, for the (size, size) softmax Jacobian."""
    return (3 * torch.randn(size, generator=generator),)


def logits_and_probabilities(size: int, generator: torch.Generator) -> tuple:
    """Logits z (size, CLASSES) and target probabilities t (rows sum to 1)."""
    z = 3 * torch.randn(size, CLASSES, generator=generator)
    return z, torch.softmax(torch.randn(size, CLASSES, generator=generator), dim=-1)


def autograd_softmax_se_grad(z: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """d/dz of sum over rows of ||softmax(z) - t||^2 / 2, by autograd (one row's gradient per row)."""
    z = z.detach().requires_grad_()
    return torch.autograd.grad(((torch.softmax(z, dim=-1) - t) ** 2).sum() / 2, z)[0]


RATIOS = [
    RatioCase("binary cross-entropy (xlogy)", "binary_cross_entropy", F.binary_cross_entropy,
              probabilities_and_targets, size=1024),
    RatioCase("softmax Jacobian vs torch.func.jacrev", "softmax_jacobian",
              torch.func.jacrev(lambda z: torch.softmax(z, dim=0)), logit_vector, size=512),
    RatioCase("squared-error gradient through the K x K softmax Jacobian vs autograd", "softmax_se_grad_by_jacobian",
              autograd_softmax_se_grad, logits_and_probabilities, size=512,
              reason="the chapter forms each example's K x K Jacobian on purpose, to show the cost that the "
                     "Jacobian-free form of its exercise avoids"),
]
