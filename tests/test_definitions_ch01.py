"""Chapter 1's own definitions on float32 and float64 inputs and at ±inf, against PyTorch.

The functions are loaded from the notebook's ``definitions`` cells
(``nbutils.notebook.load_definitions``), so these tests exercise the
chapter's code itself. Each test checks that the values agree with an
independent torch (or scikit-learn) computation, that the result keeps the
input's dtype, and that there is no NaN where torch's answer is finite.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from tensor_checks import DTYPES, RTOL, assert_matches, randn

from nbutils.notebook import load_definitions

#: Smallest normal number of each dtype: sigmoid tails are compared relatively down to it.
TINY = {torch.float32: torch.finfo(torch.float32).tiny, torch.float64: torch.finfo(torch.float64).tiny}


@pytest.fixture(scope="module")
def lin():
    return load_definitions("01_linear_models")


def with_ones(X: torch.Tensor) -> torch.Tensor:
    return torch.cat([torch.ones(X.shape[0], 1, dtype=X.dtype), X], dim=1)


# ----------------------------------------------------------------------------- sigmoid and softplus

@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_matches_torch_everywhere_including_the_tails_and_infinities(lin, dtype):
    limit = 700.0 if dtype == torch.float64 else 85.0  # sigma(-limit) is still a normal number
    z = torch.cat([torch.linspace(-limit, limit, 2001, dtype=dtype),
                   torch.tensor([-float("inf"), float("inf"), 0.0, -0.0], dtype=dtype)])
    assert_matches(lin.sigmoid(z), torch.sigmoid(z), f"sigmoid {dtype}", floor=TINY[dtype],
                   rtol=RTOL[dtype] * 10)
    assert lin.sigmoid(z[-4:-2]).tolist() == [0.0, 1.0], "sigmoid(-inf) must be 0 and sigmoid(inf) 1"


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_does_not_change_its_input(lin, dtype):
    z = randn(0, 64, 16, dtype=dtype, scale=5.0)
    before = z.clone()
    lin.sigmoid(z)
    assert torch.equal(z, before), "sigmoid modified its argument in place"


@pytest.mark.parametrize("dtype", DTYPES)
def test_softplus_matches_torch_and_is_infinite_only_at_infinity(lin, dtype):
    z = torch.cat([randn(1, 200, dtype=dtype, scale=30.0),
                   torch.tensor([-1e4, 1e4, -float("inf"), float("inf")], dtype=dtype)])
    reference = torch.logaddexp(torch.zeros_like(z), z.double()).to(dtype)  # exact form, no threshold
    assert_matches(lin.softplus(z), reference, f"softplus {dtype}", floor=TINY[dtype], allow_nonfinite=True)
    assert_matches(lin.softplus(z[:-2]), F.softplus(z[:-2]), f"softplus vs F.softplus {dtype}",
                   rtol={torch.float32: 1e-5, torch.float64: 1e-8}[dtype])


# ----------------------------------------------------------------------------- linear regression

@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_regression_cost_gradient_and_solvers_keep_the_dtype(lin, dtype):
    X = with_ones(randn(2, 40, 4, dtype=dtype))
    t, w = randn(3, 40, dtype=dtype), randn(4, 5, dtype=dtype)
    leaf = w.clone().requires_grad_()
    cost = 0.5 * F.mse_loss(X @ leaf, t)
    cost.backward()
    assert_matches(lin.linreg_cost(X, w, t), cost.detach(), f"linreg_cost {dtype}")
    assert_matches(lin.linreg_grad(X, w, t), leaf.grad, f"linreg_grad {dtype}", rtol=RTOL[dtype] * 10)
    assert_matches(lin.rmse(X, w, t), (2 * cost).sqrt().detach(), f"rmse {dtype}")
    w_star = torch.linalg.lstsq(X.double(), t.double().unsqueeze(1)).solution.squeeze(1).to(dtype)
    loose = {torch.float32: 1e-4, torch.float64: 1e-10}[dtype]
    for name in ("fit_qr", "fit_cholesky", "fit_least_squares"):
        assert_matches(getattr(lin, name)(X, t), w_star, f"{name} {dtype}", rtol=loose)


@pytest.mark.parametrize("dtype", DTYPES)
def test_ridge_keeps_the_dtype_and_its_gradient_vanishes_at_its_fit(lin, dtype):
    X = with_ones(randn(5, 30, 6, dtype=dtype))
    t, lam = randn(6, 30, dtype=dtype), 0.1
    w = lin.fit_ridge(X, t, lam)
    assert w.dtype == dtype, f"fit_ridge returned {w.dtype} for {dtype} inputs"
    leaf = w.clone().requires_grad_()
    (0.5 * F.mse_loss(X @ leaf, t) + lam / 2 * (leaf[1:] @ leaf[1:])).backward()
    assert_matches(lin.ridge_grad(X, w, t, lam), leaf.grad, f"ridge_grad {dtype}", floor=1.0,
                   rtol=RTOL[dtype] * 10)
    assert float(leaf.grad.abs().max()) < {torch.float32: 1e-5, torch.float64: 1e-12}[dtype]


@pytest.mark.parametrize("dtype", DTYPES)
def test_standardiser_matches_the_definition_and_keeps_the_dtype(lin, dtype):
    X = randn(7, 50, 3, dtype=dtype, scale=4.0) + torch.tensor([10.0, -3.0, 0.5], dtype=dtype)
    mean, std = lin.fit_standardiser(X)
    Z = lin.standardise(X, mean, std)
    assert Z.dtype == dtype
    assert_matches(Z.mean(dim=0), torch.zeros(3, dtype=dtype), f"standardised means {dtype}", floor=1.0)
    assert_matches((Z**2).mean(dim=0), torch.ones(3, dtype=dtype), f"standardised mean squares {dtype}",
                   rtol=RTOL[dtype] * 10)
    powers = lin.standardised_powers(X[:, 0], 4, *lin.fit_standardiser(lin.polynomial_features(X[:, 0], 4)[:, 1:]))
    assert powers.shape == (50, 5) and powers.dtype == dtype
    assert torch.equal(powers[:, 0], torch.ones(50, dtype=dtype)), "the constant column must stay 1"


@pytest.mark.parametrize("dtype", DTYPES)
def test_minibatch_sgd_matches_torch_optim_sgd(lin, dtype):
    X = with_ones(randn(8, 60, 3, dtype=dtype))
    t, w0 = randn(9, 60, dtype=dtype), torch.zeros(4, dtype=dtype)
    path = lin.minibatch_sgd(lambda w, batch: lin.linreg_grad(X[batch], w, t[batch]), w0, 60, 0.1, 7, 3,
                             torch.Generator().manual_seed(3))
    assert path.shape == (1 + 3 * 9, 4) and path.dtype == dtype  # 60 = 8 batches of 7 and one of 4
    leaf = w0.clone().requires_grad_()
    optimizer = torch.optim.SGD([leaf], lr=0.1)
    generator = torch.Generator().manual_seed(3)
    for _ in range(3):
        for batch in torch.randperm(60, generator=generator).split(7):
            optimizer.zero_grad()
            (0.5 * F.mse_loss(X[batch] @ leaf, t[batch])).backward()
            optimizer.step()
    assert_matches(path[-1], leaf.detach(), f"minibatch_sgd {dtype}", rtol=RTOL[dtype] * 10)


def test_cross_validation_leave_one_out_matches_the_leverage_formula(lin):
    X = with_ones(randn(10, 20, 3, dtype=torch.float64))
    t = randn(11, 20, dtype=torch.float64)
    Q, _ = torch.linalg.qr(X)
    residuals = X @ lin.fit_least_squares(X, t) - t
    expected = (residuals / (1 - (Q**2).sum(dim=1))).pow(2).mean().sqrt()
    ours = lin.cross_validation_rmse(X, t, lin.fit_least_squares, 20, torch.Generator().manual_seed(0))
    assert_matches(ours, expected, "leave-one-out RMSE")
    five = lin.cross_validation_rmse(X.float(), t.float(), lin.fit_least_squares, 5, torch.Generator())
    assert five.dtype == torch.float32 and torch.isfinite(five)


# ----------------------------------------------------------------------------- logistic and softmax regression

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scale", [1.0, 1e3])
def test_logistic_cost_and_gradient_match_torch(lin, dtype, scale):
    X = with_ones(randn(12, 30, 2, dtype=dtype, scale=scale))
    w, t = randn(13, 3, dtype=dtype), (randn(14, 30, dtype=dtype) > 0).to(dtype)
    leaf = w.clone().requires_grad_()
    cost = F.binary_cross_entropy_with_logits(X @ leaf, t)
    cost.backward()
    assert_matches(lin.logistic_cost(X, w, t), cost.detach(), f"logistic_cost {dtype}, |z| ~ {scale:g}",
                   floor=1.0)
    assert_matches(lin.logistic_grad(X, w, t), leaf.grad, f"logistic_grad {dtype}, |z| ~ {scale:g}",
                   floor=1.0, rtol=RTOL[dtype] * 10)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_matches_torch_with_huge_and_minus_infinite_logits(lin, dtype):
    Z = randn(15, 8, 5, dtype=dtype, scale=3.0)
    Z[0] *= 1e4
    Z[1, 2] = -float("inf")
    Z[2, :4] = -float("inf")  # one finite logit left: probability 1
    assert_matches(lin.softmax(Z), torch.softmax(Z, dim=1), f"softmax {dtype}", floor=TINY[dtype] * 1e10)


def test_one_hot_takes_a_dtype_and_defaults_to_float64(lin):
    y = torch.tensor([2, 0, 1])
    assert lin.one_hot(y, 4).dtype == torch.float64
    T = lin.one_hot(y, 4, torch.float32)
    assert T.dtype == torch.float32
    assert torch.equal(T, F.one_hot(y, 4).float())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("target_dtype", DTYPES)
def test_softmax_regression_cost_and_grads_keep_the_logits_dtype(lin, dtype, target_dtype):
    # float32 inputs with the float64 one-hot targets one_hot gives by default: float32 out, no crash.
    X, y = randn(16, 25, 6, dtype=dtype), torch.randint(0, 4, (25,), generator=torch.Generator().manual_seed(0))
    W, b = randn(17, 4, 6, dtype=dtype), randn(18, 4, dtype=dtype)
    T = F.one_hot(y, 4).to(target_dtype)
    W_leaf, b_leaf = W.clone().requires_grad_(), b.clone().requires_grad_()
    loss = F.cross_entropy(X @ W_leaf.T + b_leaf, y)
    loss.backward()
    assert_matches(lin.softmax_regression_cost(X, T, W, b), loss.detach(), f"softmax_regression_cost {dtype}",
                   floor=1.0)
    grad_W, grad_b = lin.softmax_regression_grads(X, T, W, b)
    assert_matches(grad_W, W_leaf.grad, f"softmax_regression_grads (W), {dtype}", rtol=RTOL[dtype] * 10)
    assert_matches(grad_b, b_leaf.grad, f"softmax_regression_grads (b), {dtype}", rtol=RTOL[dtype] * 10)
    assert lin.accuracy(X, y, W, b).dtype == dtype


@pytest.mark.parametrize("dtype", DTYPES)
def test_train_softmax_regression_runs_in_float32_and_matches_torch_sgd(lin, dtype):
    generator = torch.Generator().manual_seed(1)
    X = torch.rand(40, 6, generator=generator, dtype=torch.float64).to(dtype)
    y = torch.randint(0, 3, (40,), generator=generator)
    W, b, history = lin.train_softmax_regression(X, y, X[:10], y[:10], lr=0.5, steps=20, K=3)
    assert W.dtype == dtype and b.dtype == dtype, f"trained parameters are {W.dtype}, {b.dtype}"
    assert len(history["train cost"]) == 20
    model = torch.nn.Linear(6, 3, dtype=dtype)
    torch.nn.init.zeros_(model.weight)
    torch.nn.init.zeros_(model.bias)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    for _ in range(20):
        optimizer.zero_grad()
        F.cross_entropy(model(X), y).backward()
        optimizer.step()
    assert_matches(W, model.weight.detach(), f"trained W {dtype}", rtol=RTOL[dtype] * 100)
    assert_matches(b, model.bias.detach(), f"trained b {dtype}", rtol=RTOL[dtype] * 100)


def test_confusion_matrix_counts_like_sklearn(lin):
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    generator = torch.Generator().manual_seed(2)
    y_true, y_pred = torch.randint(0, 4, (50,), generator=generator), torch.randint(0, 4, (50,), generator=generator)
    expected = sklearn_metrics.confusion_matrix(y_true.numpy(), y_pred.numpy(), labels=list(range(4)))
    assert torch.equal(lin.confusion_matrix(y_true, y_pred, 4), torch.as_tensor(expected))
    assert lin.confusion_matrix(torch.tensor([], dtype=torch.long), torch.tensor([], dtype=torch.long), 3).sum() == 0


@pytest.mark.parametrize("bad", [4, 7, -1])
@pytest.mark.parametrize("which", ["y_true", "y_pred"])
def test_confusion_matrix_refuses_classes_out_of_range(lin, bad, which):
    good = torch.tensor([0, 1, 2, 3])
    wrong = torch.tensor([0, 1, 2, bad])
    args = (wrong, good) if which == "y_true" else (good, wrong)
    with pytest.raises(ValueError, match=rf"{which} must hold classes 0 to 3, got values from -?\d+ to \d+"):
        lin.confusion_matrix(*args, 4)
