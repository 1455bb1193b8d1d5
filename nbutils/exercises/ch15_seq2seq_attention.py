"""Exercises of the chapter "Sequence-to-sequence models and attention".

The references are torch's own code, never the chapter's: dot-product
attention is ``F.scaled_dot_product_attention`` (its weights from
``torch.softmax`` of the masked scores), and the causal convolution is
``F.conv1d`` of the input padded on the left. Each exercise names the typical
mistakes of its topic (no scaling, a mask applied after the softmax, a
softmax over the wrong axis, padding on both sides, a forgotten dilation)
without giving the answer away. The model solutions are what ``solution()``
shows.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from nbutils.exercises.core import Case, Exercise, LoopFree, Mistake, seeded_normal

_randn = seeded_normal(15)  # the cases' own stream of random numbers


# -------------------------------------------------------- 1. scaled dot-product attention

def _dot_reference(queries, keys, values, mask):
    """(context, weights): the context by F.scaled_dot_product_attention, the weights by torch.softmax."""
    scores = queries @ keys.transpose(-1, -2) / math.sqrt(queries.shape[-1])
    weights = torch.softmax(scores.masked_fill(~mask[:, None, :], -math.inf), dim=-1)
    context = F.scaled_dot_product_attention(queries, keys, values, attn_mask=mask[:, None, :])
    return context, weights


def _dot_solution(queries, keys, values, mask):
    """Scaled scores, -inf at padded keys, a softmax that subtracts the row maximum, then the weighted sum."""
    scores = queries @ keys.transpose(-1, -2) / math.sqrt(queries.shape[-1])
    scores = scores.masked_fill(~mask[:, None, :], -math.inf)
    exps = torch.exp(scores - scores.amax(dim=-1, keepdim=True))
    weights = exps / exps.sum(dim=-1, keepdim=True)
    return weights @ values, weights


def _softmax(scores):
    return torch.softmax(scores, dim=-1)


def _unscaled(queries, keys, values, mask):
    w = _softmax((queries @ keys.transpose(-1, -2)).masked_fill(~mask[:, None, :], -math.inf))
    return w @ values, w


def _mask_after_softmax(queries, keys, values, mask):
    w = _softmax(queries @ keys.transpose(-1, -2) / math.sqrt(queries.shape[-1])) * mask[:, None, :]
    return w @ values, w


def _mask_with_zero(queries, keys, values, mask):
    scores = (queries @ keys.transpose(-1, -2) / math.sqrt(queries.shape[-1])).masked_fill(~mask[:, None, :], 0.0)
    w = _softmax(scores)
    return w @ values, w


def _softmax_over_queries(queries, keys, values, mask):
    scores = (queries @ keys.transpose(-1, -2) / math.sqrt(queries.shape[-1])).masked_fill(~mask[:, None, :], -math.inf)
    w = torch.softmax(scores, dim=-2).nan_to_num(0.0)
    return w @ values, w


def _no_mask(queries, keys, values, mask):
    w = _softmax(queries @ keys.transpose(-1, -2) / math.sqrt(queries.shape[-1]))
    return w @ values, w


def _attention_case(batch, t, s, d, dv, lengths, dtype=torch.float64, scale=1.0):
    mask = torch.arange(s) < torch.tensor(lengths)[:, None]
    assert mask.shape[0] == batch
    return (scale * _randn(batch, t, d, dtype=dtype), scale * _randn(batch, s, d, dtype=dtype),
            _randn(batch, s, dv, dtype=dtype), mask)


def _attention_batch(n: int) -> tuple:
    """n sequences of 3 queries over 5 keys, lengths 5, 4, 3, ...: the same for the same n."""
    gen = torch.Generator().manual_seed(1500 + n)
    q, k, v = (torch.randn(n, size, 4, generator=gen, dtype=torch.float64) for size in (3, 5, 5))
    mask = torch.arange(5) < (5 - torch.arange(n) % 3)[:, None]
    return q, k, v, mask


ex_scaled_dot_attention = Exercise(
    name="scaled_dot_attention",
    reference=_dot_reference,
    result_names=("context", "weights"),
    cases=[
        Case("2 sequences, lengths 5 and 3, 4 queries, D = 8",
             _attention_case(2, 4, 5, 8, 3, [5, 3])),
        Case("no padding, 1 sequence of 6 keys", _attention_case(1, 2, 6, 4, 5, [6])),
        Case("a sequence with one real key", _attention_case(2, 3, 4, 6, 2, [4, 1])),
        Case("large scores (queries and keys about 30)",
             _attention_case(2, 3, 5, 16, 4, [5, 2], scale=30.0),
             nonfinite_hint="exp of a large score overflows: subtract each row's maximum before exp."),
        Case("float32 input", _attention_case(3, 2, 6, 8, 4, [6, 4, 2], dtype=torch.float32)),
    ],
    hints=[
        "Scores: queries @ keys.transpose(-1, -2), divided by sqrt(D) with D = queries.shape[-1]; "
        "shape (B, T, S). The mask (B, S) broadcasts over the queries as mask[:, None, :].",
        "Set the scores of padded keys to -inf with masked_fill before the softmax; then "
        "exp(scores - scores.amax(-1, keepdim=True)), divided by its sum over the last axis, "
        "gives the weights, and weights @ values the context.",
    ],
    solution=_dot_solution,
    rtol=1e-5,
    mistakes=[
        Mistake(_unscaled, "the scores are not divided by sqrt(D), the size of a query."),
        Mistake(_mask_after_softmax,
                "the rows of the weights do not sum to 1: mask the scores before the softmax "
                "(set them to -inf), not the weights after it."),
        Mistake(_mask_with_zero,
                "padded keys still get weight: a score of 0 is not 'no score'; padded scores "
                "must be -inf so that exp gives exactly 0."),
        Mistake(_softmax_over_queries,
                "the softmax runs over the wrong axis: each query's weights over the keys "
                "(the last axis) must sum to 1."),
        Mistake(_no_mask, "padded keys get weight: the mask is not applied."),
    ],
    forbidden={
        "torch.nn.functional.scaled_dot_product_attention":
            "your answer calls {name}; compute the scores, the softmax and the weighted sum yourself.",
        "torch.softmax": "your answer calls {name}; write the softmax yourself (exp, then divide by the sum).",
        "torch.nn.functional.log_softmax":
            "your answer calls {name}; write the softmax yourself (exp, then divide by the sum).",
    },
    loop_free=LoopFree(_attention_batch, sizes=(4, 16), what="the batch"),
)


# -------------------------------------------------------- 2. a causal convolution by taps

def _conv_reference(x, weight, dilation):
    """F.conv1d of x padded with (w - 1) * dilation zeros on the left."""
    width = weight.shape[-1]
    return F.conv1d(F.pad(x, ((width - 1) * dilation, 0)), weight, dilation=dilation)


def _conv_solution(x, weight, dilation):
    """Tap m reads x shifted right by (w - 1 - m) * dilation steps (zeros enter on the left)."""
    width, steps = weight.shape[-1], x.shape[-1]
    padded = F.pad(x, ((width - 1) * dilation, 0))
    out = 0
    for m in range(width):
        shifted = padded[:, :, m * dilation: m * dilation + steps]  # x_{t - (w - 1 - m) d}
        out = out + torch.einsum("oc,bct->bot", weight[:, :, m], shifted)
    return out


def _by_taps(padded, weight, dilation, steps):
    out = 0
    for m in range(weight.shape[-1]):
        out = out + torch.einsum("oc,bct->bot", weight[:, :, m], padded[:, :, m * dilation: m * dilation + steps])
    return out


def _same_padding(x, weight, dilation):
    total = (weight.shape[-1] - 1) * dilation
    return _by_taps(F.pad(x, (total // 2, total - total // 2)), weight, dilation, x.shape[-1])


def _right_padding(x, weight, dilation):
    return _by_taps(F.pad(x, (0, (weight.shape[-1] - 1) * dilation)), weight, dilation, x.shape[-1])


def _no_dilation(x, weight, dilation):
    return _conv_reference(x, weight, 1)


def _flipped_kernel(x, weight, dilation):
    return _conv_reference(x, weight.flip(-1), dilation)


def _conv_case(batch, c_in, c_out, steps, width, dtype=torch.float64):
    return _randn(batch, c_in, steps, dtype=dtype), _randn(c_out, c_in, width, dtype=dtype)


def _conv_steps(n: int) -> tuple:
    """A batch of 2 sequences of n steps, 3 channels in, 2 out, width 3, dilation 2."""
    gen = torch.Generator().manual_seed(1510 + n)
    return (torch.randn(2, 3, n, generator=gen, dtype=torch.float64),
            torch.randn(2, 3, 3, generator=gen, dtype=torch.float64), 2)


_NO_CONV = ("your answer calls {name}; write the convolution as a sum over the taps of matrix "
            "products with shifted copies of x.")

ex_causal_conv1d_by_taps = Exercise(
    name="causal_conv1d_by_taps",
    reference=_conv_reference,
    cases=[
        Case("width 3, dilation 1, 2 sequences of 10 steps", (*_conv_case(2, 3, 4, 10, 3), 1)),
        Case("width 2, dilation 4, 1 channel", (*_conv_case(1, 1, 1, 12, 2), 4)),
        Case("width 3, dilation 3, reach longer than the sequence", (*_conv_case(2, 2, 3, 5, 3), 3)),
        Case("width 1 (no context)", (*_conv_case(2, 3, 2, 6, 1), 2)),
        Case("float32 input, width 4, dilation 2", (*_conv_case(3, 2, 2, 9, 4, dtype=torch.float32), 2)),
    ],
    hints=[
        "Pad x with (w - 1) * dilation zeros on the left only (F.pad(x, (left, 0))). The output at "
        "step t reads x_t, x_{t - d}, ..., x_{t - (w - 1) d}.",
        "Tap m of the kernel multiplies the padded sequence starting at m * dilation, a slice of "
        "n steps; sum torch.einsum('oc,bct->bot', weight[:, :, m], that slice) over m.",
    ],
    solution=_conv_solution,
    rtol=1e-5,
    mistakes=[
        Mistake(_same_padding,
                "the output at step t depends on inputs after t: pad on the left only, not on "
                "both sides."),
        Mistake(_right_padding,
                "the output at step t reads inputs t and later: the zeros belong on the left, "
                "so that each output looks back."),
        Mistake(_no_dilation, "the taps are one step apart: they must be dilation steps apart."),
        Mistake(_flipped_kernel,
                "the taps are in reverse order: weight[:, :, w - 1] multiplies the newest input "
                "x_t and weight[:, :, 0] the oldest."),
    ],
    forbidden={name: _NO_CONV for name in (
        "torch.nn.functional.conv1d", "torch.nn.functional.conv2d", "torch.nn.functional.conv_transpose1d",
        "torch.convolution", "torch.ops.aten.convolution")},
    loop_free=LoopFree(_conv_steps, sizes=(8, 32), what="the time steps"),
)
