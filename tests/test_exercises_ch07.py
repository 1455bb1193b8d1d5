"""Checkers of the regularisation chapter: model solutions pass, typical mistakes fail with their own message."""
import torch
import torch.nn.functional as F

from nbutils.exercises.ch07_regularization_dropout import ex_l1_prox_step, ex_mask_average

# -- the proximal L1 step -------------------------------------------------------------------------


def test_l1_prox_step_model_solution_passes():
    result = ex_l1_prox_step.check(ex_l1_prox_step.model_solution)
    assert result.passed, result.message


def test_l1_prox_step_written_with_where_also_passes():
    def l1_prox_step(W, grad_J, lr, l1):
        u = W - lr * grad_J
        t = lr * l1
        return torch.where(u > t, u - t, torch.where(u < -t, u + t, torch.zeros_like(u)))

    result = ex_l1_prox_step.check(l1_prox_step)
    assert result.passed, result.message


def test_l1_prox_step_subgradient_step_is_named():
    def l1_prox_step(W, grad_J, lr, l1):
        return W - lr * (grad_J + l1 * torch.sign(W))

    result = ex_l1_prox_step.check(l1_prox_step)
    assert not result.passed and "subgradient step" in result.message


def test_l1_prox_step_threshold_without_lr_is_named():
    def l1_prox_step(W, grad_J, lr, l1):
        u = W - lr * grad_J
        return torch.sign(u) * torch.clamp(u.abs() - l1, min=0)

    result = ex_l1_prox_step.check(l1_prox_step)
    assert not result.passed and "lr times l1" in result.message


def test_l1_prox_step_hard_threshold_is_named():
    def l1_prox_step(W, grad_J, lr, l1):
        u = W - lr * grad_J
        return torch.where(u.abs() > lr * l1, u, torch.zeros_like(u))

    result = ex_l1_prox_step.check(l1_prox_step)
    assert not result.passed and "soft thresholding" in result.message


def test_l1_prox_step_softshrink_is_refused():
    def l1_prox_step(W, grad_J, lr, l1):
        return F.softshrink(W - lr * grad_J, lr * l1)

    result = ex_l1_prox_step.check(l1_prox_step)
    assert result.status == "forbidden" and "softshrink" in result.message


def test_l1_prox_step_loop_over_entries_is_refused():
    def l1_prox_step(W, grad_J, lr, l1):
        u = (W - lr * grad_J).reshape(-1)
        out = [torch.sign(v) * torch.clamp(v.abs() - lr * l1, min=0) for v in u]
        return torch.stack(out).reshape(W.shape)

    result = ex_l1_prox_step.check(l1_prox_step)
    assert result.status == "python_loop", result.message


def test_l1_prox_step_loop_over_python_numbers_is_refused():
    def l1_prox_step(W, grad_J, lr, l1):
        u = (W - lr * grad_J).flatten().tolist()
        out = [max(abs(v) - lr * l1, 0.0) * (1 if v > 0 else -1) for v in u]
        return torch.tensor(out, dtype=W.dtype).reshape(W.shape)

    result = ex_l1_prox_step.check(l1_prox_step)
    assert result.status == "forbidden" and "tolist" in result.message, result.message


def test_l1_prox_step_float64_for_float32_input_is_a_dtype_error():
    def l1_prox_step(W, grad_J, lr, l1):
        return ex_l1_prox_step.model_solution(W.double(), grad_J.double(), lr, l1)

    result = ex_l1_prox_step.check(l1_prox_step)
    assert result.status == "wrong_dtype" and "float32" in result.message


def test_l1_prox_step_stub_is_not_attempted():
    def l1_prox_step(W, grad_J, lr, l1):
        ...  # your code here

    assert ex_l1_prox_step.check(l1_prox_step).status == "not_attempted"


# -- the exact average over masks -----------------------------------------------------------------


def _masks(d, dtype):
    return ((torch.arange(2**d)[:, None] >> torch.arange(d)) & 1).to(dtype)


def test_mask_average_model_solution_passes():
    result = ex_mask_average.check(ex_mask_average.model_solution)
    assert result.passed, result.message


def test_mask_average_with_cartesian_product_also_passes():
    def mask_average(x, W, b, p):
        d = x.shape[0]
        masks = torch.cartesian_prod(*[torch.tensor([0.0, 1.0], dtype=x.dtype)] * d).reshape(-1, d)
        kept = masks.sum(1)
        probs = (1 - p) ** kept * p ** (d - kept)
        return (probs[:, None] * torch.relu((masks * x / (1 - p)) @ W.T + b)).sum(0)

    result = ex_mask_average.check(mask_average)
    assert result.passed, result.message


def test_mask_average_weight_scaling_is_named():
    def mask_average(x, W, b, p):
        return torch.relu(W @ x + b)

    result = ex_mask_average.check(mask_average)
    assert not result.passed and "weight scaling" in result.message


def test_mask_average_without_scaling_is_named():
    def mask_average(x, W, b, p):
        masks = _masks(x.shape[0], x.dtype)
        probs = ((1 - p) ** masks * p ** (1 - masks)).prod(1)
        return probs @ torch.relu((masks * x) @ W.T + b)

    result = ex_mask_average.check(mask_average)
    assert not result.passed and "keep probability 1 - p" in result.message


def test_mask_average_uniform_weights_are_named():
    def mask_average(x, W, b, p):
        masks = _masks(x.shape[0], x.dtype)
        return torch.relu((masks * x / (1 - p)) @ W.T + b).mean(0)

    result = ex_mask_average.check(mask_average)
    assert not result.passed and "equally likely" in result.message


def test_mask_average_loop_over_masks_is_refused():
    def mask_average(x, W, b, p):
        d = x.shape[0]
        total = torch.zeros(W.shape[0], dtype=x.dtype)
        for m in _masks(d, x.dtype):
            kept = m.sum()
            total = total + (1 - p) ** kept * p ** (d - kept) * torch.relu(W @ (m * x / (1 - p)) + b)
        return total

    result = ex_mask_average.check(mask_average)
    assert result.status == "python_loop", result.message


def test_mask_average_stub_is_not_attempted():
    def mask_average(x, W, b, p):
        ...  # your code here

    assert ex_mask_average.check(mask_average).status == "not_attempted"
