"""Checkers of the initialisation chapter: model solutions pass, typical mistakes fail with their message."""
import torch

from nbutils.exercises.ch05_initialization import ex_lsuv, ex_relu_variances

# --------------------------------------------------------------------------- relu_variances

def test_relu_variances_model_solution_passes():
    result = ex_relu_variances.check(ex_relu_variances.model_solution)
    assert result.passed, result.message


def test_relu_variances_stub_is_not_attempted():
    def relu_variances(second_moment_x, fan_ins, weight_vars, bias_vars):
        ...  # your code here

    assert ex_relu_variances.check(relu_variances).status == "not_attempted"


def _recursion(x2, fan_ins, weight_vars, bias_vars, first=1.0, later=0.5, bias=True):
    q = fan_ins[0] * weight_vars[0] * x2 * first + (bias_vars[0] if bias else 0)
    out = [q]
    for n, var_w, var_b in zip(fan_ins[1:], weight_vars[1:], bias_vars[1:], strict=True):
        q = n * var_w * q * later + (var_b if bias else 0)
        out.append(q)
    return torch.stack(out)


def test_relu_variances_typical_mistakes():
    no_half = ex_relu_variances.check(lambda *a: _recursion(*a, later=1.0))
    assert no_half.status == "wrong_value" and "factor 1/2 is missing" in no_half.message

    half_first = ex_relu_variances.check(lambda *a: _recursion(*a, first=0.5))
    assert "not a ReLU output" in half_first.message

    no_bias = ex_relu_variances.check(lambda *a: _recursion(*a, bias=False))
    assert "biases are missing" in no_bias.message

    as_list = ex_relu_variances.check(lambda *a: _recursion(*a).tolist())
    assert as_list.status == "wrong_type"

    single = ex_relu_variances.check(lambda *a: _recursion(*a)[-1])
    assert single.status == "wrong_shape"


def test_relu_variances_reference_is_the_recursion_on_torch_default():
    # PyTorch's default without biases shrinks the variance six-fold per layer after the first.
    fan_ins = torch.full((5,), 100.0, dtype=torch.float64)
    third = 1 / (3 * fan_ins)
    q = ex_relu_variances.reference(1.0, fan_ins, third, torch.zeros(5, dtype=torch.float64))
    assert torch.allclose(q[:-1] / q[1:], torch.full((4,), 6.0, dtype=torch.float64))


# --------------------------------------------------------------------------- lsuv

def test_lsuv_model_solution_passes():
    result = ex_lsuv.check(ex_lsuv.model_solution)
    assert result.passed, result.message


def test_lsuv_stub_is_not_attempted():
    def lsuv(X, weights):
        ...  # your code here

    assert ex_lsuv.check(lsuv).status == "not_attempted"


def test_lsuv_result_has_unit_variance_at_every_layer():
    X = torch.randn(64, 16, dtype=torch.float64)
    weights = 0.3 * torch.randn(5, 16, 16, dtype=torch.float64)
    h = X
    for W in ex_lsuv.reference(X, weights):
        z = h @ W.T
        assert abs(z.var(correction=0).item() - 1) < 1e-10
        h = torch.relu(z)


def _scaled(X, weights, normalise, sequential=True, correction=0, power=0.5):
    out, h = [], X
    for W in weights:
        z = h @ W.T
        scale = 1 / normalise(z).var(correction=correction) ** power
        out.append(W * scale)
        h = torch.relu(z * scale if sequential else z)
    return torch.stack(out)


def test_lsuv_typical_mistakes():
    unsequenced = ex_lsuv.check(lambda X, W: _scaled(X, W, lambda z: z, sequential=False))
    assert unsequenced.status == "wrong_value" and "original network" in unsequenced.message

    after_relu = ex_lsuv.check(lambda X, W: _scaled(X, W, torch.relu))
    assert "before the ReLU" in after_relu.message

    by_variance = ex_lsuv.check(lambda X, W: _scaled(X, W, lambda z: z, power=1.0))
    assert "divided by the variance" in by_variance.message

    unbiased = ex_lsuv.check(lambda X, W: _scaled(X, W, lambda z: z, correction=1))
    assert "correction=0" in unbiased.message


def test_lsuv_loop_over_examples_fails():
    def per_example(X, weights):
        out, h = [], X
        for W in weights:
            z = torch.stack([W @ x for x in h])  # a Python loop over the batch
            scale = 1 / z.var(correction=0).sqrt()
            out.append(W * scale)
            h = torch.relu(z * scale)
        return torch.stack(out)

    result = ex_lsuv.check(per_example)
    assert not result.passed and "loop" in result.message.lower()


def test_lsuv_autograd_is_forbidden():
    def with_autograd(X, weights):
        w = weights.clone().requires_grad_(True)
        torch.autograd.grad((X @ w[0].T).sum(), w)
        return ex_lsuv.model_solution(X, weights)

    result = ex_lsuv.check(with_autograd)
    assert not result.passed and "torch.autograd.grad" in result.message
