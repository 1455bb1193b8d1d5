"""Exercises of the chapter "Optimisation: from SGD to Adam".

The references are torch's own code, never the chapter's: one step of
``torch.optim.Adam`` started from the given state for the Adam step, and
``torch.nn.utils.clip_grad_norm_`` for global-norm clipping. Each exercise
names the typical mistakes of its topic (no bias correction, the notes'
correction by 1 - beta * m, epsilon inside the square root; a norm per tensor
instead of one global norm, scaling gradients that are already small) without
giving the answer away. The model solutions are what ``solution()`` shows.
"""
from __future__ import annotations

import torch

from nbutils.exercises.core import Case, Exercise, LoopFree, Mistake

_gen = torch.Generator().manual_seed(8)


def _randn(*shape: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    return torch.randn(*shape, generator=_gen, dtype=torch.float64).to(dtype)


# -------------------------------------------------------- 1. one Adam step with bias correction

def _adam_reference(theta, grad, m, v, k, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    """Step k of torch.optim.Adam from the state (m, v) left by step k - 1."""
    p = theta.detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([p], lr=lr, betas=betas, eps=eps, foreach=False)
    p.grad = grad.detach().clone()
    if k > 1:
        opt.state[p] = {"step": torch.tensor(float(k - 1)),
                        "exp_avg": m.detach().clone(), "exp_avg_sq": v.detach().clone()}
    opt.step()
    state = opt.state[p]
    return p.detach().clone(), state["exp_avg"].clone(), state["exp_avg_sq"].clone()


def _moments(grad, m, v, betas):
    beta1, beta2 = betas
    return beta1 * m + (1 - beta1) * grad, beta2 * v + (1 - beta2) * grad**2


def _adam_solution(theta, grad, m, v, k, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    """m, v as exponential averages; divide by 1 - beta^k; eps outside the root."""
    beta1, beta2 = betas
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad**2
    m_hat = m / (1 - beta1**k)
    v_hat = v / (1 - beta2**k)
    return theta - lr * m_hat / (torch.sqrt(v_hat) + eps), m, v


def _adam_uncorrected(theta, grad, m, v, k, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    m, v = _moments(grad, m, v, betas)
    return theta - lr * m / (torch.sqrt(v) + eps), m, v


def _adam_notes_typo(theta, grad, m, v, k, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    beta1, beta2 = betas
    m_new, v_new = _moments(grad, m, v, betas)
    m_hat = m_new / (1 - beta1 * m)
    v_hat = v_new / (1 - beta2 * v)
    return theta - lr * m_hat / (torch.sqrt(v_hat) + eps), m_new, v_new


def _adam_eps_inside(theta, grad, m, v, k, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    beta1, beta2 = betas
    m, v = _moments(grad, m, v, betas)
    m_hat, v_hat = m / (1 - beta1**k), v / (1 - beta2**k)
    return theta - lr * m_hat / torch.sqrt(v_hat + eps), m, v


def _adam_first_moment_only(theta, grad, m, v, k, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    beta1, beta2 = betas
    m, v = _moments(grad, m, v, betas)
    return theta - lr * (m / (1 - beta1**k)) / (torch.sqrt(v) + eps), m, v


def _adam_off_by_one(theta, grad, m, v, k, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    return _adam_solution(theta, grad, m, v, k + 1, lr, betas, eps)


def _state(n: int, k: int, dtype: torch.dtype = torch.float64) -> tuple:
    """(theta, grad, m, v, k): zeros for k = 1, else a state that earlier steps could leave."""
    theta, grad = _randn(n, dtype=dtype), _randn(n, dtype=dtype)
    if k == 1:
        return theta, grad, torch.zeros(n, dtype=dtype), torch.zeros(n, dtype=dtype), 1
    m = 0.1 * _randn(n, dtype=dtype)
    v = 0.01 * _randn(n, dtype=dtype) ** 2 + 1e-3
    return theta, grad, m, v, k


def _sized(n: int) -> tuple:
    gen = torch.Generator().manual_seed(n)
    theta, grad, m = torch.randn(3, n, generator=gen, dtype=torch.float64)
    return theta, grad, 0.1 * m, 0.01 * m**2 + 1e-3, 3


_small_grad = list(_state(6, 1))
_small_grad[1] = 1e-6 * _small_grad[1]

ex_adam_step = Exercise(
    name="adam_step",
    reference=_adam_reference,
    result_names=("theta", "m", "v"),
    cases=[
        Case("step k = 2", _state(5, 2)),
        Case("the first step (k = 1) from m = v = 0", _state(5, 1)),
        Case("step k = 10, a 3 x 4 parameter", tuple(
            x.reshape(3, 4) if isinstance(x, torch.Tensor) else x for x in _state(12, 10))),
        Case("step k = 1000 (the corrections are close to 1)", _state(4, 1000)),
        Case("the first step with gradients of size 1e-6 (eps matters)", tuple(_small_grad)),
        Case("lr = 0.1, betas = (0.5, 0.9), eps = 1e-3", _state(5, 3),
             {"lr": 0.1, "betas": (0.5, 0.9), "eps": 1e-3}),
        Case("float32 input", _state(5, 4, dtype=torch.float32)),
    ],
    hints=[
        "Update the two moving averages first: m with beta1 and the gradient, "
        "v with beta2 and the squared gradient. Both start at zero, which biases "
        "them towards zero for small k.",
        "Divide m by 1 - beta1**k and v by 1 - beta2**k (k is the number of "
        "this step, counted from 1), then step by lr * m_hat / (sqrt(v_hat) + "
        "eps): eps is added after the square root. Return the new theta, m, v.",
    ],
    solution=_adam_solution,
    rtol=1e-5,
    mistakes=[
        Mistake(_adam_uncorrected,
                "the step is not bias-corrected: divide the moving averages by "
                "1 - beta**k before using them."),
        Mistake(_adam_notes_typo,
                "the bias correction divides by 1 - beta**k, a power of beta "
                "and the step number, not by 1 - beta times the old moment."),
        Mistake(_adam_eps_inside,
                "eps goes outside the square root, as in torch.optim.Adam and "
                "the paper: sqrt(v_hat) + eps."),
        Mistake(_adam_first_moment_only,
                "only the first moment is corrected: v needs its own "
                "correction, 1 - beta2**k."),
        Mistake(_adam_off_by_one,
                "the corrections use the wrong power: k is the number of this "
                "step, counted from 1, so the first step divides by 1 - beta."),
    ],
    forbidden={
        name: "your answer calls {name}; write the Adam update with tensor "
              "operations, without torch.optim."
        for name in ("torch.optim.Adam.step", "torch.optim.AdamW.step",
                     "torch.optim._functional.adam", "torch.optim._functional.adamw",
                     "torch._foreach_addcdiv_", "torch._foreach_lerp_",
                     "torch._foreach_mul_", "torch._foreach_add_",
                     "torch._foreach_sqrt", "torch._foreach_div_")
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
