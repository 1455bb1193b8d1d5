"""Exercises of the chapter "GloVe: global vectors from co-occurrence counts".

The references are torch's own code, never the chapter's: autograd through
the GloVe cost with tied word and context vectors, written entry by entry,
for the gradient, and the dense closed form of the PPMI matrix for the PPMI
values. Each exercise names the typical mistakes of its topic (a lost factor
2, repeated words whose gradients overwrite each other instead of adding up,
the tied column word forgotten, PMI without the clipping, the wrong
normaliser) without giving the answer away. Both refuse Python loops over
the pairs or entries, in torch or after leaving it for NumPy or Python
numbers. The model solutions are what ``solution()`` shows.
"""

from __future__ import annotations

import torch

from nbutils.exercises.core import Case, Exercise, LoopFree, Mistake
from nbutils.exercises.recording import AUTOGRAD, LEAVING_TORCH

# ------------------------- 1. the GloVe gradient with tied word vectors

# "no Python loop over the pairs" counts torch operations; an answer that hands
# the tensors to NumPy or to Python numbers and loops there calls no more torch
# operations for more pairs, so every way out of torch is refused as well.
_NUMPY_ESCAPE = {
    name: "your answer calls {name} and leaves torch (a loop over NumPy "
    "arrays or Python numbers is still a loop); compute on whole tensors "
    "with torch operations."
    for name in LEAVING_TORCH
}


def _residual(W, b, rows, cols, log_x):
    return (W[rows] * W[cols]).sum(dim=1) + b[rows] + b[cols] - log_x


def _grads_reference(W, b, rows, cols, log_x, weight):
    """Autograd through sum(weight * residual ** 2), one table of vectors."""
    leaves = [t.detach().clone().requires_grad_(True) for t in (W, b)]
    cost = (weight * _residual(*leaves, rows, cols, log_x) ** 2).sum()
    return torch.autograd.grad(cost, leaves)


def _grads_solution(W, b, rows, cols, log_x, weight):
    """s = 2 f e per pair; each pair adds s times the other word's vector
    to both of its words (a pair (i, i) thus adds 2 s w_i to word i)."""
    residual = (W[rows] * W[cols]).sum(dim=1) + b[rows] + b[cols] - log_x
    s = 2 * weight * residual
    grad_W = (
        torch.zeros_like(W)
        .index_add_(0, rows, s[:, None] * W[cols])
        .index_add_(0, cols, s[:, None] * W[rows])
    )
    grad_b = torch.zeros_like(b).index_add_(0, rows, s).index_add_(0, cols, s)
    return grad_W, grad_b


def _grads_scaled(factor):
    def answer(*args):
        return tuple(factor * g for g in _grads_solution(*args))

    return answer


def _grads_overwritten(W, b, rows, cols, log_x, weight):
    s = 2 * weight * _residual(W, b, rows, cols, log_x)
    grad_W, grad_b = torch.zeros_like(W), torch.zeros_like(b)
    grad_W[rows] = s[:, None] * W[cols]
    grad_W[cols] = s[:, None] * W[rows]
    grad_b[rows] = s
    grad_b[cols] = s
    return grad_W, grad_b


def _grads_row_word_only(W, b, rows, cols, log_x, weight):
    """The untied gradient of W alone: the column word gets nothing."""
    s = 2 * weight * _residual(W, b, rows, cols, log_x)
    return (
        torch.zeros_like(W).index_add_(0, rows, s[:, None] * W[cols]),
        torch.zeros_like(b).index_add_(0, rows, s),
    )


def _grads_unweighted(W, b, rows, cols, log_x, weight):
    return _grads_solution(W, b, rows, cols, log_x, torch.ones_like(weight))


def _glove_batch(
    n_pairs: int,
    vocab: int = 7,
    dim: int = 3,
    dtype: torch.dtype = torch.float64,
    seed: int | None = None,
) -> tuple:
    """Vectors and biases of `vocab` words and `n_pairs` (i, j) pairs.

    With n_pairs > vocab, words repeat.
    """
    gen = torch.Generator().manual_seed(
        n_pairs * 31 + vocab if seed is None else seed
    )
    W = torch.randn(vocab, dim, generator=gen, dtype=torch.float64)
    b = torch.randn(vocab, generator=gen, dtype=torch.float64)
    rows = torch.randint(0, vocab, (n_pairs,), generator=gen)
    cols = torch.randint(0, vocab, (n_pairs,), generator=gen)
    counts = torch.rand(n_pairs, generator=gen, dtype=torch.float64) * 200 + 0.5
    weight = torch.clamp(counts / 100, max=1) ** 0.75
    return (
        W.to(dtype),
        b.to(dtype),
        rows,
        cols,
        counts.log().to(dtype),
        weight.to(dtype),
    )


