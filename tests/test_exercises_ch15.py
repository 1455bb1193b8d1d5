"""Checkers of the attention chapter: model solutions pass, typical mistakes fail with their own message."""
import math

import torch
import torch.nn.functional as F

from nbutils.exercises.ch15_seq2seq_attention import ex_causal_conv1d_by_taps, ex_scaled_dot_attention

# -- scaled dot-product attention ---------------------------------------------------------------


def _softmax(scores, dim=-1):  # written out, so the answers below call no forbidden softmax
    exps = torch.exp(scores - scores.amax(dim=dim, keepdim=True))
    return exps / exps.sum(dim=dim, keepdim=True)


def _scores(queries, keys):
    return queries @ keys.transpose(-1, -2) / math.sqrt(queries.shape[-1])


def test_dot_model_solution_passes():
    result = ex_scaled_dot_attention.check(ex_scaled_dot_attention.model_solution)
    assert result.passed, result.message


def test_dot_with_einsum_and_a_large_negative_fill_also_passes():
    def scaled_dot_attention(queries, keys, values, mask):  # a second way: einsum, -1e30 instead of -inf
        scores = torch.einsum("btd,bsd->bts", queries, keys) / queries.shape[-1] ** 0.5
        scores = torch.where(mask[:, None, :], scores, torch.full_like(scores, -1e30))
        weights = _softmax(scores)
        return torch.einsum("bts,bsv->btv", weights, values), weights

    result = ex_scaled_dot_attention.check(scaled_dot_attention)
    assert result.passed, result.message


def test_dot_stub_is_not_attempted():
    def scaled_dot_attention(queries, keys, values, mask): ...

    assert ex_scaled_dot_attention.check(scaled_dot_attention).status == "not_attempted"


def test_dot_without_scaling_is_named():
    def scaled_dot_attention(queries, keys, values, mask):
        weights = _softmax((queries @ keys.transpose(-1, -2)).masked_fill(~mask[:, None, :], -math.inf))
        return weights @ values, weights

    result = ex_scaled_dot_attention.check(scaled_dot_attention)
    assert not result.passed and "sqrt(D)" in result.message


def test_dot_mask_after_softmax_is_named():
    def scaled_dot_attention(queries, keys, values, mask):
        weights = _softmax(_scores(queries, keys)) * mask[:, None, :]
        return weights @ values, weights

    result = ex_scaled_dot_attention.check(scaled_dot_attention)
    assert not result.passed and "before the softmax" in result.message


def test_dot_mask_with_zero_is_named():
    def scaled_dot_attention(queries, keys, values, mask):
        weights = _softmax(_scores(queries, keys).masked_fill(~mask[:, None, :], 0.0))
        return weights @ values, weights

    result = ex_scaled_dot_attention.check(scaled_dot_attention)
    assert not result.passed and "-inf" in result.message


def test_dot_softmax_over_the_queries_is_named():
    def scaled_dot_attention(queries, keys, values, mask):
        weights = _softmax(_scores(queries, keys).masked_fill(~mask[:, None, :], -math.inf), dim=-2)
        weights = weights.nan_to_num(0.0)
        return weights @ values, weights

    result = ex_scaled_dot_attention.check(scaled_dot_attention)
    assert not result.passed and "wrong axis" in result.message


def test_dot_unstable_softmax_is_caught_on_large_scores():
    def scaled_dot_attention(queries, keys, values, mask):
        exps = torch.exp(_scores(queries, keys).masked_fill(~mask[:, None, :], -math.inf))
        weights = exps / exps.sum(-1, keepdim=True)
        return weights @ values, weights

    result = ex_scaled_dot_attention.check(scaled_dot_attention)
    assert not result.passed and result.status == "nonfinite" and "maximum" in result.message


def test_dot_builtin_attention_is_refused():
    def scaled_dot_attention(queries, keys, values, mask):
        weights = _softmax(_scores(queries, keys).masked_fill(~mask[:, None, :], -math.inf))
        return F.scaled_dot_product_attention(queries, keys, values, attn_mask=mask[:, None, :]), weights

    result = ex_scaled_dot_attention.check(scaled_dot_attention)
    assert result.status == "forbidden" and "scaled_dot_product_attention" in result.message


def test_dot_torch_softmax_is_refused_under_its_aliases():
    for softmax in (torch.softmax, F.softmax, lambda s, dim: s.softmax(dim)):
        def scaled_dot_attention(queries, keys, values, mask, softmax=softmax):
            weights = softmax(_scores(queries, keys).masked_fill(~mask[:, None, :], -math.inf), dim=-1)
            return weights @ values, weights

        result = ex_scaled_dot_attention.check(scaled_dot_attention)
        assert result.status == "forbidden" and "softmax" in result.message


