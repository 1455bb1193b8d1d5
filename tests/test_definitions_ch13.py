"""The GloVe chapter's own definitions, on inputs the chapter never shows, against independent references."""
import numpy as np
import pytest
import scipy.sparse
import torch
from scipy.stats import spearmanr

from nbutils.data import WordPair
from nbutils.notebook import load_definitions

ch = load_definitions("13_glove")


def _naive_counts(ids, window):
    counts = {}
    for p, i in enumerate(ids):
        for q in range(max(0, p - window), min(len(ids), p + window + 1)):
            if q != p and i >= 0 and ids[q] >= 0:
                counts[i, ids[q]] = counts.get((i, ids[q]), 0.0) + 1.0 / abs(p - q)
    return counts


@pytest.mark.parametrize("window", [1, 3, 7])
def test_cooccurrence_matches_a_double_loop_with_skipped_tokens(window):
    rng = np.random.default_rng(window)
    ids = rng.integers(-1, 6, 200)  # about one token in seven is out of the vocabulary
    X = ch.cooccurrence(ids, 6, window=window, dtype=np.float64).toarray()
    expected = np.zeros((6, 6))
    for (i, j), value in _naive_counts(ids.tolist(), window).items():
        expected[i, j] = value
    np.testing.assert_allclose(X, expected, rtol=1e-12, atol=0)
    assert (X == X.T).all()


def test_build_vocab_orders_by_count_and_marks_rare_words():
    tokens = ["b"] * 3 + ["a"] * 5 + ["c"] * 2 + ["b", "a"]
    vocab, counts, ids = ch.build_vocab(tokens, min_count=3)
    assert vocab == ["a", "b"] and counts.tolist() == [6, 4]
    assert [vocab[i] if i >= 0 else None for i in ids] == [t if t != "c" else None for t in tokens]


@pytest.mark.parametrize("x_max, alpha", [(100.0, 0.75), (10.0, 2.0), (1.0, 0.5)])
def test_glove_weight_is_the_clipped_power(x_max, alpha):
    x = torch.tensor([0.0, 0.1, 0.5 * x_max, x_max, 3 * x_max], dtype=torch.float64)
    expected = torch.tensor([min(v / x_max, 1.0) ** alpha for v in x.tolist()], dtype=torch.float64)
    torch.testing.assert_close(ch.glove_weight(x, x_max, alpha), expected, rtol=1e-12, atol=0)


@pytest.mark.parametrize("n_batches", [1, 3])
def test_glove_gradients_match_autograd_on_a_non_symmetric_matrix(n_batches):
    gen = torch.Generator().manual_seed(n_batches)
    dense = torch.rand(12, 12, generator=gen, dtype=torch.float64) * 300
    dense[dense < 120] = 0  # not symmetric: the transposed layout is really needed
    X = scipy.sparse.csr_matrix(dense.numpy())
    params = [torch.randn(12, 3, generator=gen, dtype=torch.float64),
              torch.randn(12, 3, generator=gen, dtype=torch.float64),
              torch.randn(12, generator=gen, dtype=torch.float64),
              torch.randn(12, generator=gen, dtype=torch.float64)]
    batches = ch.make_batches(X, n_batches, seed=5)
    assert sum(len(b["x"]) for b in batches) == X.nnz
    for batch in batches:
        weight = ch.glove_weight(batch["x"], 100.0, 0.75)
        cost, grads = ch.glove_cost_and_grads(*params, batch, weight)
        leaves = [p.clone().requires_grad_() for p in params]
        W, C, b, c = leaves
        i, j = ch.batch_rows(batch), batch["col"]
        assert torch.equal(torch.from_numpy(X.toarray())[i, j], batch["x"])
        ref = (weight * ((W[i] * C[j]).sum(1) + b[i] + c[j] - batch["x"].log()) ** 2).sum()
        torch.testing.assert_close(cost, ref, rtol=1e-12, atol=0)
        for ours, theirs in zip(grads, torch.autograd.grad(ref, leaves), strict=True):
            torch.testing.assert_close(ours, theirs, rtol=1e-10, atol=1e-12)


def test_train_glove_lowers_the_cost_and_returns_word_plus_context():
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 30, 3000)
    X = ch.cooccurrence(ids, 30, window=3)
    E, costs, sums, W = ch.train_glove(X, dim=4, epochs=5, n_batches=2, x_max=10.0, optimizer="adam", lr=0.05)
    assert E.shape == W.shape == (30, 4) and costs[-1] < costs[0] and sums is None
    assert not np.allclose(E, W)  # the context vectors are added to W


def test_train_glove_returns_adagrad_sums_that_start_at_one():
    rng = np.random.default_rng(0)
    X = ch.cooccurrence(rng.integers(0, 30, 3000), 30, window=3)
    _, _, sums, _ = ch.train_glove(X, dim=4, epochs=2, n_batches=2, x_max=10.0, optimizer="adagrad", lr=0.05)
    assert sums["W"].shape == (30, 4) and sums["b"].shape == (30,)
    assert float(sums["W"].min()) >= 1.0 and float(sums["b"].min()) >= 1.0


