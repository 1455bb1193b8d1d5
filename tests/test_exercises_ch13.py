"""Checkers of the GloVe chapter: model solutions pass, typical mistakes fail with their own message."""
import math

import numpy as np
import torch

from nbutils.exercises.ch13_glove import ex_glove_grads_tied, ex_ppmi_values

# -- the GloVe gradient with tied word vectors -----------------------------------------------------


def _residual_times_two(W, b, rows, cols, log_x, weight):
    return 2 * weight * ((W[rows] * W[cols]).sum(1) + b[rows] + b[cols] - log_x)


def test_glove_grads_tied_model_solution_passes():
    result = ex_glove_grads_tied.check(ex_glove_grads_tied.model_solution)
    assert result.passed, result.message


def test_glove_grads_tied_with_one_hot_matrices_also_passes():
    def glove_grads_tied(W, b, rows, cols, log_x, weight):  # another way: (P + Q)-style products
        s = _residual_times_two(W, b, rows, cols, log_x, weight)
        P = torch.nn.functional.one_hot(rows, W.shape[0]).to(W.dtype)
        Q = torch.nn.functional.one_hot(cols, W.shape[0]).to(W.dtype)
        return P.T @ (s[:, None] * W[cols]) + Q.T @ (s[:, None] * W[rows]), (P + Q).T @ s

    result = ex_glove_grads_tied.check(glove_grads_tied)
    assert result.passed, result.message


def test_glove_grads_tied_missing_factor_two_is_named():
    def glove_grads_tied(*args):
        return tuple(g / 2 for g in ex_glove_grads_tied.model_solution(*args))

    result = ex_glove_grads_tied.check(glove_grads_tied)
    assert not result.passed and "half the right size" in result.message


def test_glove_grads_tied_overwriting_repeated_words_is_named():
    def glove_grads_tied(W, b, rows, cols, log_x, weight):
        s = _residual_times_two(W, b, rows, cols, log_x, weight)
        gW, gb = torch.zeros_like(W), torch.zeros_like(b)
        gW[rows] = s[:, None] * W[cols]
        gW[cols] = s[:, None] * W[rows]
        gb[rows] = s
        gb[cols] = s
        return gW, gb

    result = ex_glove_grads_tied.check(glove_grads_tied)
    assert not result.passed and "overwrite" in result.message


def test_glove_grads_tied_forgotten_column_word_is_named():
    def glove_grads_tied(W, b, rows, cols, log_x, weight):  # the untied gradient of W alone
        s = _residual_times_two(W, b, rows, cols, log_x, weight)
        return (torch.zeros_like(W).index_add_(0, rows, s[:, None] * W[cols]),
                torch.zeros_like(b).index_add_(0, rows, s))

    result = ex_glove_grads_tied.check(glove_grads_tied)
    assert not result.passed and "column word" in result.message


def test_glove_grads_tied_autograd_is_refused():
    def glove_grads_tied(W, b, rows, cols, log_x, weight):
        leaves = [t.detach().clone().requires_grad_() for t in (W, b)]
        Wl, bl = leaves
        cost = (weight * ((Wl[rows] * Wl[cols]).sum(1) + bl[rows] + bl[cols] - log_x) ** 2).sum()
        return torch.autograd.grad(cost, leaves)

    result = ex_glove_grads_tied.check(glove_grads_tied)
    assert result.status == "forbidden" and "torch.autograd.grad" in result.message


def test_glove_grads_tied_loop_over_pairs_is_refused():
    def glove_grads_tied(W, b, rows, cols, log_x, weight):
        s = _residual_times_two(W, b, rows, cols, log_x, weight)
        gW, gb = torch.zeros_like(W), torch.zeros_like(b)
        for k in range(len(rows)):
            gW[rows[k]] += s[k] * W[cols[k]]
            gW[cols[k]] += s[k] * W[rows[k]]
            gb[rows[k]] += s[k]
            gb[cols[k]] += s[k]
        return gW, gb

    result = ex_glove_grads_tied.check(glove_grads_tied)
    assert result.status == "python_loop" and "loop over the pairs" in result.message


def test_glove_grads_tied_loop_in_numpy_is_refused():
    def glove_grads_tied(W, b, rows, cols, log_x, weight):  # loops over the pairs in NumPy
        Wn, bn, r, c, lx, f = (np.asarray(t) for t in (W, b, rows, cols, log_x, weight))
        gW, gb = np.zeros_like(Wn), np.zeros_like(bn)
        for k in range(len(r)):
            s = 2 * f[k] * (Wn[r[k]] @ Wn[c[k]] + bn[r[k]] + bn[c[k]] - lx[k])
            gW[r[k]] += s * Wn[c[k]]
            gW[c[k]] += s * Wn[r[k]]
            gb[r[k]] += s
            gb[c[k]] += s
        return torch.from_numpy(gW), torch.from_numpy(gb)

    result = ex_glove_grads_tied.check(glove_grads_tied)
    assert result.status == "forbidden" and "leaves torch" in result.message


