"""Exercises of the chapter "Maximum likelihood and cross-entropy".

References are torch built-ins (autograd, ``torch.distributions``); the model
solutions are what ``solution()`` shows.
"""
from __future__ import annotations

import math

import torch

from nbutils.exercises.core import Case, Exercise, LoopFree, Mistake
from nbutils.exercises.recording import AUTOGRAD

_gen = torch.Generator().manual_seed(2)


# ----------------------------------------------------------------------------- squared error on a softmax

def _se_softmax_grad_solution(z: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """d/dz of mean_n ||softmax(z_n) - t_n||^2 / 2: (diag(y) - y y^T) r / N, multiplied out."""
    y = torch.softmax(z, dim=-1)
    r = y - t
    return y * (r - (y * r).sum(dim=-1, keepdim=True)) / z.shape[0]


def _se_softmax_grad_reference(z: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    leaf = z.detach().clone().requires_grad_(True)
    cost = 0.5 * ((torch.softmax(leaf, dim=-1) - t) ** 2).sum(dim=-1).mean()
    return torch.autograd.grad(cost, leaf)[0]


def _one_hot(labels: list[int], k: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    return torch.nn.functional.one_hot(torch.tensor(labels), k).to(dtype)


def _batch(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits (n, 5) and one-hot targets for the loop check (deterministic in n)."""
    generator = torch.Generator().manual_seed(n)
    z = 2 * torch.randn(n, 5, generator=generator, dtype=torch.float64)
    return z, _one_hot(torch.randint(5, (n,), generator=generator).tolist(), 5)


_z = 2 * torch.randn(6, 4, generator=_gen, dtype=torch.float64)
_t = _one_hot([0, 3, 1, 1, 2, 0], 4)
_z_wide = torch.randn(3, 10, generator=_gen, dtype=torch.float64)
_t_wide = _one_hot([9, 0, 2], 10)

ex_se_softmax_grad = Exercise(
    name="se_softmax_grad",
    reference=_se_softmax_grad_reference,
    cases=[
        Case("6 examples, 4 classes", (_z, _t)),
        Case("3 examples, 10 classes", (_z_wide, _t_wide)),
        Case("float32 inputs", (_z.float(), _t.float())),
        Case("one example", (_z[:1], _t[:1])),
        Case("confidently wrong and right (logits ±1000)",
             (torch.tensor([[1000.0, 0.0, -1000.0], [0.0, 1000.0, 999.0]], dtype=torch.float64),
              _one_hot([2, 1], 3)),
             nonfinite_hint="At logits of ±1000, exp overflows: use torch.softmax (or subtract the row "
                            "maximum) to get y, then work with y only."),
    ],
    hints=[
        "With y = softmax(z) and r = y - t for one example, the gradient is (diag(y) - y y^T) r. "
        "diag(y) r is the element-wise product y * r, and y y^T r is y times the number y . r.",
        "Per row: y * (r - (y * r).sum(dim=-1, keepdim=True)). Then divide by N = z.shape[0], because "
        "the cost is the mean over the examples.",
    ],
    solution=_se_softmax_grad_solution,
    rtol=1e-6,
    mistakes=[
        Mistake(lambda z, t: (torch.softmax(z, dim=-1) - t) / z.shape[0],
                "this is y - t over N, the gradient of the cross-entropy. Squared error on the "
                "probabilities passes y - t back through the softmax Jacobian diag(y) - y y^T."),
        Mistake(lambda z, t: _se_softmax_grad_solution(z, t) * z.shape[0],
                "the values are N times too large: the cost is the mean over the N examples, "
                "so divide by N = z.shape[0]."),
        Mistake(lambda z, t: (lambda y: y * (1 - y) * (y - t))(torch.softmax(z, dim=-1)) / z.shape[0],
                "you kept only the diagonal y_k (1 - y_k) of the Jacobian, as if each class had its own "
                "sigmoid. The off-diagonal entries -y_j y_k couple the classes: include the -y y^T r term."),
        Mistake(lambda z, t: -_se_softmax_grad_solution(z, t),
                "the sign is flipped: the residual is r = y - t (prediction minus target)."),
    ],
    forbidden={name: "your answer calls {name}; derive the gradient by hand instead" for name in AUTOGRAD},
    loop_free=LoopFree(_batch, sizes=(4, 16), what="the batch"),
    memory_bound=3,
)


# ----------------------------------------------------------------------------- Gaussian with learned variance

def _gaussian_nll_solution(mu: torch.Tensor, log_var: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood of t under N(mu, exp(log_var)), constant included."""
    return 0.5 * (log_var + (t - mu) ** 2 * torch.exp(-log_var) + math.log(2 * math.pi)).mean()


def _gaussian_nll_reference(mu, log_var, t):
    return -torch.distributions.Normal(mu, torch.exp(0.5 * log_var)).log_prob(t).mean()


_mu = torch.randn(6, generator=_gen, dtype=torch.float64)
_t6 = _mu + 0.5 * torch.randn(6, generator=_gen, dtype=torch.float64)

ex_gaussian_nll = Exercise(
    name="gaussian_nll",
    reference=_gaussian_nll_reference,
    cases=[
        Case("unit variance", (_mu, torch.zeros(6, dtype=torch.float64), _t6)),
        Case("a different variance per example",
             (_mu, torch.linspace(-2, 2, 6, dtype=torch.float64), _t6)),
        Case("a 2-D batch", (_mu.reshape(3, 2), torch.full((3, 2), 0.7, dtype=torch.float64), _t6.reshape(3, 2))),
        Case("huge variances (log_var = 800)",
             (_mu, torch.full((6,), 800.0, dtype=torch.float64), _t6),
             nonfinite_hint="With log_var = 800 the variance exp(800) overflows to inf. Never form the "
                            "variance: use log_var itself for log(s^2) and multiply by exp(-log_var)."),
        Case("float32 input", (_mu.float(), torch.linspace(-1, 1, 6, dtype=torch.float32), _t6.float())),
    ],
    hints=[
        "Write -log N(t; mu, s^2) term by term: a log(2 pi s^2) / 2 term and a squared-error term "
        "(t - mu)^2 / (2 s^2). Then take the mean over all entries.",
        "You are given log_var = log(s^2), so log(s^2) needs no log at all, and 1 / s^2 is "
        "exp(-log_var). Do not forget the constant log(2 pi) / 2.",
    ],
    solution=_gaussian_nll_solution,
    rtol=1e-6,
    mistakes=[
        Mistake(lambda mu, s, t: _gaussian_nll_reference(mu, s, t) * t.numel(),
                "you summed over the entries. The exercise asks for the mean."),
        Mistake(lambda mu, s, t: 2 * _gaussian_nll_reference(mu, s, t),
                "every term is twice too large: the ½ in front of the negative log-density is missing."),
        Mistake(lambda mu, s, t: _gaussian_nll_reference(mu, s, t) + 0.5 * s.mean(),
                "the log-variance term lacks its ½: log s = ½ log s^2, and log_var is log s^2."),
        Mistake(lambda mu, s, t: _gaussian_nll_reference(mu, s, t) + 0.5 * ((t - mu) ** 2 * torch.exp(-s)).mean(),
                "the squared-error term lacks its ½: it is (t - mu)^2 / (2 s^2)."),
        Mistake(lambda mu, s, t: _gaussian_nll_reference(mu, s, t) - 0.5 * math.log(2 * math.pi),
                "the constant ½ log 2π is missing. The exercise asks for the full negative log-likelihood."),
        Mistake(lambda mu, s, t: _gaussian_nll_reference(mu, s, t) + 0.5 * math.log(2 * math.pi),
                "the constant is ½ log 2π, not log 2π."),
        Mistake(lambda mu, s, t: -torch.distributions.Normal(mu, torch.exp(s)).log_prob(t).mean(),
                "you used exp(log_var) as the standard deviation. It is the variance s^2; the standard deviation s is "
                "exp(log_var / 2)."),
        Mistake(lambda mu, s, t: -_gaussian_nll_reference(mu, s, t),
                "the sign is flipped: this is the log-likelihood, and the exercise asks for its negative."),
    ],
    forbidden={  # the reference the checker compares with
        "torch.distributions.Normal.log_prob": "your answer calls torch.distributions.Normal.log_prob, "
                                               "which this exercise checks against; write the formula yourself",
        "torch.nn.functional.gaussian_nll_loss": "your answer calls torch.nn.functional.gaussian_nll_loss; "
                                                 "write the formula yourself",
    },
)

__all__ = ["ex_gaussian_nll", "ex_se_softmax_grad"]