def test_dot_loop_over_the_batch_is_refused():
    def scaled_dot_attention(queries, keys, values, mask):
        parts = [ex_scaled_dot_attention.model_solution(queries[b:b + 1], keys[b:b + 1], values[b:b + 1],
                                                         mask[b:b + 1]) for b in range(len(queries))]
        return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])

    result = ex_scaled_dot_attention.check(scaled_dot_attention)
    assert result.status == "python_loop" and "batch" in result.message


# -- a causal convolution by taps ---------------------------------------------------------------


def _taps(padded, weight, dilation, steps):
    return sum(torch.einsum("oc,bct->bot", weight[:, :, m], padded[:, :, m * dilation:m * dilation + steps])
               for m in range(weight.shape[-1]))


def test_conv_model_solution_passes():
    result = ex_causal_conv1d_by_taps.check(ex_causal_conv1d_by_taps.model_solution)
    assert result.passed, result.message


def test_conv_by_rolling_a_zero_padded_copy_also_passes():
    def causal_conv1d_by_taps(x, weight, dilation):  # a second way: shift right with cat, matmul per tap
        width, steps = weight.shape[-1], x.shape[-1]
        out = torch.zeros(x.shape[0], weight.shape[0], steps, dtype=x.dtype)
        for m in range(width):
            lag = (width - 1 - m) * dilation
            shifted = torch.cat([torch.zeros_like(x[..., :lag]), x[..., :max(steps - lag, 0)]], -1)[..., :steps]
            out = out + (weight[:, :, m] @ shifted)
        return out

    result = ex_causal_conv1d_by_taps.check(causal_conv1d_by_taps)
    assert result.passed, result.message


def test_conv_stub_is_not_attempted():
    def causal_conv1d_by_taps(x, weight, dilation): ...

    assert ex_causal_conv1d_by_taps.check(causal_conv1d_by_taps).status == "not_attempted"


def test_conv_padding_on_both_sides_is_named():
    def causal_conv1d_by_taps(x, weight, dilation):
        total = (weight.shape[-1] - 1) * dilation
        return _taps(F.pad(x, (total // 2, total - total // 2)), weight, dilation, x.shape[-1])

    result = ex_causal_conv1d_by_taps.check(causal_conv1d_by_taps)
    assert not result.passed and "left only" in result.message


def test_conv_padding_on_the_right_is_named():
    def causal_conv1d_by_taps(x, weight, dilation):
        return _taps(F.pad(x, (0, (weight.shape[-1] - 1) * dilation)), weight, dilation, x.shape[-1])

    result = ex_causal_conv1d_by_taps.check(causal_conv1d_by_taps)
    assert not result.passed and "on the left" in result.message


def test_conv_forgotten_dilation_is_named():
    def causal_conv1d_by_taps(x, weight, dilation):
        return _taps(F.pad(x, (weight.shape[-1] - 1, 0)), weight, 1, x.shape[-1])

    result = ex_causal_conv1d_by_taps.check(causal_conv1d_by_taps)
    assert not result.passed and "dilation steps apart" in result.message


def test_conv_reversed_taps_are_named():
    def causal_conv1d_by_taps(x, weight, dilation):
        left = (weight.shape[-1] - 1) * dilation
        return _taps(F.pad(x, (left, 0)), weight.flip(-1), dilation, x.shape[-1])

    result = ex_causal_conv1d_by_taps.check(causal_conv1d_by_taps)
    assert not result.passed and "reverse order" in result.message


def test_conv_builtin_convolution_is_refused():
    def causal_conv1d_by_taps(x, weight, dilation):
        return F.conv1d(F.pad(x, ((weight.shape[-1] - 1) * dilation, 0)), weight, dilation=dilation)

    result = ex_causal_conv1d_by_taps.check(causal_conv1d_by_taps)
    assert result.status == "forbidden" and "conv1d" in result.message


def test_conv_loop_over_time_is_refused():
    def causal_conv1d_by_taps(x, weight, dilation):
        width, steps = weight.shape[-1], x.shape[-1]
        columns = []
        for t in range(steps):
            y = torch.zeros(x.shape[0], weight.shape[0], dtype=x.dtype)
            for m in range(width):
                u = t - (width - 1 - m) * dilation
                if u >= 0:
                    y = y + x[:, :, u] @ weight[:, :, m].T
            columns.append(y)
        return torch.stack(columns, -1)

    result = ex_causal_conv1d_by_taps.check(causal_conv1d_by_taps)
    assert result.status == "python_loop" and "time steps" in result.message
