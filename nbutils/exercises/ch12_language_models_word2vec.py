"""Exercises of the chapter "Language models and word2vec".

The references are torch's own code, never the chapter's: autograd through
``F.binary_cross_entropy_with_logits`` for the CBOW negative-sampling
gradients, and ``F.cross_entropy`` over the log of the add-delta bigram table
for the perplexity. Each exercise names the typical mistakes of its topic (a
forgotten average over the context, a sign of the noise term, an unnormalised
smoothed distribution, a sum where the mean belongs) without giving the
answer away. The model solutions are what ``solution()`` shows.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from nbutils.exercises.core import Case, Exercise, LoopFree, Mistake
from nbutils.exercises.recording import AUTOGRAD

_gen = torch.Generator().manual_seed(12)


def _randn(*shape: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    return torch.randn(*shape, generator=_gen, dtype=torch.float64).to(dtype)


# -------------------------------------------------------- 1. CBOW with negative sampling

def _cbow_reference(context, u_pos, u_neg):
    """(loss, grad_context, grad_u_pos, grad_u_neg) by autograd through BCE with logits."""
    leaves = [x.detach().clone().requires_grad_(True) for x in (context, u_pos, u_neg)]
    mean = leaves[0].mean(dim=1)
    targets = torch.cat([leaves[1][:, None], leaves[2]], dim=1)  # (B, k + 1, d)
    logits = (targets * mean[:, None, :]).sum(dim=2)
    labels = torch.zeros_like(logits)
    labels[:, 0] = 1
    loss = F.binary_cross_entropy_with_logits(logits, labels, reduction="none").sum(dim=1)
    grads = torch.autograd.grad(loss.sum(), leaves)
    return (loss.detach(), *grads)


def _cbow_solution(context, u_pos, u_neg):
    """Negative sampling on the mean context vector; its gradient is shared by the 2m words."""
    v = context.mean(dim=1)  # (B, d)
    s_pos = (u_pos * v).sum(dim=1)
    s_neg = (u_neg * v[:, None, :]).sum(dim=2)
    loss = -F.logsigmoid(s_pos) - F.logsigmoid(-s_neg).sum(dim=1)
    g_pos = torch.sigmoid(s_pos) - 1
    g_neg = torch.sigmoid(s_neg)
    grad_v = g_pos[:, None] * u_pos + (g_neg[:, :, None] * u_neg).sum(dim=1)
    grad_context = (grad_v / context.shape[1])[:, None, :].expand_as(context)
    return loss, grad_context, g_pos[:, None] * v, g_neg[:, :, None] * v[:, None, :]


def _cbow_parts(context, u_pos, u_neg, pos_sign=1.0, neg_sign=1.0, mean=True):
    v = context.mean(dim=1) if mean else context.sum(dim=1)
    s_pos = (u_pos * v).sum(dim=1)
    s_neg = (u_neg * v[:, None, :]).sum(dim=2)
    loss = -F.logsigmoid(s_pos) - F.logsigmoid(-neg_sign * s_neg).sum(dim=1)
    g_pos = torch.sigmoid(s_pos) - pos_sign
    g_neg = torch.sigmoid(neg_sign * s_neg) * neg_sign
    grad_v = g_pos[:, None] * u_pos + (g_neg[:, :, None] * u_neg).sum(dim=1)
    scale = context.shape[1] if mean else 1
    grad_context = (grad_v / scale)[:, None, :].expand_as(context)
    return loss, grad_context, g_pos[:, None] * v, g_neg[:, :, None] * v[:, None, :]


def _cbow_context_not_divided(context, u_pos, u_neg):
    loss, grad_context, grad_pos, grad_neg = _cbow_solution(context, u_pos, u_neg)
    return loss, grad_context * context.shape[1], grad_pos, grad_neg


def _cbow_sum_not_mean(context, u_pos, u_neg):
    return _cbow_parts(context, u_pos, u_neg, mean=False)


def _cbow_noise_sign(context, u_pos, u_neg):
    return _cbow_parts(context, u_pos, u_neg, neg_sign=-1.0)


def _cbow_positive_sign(context, u_pos, u_neg):
    return _cbow_parts(context, u_pos, u_neg, pos_sign=0.0)


def _cbow_case(batch: int, window: int = 2, k: int = 3, dim: int = 6, seed: int = 0,
               dtype: torch.dtype = torch.float64) -> tuple:
    gen = torch.Generator().manual_seed(seed * 1000 + batch * 10 + window)
    context = torch.randn(batch, 2 * window, dim, generator=gen, dtype=torch.float64)
    u_pos = torch.randn(batch, dim, generator=gen, dtype=torch.float64)
    u_neg = torch.randn(batch, k, dim, generator=gen, dtype=torch.float64)
    return tuple(x.to(dtype) for x in (context, u_pos, u_neg))


ex_cbow_ns_loss_and_grads = Exercise(
    name="cbow_ns_loss_and_grads",
    reference=_cbow_reference,
    result_names=("loss", "grad_context", "grad_u_pos", "grad_u_neg"),
    cases=[
        Case("8 examples, window m = 2 (4 context words), k = 3, d = 6", _cbow_case(8)),
        Case("one example, window m = 1, k = 1", _cbow_case(1, window=1, k=1, seed=1)),
        Case("16 examples, m = 5, k = 5, d = 20", _cbow_case(16, window=5, k=5, dim=20, seed=2)),
        Case("large scores (vectors about 10 times larger)",
             tuple(10 * x for x in _cbow_case(4, seed=3)),
             nonfinite_hint="log(sigmoid(z)) underflows for large negative z: use F.logsigmoid."),
        Case("float32 input", _cbow_case(8, dtype=torch.float32, seed=4)),
    ],
    hints=[
        "The centre word is predicted from the mean of the 2m context vectors, "
        "v = context.mean(dim=1). From there the loss and the three score "
        "gradients are those of skip-gram with negative sampling, with v in "
        "place of v_c.",
        "With s_pos = (u_pos * v).sum(1) and s_neg = (u_neg * v[:, None]).sum(2): "
        "g_pos = sigmoid(s_pos) - 1, g_neg = sigmoid(s_neg); grad_v = "
        "g_pos[:, None] * u_pos + (g_neg[..., None] * u_neg).sum(1). Each context "
        "word receives grad_v / (2m), the derivative of the mean.",
    ],
    solution=_cbow_solution,
    rtol=1e-5,
    mistakes=[
        Mistake(_cbow_context_not_divided,
                "grad_context is 2m times too large: the context vectors enter "
                "through their mean, so each receives 1/(2m) of the gradient of "
                "that mean."),
        Mistake(_cbow_sum_not_mean,
                "you summed the context vectors; CBOW averages them."),
        Mistake(_cbow_noise_sign,
                "the noise words' terms have the wrong sign: the loss is "
                "-log sigmoid(-z) for each noise score z, whose derivative is "
                "sigmoid(z)."),
        Mistake(_cbow_positive_sign,
                "the positive word's score gradient is sigmoid(z) - 1 (the "
                "derivative of -log sigmoid(z)), not sigmoid(z)."),
    ],
    forbidden={name: "your answer calls {name}; do not use autograd: write the "
                     "gradients by hand, with tensor operations only."
               for name in AUTOGRAD},
    loop_free=LoopFree(lambda n: _cbow_case(n, seed=5), sizes=(4, 16), what="the batch"),
)


# -------------------------------------------------------- 2. perplexity of an add-delta bigram model

def _perplexity_reference(counts, ids, delta):
    """exp of the mean cross-entropy of the smoothed rows, by F.cross_entropy."""
    smoothed = counts.double() + delta
    log_table = (smoothed / smoothed.sum(dim=1, keepdim=True)).log()
    nll = F.cross_entropy(log_table[ids[:-1]], ids[1:])  # log-probabilities are valid logits
    return nll.exp().to(counts.dtype)


def _perplexity_solution(counts, ids, delta):
    """P(b | a) = (C[a, b] + delta) / (C[a].sum() + delta V) at each step of the text."""
    V = counts.shape[0]
    prev, nxt = ids[:-1], ids[1:]
    probs = (counts[prev, nxt] + delta) / (counts[prev].sum(dim=1) + delta * V)
    return torch.exp(-torch.log(probs).mean())


def _perplexity_no_delta_v(counts, ids, delta):
    prev, nxt = ids[:-1], ids[1:]
    probs = (counts[prev, nxt] + delta) / (counts[prev].sum(dim=1) + delta)
    return torch.exp(-torch.log(probs).mean())


def _perplexity_columns(counts, ids, delta):
    V = counts.shape[0]
    prev, nxt = ids[:-1], ids[1:]
    probs = (counts[prev, nxt] + delta) / (counts[:, nxt].sum(dim=0) + delta * V)
    return torch.exp(-torch.log(probs).mean())


def _perplexity_arithmetic(counts, ids, delta):
    V = counts.shape[0]
    prev, nxt = ids[:-1], ids[1:]
    probs = (counts[prev, nxt] + delta) / (counts[prev].sum(dim=1) + delta * V)
    return 1 / probs.mean()


def _perplexity_transposed(counts, ids, delta):
    return _perplexity_solution(counts.T.contiguous(), ids, delta)


def _bigram_case(V: int, T: int, seed: int, dtype: torch.dtype = torch.float64) -> tuple:
    gen = torch.Generator().manual_seed(seed)
    skew = torch.rand(V, V, generator=gen) ** 3  # uneven rows and columns
    counts = torch.poisson(8 * skew, generator=gen).to(dtype)
    ids = torch.randint(V, (T,), generator=gen)
    return counts, ids


ex_addk_bigram_perplexity = Exercise(
    name="addk_bigram_perplexity",
    reference=_perplexity_reference,
    cases=[
        Case("V = 6 words, a text of 20 tokens, delta = 1", _bigram_case(6, 20, 0) + (1.0,)),
        Case("V = 30, 200 tokens, delta = 0.01", _bigram_case(30, 200, 1) + (0.01,)),
        Case("a text of 2 tokens (one prediction)", _bigram_case(5, 2, 2) + (0.5,)),
        Case("a long text, 5,000 tokens (sums of logs overflow exp)",
             _bigram_case(40, 5_000, 3) + (0.1,),
             nonfinite_hint="exp of the *sum* of 5,000 log-probabilities overflows: "
                            "perplexity is exp of their mean."),
        Case("float32 counts", _bigram_case(12, 100, 4, dtype=torch.float32) + (0.1,)),
    ],
    hints=[
        "Row a of counts holds the training counts of the bigrams (a, b). The text "
        "ids[0], ids[1], ... predicts ids[t] from ids[t - 1]: T - 1 predictions.",
        "With prev = ids[:-1] and nxt = ids[1:]: probs = (counts[prev, nxt] + delta) "
        "/ (counts[prev].sum(1) + delta * V), then exp(-log(probs).mean()).",
    ],
    solution=_perplexity_solution,
    rtol=1e-5,
    mistakes=[
        Mistake(_perplexity_no_delta_v,
                "the smoothed distribution does not sum to one: adding delta to "
                "each of the V counts of a row adds delta * V to its total."),
        Mistake(_perplexity_columns,
                "you normalised over the wrong axis: P(b | a) divides by the "
                "total count of the row of a, the previous word."),
        Mistake(_perplexity_transposed,
                "rows of counts are the previous word, columns the next word: "
                "the table is used transposed."),
        Mistake(_perplexity_arithmetic,
                "perplexity is the exponential of the mean negative "
                "log-probability (a geometric mean), not one over the mean "
                "probability."),
    ],
    loop_free=LoopFree(lambda n: _bigram_case(7, n, 5) + (0.5,), sizes=(8, 64), what="the text"),
)
