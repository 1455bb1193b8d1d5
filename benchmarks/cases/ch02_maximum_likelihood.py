"""Chapter 2: the stable softmax, log-softmax and cross-entropy (and its gradient) against PyTorch's kernels."""
import torch
import torch.nn.functional as F

from benchmarks.cases import RatioCase

CHAPTER = "02_maximum_likelihood"
CLASSES = 1000  # an ImageNet-sized output layer


def logits(size: int, generator: torch.Generator) -> tuple:
    """A batch of ``size`` float32 logit rows over CLASSES classes, spread like a trained network's."""
    return (3 * torch.randn(size, CLASSES, generator=generator),)


def logits_and_labels(size: int, generator: torch.Generator) -> tuple:
    """Logits as in :func:`logits` and one class index per row."""
    return logits(size, generator) + (torch.randint(CLASSES, (size,), generator=generator),)


def logit_vector(size: int, generator: torch.Generator) -> tuple:
    """One vector of ``size`` logits, for the (size, size) softmax Jacobian."""
    return (3 * torch.randn(size, generator=generator),)


def autograd_cross_entropy_grad(z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """d(mean cross-entropy)/dz by autograd: torch's forward and backward kernels."""
    z = z.detach().requires_grad_()
    return torch.autograd.grad(F.cross_entropy(z, labels), z)[0]


RATIOS = [
    RatioCase("softmax (stable)", "softmax", lambda z: torch.softmax(z, dim=-1), logits, size=2048),
    RatioCase("log-softmax", "log_softmax", lambda z: torch.log_softmax(z, dim=-1), logits, size=2048),
    RatioCase("cross-entropy", "cross_entropy", F.cross_entropy, logits_and_labels, size=2048),
    RatioCase("cross-entropy gradient vs autograd", "cross_entropy_grad", autograd_cross_entropy_grad,
              logits_and_labels, size=2048),
    RatioCase("softmax Jacobian vs torch.func.jacrev", "softmax_jacobian",
              torch.func.jacrev(lambda z: torch.softmax(z, dim=0)), logit_vector, size=512),
]
