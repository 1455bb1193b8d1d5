"""Checkers of the RNN chapter: model solutions pass, typical mistakes fail with their own message."""
import torch

from nbutils.exercises.ch14_rnn_lstm import ex_logistic_param_derivative, ex_truncated_bptt

# -- truncated BPTT ---------------------------------------------------------------------------


def _states(x, h0, W, U):
    hs, h = [], h0
    for t in range(x.shape[1]):
        h = torch.tanh(h @ W.T + x[:, t] @ U.T)
        hs.append(h)
    return torch.stack(hs, dim=1)


def _bptt(x, h0, W, U, grad_h, cut):
    """BPTT through stored adjoints; cut(t) drops the error from step t + 1."""
    h = _states(x, h0, W, U)
    z_bar = torch.zeros_like(h)
    nxt = torch.zeros_like(h0)
    for t in range(x.shape[1] - 1, -1, -1):
        if cut(t):
            nxt = torch.zeros_like(nxt)
        nxt = (grad_h[:, t] + nxt @ W) * (1 - h[:, t] ** 2)
        z_bar[:, t] = nxt
    h_prev = torch.cat([h0[:, None], h[:, :-1]], dim=1)
    return (torch.einsum("btm,btn->mn", z_bar, h_prev), torch.einsum("btm,btd->md", z_bar, x),
            z_bar[:, 0] @ W)


def test_truncated_bptt_model_solution_passes():
    result = ex_truncated_bptt.check(ex_truncated_bptt.model_solution)
    assert result.passed, result.message


def test_truncated_bptt_stored_adjoints_with_einsum_also_passes():
    def truncated_bptt(x, h0, W, U, grad_h, window):  # a second way: store every z_bar, sum with einsum
        return _bptt(x, h0, W, U, grad_h, cut=lambda t: (t + 1) % window == 0)

    result = ex_truncated_bptt.check(truncated_bptt)
    assert result.passed, result.message


def test_truncated_bptt_window_by_window_also_passes():
    def truncated_bptt(x, h0, W, U, grad_h, k):  # a third way: full BPTT on each window, summed
        T, h, total = x.shape[1], h0, None
        for start in range(0, T, k):
            stop = min(start + k, T)
            parts = _bptt(x[:, start:stop], h, W, U, grad_h[:, start:stop], cut=lambda t: False)
            if total is None:
                total = list(parts)
            else:
                total[0], total[1] = total[0] + parts[0], total[1] + parts[1]
            h = _states(x[:, start:stop], h, W, U)[:, -1]
        return total[0], total[1], total[2]

    result = ex_truncated_bptt.check(truncated_bptt)
    assert result.passed, result.message


def test_truncated_bptt_stub_is_not_attempted():
    def truncated_bptt(x, h0, W, U, grad_h, window): ...

    assert ex_truncated_bptt.check(truncated_bptt).status == "not_attempted"


def test_truncated_bptt_full_bptt_is_named():
    def truncated_bptt(x, h0, W, U, grad_h, window):
        return _bptt(x, h0, W, U, grad_h, cut=lambda t: False)

    result = ex_truncated_bptt.check(truncated_bptt)
    assert not result.passed and "full BPTT" in result.message


def test_truncated_bptt_cut_one_step_off_is_named():
    def truncated_bptt(x, h0, W, U, grad_h, window):
        return _bptt(x, h0, W, U, grad_h, cut=lambda t: t % window == 0)

    result = ex_truncated_bptt.check(truncated_bptt)
    assert not result.passed and "one step off" in result.message


def test_truncated_bptt_windows_from_the_end_are_named():
    def truncated_bptt(x, h0, W, U, grad_h, window):
        T = x.shape[1]
        return _bptt(x, h0, W, U, grad_h, cut=lambda t: (T - 1 - t) % window == 0)

    result = ex_truncated_bptt.check(truncated_bptt)
    assert not result.passed and "from the end" in result.message


def test_truncated_bptt_zero_grad_h0_is_named():
    def truncated_bptt(x, h0, W, U, grad_h, window):
        grad_W, grad_U, grad_h0 = _bptt(x, h0, W, U, grad_h, cut=lambda t: (t + 1) % window == 0)
        return grad_W, grad_U, torch.zeros_like(grad_h0)

    result = ex_truncated_bptt.check(truncated_bptt)
    assert not result.passed and "grad_h0 is zero" in result.message


def test_truncated_bptt_transposed_grad_W_fails():
    def truncated_bptt(x, h0, W, U, grad_h, window):
        grad_W, grad_U, grad_h0 = ex_truncated_bptt.model_solution(x, h0, W, U, grad_h, window)
        return grad_W.T, grad_U, grad_h0

    result = ex_truncated_bptt.check(truncated_bptt)
    assert not result.passed and "grad_W" in result.message