def test_train_glove_adagrad_first_step_is_the_closed_form():
    """One batch, one epoch: AdaGrad with sums starting at 1 moves each
    parameter by -lr * g / sqrt(1 + g**2), g the gradient (13.5) at the start."""
    rng = np.random.default_rng(3)
    X = ch.cooccurrence(rng.integers(0, 20, 2000), 20, window=2)
    batches = ch.make_batches(X, 1, seed=0)
    gen = torch.Generator().manual_seed(4)
    W = (torch.rand(20, 3, generator=gen) - 0.5) / 3
    W_ctx = (torch.rand(20, 3, generator=gen) - 0.5) / 3
    b, b_ctx = torch.zeros(20), torch.zeros(20)
    weight = ch.glove_weight(batches[0]["x"], 10.0, 0.75)
    _, (gW, gC, gb, gc) = ch.glove_cost_and_grads(W, W_ctx, b, b_ctx, batches[0], weight)
    def step(p, g):
        return p - 0.1 * g / (torch.sqrt(1 + g * g) + 1e-10)

    expected = step(W, gW) + step(W_ctx, gC)
    E, _, sums, W_after = ch.train_glove(X, dim=3, epochs=1, x_max=10.0, optimizer="adagrad",
                                         lr=0.1, seed=4, batches=batches)
    torch.testing.assert_close(torch.from_numpy(E), expected, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(torch.from_numpy(W_after), step(W, gW), rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(sums["W"], 1 + gW * gW, rtol=1e-6, atol=0)


def test_train_glove_shared_batches_are_left_intact_and_reproducible():
    rng = np.random.default_rng(5)
    X = ch.cooccurrence(rng.integers(0, 30, 3000), 30, window=3)
    batches = ch.make_batches(X, 3, seed=0)
    before = [{k: v.clone() for k, v in part.items()} for part in batches]
    runs = [ch.train_glove(X, dim=4, epochs=3, optimizer="adam", lr=0.05, seed=s, batches=batches)
            for s in (1, 1, 2)]
    assert np.array_equal(runs[0][0], runs[1][0]) and not np.array_equal(runs[0][0], runs[2][0])
    for old, part in zip(before, batches, strict=True):
        assert all(torch.equal(old[k], part[k]) for k in old)


def test_cooccurrence_is_float32_by_default_and_float64_on_request():
    ids = np.array([0, 1, 2, 0, 1], dtype=np.int32)
    assert ch.cooccurrence(ids, 3).dtype == np.float32
    assert ch.cooccurrence(ids, 3, dtype=np.float64).dtype == np.float64


def test_train_ppmi_svd_leaves_the_count_matrix_intact():
    rng = np.random.default_rng(0)
    X = ch.cooccurrence(rng.integers(0, 30, 3000), 30, window=3)
    before = (X.data.copy(), X.indices.copy(), X.indptr.copy())
    ch.train_ppmi_svd(X, dim=3)
    ch.train_ppmi_svd(X, dim=3, smoothing=0.75)
    for a, b in zip(before, (X.data, X.indices, X.indptr), strict=True):
        assert np.array_equal(a, b)


def test_similarity_score_is_spearman_on_covered_pairs():
    E = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-1.0, 0.1]])
    vocab = ["a", "b", "c", "d"]
    pairs = [WordPair("a", "b", 9.0), WordPair("a", "c", 5.0), WordPair("a", "d", 1.0),
             WordPair("b", "c", 2.0), WordPair("a", "zzz", 3.0)]
    rho, covered, total = ch.similarity_score(E, vocab, pairs)
    unit = E / np.linalg.norm(E, axis=1, keepdims=True)
    cos = [unit[0] @ unit[1], unit[0] @ unit[2], unit[0] @ unit[3], unit[1] @ unit[2]]
    assert (covered, total) == (4, 5)
    assert rho == pytest.approx(spearmanr(cos, [9.0, 5.0, 1.0, 2.0]).statistic, abs=1e-6)


def test_analogy_accuracy_excludes_the_question_words():
    vocab = ["man", "king", "woman", "queen", "other"]
    E = np.array([[1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 1.0], [0.2, 0.1, -1.0]])
    questions = [("man", "king", "woman", "queen"), ("king", "man", "queen", "woman"),
                 ("man", "woman", "king", "other"), ("man", "king", "woman", "absent")]
    accuracy, covered, total = ch.analogy_accuracy(E, vocab, questions)
    assert (covered, total) == (3, 4)
    assert accuracy == pytest.approx(2 / 3)


def test_ppmi_svd_reconstructs_a_low_rank_ppmi_matrix():
    rng = np.random.default_rng(1)
    dense = rng.poisson(3.0, (40, 40)).astype(float)
    dense = dense + dense.T + np.eye(40) * 20
    E = ch.train_ppmi_svd(scipy.sparse.csr_matrix(dense), dim=39)
    total = dense.sum()
    pmi = np.log(np.where(dense > 0, dense, 1) * total / np.outer(dense.sum(1), dense.sum(0)))
    ppmi = np.where(dense > 0, np.maximum(pmi, 0), 0)
    top = np.linalg.svd(ppmi, compute_uv=False)[:39]
    # U S^(1/2) has squared column norms equal to the singular values
    np.testing.assert_allclose(np.sort((E**2).sum(0))[::-1], top, rtol=1e-6)
