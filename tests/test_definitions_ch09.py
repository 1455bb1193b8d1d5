"""The generalisation chapter's own definitions, on inputs the chapter never shows, against torch."""
import math

import pytest
import torch

from nbutils.notebook import load_definitions

ch = load_definitions("09_generalization")


def _randn(gen, *shape):
    return torch.randn(*shape, generator=gen, dtype=torch.float64)


@pytest.mark.parametrize("n, p", [(3, 3), (10, 40), (40, 10), (1, 5)])
def test_ridge_path_at_zero_is_pinv_and_ridge_is_the_normal_equations(n, p):
    gen = torch.Generator().manual_seed(n * p)
    A, B = _randn(gen, n, p), _randn(gen, n, 2)
    w0, w1 = ch.ridge_path(A, B, [0.0, 0.3])
    torch.testing.assert_close(w0, torch.linalg.pinv(A) @ B, rtol=1e-9, atol=1e-10)
    normal = A.T @ A + n * 0.3 * torch.eye(p, dtype=torch.float64)
    torch.testing.assert_close(w1, torch.linalg.solve(normal, A.T @ B), rtol=1e-9, atol=1e-10)


def test_ridge_path_on_a_rank_deficient_matrix_is_pinv():
    gen = torch.Generator().manual_seed(7)
    A = _randn(gen, 8, 3) @ _randn(gen, 3, 12)  # rank 3
    B = _randn(gen, 8, 1)
    torch.testing.assert_close(ch.ridge_path(A, B, [0.0])[0], torch.linalg.pinv(A) @ B, rtol=1e-7, atol=1e-9)


def test_random_features_are_a_frozen_relu_layer():
    gen = torch.Generator().manual_seed(1)
    X, R = _randn(gen, 5, 64), ch.draw_projection(30, seed=4)
    layer = torch.nn.Linear(64, 30, bias=False, dtype=torch.float64)
    with torch.no_grad():
        layer.weight.copy_(R)
        expected = torch.relu(layer(X)) / math.sqrt(30)
    torch.testing.assert_close(ch.random_features(X, R), expected)
    torch.testing.assert_close(ch.draw_projection(30, seed=4), R)  # same seed, same draw
    big = ch.draw_projection(4000, seed=0)
    assert abs(big.var().item() * 64 - 1) < 0.02  # entries from N(0, 1/D)


def test_gd_from_zero_reaches_pinv_and_keeps_the_null_space_part():
    gen = torch.Generator().manual_seed(2)
    A, b = _randn(gen, 10, 30), _randn(gen, 10)
    lr = 10 / torch.linalg.matrix_norm(A, 2).item() ** 2
    w_star = torch.linalg.pinv(A) @ b
    torch.testing.assert_close(ch.gd_least_squares(A, b, lr, 3000), w_star, rtol=1e-8, atol=1e-10)
    w0 = _randn(gen, 30)
    projector = torch.eye(30, dtype=torch.float64) - torch.linalg.pinv(A) @ A
    torch.testing.assert_close(ch.gd_least_squares(A, b, lr, 3000, w0=w0), w_star + projector @ w0,
                               rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("width", [1, 3, 50])
def test_two_layer_ntk_matches_autograd_gradients(width):
    gen = torch.Generator().manual_seed(width)
    net = ch.TwoLayer(width, inputs=3, seed=width)
    X1, X2 = _randn(gen, 4, 3), _randn(gen, 5, 3)

    def grads(x):
        g = torch.autograd.grad(net(x[None]).sum(), list(net.parameters()))
        return torch.cat([t.reshape(-1) for t in g])

    G1, G2 = torch.stack([grads(x) for x in X1]), torch.stack([grads(x) for x in X2])
    ours = ch.ntk_two_layer(net.W.detach(), net.b.detach(), net.a.detach(), X1, X2)
    torch.testing.assert_close(ours, G1 @ G2.T, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(ch.ntk_gram(net, X1, X2), G1 @ G2.T, rtol=1e-10, atol=1e-12)


def test_ntk_gram_of_a_linear_model_is_the_gram_of_its_inputs():
    gen = torch.Generator().manual_seed(5)
    X = _randn(gen, 6, 4)
    model = torch.nn.Linear(4, 1, dtype=torch.float64)
    torch.testing.assert_close(ch.ntk_gram(model, X), X @ X.T + 1)  # weights and bias


def test_two_layer_grads_match_autograd_for_a_batch_of_networks():
    gen = torch.Generator().manual_seed(6)
    X, t = _randn(gen, 7, 2), _randn(gen, 7)
    nets = [ch.TwoLayer(9, seed=s) for s in range(3)]
    stacked = [torch.stack([getattr(n, k).detach() for n in nets]) for k in "Wba"]
    f, *ours = ch.two_layer_grads(*stacked, X, t)
    for s, net in enumerate(nets):
        out = net(X)
        torch.testing.assert_close(f[s], out.detach())
        grads = torch.autograd.grad(0.5 * ((out - t) ** 2).mean(), [net.W, net.b, net.a])
        for g_ours, g_ref in zip(ours, grads, strict=True):
            torch.testing.assert_close(g_ours[s], g_ref, rtol=1e-10, atol=1e-12)
