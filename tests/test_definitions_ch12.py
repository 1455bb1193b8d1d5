"""The language-models chapter's own definitions, on inputs the chapter never shows, against torch and closed forms."""
import heapq
from collections import Counter

import pytest
import torch
import torch.nn.functional as F
from scipy.stats import spearmanr

from nbutils.notebook import load_definitions

ch = load_definitions("12_language_models_word2vec")


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_ngram_count_tables_match_counter(n):
    gen = torch.Generator().manual_seed(n)
    V = 7
    ids = torch.randint(V, (500,), generator=gen)
    keys, counts = ch.count_table(ids, n, V)
    grams = Counter(tuple(ids[t:t + n].tolist()) for t in range(len(ids) - n + 1))
    decoded = {}
    for key, count in zip(keys.tolist(), counts.tolist(), strict=True):
        gram = []
        for _ in range(n):
            key, word = divmod(key, V)
            gram.append(word)
        decoded[tuple(reversed(gram))] = count
    assert decoded == dict(grams)
    probe = torch.tensor([0, 10**6])  # a code that cannot occur gets count 0
    assert ch.lookup((keys, counts), probe)[1].item() == 0


@pytest.mark.parametrize("delta", [1.0, 0.05])
def test_add_delta_matches_the_dense_formula_and_normalises(delta):
    gen = torch.Generator().manual_seed(0)
    V = 6
    train = torch.randint(V, (300,), generator=gen)
    tables = {n: ch.count_table(train, n, V) for n in (1, 2, 3)}
    contexts = {n: ch.context_table(train, n, V) for n in (1, 2, 3)}
    dense = torch.zeros(V, V, dtype=torch.float64)
    dense.index_put_((train[:-1], train[1:]), torch.ones(len(train) - 1, dtype=torch.float64), accumulate=True)
    test = torch.randint(V, (50,), generator=gen)
    ours = ch.ngram_probs(tables, contexts, test, 2, V, delta)
    expected = (dense[test[1:-1], test[2:]] + delta) / (dense[test[1:-1]].sum(1) + delta * V)
    torch.testing.assert_close(ours, expected)
    for weights in [(0.3, 0.6), (1.0, 1.0)]:
        streams = torch.stack([torch.tensor([a, b, w]) for a in range(V) for b in range(V) for w in range(V)])
        probs = ch.interpolated_probs(tables, contexts, streams.flatten(), V, weights)[::3]
        torch.testing.assert_close(probs.view(V * V, V).sum(1), torch.ones(V * V, dtype=torch.float64))


def _huffman_expected_length(counts):
    """Sum of the merged weights over the total: the mean code length of any Huffman code."""
    heap = list(map(float, counts))
    heapq.heapify(heap)
    total = 0.0
    while len(heap) > 1:
        merged = heapq.heappop(heap) + heapq.heappop(heap)
        total += merged
        heapq.heappush(heap, merged)
    return total / sum(counts)


@pytest.mark.parametrize("V", [2, 3, 17, 300])
def test_huffman_tree_is_optimal_complete_and_normalised(V):
    gen = torch.Generator().manual_seed(V)
    counts = torch.randint(1, 1000, (V,), generator=gen)
    points, codes, lengths = ch.huffman_tree(counts)
    f = counts.double() / counts.sum()
    assert (f * lengths).sum().item() == pytest.approx(_huffman_expected_length(counts.tolist()), rel=1e-12)
    assert (2.0 ** -lengths.double()).sum().item() == pytest.approx(1.0, rel=1e-12)
    assert points.max().item() <= V - 2 and points.min().item() >= 0
    Q = torch.randn(V - 1, 5, generator=gen, dtype=torch.float64)
    h = torch.randn(1, 5, generator=gen, dtype=torch.float64).expand(V, 5)
    total = ch.hs_log_prob(h, torch.arange(V), Q, points, codes, lengths).exp().sum()
    assert total.item() == pytest.approx(1.0, rel=1e-12)


@pytest.mark.parametrize("dtype, rtol", [(torch.float64, 1e-10), (torch.float32, 1e-4)])
def test_sgns_gradients_match_autograd(dtype, rtol):
    gen = torch.Generator().manual_seed(3)
    v, u_pos = torch.randn(2, 33, 7, generator=gen, dtype=torch.float64).to(dtype)
    u_neg = torch.randn(33, 4, 7, generator=gen, dtype=torch.float64).to(dtype)
    leaves = [x.clone().requires_grad_() for x in (v, u_pos, u_neg)]
    loss_ref = -F.logsigmoid((leaves[0] * leaves[1]).sum(1)) \
        - F.logsigmoid(-(leaves[2] * leaves[0][:, None]).sum(2)).sum(1)
    grads = torch.autograd.grad(loss_ref.sum(), leaves)
    loss, *ours = ch.sgns_loss_and_grads(v, u_pos, u_neg)
    torch.testing.assert_close(loss, loss_ref.detach(), rtol=rtol, atol=rtol)
    for mine, ref in zip(ours, grads, strict=True):
        torch.testing.assert_close(mine, ref, rtol=rtol, atol=rtol)


