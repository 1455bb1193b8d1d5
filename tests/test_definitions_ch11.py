"""The autoencoder chapter's own definitions, on inputs the chapter never shows, against torch and scikit-learn."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.linalg import subspace_angles
from sklearn.decomposition import PCA

from nbutils.notebook import load_definitions

ch = load_definitions("11_autoencoders")


def _low_rank_data(n=300, d=10, gen_seed=0):
    """Centred data whose covariance has clear gaps between its eigenvalues."""
    gen = torch.Generator().manual_seed(gen_seed)
    scales = torch.tensor([5.0, 3.0, 2.0, 1.0, 0.5, 0.3, 0.2, 0.1, 0.05, 0.02], dtype=torch.float64)[:d]
    Q, _ = torch.linalg.qr(torch.randn(d, d, generator=gen, dtype=torch.float64))
    X = torch.randn(n, d, generator=gen, dtype=torch.float64) * scales @ Q.T
    return X - X.mean(0)


@pytest.mark.parametrize("q", [1, 3, 7])
def test_pca_basis_matches_scikit_learn(q):
    X = _low_rank_data()
    variances, V = ch.pca_basis(X, q)
    pca = PCA(n_components=q).fit(X.numpy())
    n = len(X)
    torch.testing.assert_close(variances[:q], torch.from_numpy(pca.explained_variance_) * (n - 1) / n)
    components = torch.from_numpy(pca.components_.T)
    torch.testing.assert_close(V @ V.T, components @ components.T, atol=1e-10, rtol=0)
    assert variances.shape == (X.shape[1],) and V.shape == (X.shape[1], q)


def test_reconstruction_error_is_summed_mse_per_example():
    gen = torch.Generator().manual_seed(1)
    X, X_hat = torch.randn(2, 17, 5, generator=gen, dtype=torch.float64)
    expected = F.mse_loss(X_hat, X, reduction="sum") / 17
    torch.testing.assert_close(ch.reconstruction_error(X, X_hat), expected)
    stacked = torch.randn(3, 17, 5, generator=gen, dtype=torch.float64)  # (E, N, D) -> (E,)
    assert ch.reconstruction_error(X, stacked).shape == (3,)


@pytest.mark.parametrize("n, d, q", [(1, 4, 2), (23, 7, 3), (9, 5, 5)])
def test_linear_ae_grads_match_autograd(n, d, q):
    gen = torch.Generator().manual_seed(n + d + q)
    X = torch.randn(n, d, generator=gen, dtype=torch.float64)
    W1 = torch.randn(q, d, generator=gen, dtype=torch.float64, requires_grad=True)
    W2 = torch.randn(d, q, generator=gen, dtype=torch.float64, requires_grad=True)
    J = ((X @ W1.T @ W2.T - X) ** 2).sum(1).mean()
    expected = torch.autograd.grad(J, (W1, W2))
    for ours, ref in zip(ch.linear_ae_grads(X, W1.detach(), W2.detach()), expected, strict=True):
        torch.testing.assert_close(ours, ref)


def test_trained_linear_ae_spans_the_principal_subspace():
    torch.set_num_threads(1)
    X = _low_rank_data().float()
    _, decoder = ch.train_linear_ae(X, q=3, seed=0)
    _, V = ch.pca_basis(X.double(), 3)
    angles = subspace_angles(decoder.weight.detach().double().numpy(), V.numpy())
    assert np.degrees(angles.max()) < 1.0


def _configs():
    return [{"q": 2, "lr": 0.01, "seed": 0}, {"q": 3, "lr": 0.03, "seed": 1},
            {"q": 3, "lr": 0.01, "seed": 2, "noise": 0.1, "l1": 0.01}]


def _per_network(stack, e, x):
    """Network e of the stack as plain matrix products, its code masked by hand."""
    params = stack.params()
    h = x
    for layer in range(len(params) // 2):
        h = h @ params[2 * layer][e] + params[2 * layer + 1][e][0]
        last = layer == len(params) // 2 - 1
        if layer == stack.code_layer:
            if stack.code_relu:
                h = F.relu(h)
            h[:, stack.configs[e]["q"]:] = 0
        elif not last:
            h = F.relu(h)
    return h


@pytest.mark.parametrize("sizes, code_layer, code_relu", [([6, 3, 6], 0, False), ([6, 5, 3, 5, 6], 1, False),
                                                          ([6, 4, 6], 0, True)])
def test_stack_forward_is_each_network_on_its_own(sizes, code_layer, code_relu):
    stack = ch.AutoencoderStack(sizes, code_layer, _configs(), code_relu=code_relu)
    x = torch.randn(7, 6, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        out, codes = stack.forward(x)
        for e in range(len(stack.configs)):
            torch.testing.assert_close(out[e], _per_network(stack, e, x))
            assert (codes[e, :, stack.configs[e]["q"]:] == 0).all()


def test_stack_orders_networks_by_rate_and_initialises_them_by_seed():
    stack = ch.AutoencoderStack([6, 3, 6], 0, _configs())
    assert [c["lr"] for c in stack.configs] == sorted(c["lr"] for c in stack.configs)
    alone = ch.AutoencoderStack([6, 3, 6], 0, [_configs()[1]])
    e = stack.index(seed=1)[0]
    for ours, single in zip(stack.params(), alone.params(), strict=True):
        torch.testing.assert_close(ours[e], single[0])


def test_stack_unit_decoder_and_training_lower_the_cost():
    torch.manual_seed(0)
    X = _low_rank_data(n=200, d=6).float()
    configs = [{"q": 3, "lr": 0.01, "seed": s} for s in (0, 1)]
    stack = ch.AutoencoderStack([6, 6, 6], 0, configs, code_relu=True, unit_decoder=True)
    before = stack.errors(X, X)
    stack.fit(X, steps=100, batch=32)
    after = stack.errors(X, X)
    assert (after < before).all()
    lengths = torch.linalg.norm(stack.params()[2].detach(), dim=2)
    torch.testing.assert_close(lengths, torch.ones_like(lengths))


def test_select_rate_picks_the_lowest_mean_validation_error():
    stack = ch.AutoencoderStack([4, 2, 4], 0, [{"q": 2, "lr": lr, "seed": s} for lr in (0.1, 0.01)
                                               for s in (0, 1)])
    val = torch.tensor([5.0 if c["lr"] == 0.1 else 1.0 for c in stack.configs])
    assert ch.select_rate(stack, val, q=2) == 0.01
