"""Checkers of the MLP and activations chapter: the model solutions pass, typical mistakes fail with their message."""
import pytest
import torch
import torch.nn.functional as F

from nbutils.exercises.ch03_mlp_activations import ex_maxout_layer, ex_prelu_slope_grad, ex_silu_grad


def test_silu_grad_model_solution_passes():
    result = ex_silu_grad.check(ex_silu_grad.model_solution)
    assert result.passed, result.message


def test_silu_grad_stub_is_not_attempted():
    def silu_grad(z):
        ...  # your code here

    assert ex_silu_grad.check(silu_grad).status == "not_attempted"


def test_silu_grad_typical_mistakes():
    def overflowing(z):
        s = torch.exp(z) / (1 + torch.exp(z))
        return s * (1 + z * (1 - s))

    result = ex_silu_grad.check(overflowing)
    assert result.status == "nonfinite" and "exp(-|z|)" in result.message

    forgot_product_rule = ex_silu_grad.check(lambda z: torch.sigmoid(z))
    assert forgot_product_rule.status == "wrong_value" and "product rule" in forgot_product_rule.message

    sigmoid_derivative = ex_silu_grad.check(lambda z: torch.sigmoid(z) * (1 - torch.sigmoid(z)))
    assert "derivative of sigmoid(z), not of z * sigmoid(z)" in sigmoid_derivative.message

    half_product_rule = ex_silu_grad.check(lambda z: z * torch.sigmoid(z) * (1 - torch.sigmoid(z)))
    assert "lost the other one" in half_product_rule.message

    flipped = ex_silu_grad.check(lambda z: torch.sigmoid(z) * (1 - z * (1 - torch.sigmoid(z))))
    assert "sign is flipped" in flipped.message

    assert "calls F.silu, SiLU itself" in ex_silu_grad.check(F.silu).message
    assert ex_silu_grad.check(lambda z: ex_silu_grad.model_solution(z).float()).status == "wrong_dtype"


def test_prelu_slope_grad_model_solution_passes():
    result = ex_prelu_slope_grad.check(ex_prelu_slope_grad.model_solution)
    assert result.passed, result.message


def test_prelu_slope_grad_stub_is_not_attempted():
    def prelu_slope_grad(z, a, grad_h):
        ...  # your code here

    assert ex_prelu_slope_grad.check(prelu_slope_grad).status == "not_attempted"


def test_prelu_slope_grad_typical_mistakes():
    per_example = ex_prelu_slope_grad.check(lambda z, a, g: g * torch.clamp(z, max=0))
    assert per_example.status == "wrong_shape" and "one value per example" in per_example.message

    averaged = ex_prelu_slope_grad.check(lambda z, a, g: (g * torch.clamp(z, max=0)).mean(dim=0))
    assert averaged.status == "wrong_value" and "averaged" in averaged.message

    per_channel_only = ex_prelu_slope_grad.check(lambda z, a, g: (g * torch.clamp(z, max=0)).sum(dim=0))
    assert per_channel_only.status == "wrong_shape" and "shared by every channel" in per_channel_only.message

    positive_part = ex_prelu_slope_grad.check(lambda z, a, g: (g * z).sum(dim=0))
    assert positive_part.status == "wrong_value" and "does not depend on a" in positive_part.message

    no_upstream = ex_prelu_slope_grad.check(lambda z, a, g: torch.clamp(z, max=0).sum(dim=0))
    assert no_upstream.status == "wrong_value" and "grad_h" in no_upstream.message

    def forgot_return(z, a, grad_h):
        (grad_h * torch.clamp(z, max=0)).sum(dim=0)

    assert ex_prelu_slope_grad.check(forgot_return).status == "no_return"


def test_maxout_layer_model_solution_passes():
    result = ex_maxout_layer.check(ex_maxout_layer.model_solution)
    assert result.passed, result.message


def test_maxout_layer_stub_is_not_attempted():
    def maxout_layer(X, W, b, k):
        ...  # your code here

    assert ex_maxout_layer.check(maxout_layer).status == "not_attempted"


