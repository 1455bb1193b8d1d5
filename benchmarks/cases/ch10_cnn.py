"""Chapter 10: the im2col convolution, its backward pass and pooling against PyTorch's kernels."""
import torch
import torch.nn.functional as F

from benchmarks.cases import CONV_RECURRENT_GOAL, ELEMENTWISE_GOAL, RatioCase, ScalingCase

CHAPTER = "10_cnn"
CHANNELS = 16  # in and out: a small layer of the kind the chapter trains


def feature_maps(size: int, generator: torch.Generator) -> tuple:
    """A batch of 8 float32 maps of CHANNELS x size x size, and a 3 x 3 layer's weight and bias."""
    x = torch.randn(8, CHANNELS, size, size, generator=generator)
    weight = torch.randn(CHANNELS, CHANNELS, 3, 3, generator=generator) / (9 * CHANNELS) ** 0.5
    return x, weight, torch.randn(CHANNELS, generator=generator)


def backward_inputs(size: int, generator: torch.Generator) -> tuple:
    """dJ/dz for a same-padded 3 x 3 layer, the input and the weight."""
    x, weight, _ = feature_maps(size, generator)
    return torch.randn(x.shape, generator=generator), x, weight


def conv_backward_by_autograd(grad_z, x, weight):
    """(dx, dweight, dbias) of F.conv2d with padding 1, by autograd."""
    leaves = [x.detach().requires_grad_(), weight.detach().requires_grad_(),
              torch.zeros(weight.shape[0], requires_grad=True)]
    return torch.autograd.grad(F.conv2d(*leaves, padding=1), leaves, grad_z)


def even_maps(size: int, generator: torch.Generator) -> tuple:
    """A batch of 8 maps of CHANNELS x (2 size) x (2 size): every 2 x 2 window is whole."""
    return (torch.randn(8, CHANNELS, 2 * size, 2 * size, generator=generator),)


def pool_backward_inputs(size: int, generator: torch.Generator) -> tuple:
    (x,) = even_maps(size, generator)
    return torch.randn(8, CHANNELS, size, size, generator=generator), x


def max_pool_backward_by_autograd(grad_z, x):
    leaf = x.detach().requires_grad_()
    (grad,) = torch.autograd.grad(F.max_pool2d(leaf, 2), leaf, grad_z)
    return grad


RATIOS = [
    RatioCase("conv2d by im2col (3 x 3, padding 1)", lambda ch: lambda x, w, b: ch.conv2d(x, w, b, padding=1),
              lambda x, w, b: F.conv2d(x, w, b, padding=1), feature_maps, size=32, goal=CONV_RECURRENT_GOAL),
    RatioCase("conv2d backward (im2col, col2im) vs autograd",
              lambda ch: lambda g, x, w: ch.conv2d_backward(g, x, w, padding=1), conv_backward_by_autograd,
              backward_inputs, size=32, goal=CONV_RECURRENT_GOAL, rtol=1e-4,
              reason="the chapter adds the patch gradients back onto their pixels with one index_add_ "
                     "(col2im, the literal adjoint of im2col), where PyTorch runs the backward pass as "
                     "convolutions"),
    RatioCase("max pooling 2 x 2 (patch matrix)", lambda ch: lambda x: ch.pool2d(x, 2), lambda x: F.max_pool2d(x, 2),
              even_maps, size=32, goal=ELEMENTWISE_GOAL,
              reason="the chapter reuses the convolution's patch matrix for pooling, which gathers a copy of "
                     "every window before taking its maximum"),
    RatioCase("max pooling backward (reshape, one-hot routing)", lambda ch: lambda g, x: ch.pool2d_backward(g, x, 2),
              max_pool_backward_by_autograd, pool_backward_inputs, size=32, goal=ELEMENTWISE_GOAL,
              reason="the chapter routes each window's gradient through a one-hot tensor of the windows' size, "
                     "the literal form of its equation"),
]

SCALING = [
    ScalingCase("convolution vs map size", variable="H = W", sizes=[16, 32, 64, 128], inputs=feature_maps,
                functions={"conv2d (ours)": lambda ch: lambda x, w, b: ch.conv2d(x, w, b, padding=1)},
                expected_slopes={"conv2d (ours)": 2}, note="O(H W) multiply-adds for a fixed kernel"),
]
