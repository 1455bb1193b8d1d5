"""Chapter 1: sigmoid, softmax, gradients and the direct solve against PyTorch; a direct solve vs a gradient step
as D grows."""
import torch
import torch.nn.functional as F

from benchmarks.cases import ELEMENTWISE_GOAL, RatioCase, ScalingCase

CHAPTER = "01_linear_models"
FEATURES, CLASSES = 64, 10  # the 8x8 digits the chapter classifies
EXAMPLES = 2048  # the chapter's own timing experiment fixes N = 2048


def regression_problem(size: int, generator: torch.Generator) -> tuple:
    """X (EXAMPLES, size), targets t (EXAMPLES,) and weights w (size,), in float64 like the chapter."""
    X = torch.randn(EXAMPLES, size, generator=generator, dtype=torch.float64)
    return X, torch.randn(EXAMPLES, generator=generator, dtype=torch.float64), \
        torch.randn(size, generator=generator, dtype=torch.float64)


def classification_problem(size: int, generator: torch.Generator) -> tuple:
    """Digits-sized softmax regression: X (size, 64), one-hot T (size, 10), W (10, 64), b (10,)."""
    X = torch.rand(size, FEATURES, generator=generator, dtype=torch.float64)
    T = F.one_hot(torch.randint(CLASSES, (size,), generator=generator), CLASSES).to(torch.float64)
    W = 0.1 * torch.randn(CLASSES, FEATURES, generator=generator, dtype=torch.float64)
    return X, T, W, 0.1 * torch.randn(CLASSES, generator=generator, dtype=torch.float64)


def logits(size: int, generator: torch.Generator) -> tuple:
    """``size`` x 1000 float64 logits."""
    return (3 * torch.randn(size, 1000, generator=generator, dtype=torch.float64),)


def autograd_linreg_grad(X: torch.Tensor, w: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """The gradient of the cost ||X w - t||^2 / (2N) by autograd through F.mse_loss."""
    w = w.detach().requires_grad_()
    return torch.autograd.grad(F.mse_loss(X @ w, t) / 2, w)[0]


def autograd_softmax_regression_grads(X, T, W, b) -> tuple:
    """Gradients of the mean cross-entropy of X W^T + b with respect to W and b, by autograd."""
    W, b = W.detach().requires_grad_(), b.detach().requires_grad_()
    return torch.autograd.grad(F.cross_entropy(X @ W.T + b, T), (W, b))


def lstsq(X: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """PyTorch's least-squares solver."""
    return torch.linalg.lstsq(X, t.unsqueeze(1)).solution.squeeze(1)


RATIOS = [
    RatioCase("sigmoid", "sigmoid", torch.sigmoid, logits, size=1024, goal=ELEMENTWISE_GOAL),
    RatioCase("softmax (stable, by rows)", "softmax", lambda Z: torch.softmax(Z, dim=1), logits, size=1024,
              rtol=1e-10),
    RatioCase("linear-regression gradient vs autograd", lambda ch: lambda X, t, w: ch.linreg_grad(X, w, t),
              lambda X, t, w: autograd_linreg_grad(X, w, t), regression_problem, size=256, rtol=1e-10),
    RatioCase("softmax-regression gradients vs autograd", "softmax_regression_grads",
              autograd_softmax_regression_grads, classification_problem, size=4096, rtol=1e-10),
    RatioCase("least squares: Cholesky solve vs torch.linalg.lstsq",
              lambda ch: lambda X, t, w: ch.fit_cholesky(X, t), lambda X, t, w: lstsq(X, t),
              regression_problem, size=256, rtol=1e-8),
]

SCALING = [
    ScalingCase(
        "least squares: direct solve vs one gradient step", variable="D", sizes=[64, 128, 256, 512, 1024],
        inputs=regression_problem,
        functions={"direct solve (fit_cholesky)": lambda ch: lambda X, t, w: ch.fit_cholesky(X, t),
                   "one gradient step (linreg_grad)": lambda ch: lambda X, t, w: ch.linreg_grad(X, w, t)},
        expected_slopes={"direct solve (fit_cholesky)": 2, "one gradient step (linreg_grad)": 1},
        note=f"N = {EXAMPLES} examples. A gradient step costs O(ND); the direct solve O(ND² + D³/3), "
             "so its slope is 2 while N D² dominates and rises towards 3 as D approaches N."),
]
