"""Checkers of the optimisation chapter: model solutions pass, typical mistakes fail with their own message."""
import torch

from nbutils.exercises.ch08_optimization import ex_adam_step, ex_clip_global_norm

# -- one AMSGrad step with L2 weight decay ----------------------------------------------------------

def _moments(grad, m, v, betas):
    return betas[0] * m + (1 - betas[0]) * grad, betas[1] * v + (1 - betas[1]) * grad**2


def _corrected(theta, grad, m, v, v_max, k, lr, betas, eps, weight_decay):
    """The pieces every variant below shares: (g, m, v, c1, c2)."""
    g = grad + weight_decay * theta
    m, v = _moments(g, m, v, betas)
    return g, m, v, 1 - betas[0] ** k, 1 - betas[1] ** k


def test_adam_step_model_solution_passes():
    result = ex_adam_step.check(ex_adam_step.model_solution)
    assert result.passed, result.message


def test_adam_step_written_as_torch_does_also_passes():
    def adam_step(theta, grad, m, v, v_max, k, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        g = torch.add(grad, theta, alpha=weight_decay)
        m = torch.lerp(m, g, 1 - betas[0])
        v = torch.addcmul(v * betas[1], g, g, value=1 - betas[1])
        v_max = torch.maximum(v_max, v)
        denom = v_max.sqrt() / (1 - betas[1] ** k) ** 0.5 + eps
        return torch.addcdiv(theta, m, denom, value=-lr / (1 - betas[0] ** k)), m, v, v_max

    result = ex_adam_step.check(adam_step)
    assert result.passed, result.message


def test_adam_step_uncorrected_is_named():
    def adam_step(theta, grad, m, v, v_max, k, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        _, m, v, _, _ = _corrected(theta, grad, m, v, v_max, k, lr, betas, eps, weight_decay)
        v_max = torch.maximum(v_max, v)
        return theta - lr * m / (v_max.sqrt() + eps), m, v, v_max

    result = ex_adam_step.check(adam_step)
    assert not result.passed and "not bias-corrected" in result.message


def test_adam_step_notes_typo_is_named():
    def adam_step(theta, grad, m, v, v_max, k, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        _, m_new, v_new, _, _ = _corrected(theta, grad, m, v, v_max, k, lr, betas, eps, weight_decay)
        v_max_new = torch.maximum(v_max, v_new)
        m_hat, v_hat = m_new / (1 - betas[0] * m), v_max_new / (1 - betas[1] * v_max)
        return theta - lr * m_hat / (v_hat.sqrt() + eps), m_new, v_new, v_max_new

    result = ex_adam_step.check(adam_step)
    assert not result.passed and "times the old moment" in result.message


def test_adam_step_eps_inside_the_root_is_named():
    def adam_step(theta, grad, m, v, v_max, k, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        _, m, v, c1, c2 = _corrected(theta, grad, m, v, v_max, k, lr, betas, eps, weight_decay)
        v_max = torch.maximum(v_max, v)
        return theta - lr * (m / c1) / (v_max / c2 + eps).sqrt(), m, v, v_max

    result = ex_adam_step.check(adam_step)
    assert not result.passed and "outside the square root" in result.message


def test_adam_step_plain_adam_without_maximum_is_named():
    def adam_step(theta, grad, m, v, v_max, k, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        _, m, v, c1, c2 = _corrected(theta, grad, m, v, v_max, k, lr, betas, eps, weight_decay)
        return theta - lr * (m / c1) / ((v / c2).sqrt() + eps), m, v, torch.maximum(v_max, v)

    result = ex_adam_step.check(adam_step)
    assert not result.passed and "running maximum" in result.message


def test_adam_step_decoupled_decay_is_named():
    def adam_step(theta, grad, m, v, v_max, k, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        m, v = _moments(grad, m, v, betas)
        v_max = torch.maximum(v_max, v)
        step = (m / (1 - betas[0] ** k)) / ((v_max / (1 - betas[1] ** k)).sqrt() + eps)
        return theta - lr * step - lr * weight_decay * theta, m, v, v_max

    result = ex_adam_step.check(adam_step)
    assert not result.passed and "AdamW" in result.message


def test_adam_step_torch_optim_is_refused():
    def adam_step(theta, grad, m, v, v_max, k, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        p = theta.clone().requires_grad_()
        opt = torch.optim.Adam([p], lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=True)
        if k > 1:
            opt.state[p] = {"step": torch.tensor(k - 1.0), "exp_avg": m.clone(), "exp_avg_sq": v.clone(),
                            "max_exp_avg_sq": v_max.clone()}
        p.grad = grad.clone()
        opt.step()
        s = opt.state[p]
        return p.detach(), s["exp_avg"], s["exp_avg_sq"], s["max_exp_avg_sq"]

    result = ex_adam_step.check(adam_step)
    assert result.status == "forbidden" and "torch.optim.Adam.step" in result.message


def test_adam_step_foreach_kernels_are_refused():
    def adam_step(theta, grad, m, v, v_max, k, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        _, m, v, c1, c2 = _corrected(theta, grad, m, v, v_max, k, lr, betas, eps, weight_decay)
        v_max = torch.maximum(v_max, v)
        (theta,) = torch._foreach_add([theta], [0.0])
        torch._foreach_addcdiv_([theta], [m / c1], [(v_max / c2).sqrt() + eps], -lr)
        return theta, m, v, v_max

    result = ex_adam_step.check(adam_step)
    assert result.status == "forbidden" and "_foreach_addcdiv_" in result.message


def test_adam_step_loop_over_entries_is_refused():
    def adam_step(theta, grad, m, v, v_max, k, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        _, m, v, c1, c2 = _corrected(theta, grad, m, v, v_max, k, lr, betas, eps, weight_decay)
        v_max = torch.maximum(v_max, v)
        out = theta.clone()
        for i in range(theta.numel()):
            mh, vh = m.reshape(-1)[i] / c1, v_max.reshape(-1)[i] / c2
            out.reshape(-1)[i] -= lr * mh / (vh.sqrt() + eps)
        return out, m, v, v_max

    result = ex_adam_step.check(adam_step)
    assert not result.passed and result.status == "python_loop", result.message


def test_adam_step_stub_is_not_attempted():
    def adam_step(theta, grad, m, v, v_max, k, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        ...  # your code here

    assert "not attempted" in ex_adam_step.check(adam_step).message


# -- clipping by the global norm --------------------------------------------------------------------


def test_clip_global_norm_model_solution_passes():
    result = ex_clip_global_norm.check(ex_clip_global_norm.model_solution)
    assert result.passed, result.message


def test_clip_global_norm_with_torch_where_also_passes():
    def clip_global_norm(grads, max_norm):
        total = torch.cat([g.reshape(-1) for g in grads]).norm()
        factor = torch.where(total > max_norm, max_norm / (total + 1e-6), torch.ones_like(total))
        return tuple(factor * g for g in grads)

    result = ex_clip_global_norm.check(clip_global_norm)
    assert result.passed, result.message


def test_clip_global_norm_per_tensor_is_named():
    def clip_global_norm(grads, max_norm):
        return tuple(g * min(1.0, max_norm / (g.norm().item() + 1e-6)) for g in grads)

    result = ex_clip_global_norm.check(clip_global_norm)
    assert not result.passed and "its own norm" in result.message


def test_clip_global_norm_always_scaling_is_named():
    def clip_global_norm(grads, max_norm):
        total = torch.cat([g.reshape(-1) for g in grads]).norm()
        return tuple(g * max_norm / (total + 1e-6) for g in grads)

    result = ex_clip_global_norm.check(clip_global_norm)
    assert not result.passed and "at most 1" in result.message


def test_clip_global_norm_clip_by_value_is_named():
    def clip_global_norm(grads, max_norm):
        return tuple(torch.clamp(g, -max_norm, max_norm) for g in grads)

    result = ex_clip_global_norm.check(clip_global_norm)
    assert not result.passed and "clip by value" in result.message


def test_clip_global_norm_builtin_is_refused():
    def clip_global_norm(grads, max_norm):
        params = [torch.zeros_like(g, requires_grad=True) for g in grads]
        for p, g in zip(params, grads, strict=True):
            p.grad = g.clone()
        torch.nn.utils.clip_grad_norm_(params, max_norm)
        return tuple(p.grad for p in params)

    result = ex_clip_global_norm.check(clip_global_norm)
    assert result.status == "forbidden" and "clip_grad_norm_" in result.message


def test_clip_global_norm_in_place_like_clip_grad_norm_is_refused():
    def clip_global_norm(grads, max_norm):  # scales the given tensors, as clip_grad_norm_ does to .grad
        total = torch.sqrt(sum((g**2).sum() for g in grads))
        for g in grads:
            g.mul_(torch.clamp(max_norm / (total + 1e-6), max=1.0))
        return grads

    result = ex_clip_global_norm.check(clip_global_norm)
    assert result.status == "mutated_input" and "changed its input" in result.message


def test_clip_global_norm_stub_is_not_attempted():
    def clip_global_norm(grads, max_norm):
        ...  # your code here

    assert "not attempted" in ex_clip_global_norm.check(clip_global_norm).message