def test_glove_grads_tied_float64_for_float32_input_is_a_dtype_error():
    def glove_grads_tied(*args):
        return tuple(g.double() for g in ex_glove_grads_tied.model_solution(*args))

    result = ex_glove_grads_tied.check(glove_grads_tied)
    assert result.status == "wrong_dtype" and "float32" in result.message


def test_glove_grads_tied_stub_is_not_attempted():
    def glove_grads_tied(W, b, rows, cols, log_x, weight):
        ...  # your code here

    assert ex_glove_grads_tied.check(glove_grads_tied).status == "not_attempted"


# -- PPMI values without a dense matrix ----------------------------------------------------------


def _marginals(rows, cols, counts, vocab_size):
    row_sums = torch.zeros(vocab_size, dtype=counts.dtype).index_add_(0, rows, counts)
    col_sums = torch.zeros(vocab_size, dtype=counts.dtype).index_add_(0, cols, counts)
    return row_sums[rows], col_sums[cols]


def test_ppmi_values_model_solution_passes():
    result = ex_ppmi_values.check(ex_ppmi_values.model_solution)
    assert result.passed, result.message


def test_ppmi_values_with_bincount_also_passes():
    def ppmi_values(rows, cols, counts, vocab_size):  # another way: bincount and log differences
        row_sums = torch.bincount(rows, weights=counts, minlength=vocab_size)
        col_sums = torch.bincount(cols, weights=counts, minlength=vocab_size)
        pmi = counts.log() + counts.sum().log() - row_sums[rows].log() - col_sums[cols].log()
        return pmi.clamp_min(0).to(counts.dtype)

    result = ex_ppmi_values.check(ppmi_values)
    assert result.passed, result.message


def test_ppmi_values_unclipped_pmi_is_named():
    def ppmi_values(rows, cols, counts, vocab_size):
        row, col = _marginals(rows, cols, counts, vocab_size)
        return torch.log(counts * counts.sum() / (row * col))

    result = ex_ppmi_values.check(ppmi_values)
    assert not result.passed and "this is PMI" in result.message


def test_ppmi_values_wrong_total_is_named():
    def ppmi_values(rows, cols, counts, vocab_size):
        row, col = _marginals(rows, cols, counts, vocab_size)
        return torch.clamp(torch.log(counts * len(counts) / (row * col)), min=0)

    result = ex_ppmi_values.check(ppmi_values)
    assert not result.passed and "sum of all counts" in result.message


def test_ppmi_values_row_sums_for_both_words_is_named():
    def ppmi_values(rows, cols, counts, vocab_size):
        row_sums = torch.zeros(vocab_size, dtype=counts.dtype).index_add_(0, rows, counts)
        return torch.clamp(torch.log(counts * counts.sum() / (row_sums[rows] * row_sums[cols])), min=0)

    result = ex_ppmi_values.check(ppmi_values)
    assert not result.passed and "column" in result.message


def test_ppmi_values_dense_matrix_is_refused():
    def ppmi_values(rows, cols, counts, vocab_size):
        dense = torch.zeros(vocab_size, vocab_size, dtype=counts.dtype)
        dense[rows, cols] = counts
        expected = dense.sum(1, keepdim=True) * dense.sum(0, keepdim=True) / dense.sum()
        return torch.clamp(torch.log(counts / expected[rows, cols]), min=0)

    result = ex_ppmi_values.check(ppmi_values)
    assert result.status == "memory" and "(300, 300)" in result.message


def test_ppmi_values_loop_over_entries_is_refused():
    def ppmi_values(rows, cols, counts, vocab_size):
        row, col = _marginals(rows, cols, counts, vocab_size)
        total = counts.sum()
        return torch.stack([torch.clamp(torch.log(counts[k] * total / (row[k] * col[k])), min=0)
                            for k in range(len(counts))])

    result = ex_ppmi_values.check(ppmi_values)
    assert result.status == "python_loop" and "loop over the entries" in result.message


def test_ppmi_values_loop_over_python_numbers_is_refused():
    def ppmi_values(rows, cols, counts, vocab_size):  # .tolist(), then a loop over the entries
        r, c, x = rows.tolist(), cols.tolist(), counts.tolist()
        row_sums, col_sums = [0.0] * vocab_size, [0.0] * vocab_size
        for i, j, value in zip(r, c, x, strict=True):
            row_sums[i] += value
            col_sums[j] += value
        total = sum(x)
        values = [max(math.log(v * total / (row_sums[i] * col_sums[j])), 0.0)
                  for i, j, v in zip(r, c, x, strict=True)]
        return torch.tensor(values, dtype=counts.dtype)

    result = ex_ppmi_values.check(ppmi_values)
    assert result.status == "forbidden" and "torch.Tensor.tolist" in result.message


def test_ppmi_values_stub_is_not_attempted():
    def ppmi_values(rows, cols, counts, vocab_size):
        ...  # your code here

    assert ex_ppmi_values.check(ppmi_values).status == "not_attempted"
