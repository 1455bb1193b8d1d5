"""Checkers of the RNN chapter: model solutions pass, typical mistakes fail with their own message."""
import torch

from nbutils.exercises.ch14_rnn_lstm import ex_logistic_param_derivative, ex_rnn_backward

# -- BPTT from the states' gradients ----------------------------------------------------------


def _states(x, h0, W, U):
    hs, h = [], h0
    for t in range(x.shape[1]):
        h = torch.tanh(h @ W.T + x[:, t] @ U.T)
        hs.append(h)
    return torch.stack(hs, dim=1)


def test_rnn_backward_model_solution_passes():
    result = ex_rnn_backward.check(ex_rnn_backward.model_solution)
    assert result.passed, result.message


def test_rnn_backward_stored_adjoints_with_einsum_also_passes():
    def rnn_backward(x, h0, W, U, grad_h):  # a second way: store every z_bar, sum with einsum
        h = _states(x, h0, W, U)
        z_bar = torch.zeros_like(h)
        nxt = torch.zeros_like(h0)
        for t in range(x.shape[1] - 1, -1, -1):
            nxt = (grad_h[:, t] + nxt @ W) * (1 - h[:, t] ** 2)
            z_bar[:, t] = nxt
        h_prev = torch.cat([h0[:, None], h[:, :-1]], dim=1)
        return (torch.einsum("btm,btn->mn", z_bar, h_prev), torch.einsum("btm,btd->md", z_bar, x),
                z_bar[:, 0] @ W)

    result = ex_rnn_backward.check(rnn_backward)
    assert result.passed, result.message


def test_rnn_backward_stub_is_not_attempted():
    def rnn_backward(x, h0, W, U, grad_h): ...

    assert ex_rnn_backward.check(rnn_backward).status == "not_attempted"


def test_rnn_backward_missing_recurrent_path_is_named():
    def rnn_backward(x, h0, W, U, grad_h):
        h = _states(x, h0, W, U)
        z_bar = grad_h * (1 - h**2)
        h_prev = torch.cat([h0[:, None], h[:, :-1]], dim=1)
        return (torch.einsum("btm,btn->mn", z_bar, h_prev), torch.einsum("btm,btd->md", z_bar, x),
                z_bar[:, 0] @ W)

    result = ex_rnn_backward.check(rnn_backward)
    assert not result.passed and "recurrent" in result.message


def test_rnn_backward_transposed_grad_W_is_named():
    def rnn_backward(x, h0, W, U, grad_h):
        grad_W, grad_U, grad_h0 = ex_rnn_backward.model_solution(x, h0, W, U, grad_h)
        return grad_W.T, grad_U, grad_h0

    result = ex_rnn_backward.check(rnn_backward)
    assert not result.passed and "transposed" in result.message


def test_rnn_backward_autograd_is_refused():
    def rnn_backward(x, h0, W, U, grad_h):
        W_, U_, h0_ = (t.detach().requires_grad_() for t in (W, U, h0))
        return torch.autograd.grad(_states(x, h0_, W_, U_), (W_, U_, h0_), grad_h)

    result = ex_rnn_backward.check(rnn_backward)
    assert result.status == "forbidden" and "torch.autograd.grad" in result.message


def test_rnn_backward_torch_func_vjp_is_refused():
    def rnn_backward(x, h0, W, U, grad_h):  # autograd through torch.func instead of torch.autograd
        _, pullback = torch.func.vjp(lambda W_, U_, h0_: _states(x, h0_, W_, U_), W, U, h0)
        return pullback(grad_h)

    result = ex_rnn_backward.check(rnn_backward)
    assert result.status == "forbidden" and "torch.func.vjp" in result.message


def test_rnn_backward_loop_over_the_batch_is_refused():
    def rnn_backward(x, h0, W, U, grad_h):
        parts = [ex_rnn_backward.model_solution(x[i : i + 1], h0[i : i + 1], W, U, grad_h[i : i + 1])
                 for i in range(x.shape[0])]
        return (sum(p[0] for p in parts), sum(p[1] for p in parts), torch.cat([p[2] for p in parts]))

    result = ex_rnn_backward.check(rnn_backward)
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
