"""Exercises of the chapter "Convolutional networks".

The references are torch's own code, never the chapter's: the output shape of
``F.conv1d`` on the meta device for the output size, ``F.conv2d`` with
``groups`` for the grouped convolution, and autograd through ``F.max_pool2d``
for the backward pass of max pooling. Each exercise names the typical
mistakes of its topic (rounding up, a forgotten dilation, interleaved groups,
overlapping windows that overwrite instead of adding) without giving the
answer away. The model solutions are what ``solution()`` shows.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from nbutils.exercises.core import Case, Exercise, LoopFree, Mistake, seeded_normal
from nbutils.exercises.recording import AUTOGRAD, ChapterFunction

# -------------------------------------------------------- the operations an answer may not call

# PyTorch's convolutions under every name a learner can call. torch.ops.aten.<op> (an OpOverloadPacket)
# and each of its overloads (torch.ops.aten.<op>.default, ...) are distinct objects to the recording,
# so each one is declared.
_CONVOLUTIONS = ("torch.nn.functional.conv1d", "torch.nn.functional.conv2d", "torch.nn.functional.conv3d",
                 "torch.nn.functional.conv_transpose1d", "torch.nn.functional.conv_transpose2d",
                 "torch.nn.functional.conv_transpose3d", "torch.nn.functional.conv_tbc", "torch.convolution",
                 "torch._convolution", "torch._convolution_mode", "torch.mkldnn_convolution",
                 "torch._nnpack_spatial_convolution", "torch.cudnn_convolution", "torch.miopen_convolution")
_ATEN_CONVOLUTIONS = ("conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
                      "convolution", "_convolution", "_convolution_mode", "convolution_overrideable",
                      "conv_tbc", "mkldnn_convolution", "thnn_conv2d", "_slow_conv2d_forward",
                      "slow_conv_dilated2d", "slow_conv3d", "_conv_depthwise2d", "_nnpack_spatial_convolution",
                      "cudnn_convolution", "miopen_convolution")


def _aten(ops: tuple[str, ...]) -> tuple[str, ...]:
    """``torch.ops.aten.<op>`` and ``torch.ops.aten.<op>.<overload>`` for each op this build of torch has."""
    names = []
    for op in ops:
        packet = getattr(torch.ops.aten, op, None)
        if packet is None:
            continue
        names.append(f"torch.ops.aten.{op}")
        names.extend(f"torch.ops.aten.{op}.{overload}" for overload in packet.overloads())
    return tuple(names)


_POOLING = ("torch.nn.functional.max_pool1d", "torch.nn.functional.max_pool2d",
            "torch.nn.functional.max_pool3d", "torch.nn.functional.max_pool1d_with_indices",
            "torch.nn.functional.max_pool2d_with_indices", "torch.nn.functional.max_pool3d_with_indices",
            "torch.nn.functional.max_unpool1d", "torch.nn.functional.max_unpool2d",
            "torch.nn.functional.max_unpool3d", "torch.nn.functional.adaptive_max_pool2d",
            "torch.nn.functional.fractional_max_pool2d", "torch.mkldnn_max_pool2d")
_ATEN_POOLING = ("max_pool1d", "max_pool1d_with_indices", "max_pool2d", "max_pool2d_with_indices",
                 "max_pool2d_with_indices_backward", "max_pool3d", "max_pool3d_with_indices",
                 "max_pool3d_with_indices_backward", "mkldnn_max_pool2d", "max_unpool2d", "max_unpool3d",
                 "adaptive_max_pool2d", "adaptive_max_pool2d_backward", "fractional_max_pool2d",
                 "fractional_max_pool2d_backward")

_ALL_CONVOLUTIONS = _CONVOLUTIONS + _aten(_ATEN_CONVOLUTIONS)
_ALL_POOLING = _POOLING + _aten(_ATEN_POOLING)


# -------------------------------------------------------- 1. the output size

def _size_reference(n, k, stride=1, padding=0, dilation=1):
    """The lengths PyTorch gives a 1-D convolution's output (shapes only, on the meta device)."""
    weight = torch.empty(1, 1, k, device="meta")
    return torch.tensor([F.conv1d(torch.empty(1, 1, int(length), device="meta"), weight, stride=stride,
                                  padding=padding, dilation=dilation).shape[-1] for length in n])


def _size_solution(n, k, stride=1, padding=0, dilation=1):
    """floor((n + 2 padding - dilation (k - 1) - 1) / stride) + 1, for a tensor of lengths n."""
    return (n + 2 * padding - dilation * (k - 1) - 1) // stride + 1