def _one_row_batch() -> tuple:
    """Every pair has word 0 as its row: only accumulation gets grad_W[0]."""
    args = list(_glove_batch(6, vocab=5, seed=3))
    args[2] = torch.zeros(6, dtype=torch.long)
    return tuple(args)


def _diagonal_batch() -> tuple:
    """Pairs (i, i) of a word with itself: w_i . w_i has gradient 2 w_i."""
    args = list(_glove_batch(5, vocab=6, seed=4))
    args[3] = args[2].clone()
    return tuple(args)


ex_glove_grads_tied = Exercise(
    name="glove_grads_tied",
    reference=_grads_reference,
    result_names=("grad_W", "grad_b"),
    cases=[
        Case("12 pairs over 7 words (words repeat)", _glove_batch(12)),
        Case("6 pairs that all share the row word 0", _one_row_batch()),
        Case("5 pairs (i, i) of a word with itself", _diagonal_batch()),
        Case(
            "3 pairs over 10 words (most words unused)",
            _glove_batch(3, vocab=10),
        ),
        Case(
            "float32 input",
            _glove_batch(20, vocab=6, dim=4, dtype=torch.float32),
        ),
    ],
    hints=[
        "Compute the residual e of every pair first: the dot product "
        "W[rows] . W[cols] plus b[rows] + b[cols] minus log_x. With one table "
        "of vectors, a pair depends on the vectors of *both* of its words.",
        "Each pair adds s = 2 * weight * e times W[cols] to the row word and "
        "s times W[rows] to the column word (and s to both biases). Start "
        "from zeros and call Tensor.index_add_ twice, once with rows and once "
        "with cols; a pair (i, i) then gets both contributions, as it must.",
    ],
    solution=_grads_solution,
    rtol=1e-5,
    mistakes=[
        Mistake(
            _grads_scaled(0.5),
            "every gradient is half the right size: the "
            "derivative of e ** 2 is 2 e (the reference code's cost has a "
            "factor 1/2, the cost here does not).",
        ),
        Mistake(
            _grads_overwritten,
            "a word that occurs in several pairs must "
            "collect the sum of their contributions; here repeated words "
            "overwrite each other's gradient.",
        ),
        Mistake(
            _grads_row_word_only,
            "with tied vectors the column word of a pair "
            "gets a contribution too (the row word's vector times s); here "
            "only the row word gets one, as for the untied W.",
        ),
        Mistake(
            _grads_unweighted,
            "each pair's contribution is multiplied by "
            "its weight f(X_ij); the weight is missing.",
        ),
    ],
    forbidden={
        name: "your answer calls {name}; derive the gradient by hand "
        "and write it with tensor operations."
        for name in AUTOGRAD
    }
    | _NUMPY_ESCAPE,
    loop_free=LoopFree(
        lambda n: _glove_batch(n, vocab=5, seed=n),
        sizes=(4, 16),
        what="the pairs",
    ),
)


# ---------------------------------------- 2. PPMI values from sparse counts


def _ppmi_reference(rows, cols, counts, vocab_size):
    """Dense closed form max(log(X_ij total / (X_i X_j)), 0) at the entries."""
    dense = torch.zeros(vocab_size, vocab_size, dtype=counts.dtype)
    dense.index_put_((rows, cols), counts, accumulate=True)
    total = dense.sum()
    expected = (
        dense.sum(dim=1, keepdim=True) * dense.sum(dim=0, keepdim=True) / total
    )
    return torch.clamp(
        torch.log(dense[rows, cols] / expected[rows, cols]), min=0
    )


