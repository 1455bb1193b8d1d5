"""The initialisation chapter's own definitions, on inputs the chapter never shows, against torch."""
import math

import pytest
import torch
import torch.nn.functional as F

from nbutils.notebook import load_definitions

ch = load_definitions("05_initialization")


def _stacked(init, fan_in, fan_out, gen, **kwargs):
    """About 200,000 weights from independent (fan_out, fan_in) matrices, so torch sees the right fans."""
    n = max(200_000 // (fan_in * fan_out), 1)
    return torch.stack([init(torch.empty(fan_out, fan_in, dtype=torch.float64), generator=gen, **kwargs)
                        for _ in range(n)])


@pytest.mark.parametrize("fan_in, fan_out", [(1, 1), (3, 500), (784, 10), (512, 512)])
def test_glorot_and_he_match_torch_nn_init_by_sampling(fan_in, fan_out):
    gen = torch.Generator().manual_seed(fan_in + fan_out)
    glorot = _stacked(torch.nn.init.xavier_normal_, fan_in, fan_out, gen)
    he = _stacked(torch.nn.init.kaiming_normal_, fan_in, fan_out, gen, nonlinearity="relu")
    tol = 6 * math.sqrt(2 / glorot.numel()) / 2  # six standard errors of a sample std (normal)
    assert glorot.std().item() == pytest.approx(ch.glorot_normal_std(fan_in, fan_out), rel=tol)
    assert he.std().item() == pytest.approx(ch.he_normal_std(fan_in), rel=tol)


@pytest.mark.parametrize("fan_in, fan_out", [(1, 1), (3, 500), (784, 10)])
def test_uniform_bounds_are_torch_bounds(fan_in, fan_out):
    gen = torch.Generator().manual_seed(0)
    for init, bound in [(torch.nn.init.xavier_uniform_, ch.glorot_uniform_bound(fan_in, fan_out)),
                        (torch.nn.init.kaiming_uniform_, ch.he_uniform_bound(fan_in))]:
        w = _stacked(init, fan_in, fan_out, gen)
        assert 0.999 < w.abs().max().item() / bound <= 1 + 1e-12
    torch.manual_seed(0)
    weights = torch.stack([torch.nn.Linear(fan_in, fan_out).weight.detach() for _ in range(200)])
    assert 0.99 < weights.abs().max().item() / ch.torch_default_bound(fan_in) <= 1 + 1e-6
    assert ch.torch_default_bound(fan_in) == pytest.approx(1 / math.sqrt(fan_in), rel=1e-12)


@pytest.mark.parametrize("slope", [0.0, 0.01, 0.3, 1.0, 7.0])
def test_leaky_relu_gain_is_calculate_gain(slope):
    assert ch.leaky_relu_gain(slope) == pytest.approx(torch.nn.init.calculate_gain("leaky_relu", slope), rel=1e-12)


@pytest.mark.parametrize("dtype, rtol", [(torch.float64, 1e-10), (torch.float32, 1e-4)])
def test_hidden_weight_grads_match_autograd(dtype, rtol):
    gen = torch.Generator().manual_seed(1)
    X = torch.randn(17, 5, generator=gen, dtype=dtype)
    y = torch.randint(0, 3, (17,), generator=gen)
    params = [torch.randn(4, 5, generator=gen, dtype=dtype), torch.randn(4, generator=gen, dtype=dtype),
              torch.randn(3, 4, generator=gen, dtype=dtype), torch.randn(3, generator=gen, dtype=dtype)]
    leaves = [p.clone().requires_grad_(True) for p in params]
    loss = F.cross_entropy(ch.mlp_logits(leaves, X), y)
    grad_W1, _, grad_W2, _ = torch.autograd.grad(loss, leaves)
    ours_W1, ours_W2 = ch.hidden_weight_grads(params, X, y)
    assert ours_W1.dtype == dtype
    torch.testing.assert_close(ours_W1, grad_W1, rtol=rtol, atol=rtol)
    torch.testing.assert_close(ours_W2, grad_W2, rtol=rtol, atol=rtol)


def test_layer_statistics_gradients_match_autograd_of_a_torch_network():
    gen = torch.Generator().manual_seed(2)
    layers, readout = ch.deep_stack([6, 7, 5, 4], "he", gen, bias=0.1)
    X = torch.randn(9, 6, generator=gen)
    y = torch.randint(0, 10, (9,), generator=gen)
    stats = ch.layer_statistics(X, y, layers, readout, torch.tanh)
    net = torch.nn.Sequential(*[torch.nn.Linear(W.shape[1], W.shape[0]) for W, _ in layers])
    with torch.no_grad():
        for module, (W, b) in zip(net, layers, strict=True):
            module.weight.copy_(W)
            module.bias.copy_(b)
    h = X
    for module in net:
        h = torch.tanh(module(h))
    F.cross_entropy(F.linear(h, readout), y, reduction="sum").backward()
    for module, grad_W in zip(net, stats["grad_W"], strict=True):
        torch.testing.assert_close(grad_W, module.weight.grad)
    assert [t.shape for t in stats["h"]] == [(9, 7), (9, 5), (9, 4)]


def test_dead_per_layer_counts_units_dead_on_every_row():
    W = torch.tensor([[1.0, 0.0], [-1.0, -1.0], [0.0, 1.0]])
    b = torch.tensor([0.0, -5.0, 0.0])
    X = torch.tensor([[1.0, -2.0], [2.0, -1.0]])
    # unit 0 is active, unit 1 is negative everywhere, unit 2 is negative on both rows
    assert ch.dead_per_layer(X, [(W, b)]) == [pytest.approx(2 / 3)]


def test_ensemble_forward_matches_each_model_alone():
    gen = torch.Generator().manual_seed(3)
    arms = [("he", 0.0), ("glorot", 0.1), ("torch", 0.0)]
    params = ch.init_ensemble([5, 6, 6, 3], arms, gen)
    X = torch.randn(4, 5, generator=gen)
    logits = ch.ensemble_forward(params, X)
    for s in range(len(arms)):
        h = X
        for k in range(0, len(params), 2):
            h = F.linear(h, params[k][s], params[k + 1][s, 0])
            if k < len(params) - 2:
                h = torch.relu(h)
        torch.testing.assert_close(logits[s], h)