def _size_ceil(n, k, stride=1, padding=0, dilation=1):
    return torch.ceil((n + 2 * padding - dilation * (k - 1) - 1) / stride).long() + 1


def _size_no_dilation(n, k, stride=1, padding=0, dilation=1):
    return (n + 2 * padding - k) // stride + 1


def _size_one_side_padded(n, k, stride=1, padding=0, dilation=1):
    return (n + padding - dilation * (k - 1) - 1) // stride + 1


def _size_dilation_times_k(n, k, stride=1, padding=0, dilation=1):
    return (n + 2 * padding - dilation * k) // stride + 1


def _lengths(k: int, padding: int = 0, dilation: int = 1, last: int = 40) -> torch.Tensor:
    """Every input length from the smallest the kernel fits in to `last`, as int64."""
    first = max(1, dilation * (k - 1) + 1 - 2 * padding)
    return torch.arange(first, last + 1)


# Asking PyTorch for the shape (a convolution, a pooling or unfold on the meta device) is not a derivation.
_SHAPE_ORACLES = ("torch.nn.functional.unfold", "torch.nn.functional.fold", "torch.nn.functional.avg_pool1d",
                  "torch.nn.functional.avg_pool2d", "torch.nn.functional.avg_pool3d",
                  "torch.nn.functional.lp_pool1d", "torch.nn.functional.lp_pool2d")
_FORBIDDEN_SIZE = {
    name: "your answer calls {name} to let PyTorch work out the size; derive it from n, k, stride, padding "
          "and dilation with integer arithmetic instead."
    for name in _SHAPE_ORACLES + _ALL_CONVOLUTIONS + _ALL_POOLING
}

# The chapter's own conv_output_size (its first cell of definitions) computes the same formula; calling it
# is not a derivation either (a formula written out by hand, under any name, passes).
_CHAPTER_SIZE = ChapterFunction(
    "conv_output_size", "Number of outputs along one dimension of length n (the size formula).",
    "your answer calls the chapter's conv_output_size, which already is the formula; write the count out "
    "yourself from n, k, stride, padding and dilation with integer arithmetic.")


ex_output_lengths = Exercise(
    name="output_lengths",
    reference=_size_reference,
    cases=[
        Case("k = 3", (_lengths(3), 3)),
        Case("k = 3, stride 2", (_lengths(3), 3), {"stride": 2}),
        Case("k = 5, padding 2", (_lengths(5, 2), 5), {"padding": 2}),
        Case("k = 3, dilation 2", (_lengths(3, 0, 2), 3), {"dilation": 2}),
        Case("k = 11, stride 4 (AlexNet's first layer)", (_lengths(11, last=240), 11), {"stride": 4}),
        Case("k = 4, stride 3, padding 3, dilation 2", (_lengths(4, 3, 2), 4),
             {"stride": 3, "padding": 3, "dilation": 2}),
    ],
    hints=[
        "Pad first: the map has n + 2 * padding pixels. A kernel of k taps, dilation pixels apart, spans "
        "dilation * (k - 1) + 1 of them. Output i starts at pixel stride * i; which i still fit?",
        "The last output i satisfies stride * i + dilation * (k - 1) <= n + 2 * padding - 1; count the "
        "outputs i = 0, 1, ... with integer division (//), which works on int64 tensors too.",
    ],
    solution=_size_solution,
    rtol=1e-12,
    mistakes=[
        Mistake(_size_ceil, "PyTorch rounds the number of strides down: a window that would run past "
                            "the padded input is left out."),
        Mistake(_size_no_dilation, "with dilation d a kernel of k taps spans d * (k - 1) + 1 pixels, not k."),
        Mistake(_size_dilation_times_k, "a dilated kernel of k taps spans d * (k - 1) + 1 pixels: there are "
                                        "k - 1 gaps between its taps, not k."),
        Mistake(_size_one_side_padded, "padding adds `padding` pixels on each side, so 2 * padding in all."),
    ],
    forbidden=_FORBIDDEN_SIZE,
    chapter_functions=(_CHAPTER_SIZE,),
)


# -------------------------------------------------------- 2. the grouped convolution

_FORBIDDEN_CONV = {name: "your answer calls {name}, one of PyTorch's convolutions; build the patches and "
                         "multiply them by the weights yourself." for name in _ALL_CONVOLUTIONS}


def _grouped_reference(x, weight, bias, groups):
    return F.conv2d(x, weight, bias, groups=groups)