def test_truncated_bptt_autograd_is_refused():
    def truncated_bptt(x, h0, W, U, grad_h, window):
        W_, U_, h0_ = (t.detach().requires_grad_() for t in (W, U, h0))
        return torch.autograd.grad(_states(x, h0_, W_, U_), (W_, U_, h0_), grad_h)

    result = ex_truncated_bptt.check(truncated_bptt)
    assert result.status == "forbidden" and "torch.autograd.grad" in result.message


def test_truncated_bptt_torch_func_vjp_is_refused():
    def truncated_bptt(x, h0, W, U, grad_h, window):  # autograd through torch.func instead
        _, pullback = torch.func.vjp(lambda W_, U_, h0_: _states(x, h0_, W_, U_), W, U, h0)
        return pullback(grad_h)

    result = ex_truncated_bptt.check(truncated_bptt)
    assert result.status == "forbidden" and "torch.func.vjp" in result.message


def test_truncated_bptt_loop_over_the_batch_is_refused():
    def truncated_bptt(x, h0, W, U, grad_h, window):
        parts = [ex_truncated_bptt.model_solution(x[i : i + 1], h0[i : i + 1], W, U, grad_h[i : i + 1], window)
                 for i in range(x.shape[0])]
        return (sum(p[0] for p in parts), sum(p[1] for p in parts), torch.cat([p[2] for p in parts]))

    result = ex_truncated_bptt.check(truncated_bptt)
    assert result.status == "python_loop" and "batch" in result.message


# -- the logistic map's parameter derivative --------------------------------------------------


def test_logistic_model_solution_passes():
    result = ex_logistic_param_derivative.check(ex_logistic_param_derivative.model_solution)
    assert result.passed, result.message


def test_logistic_product_form_also_passes():
    def logistic_param_derivative(x0, a, n):  # a second way: sum over k of (direct term) x (later slopes)
        xs = [x0 + torch.zeros_like(a)]
        for _ in range(n):
            xs.append(a * xs[-1] * (1 - xs[-1]))
        total = torch.zeros_like(xs[0])
        for k in range(n):
            term = xs[k] * (1 - xs[k])
            for j in range(k + 1, n):
                term = term * a * (1 - 2 * xs[j])
            total = total + term
        return xs[-1], total

    result = ex_logistic_param_derivative.check(logistic_param_derivative)
    assert result.passed, result.message


def test_logistic_with_another_name_for_n_also_passes():
    def logistic_param_derivative(x0, a, steps):  # n is passed by position, so its name is the learner's
        return ex_logistic_param_derivative.model_solution(x0, a, steps)

    result = ex_logistic_param_derivative.check(logistic_param_derivative)
    assert result.passed, result.message


def test_logistic_stub_is_not_attempted():
    def logistic_param_derivative(x0, a, n): ...

    assert ex_logistic_param_derivative.check(logistic_param_derivative).status == "not_attempted"


def test_logistic_derivative_from_the_updated_value_is_named():
    def logistic_param_derivative(x0, a, n):
        x = x0 + torch.zeros_like(a)
        s = torch.zeros_like(x)
        for _ in range(n):
            x = a * x * (1 - x)
            s = x * (1 - x) + a * (1 - 2 * x) * s
        return x, s

    result = ex_logistic_param_derivative.check(logistic_param_derivative)
    assert not result.passed and "before the update" in result.message


def test_logistic_wrong_slope_is_named():
    def logistic_param_derivative(x0, a, n):
        x = x0 + torch.zeros_like(a)
        s = torch.zeros_like(x)
        for _ in range(n):
            x, s = a * x * (1 - x), x * (1 - x) + a * (1 - x) * s
        return x, s

    result = ex_logistic_param_derivative.check(logistic_param_derivative)
    assert not result.passed and "a (1 - 2 x)" in result.message


def test_logistic_autograd_is_refused():
    def logistic_param_derivative(x0, a, n):
        a_ = a.detach().clone().requires_grad_()
        x = x0 + torch.zeros_like(a_)
        for _ in range(n):
            x = a_ * x * (1 - x)
        (g,) = torch.autograd.grad(x.sum(), a_)
        return x.detach(), g

    result = ex_logistic_param_derivative.check(logistic_param_derivative)
    assert result.status == "forbidden" and "autograd" in result.message


def test_logistic_loop_over_the_values_of_a_is_refused():
    def logistic_param_derivative(x0, a, n):
        x0_, a_ = torch.broadcast_tensors(x0 + torch.zeros_like(a), a)
        outs = [ex_logistic_param_derivative.model_solution(x0_.flatten()[i], a_.flatten()[i], n)
                for i in range(a_.numel())]
        return (torch.stack([o[0] for o in outs]).reshape(a_.shape),
                torch.stack([o[1] for o in outs]).reshape(a_.shape))

    result = ex_logistic_param_derivative.check(logistic_param_derivative)
    assert result.status == "python_loop"
