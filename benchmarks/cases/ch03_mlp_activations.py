"""Chapter 3: the from-scratch activation functions and the dense MLP forward pass against PyTorch's kernels."""
import torch
import torch.nn.functional as F

from benchmarks.cases import ELEMENTWISE_GOAL, RatioCase

CHAPTER = "03_mlp_activations"
UNITS = 1000
WIDTHS = [64, 256, 256, 10]  # digits in, two hidden layers, ten classes


def pre_activations(size: int, generator: torch.Generator) -> tuple:
    """A (size, UNITS) float32 batch of pre-activations spread over the interesting range."""
    return (3 * torch.randn(size, UNITS, generator=generator),)


def mlp_inputs(size: int, generator: torch.Generator) -> tuple:
    """A batch X (size, 64) and the layers [(W, b), ...] of an MLP of WIDTHS, in float32."""
    layers = [(torch.randn(d_out, d_in, generator=generator) / d_in ** 0.5, torch.zeros(d_out))
              for d_in, d_out in zip(WIDTHS[:-1], WIDTHS[1:], strict=False)]
    return torch.randn(size, WIDTHS[0], generator=generator), layers


def torch_mlp_forward(X: torch.Tensor, layers: list) -> torch.Tensor:
    """The same network with F.linear and F.relu."""
    for W, b in layers[:-1]:
        X = F.relu(F.linear(X, W, b))
    return F.linear(X, *layers[-1])


RATIOS = [
    RatioCase("tanh (stable, expm1)", "tanh", torch.tanh, pre_activations, size=2048, goal=ELEMENTWISE_GOAL),
    RatioCase("softplus (stable, log1p)", "softplus", F.softplus, pre_activations, size=2048),
    RatioCase("leaky ReLU (rectifier)", lambda ch: lambda z: ch.rectifier(z, ch.LEAKY_SLOPE), F.leaky_relu,
              pre_activations, size=2048,
              reason="the chapter writes the whole rectifier family as one formula, max(z, αz): a product and a "
                     "maximum, two passes over memory and a temporary where F.leaky_relu makes one pass"),
    RatioCase("MLP forward (dense layers, ReLU)", lambda ch: lambda X, layers: ch.mlp_forward(X, layers, ch.relu),
              torch_mlp_forward, mlp_inputs, size=4096),
]
