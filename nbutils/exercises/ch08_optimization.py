"""Exercises of the chapter "Optimisation: from SGD to Adam".

The references are torch's own code, never the chapter's: one step of
``torch.optim.Adam(amsgrad=True, weight_decay=...)`` started from the given
state for the AMSGrad step, and
``torch.nn.utils.clip_grad_norm_`` for global-norm clipping. Each exercise
names the typical mistakes of its topic (no bias correction, the notes'
correction by 1 - beta * m, epsilon inside the square root, no running
maximum, decoupled decay; a norm per tensor
instead of one global norm, scaling gradients that are already small) without
giving the answer away. The model solutions are what ``solution()`` shows.
"""
from __future__ import annotations

import torch

from nbutils.exercises.core import Case, Exercise, LoopFree, Mistake

_gen = torch.Generator().manual_seed(8)


def _randn(*shape: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    return torch.randn(*shape, generator=_gen, dtype=torch.float64).to(dtype)


# -------------------------------------------------------- 1. one AMSGrad step with L2 weight decay

def _adam_reference(theta, grad, m, v, v_max, k, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                    weight_decay=0.0):
    """Step k of torch.optim.Adam(amsgrad=True, weight_decay=...) from the state left by step k - 1."""
    p = theta.detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([p], lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                           amsgrad=True, foreach=False)
    p.grad = grad.detach().clone()
    if k > 1:
        opt.state[p] = {"step": torch.tensor(float(k - 1)), "exp_avg": m.detach().clone(),
                        "exp_avg_sq": v.detach().clone(), "max_exp_avg_sq": v_max.detach().clone()}
    opt.step()
    state = opt.state[p]
    return (p.detach().clone(), state["exp_avg"].clone(), state["exp_avg_sq"].clone(),
            state["max_exp_avg_sq"].clone())


def _moments(grad, m, v, betas):
    beta1, beta2 = betas
    return beta1 * m + (1 - beta1) * grad, beta2 * v + (1 - beta2) * grad**2


def _adam_solution(theta, grad, m, v, v_max, k, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                   weight_decay=0.0):
    """L2 penalty's gradient added first; the running maximum of v, corrected by 1 - beta2^k."""
    beta1, beta2 = betas
    grad = grad + weight_decay * theta
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad**2
    v_max = torch.maximum(v_max, v)
    m_hat = m / (1 - beta1**k)
    v_hat = v_max / (1 - beta2**k)
    return theta - lr * m_hat / (torch.sqrt(v_hat) + eps), m, v, v_max


def _variant(correct1=True, correct2=True, eps_inside=False, use_max=True, decay="l2",
             max_of_corrected=False, notes_typo=False, power_offset=0):
    """A step that differs from the right one in the named way."""
    def step(theta, grad, m, v, v_max, k, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        beta1, beta2 = betas
        g = grad + weight_decay * theta if decay == "l2" else grad
        m_new, v_new = _moments(g, m, v, betas)
        j = k + power_offset
        c1 = (1 - beta1 * m) if notes_typo else (1 - beta1**j if correct1 else 1.0)
        c2 = (1 - beta2 * v_max) if notes_typo else (1 - beta2**j if correct2 else 1.0)
        if max_of_corrected:
            v_max_new = torch.maximum(v_max, v_new / c2)
            v_hat = v_max_new
        else:
            v_max_new = torch.maximum(v_max, v_new)
            v_hat = (v_max_new if use_max else v_new) / c2
        denominator = torch.sqrt(v_hat + eps) if eps_inside else torch.sqrt(v_hat) + eps
        new = theta - lr * (m_new / c1) / denominator
        if decay == "decoupled":
            new = new - lr * weight_decay * theta
        return new, m_new, v_new, v_max_new
    return step


def _state(n: int, k: int, dtype: torch.dtype = torch.float64, v_max_scale: float = 2.0) -> tuple:
    """(theta, grad, m, v, v_max, k): zeros for k = 1, else a state that earlier steps could leave."""
    theta, grad = _randn(n, dtype=dtype), _randn(n, dtype=dtype)
    if k == 1:
        zeros = torch.zeros(n, dtype=dtype)
        return theta, grad, zeros, zeros.clone(), zeros.clone(), 1
    m = 0.1 * _randn(n, dtype=dtype)
    v = 0.01 * _randn(n, dtype=dtype) ** 2 + 1e-3
    v_max = v * (1 + v_max_scale * torch.rand(n, generator=_gen, dtype=torch.float64).to(dtype))
    return theta, grad, m, v, v_max, k


def _sized(n: int) -> tuple:
    gen = torch.Generator().manual_seed(n)
    theta, grad, m = torch.randn(3, n, generator=gen, dtype=torch.float64)
    v = 0.01 * m**2 + 1e-3
    return theta, grad, 0.1 * m, v, 1.5 * v, 3


_small_grad = list(_state(6, 1))
_small_grad[1] = 1e-6 * _small_grad[1]
_matrix = tuple(x.reshape(3, 4) if isinstance(x, torch.Tensor) else x for x in _state(12, 10))

ex_adam_step = Exercise(
    name="adam_step",
    reference=_adam_reference,
    result_names=("theta", "m", "v", "v_max"),
    cases=[
        Case("step k = 2", _state(5, 2)),
        Case("the first step (k = 1) from zero state", _state(5, 1)),
        Case("step k = 10, a 3 x 4 parameter", _matrix),
        Case("step k = 10 with weight_decay = 0.1", _matrix, {"weight_decay": 0.1}),
        Case("step k = 1000 (the corrections are close to 1)", _state(4, 1000)),
        Case("the first step with gradients of size 1e-6 (eps matters)", tuple(_small_grad)),
        Case("lr = 0.1, betas = (0.5, 0.9), eps = 1e-3, weight_decay = 0.01", _state(5, 3),
             {"lr": 0.1, "betas": (0.5, 0.9), "eps": 1e-3, "weight_decay": 0.01}),
        Case("float32 input", _state(5, 4, dtype=torch.float32), {"weight_decay": 0.05}),
    ],
    hints=[
        "First add the L2 penalty's gradient, weight_decay * theta, to grad "
        "(that is what torch.optim.Adam's weight_decay does). Then update the "
        "two moving averages m and v, and the running maximum v_max of v.",
        "Divide m by 1 - beta1**k and v_max by 1 - beta2**k (k counted from "
        "1), then step by lr * m_hat / (sqrt(v_hat) + eps), eps outside the "
        "root. Return the new theta, m, v and v_max.",
    ],
    solution=_adam_solution,
    rtol=1e-5,
    mistakes=[
        Mistake(_variant(correct1=False, correct2=False),
                "the step is not bias-corrected: divide the moving averages by "
                "1 - beta**k before using them."),
        Mistake(_variant(notes_typo=True),
                "the bias correction divides by 1 - beta**k, a power of beta "
                "and the step number, not by 1 - beta times the old moment."),
        Mistake(_variant(eps_inside=True),
                "eps goes outside the square root, as in torch.optim.Adam and "
                "the paper: sqrt(v_hat) + eps."),
        Mistake(_variant(correct2=False),
                "only the first moment is corrected: the second needs its own "
                "correction, 1 - beta2**k."),
        Mistake(_variant(power_offset=1),
                "the corrections use the wrong power: k is the number of this "
                "step, counted from 1, so the first step divides by 1 - beta."),
        Mistake(_variant(use_max=False),
                "the denominator uses v itself: AMSGrad divides by the running "
                "maximum v_max of v, so the raw second moment in the "
                "denominator never decreases."),
        Mistake(_variant(max_of_corrected=True),
                "keep the maximum of the raw v, as torch does, and divide it by "
                "1 - beta2**k only where you use it."),
        Mistake(_variant(decay="none"),
                "weight_decay is ignored: add its L2 gradient, weight_decay * "
                "theta, to grad before the moments."),
        Mistake(_variant(decay="decoupled"),
                "that is AdamW's decoupled decay; torch.optim.Adam adds the L2 "
                "gradient weight_decay * theta to grad before the moments."),
    ],
    forbidden={
        name: "your answer calls {name}; write the update with tensor "
              "operations, without torch.optim."
        for name in ("torch.optim.Adam.step", "torch.optim.AdamW.step",
                     "torch.optim._functional.adam", "torch.optim._functional.adamw",
                     "torch._foreach_addcdiv_", "torch._foreach_lerp_",
                     "torch._foreach_mul_", "torch._foreach_add_",
                     "torch._foreach_sqrt", "torch._foreach_div_",
                     "torch._foreach_maximum_")
    },
    loop_free=LoopFree(_sized, sizes=(4, 16), what="the entries of theta"),
)


# -------------------------------------------------------- 2. clipping by the global norm

def _clip_reference(grads, max_norm):
    """torch.nn.utils.clip_grad_norm_ on copies of the gradients."""
    params = [torch.zeros_like(g, requires_grad=True) for g in grads]
    for p, g in zip(params, grads, strict=True):
        p.grad = g.detach().clone()
    torch.nn.utils.clip_grad_norm_(params, max_norm, foreach=False)
    return tuple(p.grad for p in params)


def _clip_solution(grads, max_norm):
    """One norm over all tensors; scale by max_norm / (norm + 1e-6) if that is < 1."""
    total = torch.sqrt(sum((g**2).sum() for g in grads))
    scale = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    return tuple(g * scale for g in grads)


def _clip_per_tensor(grads, max_norm):
    return tuple(g * torch.clamp(max_norm / (g.norm() + 1e-6), max=1.0) for g in grads)


def _clip_always(grads, max_norm):
    total = torch.sqrt(sum((g**2).sum() for g in grads))
    return tuple(g * max_norm / (total + 1e-6) for g in grads)


def _clip_sum_of_norms(grads, max_norm):
    total = sum(g.norm() for g in grads)
    return tuple(g * torch.clamp(max_norm / (total + 1e-6), max=1.0) for g in grads)


def _clip_elementwise(grads, max_norm):
    return tuple(g.clamp(-max_norm, max_norm) for g in grads)


def _grads(*shapes: tuple, scale: float = 1.0, dtype: torch.dtype = torch.float64) -> tuple:
    return tuple(scale * _randn(*shape, dtype=dtype) for shape in shapes)


ex_clip_global_norm = Exercise(
    name="clip_global_norm",
    reference=_clip_reference,
    cases=[
        Case("two tensors, norm above the threshold", (_grads((3, 4), (4,), scale=2.0), 1.0)),
        Case("norm below the threshold (nothing changes)", (_grads((3, 4), (4,), scale=0.01), 1.0)),
        Case("one large and one small tensor", ((10 * _randn(5, 5), 0.1 * _randn(5)), 2.0)),
        Case("three tensors, max_norm = 0.5", (_grads((2, 3), (3,), (3, 2)), 0.5)),
        Case("one tensor only", (_grads((6,), scale=3.0), 1.0)),
        Case("float32 input", (_grads((4, 3), (3,), scale=2.0, dtype=torch.float32), 1.0)),
    ],
    hints=[
        "Treat all gradients as one long vector: its norm is the square root of "
        "the sum, over all tensors, of their squared entries.",
        "Multiply every tensor by the same factor min(1, max_norm / (norm + "
        "1e-6)), the small constant that torch adds; return a tuple of new "
        "tensors in the same order.",
    ],
    solution=_clip_solution,
    rtol=1e-5,
    mistakes=[
        Mistake(_clip_per_tensor,
                "each tensor was clipped by its own norm: the global norm is "
                "one number over all tensors, and all are scaled by the same "
                "factor."),
        Mistake(_clip_always,
                "gradients whose global norm is already below max_norm must be "
                "left unchanged: the factor is at most 1."),
        Mistake(_clip_sum_of_norms,
                "the global norm is the square root of the sum of squared "
                "entries, not the sum of the tensors' norms."),
        Mistake(_clip_elementwise,
                "that clips each entry (clip by value); clipping by norm "
                "rescales the whole gradient and keeps its direction."),
    ],
    forbidden={
        name: "your answer calls {name}; compute the global norm and the "
              "scale factor yourself."
        for name in ("torch.nn.utils.clip_grad_norm_", "torch.nn.utils.clip_grad_norm",
                     "torch.nn.utils.get_total_norm", "torch.nn.utils.clip_grads_with_norm_",
                     "torch._foreach_norm", "torch._foreach_mul_")
    },
)

__all__ = ["ex_adam_step", "ex_clip_global_norm"]
