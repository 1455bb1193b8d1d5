"""The RNN chapter's own definitions, on inputs the chapter never shows, against torch."""
import math

import pytest
import torch
import torch.nn.functional as F

from nbutils.notebook import load_definitions

ch = load_definitions("14_rnn_lstm")


def _rnn_params(gen, D, M, K, dtype=torch.float64):
    return (torch.randn(M, M, generator=gen, dtype=dtype) / math.sqrt(M),
            torch.randn(M, D, generator=gen, dtype=dtype) / math.sqrt(D),
            torch.randn(K, M, generator=gen, dtype=dtype) / math.sqrt(M))


@pytest.mark.parametrize("B, T, D, M, K", [(1, 1, 1, 1, 2), (2, 9, 3, 6, 4), (5, 3, 7, 2, 3)])
def test_rnn_forward_matches_nn_rnn(B, T, D, M, K):
    gen = torch.Generator().manual_seed(B * 100 + T)
    W, U, V = _rnn_params(gen, D, M, K)
    x = torch.randn(B, T, D, generator=gen, dtype=torch.float64)
    h0 = torch.randn(B, M, generator=gen, dtype=torch.float64)
    rnn = torch.nn.RNN(D, M, bias=False, batch_first=True, dtype=torch.float64)
    states, _ = torch.func.functional_call(rnn, {"weight_hh_l0": W, "weight_ih_l0": U}, (x, h0[None]))
    z, h, r = ch.rnn_forward(x, h0, W, U, V)
    torch.testing.assert_close(h, states, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(torch.tanh(z), h, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(r, states @ V.T, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("B, T, D, M, K", [(1, 1, 2, 3, 2), (4, 11, 3, 5, 7)])
def test_rnn_bptt_matches_autograd(B, T, D, M, K):
    gen = torch.Generator().manual_seed(7 * T + K)
    W, U, V = _rnn_params(gen, D, M, K)
    x = torch.randn(B, T, D, generator=gen, dtype=torch.float64)
    h0 = torch.randn(B, M, generator=gen, dtype=torch.float64)
    k = torch.randint(0, K, (B, T), generator=gen)
    leaves = [p.clone().requires_grad_() for p in (W, U, V, h0)]
    rnn = torch.nn.RNN(D, M, bias=False, batch_first=True, dtype=torch.float64)
    states, _ = torch.func.functional_call(rnn, {"weight_hh_l0": leaves[0], "weight_ih_l0": leaves[1]},
                                           (x, leaves[3][None]))
    loss = F.cross_entropy((states @ leaves[2].T).reshape(-1, K), k.reshape(-1), reduction="sum") / B
    for ours, ref in zip(ch.rnn_bptt(x, k, h0, W, U, V), torch.autograd.grad(loss, leaves), strict=True):
        torch.testing.assert_close(ours, ref, rtol=1e-10, atol=1e-12)


def test_state_jacobians_match_autograd_at_every_distance():
    gen = torch.Generator().manual_seed(3)
    M, T = 4, 6
    W = ch.with_radius(torch.randn(M, M, generator=gen, dtype=torch.float64), 0.8)
    drive = torch.randn(T, M, generator=gen, dtype=torch.float64)
    h = torch.randn(M, generator=gen, dtype=torch.float64)
    hs, zs = [h], []
    for t in range(T):
        zs.append(W @ hs[-1] + drive[t])
        hs.append(torch.tanh(zs[-1]))
    jacs = ch.state_jacobians(torch.stack(zs), W, ch.tanh_prime)
    for j in range(T + 1):  # dh_T / dh_{T-j}
        def run(h_start, j=j):
            for t in range(T - j, T):
                h_start = torch.tanh(W @ h_start + drive[t])
            return h_start
        ref = torch.autograd.functional.jacobian(run, hs[T - j])
        torch.testing.assert_close(jacs[j], ref, rtol=1e-10, atol=1e-12)
    assert torch.linalg.eigvals(W).abs().max().item() == pytest.approx(0.8, rel=1e-12)


@pytest.mark.parametrize("a", [1.5, 3.1, 3.57, 4.0])
def test_composition_derivative_matches_autograd(a):
    x0 = torch.linspace(0.05, 0.95, 5, dtype=torch.float64).requires_grad_()
    a_t = torch.tensor(a, dtype=torch.float64)
    (ref,) = torch.autograd.grad(ch.logistic_orbit(x0, a_t, 12)[-1].sum(), x0)
    torch.testing.assert_close(ch.composition_derivative(x0.detach(), a_t, 12), ref, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("B, D, M", [(1, 1, 1), (3, 4, 6)])
def test_lstm_and_gru_cells_match_torch(B, D, M):
    gen = torch.Generator().manual_seed(B + D + M)
    x = torch.randn(B, D, generator=gen, dtype=torch.float64)
    h, c = torch.randn(2, B, M, generator=gen, dtype=torch.float64)
    lstm = torch.nn.LSTMCell(D, M, dtype=torch.float64)
    gru = torch.nn.GRUCell(D, M, dtype=torch.float64)
    with torch.no_grad():
        h_ref, c_ref = lstm(x, (h, c))
        h_ours, c_ours = ch.lstm_cell(x, h, c, lstm.weight_hh, lstm.weight_ih, lstm.bias_ih + lstm.bias_hh)
        torch.testing.assert_close(h_ours, h_ref, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(c_ours, c_ref, rtol=1e-12, atol=1e-12)
        g_ours = ch.gru_cell(x, h, gru.weight_hh, gru.weight_ih, gru.bias_hh, gru.bias_ih)
        torch.testing.assert_close(g_ours, gru(x, h), rtol=1e-12, atol=1e-12)


def test_clip_per_model_matches_clip_grad_norm_per_model():
    gen = torch.Generator().manual_seed(5)
    stack = [torch.zeros(4, 3, requires_grad=True), torch.zeros(4, 2, 2, requires_grad=True)]
    for p in stack:
        p.grad = 3 * torch.randn(p.shape, generator=gen)
    stack[0].grad[1] *= 1e-3  # one model below the threshold: left alone
    stack[1].grad[1] *= 1e-3
    singles = [[p.grad[m].clone().requires_grad_() for p in stack] for m in range(4)]
    for params in singles:
        for p in params:
            p.grad = p.detach().clone()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
    ch.clip_per_model(stack, 1.0)
    for m, params in enumerate(singles):
        for p, q in zip(stack, params, strict=True):
            torch.testing.assert_close(p.grad[m], q.grad)


def test_adding_batch_marks_two_positions_one_per_half():
    x, y = ch.adding_batch(torch.Generator().manual_seed(0), 2, 50, 10)
    marks = x[..., 1]
    assert torch.all(marks.sum(-1) == 2)
    assert torch.all(marks[..., :5].sum(-1) == 1)
    torch.testing.assert_close(y, (x[..., 0] * marks).sum(-1))


def test_stacked_forward_matches_torch_modules():
    torch.manual_seed(0)
    x, _ = ch.adding_batch(torch.Generator().manual_seed(1), 2, 3, 7)
    p = {key: torch.stack([v, 2 * v]) for key, v in ch.init_model("tanh", 5, 0).items()}
    rnn = torch.nn.RNN(2, 5, batch_first=True)
    with torch.no_grad():
        for g in range(2):
            rnn.weight_hh_l0.copy_(p["W"][g])
            rnn.weight_ih_l0.copy_(p["U"][g])
            rnn.bias_ih_l0.copy_(p["b"][g])
            rnn.bias_hh_l0.zero_()
            ref = rnn(x[g])[0][:, -1] @ p["V"][g].T + p["c"][g]
            out = ch.stacked_forward(p, x, torch.tensor([False, False]))[g]
            torch.testing.assert_close(out, ref[:, 0], rtol=1e-5, atol=1e-6)


def test_windows_shift_targets_by_one():
    data = torch.arange(100)
    inputs, targets = ch.windows(data, torch.tensor([0, 10, 37]), 8)
    assert torch.equal(inputs[2], torch.arange(37, 45))
    assert torch.equal(targets, inputs + 1)


def test_stacked_rnn_matches_nn_rnn_model_by_model():
    gen = torch.Generator().manual_seed(21)
    G, B, T, D, M = 3, 4, 6, 2, 5
    p = {"W": torch.randn(G, M, M, generator=gen, dtype=torch.float64) / math.sqrt(M),
         "U": torch.randn(G, M, D, generator=gen, dtype=torch.float64),
         "V": torch.randn(G, 1, M, generator=gen, dtype=torch.float64)}
    x = torch.randn(B, T, D, generator=gen, dtype=torch.float64)
    out = ch.stacked_rnn(p, x, torch.relu)
    assert out.shape == (G, B, T)
    rnn = torch.nn.RNN(D, M, nonlinearity="relu", bias=False, batch_first=True, dtype=torch.float64)
    for g in range(G):
        states, _ = torch.func.functional_call(rnn, {"weight_hh_l0": p["W"][g], "weight_ih_l0": p["U"][g]}, (x,))
        torch.testing.assert_close(out[g], (states @ p["V"][g].T)[..., 0], rtol=1e-12, atol=1e-12)


def test_echo_batch_targets_are_the_inputs_delay_steps_earlier():
    x, y = ch.echo_batch(torch.Generator().manual_seed(0), 3, 10, 2)
    assert x.shape == (3, 10, 1) and y.shape == (3, 8)
    torch.testing.assert_close(y, x[:, :8, 0])