def _grouped_solution(x, weight, bias, groups):
    """Patches once, then one batched matrix product over the groups."""
    n, c_in, h, w = x.shape
    c_out, _, k, _ = weight.shape
    patches = F.unfold(x, k)  # (N, C_in k k, L); channel-major rows
    patches = patches.reshape(n, groups, (c_in // groups) * k * k, -1)
    kernels = weight.reshape(groups, c_out // groups, -1)  # (G, C_out/G, C_in/G k k)
    z = torch.einsum("gop,ngpl->ngol", kernels, patches).reshape(n, c_out, -1)
    z = z + bias[:, None]
    return z.reshape(n, c_out, h - k + 1, w - k + 1)


def _grouped_interleaved_inputs(x, weight, bias, groups):
    n, c_in = x.shape[:2]
    order = torch.arange(c_in).reshape(c_in // groups, groups).T.flatten()  # group g: g, g + G, ...
    return F.conv2d(x[:, order], weight, bias, groups=groups)


def _grouped_interleaved_outputs(x, weight, bias, groups):
    c_out = weight.shape[0]
    out = F.conv2d(x, weight, bias, groups=groups)
    order = torch.arange(c_out).reshape(groups, c_out // groups).T.flatten()
    return out[:, order]


def _grouped_without_bias(x, weight, bias, groups):
    return F.conv2d(x, weight, None, groups=groups)


def _grouped_flipped(x, weight, bias, groups):
    return F.conv2d(x, weight.flip(2, 3), bias, groups=groups)


def _grouped_case(c_in: int, c_out: int, groups: int, size: int = 7, k: int = 3, batch: int = 2,
                  dtype: torch.dtype = torch.float64, seed: int = 0) -> tuple:
    randn = seeded_normal(seed + 100 * c_in + 10 * groups + size)
    return (randn(batch, c_in, size, size, dtype=dtype),
            randn(c_out, c_in // groups, k, k, dtype=dtype),
            randn(c_out, dtype=dtype), groups)


ex_grouped_conv2d = Exercise(
    name="grouped_conv2d",
    reference=_grouped_reference,
    cases=[
        Case("groups = 1 (an ordinary convolution), 3 -> 4 maps", _grouped_case(3, 4, 1)),
        Case("groups = 2, 4 -> 6 maps", _grouped_case(4, 6, 2)),
        Case("groups = 4, 8 -> 8 maps, a 2 x 2 kernel", _grouped_case(8, 8, 4, k=2)),
        Case("depthwise: groups = channels = 6, 6 -> 12 maps", _grouped_case(6, 12, 6)),
        Case("a non-square input", (seeded_normal(5)(1, 4, 6, 9), seeded_normal(6)(4, 2, 3, 3),
                                    seeded_normal(7)(4), 2)),
        Case("float32 input (small whole numbers, so every sum is exact)",
             tuple(t.round() if isinstance(t, torch.Tensor) else t
                   for t in _grouped_case(4, 4, 2, dtype=torch.float32))),
    ],
    hints=[
        "Build the patch matrix once for all channels (F.unfold(x, k) gives (N, C_in * k * k, L), its rows "
        "ordered channel by channel). Consecutive channels form a group, so its rows split into G "
        "consecutive blocks.",
        "Reshape the patches to (N, G, C_in/G * k * k, L) and the weights to (G, C_out/G, C_in/G * k * k); "
        "torch.einsum('gop,ngpl->ngol', ...) multiplies every group at once. Then add the bias and reshape "
        "to (N, C_out, H - k + 1, W - k + 1).",
    ],
    solution=_grouped_solution,
    rtol=1e-5,
    mistakes=[
        Mistake(_grouped_interleaved_inputs, "a group reads consecutive input channels (the first "
                                             "C_in / G, then the next ...), not every G-th channel."),
        Mistake(_grouped_interleaved_outputs, "output maps are grouped like the inputs: the first "
                                              "C_out / G maps come from the first group."),
        Mistake(_grouped_without_bias, "the bias is missing: add bias[o] to every position of map o."),
        Mistake(_grouped_flipped, "deep-learning convolutions do not flip the kernel: this is a "
                                  "cross-correlation."),
    ],
    forbidden=_FORBIDDEN_CONV,
    loop_free=(LoopFree(lambda n: _grouped_case(4, 4, 2, size=n), sizes=(5, 12), what="the output positions"),
               LoopFree(lambda g: _grouped_case(2 * g, 2 * g, g), sizes=(2, 6), what="the groups")),
)


# -------------------------------------------------------- 3. the backward pass of max pooling

_FORBIDDEN_POOL = {
    name: "your answer calls {name}; do not use autograd: route each window's gradient by hand."
    for name in AUTOGRAD
} | {
    name: "your answer calls {name}, one of PyTorch's pooling functions; find each window's maximum yourself."
    for name in _ALL_POOLING
}


def _pool_reference(grad_z, x, k, stride):
    leaf = x.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(F.max_pool2d(leaf, k, stride), leaf, grad_z)
    return grad


def _pool_solution(grad_z, x, k, stride):
    """Each window's gradient goes to its maximum; F.fold adds what overlapping windows send."""
    n, c, h, w = x.shape
    windows = F.unfold(x.reshape(n * c, 1, h, w), k, stride=stride)  # (N C, k k, L)
    winner = windows.argmax(dim=1, keepdim=True)  # (N C, 1, L)
    routed = torch.zeros_like(windows).scatter_(1, winner, grad_z.reshape(n * c, 1, -1))
    return F.fold(routed, (h, w), k, stride=stride).reshape(n, c, h, w)


def _pool_average(grad_z, x, k, stride):
    leaf = x.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(F.avg_pool2d(leaf, k, stride), leaf, grad_z)
    return grad


def _pool_overwrite(grad_z, x, k, stride):
    """Sends each window's gradient to its winner, but a later window overwrites an earlier one."""
    n, c, h, w = x.shape
    windows = F.unfold(x.reshape(n * c, 1, h, w), k, stride=stride)
    winner = windows.argmax(dim=1)  # (N C, L)
    pixel = F.unfold(torch.arange(h * w, dtype=x.dtype).reshape(1, 1, h, w), k, stride=stride)[0]
    target = pixel[winner, torch.arange(winner.shape[1])].long()  # (N C, L) flat pixel of each winner
    grad = torch.zeros(n * c, h * w, dtype=x.dtype)
    rows = torch.arange(n * c)[:, None].expand_as(target)
    grad[rows.reshape(-1), target.reshape(-1)] = grad_z.reshape(n * c, -1).reshape(-1)
    return grad.reshape(n, c, h, w)


def _pool_case(size: int, k: int, stride: int, channels: int = 2, batch: int = 2,
               dtype: torch.dtype = torch.float64, width: int | None = None) -> tuple:
    randn = seeded_normal(1000 * k + 100 * stride + size)
    width = width or size
    x = randn(batch, channels, size, width, dtype=dtype)
    out_h, out_w = (size - k) // stride + 1, (width - k) // stride + 1
    return randn(batch, channels, out_h, out_w, dtype=dtype), x, k, stride


ex_maxpool2d_backward = Exercise(
    name="maxpool2d_backward",
    reference=_pool_reference,
    cases=[
        Case("2 x 2 windows, stride 2 (they do not overlap)", _pool_case(6, 2, 2)),
        Case("3 x 3 windows, stride 2 (AlexNet's, they overlap)", _pool_case(9, 3, 2)),
        Case("3 x 3 windows, stride 1", _pool_case(6, 3, 1)),
        Case("a stride that does not divide the size (7 x 10, k = 3, stride 2)", _pool_case(7, 3, 2, width=10)),
        Case("16 x 16 maps, 2 x 2 windows, stride 2", _pool_case(16, 2, 2, channels=1, batch=1)),
        Case("float32 input", _pool_case(9, 3, 2, dtype=torch.float32)),
    ],
    hints=[
        "Cut x into its windows: F.unfold on x reshaped to (N * C, 1, H, W) gives (N * C, k * k, L), one "
        "column per window. The argmax over dim 1 says which input of each window is the maximum.",
        "Put each window's gradient at its winner in a zero tensor of the windows' shape (scatter_ along "
        "dim 1), then F.fold(..., (H, W), k, stride=stride) adds every column back onto its pixels, summing "
        "where windows overlap.",
    ],
    solution=_pool_solution,
    rtol=1e-6,
    mistakes=[
        Mistake(_pool_average, "this spreads each window's gradient evenly, as average pooling does; max "
                               "pooling sends it all to the window's maximum."),
        Mistake(_pool_overwrite, "an input that wins two overlapping windows must receive the sum of both "
                                 "gradients; yours keeps only one of them."),
    ],
    forbidden=_FORBIDDEN_POOL,
    loop_free=LoopFree(lambda n: _pool_case(2 * n + 1, 3, 2), sizes=(4, 10), what="the windows"),
    memory_bound=12.0,
)

__all__ = ["ex_output_lengths", "ex_grouped_conv2d", "ex_maxpool2d_backward"]