def test_maxout_layer_typical_mistakes():
    interleaved = ex_maxout_layer.check(lambda X, W, b, k: (X @ W.T + b).reshape(len(X), k, -1).amax(dim=1))
    assert interleaved.status == "wrong_value" and "interleaved" in interleaved.message

    no_bias = ex_maxout_layer.check(lambda X, W, b, k: (X @ W.T).reshape(len(X), -1, k).amax(dim=2))
    assert no_bias.status == "wrong_value" and "bias" in no_bias.message

    minimum = ex_maxout_layer.check(lambda X, W, b, k: (X @ W.T + b).reshape(len(X), -1, k).amin(dim=2))
    assert "minimum" in minimum.message

    one_max = ex_maxout_layer.check(lambda X, W, b, k: (X @ W.T + b).amax(dim=1))
    assert one_max.status == "wrong_shape" and "all M*k pieces" in one_max.message

    over_examples = ex_maxout_layer.check(lambda X, W, b, k: (X @ W.T + b).amax(dim=0))
    assert over_examples.status == "wrong_shape" and "over the examples" in over_examples.message

    values_and_indices = ex_maxout_layer.check(lambda X, W, b, k: (X @ W.T + b).reshape(len(X), -1, k).max(dim=2))
    assert values_and_indices.status == "wrong_type" and "take its .values" in values_and_indices.message


def _loop_over_units(X, W, b, k):
    Z = X @ W.T + b
    return torch.stack([Z[:, i * k:(i + 1) * k].amax(dim=1) for i in range(W.shape[0] // k)], dim=1)


def _loop_over_examples(X, W, b, k):
    return torch.stack([(W @ x + b).unflatten(0, (-1, k)).amax(dim=1) for x in X])


def _loop_over_pieces(X, W, b, k):
    Z = (X @ W.T + b).unflatten(-1, (-1, k))
    best = Z[..., 0]
    for piece in range(1, k):
        best = torch.maximum(best, Z[..., piece])
    return best


@pytest.mark.parametrize("answer, what", [(_loop_over_units, "the units"), (_loop_over_examples, "the examples"),
                                          (_loop_over_pieces, "the pieces of a unit")])
def test_maxout_layer_with_a_python_loop_is_refused(answer, what):
    result = ex_maxout_layer.check(answer)
    assert result.status == "python_loop", result.message
    assert f"a Python loop over {what}" in result.message


def test_maxout_layer_written_another_way_still_passes():
    def by_reshape_and_max(X, W, b, k):
        Z = torch.addmm(b, X, W.T)
        return Z.reshape(X.shape[0], -1, k).max(dim=-1).values

    assert ex_maxout_layer.check(by_reshape_and_max).passed


def test_silu_and_prelu_by_autograd_are_refused():
    def silu_by_backward(z):
        z = z.clone().requires_grad_()
        (z * torch.sigmoid(z)).sum().backward()  # SiLU written out, then autograd
        return z.grad

    result = ex_silu_grad.check(silu_by_backward)
    assert result.status == "forbidden" and "calls torch.Tensor.backward; derive the derivative" in result.message
    result = ex_prelu_slope_grad.check(
        lambda z, a, g: torch.func.vjp(lambda s: torch.nn.functional.prelu(z, s), a)[1](g)[0])
    assert result.status == "forbidden" and "calls torch.func.vjp; derive the gradient" in result.message


def test_checkers_leave_their_cases_unchanged():
    for exercise in (ex_silu_grad, ex_prelu_slope_grad, ex_maxout_layer):
        before = [tuple(a.clone() if isinstance(a, torch.Tensor) else a for a in case.args) for case in exercise.cases]
        exercise.check(exercise.model_solution)
        for case, saved in zip(exercise.cases, before, strict=True):
            for arg, old in zip(case.args, saved, strict=True):
                if isinstance(arg, torch.Tensor):
                    assert torch.equal(arg, old)


def test_silu_grad_finite_difference_of_f_silu_is_refused():
    def silu_by_finite_difference(z):
        h = 1e-6
        z64 = z.double()
        return ((F.silu(z64 + h) - F.silu(z64 - h)) / (2 * h)).to(z.dtype)

    result = ex_silu_grad.check(silu_by_finite_difference)
    assert result.status == "forbidden" and "calls F.silu" in result.message