def test_discard_probability_is_the_papers_formula():
    counts = torch.tensor([1000, 100, 10, 1])
    p = ch.discard_probability(counts, 0.01)
    f = counts.double() / counts.sum()
    expected = torch.clamp(1 - torch.sqrt(0.01 / f), min=0)
    torch.testing.assert_close(p, expected)
    assert p[-1].item() == 0.0 and p[0].item() > 0.8
    noise = ch.noise_distribution(counts)
    assert noise.sum().item() == pytest.approx(1.0)
    assert noise[0] / noise[1] == pytest.approx(10 ** 0.75)


def test_skipgram_pairs_with_window_one_are_the_adjacent_pairs():
    ids = torch.tensor([3, 1, 4, 1, 5, 9, 2, 6])
    keep = torch.ones(10)
    centres, contexts = ch.skipgram_pairs(ids, keep, 1, torch.Generator().manual_seed(0))
    expected = Counter(zip(ids[:-1].tolist(), ids[1:].tolist(), strict=True))
    expected += Counter(zip(ids[1:].tolist(), ids[:-1].tolist(), strict=True))
    assert Counter(zip(centres.tolist(), contexts.tolist(), strict=True)) == expected


def test_row_mean_update_averages_repeated_rows():
    W = torch.zeros(4, 2)
    rows = torch.tensor([1, 1, 3])
    grads = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    ch.row_mean_update(W, rows, grads, lr=0.5)
    torch.testing.assert_close(W, torch.tensor([[0.0, 0.0], [-1.0, -1.5], [0.0, 0.0], [-2.5, -3.0]]))


def test_spearman_matches_scipy_with_ties():
    gen = torch.Generator().manual_seed(5)
    x = torch.randint(0, 8, (60,), generator=gen).double()
    y = x + torch.randn(60, generator=gen, dtype=torch.float64)
    assert ch.spearman(x, y) == pytest.approx(spearmanr(x, y).statistic, rel=1e-10)


def test_analogy_accuracy_on_exact_parallelograms():
    E = torch.tensor([[1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 1.0], [1.0, -1.0, 0.3]])
    index = {w: i for i, w in enumerate("a b c d e".split())}
    assert ch.analogy_accuracy(E, index, [("a", "b", "c", "d")]) == 1.0
    assert ch.analogy_accuracy(E, index, [("a", "b", "c", "e")]) == 0.0


def test_hs_log_prob_gives_q_a_sparse_gradient_equal_to_the_dense_one():
    gen = torch.Generator().manual_seed(11)
    V, d = 40, 6
    counts = torch.randint(1, 500, (V,), generator=gen)
    points, codes, lengths = ch.huffman_tree(counts)
    words = torch.randint(0, V, (25,), generator=gen)
    v = torch.randn(25, d, generator=gen, dtype=torch.float64)
    Q = torch.randn(V - 1, d, generator=gen, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(ch.hs_log_prob(v, words, Q, points, codes, lengths).sum(), Q)
    assert grad.is_sparse
    # the same log-probability with a dense gather: an independent route to the gradient
    path, turns = points[words], codes[words]
    on_path = torch.arange(path.shape[1]) < lengths[words][:, None]
    dense = (F.logsigmoid((1 - 2 * turns) * (Q[path] * v[:, None]).sum(2)) * on_path).sum()
    (ref,) = torch.autograd.grad(dense, Q)
    torch.testing.assert_close(grad.to_dense(), ref, rtol=1e-12, atol=1e-12)


def test_train_sgns_is_deterministic_and_draws_noise_from_the_table():
    gen = torch.Generator().manual_seed(12)
    ids = torch.randint(0, 30, (3000,), generator=gen)
    counts = torch.bincount(ids, minlength=30)
    a = ch.train_sgns(ids, counts, seed=3, dim=8, epochs=1, batch=256)
    b = ch.train_sgns(ids, counts, seed=3, dim=8, epochs=1, batch=256)
    for x, y in zip(a, b, strict=True):
        assert torch.equal(x, y) and torch.isfinite(x).all()
    assert a[1].abs().sum() > 0  # the output vectors moved from zero


def test_skipgram_pairs_reduced_window_uses_offset_o_with_probability_m_minus_o_plus_1_over_m():
    gen = torch.Generator().manual_seed(3)
    N, m = 20_000, 4
    ids = torch.arange(N)  # each id its own position: the offset is context - centre
    keep = torch.ones(N)
    centres, contexts = ch.skipgram_pairs(ids, keep, m, gen)
    offsets = (contexts - centres).abs()
    assert offsets.min() >= 1 and offsets.max() <= m
    for o in range(1, m + 1):
        share = (offsets == o).sum().item() / (2 * (N - o))  # both sides
        assert abs(share - (m - o + 1) / m) < 0.02, (o, share)