def _ppmi_solution(rows, cols, counts, vocab_size):
    """Row and column sums by index_add_, then each entry's PMI, clipped."""
    row_sums = torch.zeros(vocab_size, dtype=counts.dtype).index_add_(
        0, rows, counts
    )
    col_sums = torch.zeros(vocab_size, dtype=counts.dtype).index_add_(
        0, cols, counts
    )
    pmi = torch.log(counts * counts.sum() / (row_sums[rows] * col_sums[cols]))
    return torch.clamp(pmi, min=0)


def _pmi_unclipped(rows, cols, counts, vocab_size):
    row_sums = torch.zeros(vocab_size, dtype=counts.dtype).index_add_(
        0, rows, counts
    )
    col_sums = torch.zeros(vocab_size, dtype=counts.dtype).index_add_(
        0, cols, counts
    )
    return torch.log(counts * counts.sum() / (row_sums[rows] * col_sums[cols]))


def _ppmi_row_sums_twice(rows, cols, counts, vocab_size):
    row_sums = torch.zeros(vocab_size, dtype=counts.dtype).index_add_(
        0, rows, counts
    )
    return torch.clamp(
        torch.log(counts * counts.sum() / (row_sums[rows] * row_sums[cols])),
        min=0,
    )


def _ppmi_by_entries(rows, cols, counts, vocab_size):
    row_sums = torch.zeros(vocab_size, dtype=counts.dtype).index_add_(
        0, rows, counts
    )
    col_sums = torch.zeros(vocab_size, dtype=counts.dtype).index_add_(
        0, cols, counts
    )
    return torch.clamp(
        torch.log(counts * len(counts) / (row_sums[rows] * col_sums[cols])),
        min=0,
    )


def _ppmi_log2(rows, cols, counts, vocab_size):
    return _ppmi_solution(rows, cols, counts, vocab_size) / torch.log(
        torch.tensor(2.0, dtype=counts.dtype)
    )


def _counts(
    n_entries: int,
    vocab_size: int,
    dtype: torch.dtype = torch.float64,
    seed: int = 0,
) -> tuple:
    """n_entries distinct (i, j) pairs of a non-symmetric count matrix.

    The counts lie in 0.1 .. 50.
    """
    gen = torch.Generator().manual_seed(seed)
    flat = torch.randperm(vocab_size * vocab_size, generator=gen)[:n_entries]
    rows, cols = flat // vocab_size, flat % vocab_size
    counts = (
        torch.rand(n_entries, generator=gen, dtype=torch.float64) ** 3 * 50
        + 0.1
    ).to(dtype)
    return rows, cols, counts, vocab_size


ex_ppmi_values = Exercise(
    name="ppmi_values",
    reference=_ppmi_reference,
    cases=[
        Case("20 entries of a 6 x 6 count matrix", _counts(20, 6, seed=1)),
        Case(
            "500 entries of a 300 x 300 matrix (sparse: do not densify it)",
            _counts(500, 300, seed=2),
        ),
        Case("float32 input", _counts(60, 20, dtype=torch.float32, seed=3)),
    ],
    hints=[
        "PMI(i, j) = log(X_ij * X_total / (X_i * X_j)), where X_i is the sum "
        "of row i, X_j the sum of column j and X_total the sum of all counts. "
        "All three are sums over the entries you are given.",
        "Row sums without a dense matrix: torch.zeros(vocab_size).index_add_"
        "(0, rows, counts); the same with cols for the column sums. Index them "
        "with rows and cols to get one value per entry, then clip at 0.",
    ],
    solution=_ppmi_solution,
    rtol=1e-5,
    mistakes=[
        Mistake(
            _pmi_unclipped,
            "this is PMI: the positive PMI sets every negative value to 0.",
        ),
        Mistake(
            _ppmi_row_sums_twice,
            "the second word's marginal is the sum "
            "of its column, not of its row (the matrix here is not "
            "symmetric).",
        ),
        Mistake(
            _ppmi_by_entries,
            "the total is the sum of all counts, not the "
            "number of non-zero entries.",
        ),
        Mistake(
            _ppmi_log2,
            "use the natural logarithm (torch.log), as the chapter does.",
        ),
    ],
    memory_bound=3,
    forbidden=_NUMPY_ESCAPE,
    loop_free=LoopFree(
        lambda n: _counts(n, 4, seed=n), sizes=(4, 16), what="the entries"
    ),
)

__all__ = ["ex_glove_grads_tied", "ex_ppmi_values"]
