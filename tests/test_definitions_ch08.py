"""The optimisation chapter's own definitions, on problems the chapter never shows, against torch."""
import math

import pytest
import torch
import torch.nn.functional as F

from nbutils.notebook import load_definitions

ch = load_definitions("08_optimization")


def _problem(dtype, seed=0):
    """Parameters of several shapes and a fixed sequence of 30 gradient-producing quadratics."""
    gen = torch.Generator().manual_seed(seed)
    params = [torch.randn(4, 3, generator=gen, dtype=dtype), torch.randn(5, generator=gen, dtype=dtype)]
    targets = [[torch.randn(p.shape, generator=gen, dtype=dtype) for p in params] for _ in range(30)]
    scales = [torch.rand(p.shape, generator=gen, dtype=dtype) * 10 + 0.01 for p in params]
    return params, targets, scales


def _run(make_optimizer, dtype, seed=0):
    params, targets, scales = _problem(dtype, seed)
    leaves = [p.clone().requires_grad_() for p in params]
    opt = make_optimizer(leaves)
    for target in targets:
        opt.zero_grad()
        sum((s * (p - t) ** 2).sum() for p, t, s in zip(leaves, target, scales, strict=True)).backward()
        opt.step()
    return [p.detach() for p in leaves]


PAIRS = [
    (lambda p: ch.Momentum(p, lr=0.01, momentum=0.0), lambda p: torch.optim.SGD(p, lr=0.01)),
    (lambda p: ch.Momentum(p, lr=0.01, momentum=0.7), lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.7)),
    (lambda p: ch.Momentum(p, lr=0.01, momentum=0.95, nesterov=True),
     lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.95, nesterov=True)),
    (lambda p: ch.AdaGrad(p, lr=0.3), lambda p: torch.optim.Adagrad(p, lr=0.3)),
    (lambda p: ch.AdaGrad(p, lr=0.3, eps=1e-3), lambda p: torch.optim.Adagrad(p, lr=0.3, eps=1e-3)),
    (lambda p: ch.RMSProp(p, lr=0.01, rho=0.9), lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9)),
    (lambda p: ch.Adam(p, lr=0.05), lambda p: torch.optim.Adam(p, lr=0.05)),
    (lambda p: ch.Adam(p, lr=0.05, betas=(0.5, 0.9), eps=1e-3),
     lambda p: torch.optim.Adam(p, lr=0.05, betas=(0.5, 0.9), eps=1e-3)),
]


@pytest.mark.parametrize("dtype, rtol", [(torch.float64, 1e-10), (torch.float32, 1e-4)])
@pytest.mark.parametrize("pair", range(len(PAIRS)))
def test_optimisers_follow_torch_optim(pair, dtype, rtol):
    ours, theirs = PAIRS[pair]
    for a, b in zip(_run(ours, dtype), _run(theirs, dtype), strict=True):
        assert a.dtype == dtype
        torch.testing.assert_close(a, b, rtol=rtol, atol=rtol)


def test_adam_without_correction_and_eps_inside_match_closed_forms():
    g = torch.tensor([0.5, -2e-5, 3.0], dtype=torch.float64)
    for beta2 in (0.99, 0.999):
        p = torch.zeros(3, dtype=torch.float64, requires_grad=True)
        opt = ch.Adam([p], lr=1.0, betas=(0.9, beta2), eps=0.0, bias_correction=False)
        m = v = torch.zeros(3, dtype=torch.float64)
        theta = torch.zeros(3, dtype=torch.float64)
        for _ in range(7):
            p.grad = g.clone()
            opt.step()
            m, v = 0.9 * m + 0.1 * g, beta2 * v + (1 - beta2) * g**2
            theta = theta - m / v.sqrt()
        torch.testing.assert_close(p.detach(), theta, rtol=1e-12, atol=1e-12)
    p = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    opt = ch.Adam([p], lr=1.0, eps=1e-6, eps_inside=True)
    p.grad = g.clone()
    opt.step()  # first step: m_hat = g, v_hat = g^2
    torch.testing.assert_close(p.detach(), -g / torch.sqrt(g**2 + 1e-6), rtol=1e-12, atol=0)


def test_optimisers_skip_parameters_without_grad_and_accept_tensor_rates():
    a = torch.ones(3, 2, requires_grad=True)
    b = torch.ones(2, requires_grad=True)
    opt = ch.Adam([a, b], lr=torch.tensor([[0.1], [0.2], [0.3]]))
    a.grad = torch.ones(3, 2)
    opt.step()
    assert torch.equal(b.detach(), torch.ones(2))
    torch.testing.assert_close(a.detach()[:, 0], 1 - torch.tensor([0.1, 0.2, 0.3]), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("k", [0, 1, 9, 10, 11, 57])
def test_schedules_are_the_closed_forms(k):
    assert ch.step_schedule(k, 0.2, q=0.1, T=10) == pytest.approx(0.2 * 0.1 ** (k // 10), rel=1e-12)
    assert ch.exponential_schedule(k, 0.2, c=0.3) == pytest.approx(0.2 * math.exp(-0.3 * k), rel=1e-12)
    assert ch.inverse_schedule(k, 0.2, c=0.5) == pytest.approx(0.2 / (1 + 0.5 * k), rel=1e-12)


def test_swap_units_keeps_the_cost_and_batched_costs_match_cross_entropy():
    gen = torch.Generator().manual_seed(3)
    X = torch.randn(20, 6, generator=gen, dtype=torch.float64)
    t = torch.randint(0, 4, (20,), generator=gen)
    params = [torch.randn(5, 6, generator=gen, dtype=torch.float64), torch.randn(5, generator=gen, dtype=torch.float64),
              torch.randn(4, 5, generator=gen, dtype=torch.float64), torch.randn(4, generator=gen, dtype=torch.float64)]
    cost = ch.mlp_cost(params, X, t)
    torch.testing.assert_close(ch.mlp_cost(ch.swap_units(params, 1, 4), X, t), cost, rtol=1e-12, atol=0)
    models = ch.batched_mlp([0, 1, 2], (6, 5, 4))
    X32 = X.float()
    costs = ch.batched_costs(models, X32, t)
    for i in range(3):
        h = torch.relu(X32 @ models[0][i] + models[1][i])
        reference = F.cross_entropy(h @ models[2][i] + models[3][i], t)
        torch.testing.assert_close(costs[i], reference, rtol=1e-5, atol=1e-6)
    again = ch.batched_mlp([2], (6, 5, 4))
    assert torch.equal(again[0][0], models[0][2])  # a model's weights depend on its seed only


def test_ravine_has_the_requested_condition_number():
    for kappa in (2.0, 50.0, 1e4):
        h = torch.linalg.eigvalsh(ch.ravine(kappa, angle=0.3))
        assert (h[-1] / h[0]).item() == pytest.approx(kappa, rel=1e-9)
        assert h[0].item() == pytest.approx(1.0, rel=1e-9)
