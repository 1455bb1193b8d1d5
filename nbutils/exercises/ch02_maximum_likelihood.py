"""Exercises of the chapter "Maximum likelihood and cross-entropy".

References are torch built-ins; the model solutions are what ``solution()`` shows.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from nbutils.exercises.core import Case, Exercise, Mistake

_gen = torch.Generator().manual_seed(2)


def _bce_with_logits_solution(z: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy from logits: max(z, 0) - z t + log(1 + exp(-|z|))."""
    return (z.clamp(min=0) - z * t + torch.log1p(torch.exp(-z.abs()))).mean()


_z = torch.randn(8, generator=_gen, dtype=torch.float64)
_t = (torch.rand(8, generator=_gen) > 0.5).to(torch.float64)

ex_bce_with_logits = Exercise(
    name="bce_with_logits",
    reference=lambda z, t: F.binary_cross_entropy_with_logits(z, t),
    cases=[
        Case("8 logits with 0/1 targets", (_z, _t)),
        Case("soft targets (0.3)", (_z, torch.full((8,), 0.3, dtype=torch.float64))),
        Case("a 2-D batch", (_z.reshape(2, 4), _t.reshape(2, 4))),
        Case("confidently right and wrong (logits ±800)",
             (torch.tensor([800.0, -800.0, 800.0, -800.0], dtype=torch.float64),
              torch.tensor([1.0, 0.0, 0.0, 1.0], dtype=torch.float64)),
             nonfinite_hint="At logits of ±800, exp overflows and sigmoid rounds to exactly 0 or 1: "
                            "rewrite the loss so no exp of a large positive number and no log(0) appear."),
        Case("float32 input", (_z.float(), _t.float())),
        Case("float32 logits ±800", (torch.tensor([800.0, -800.0, 3.0]), torch.tensor([0.0, 1.0, 1.0])),
             nonfinite_hint="At logits of ±800, exp overflows (in float32 already above 88): rewrite the loss "
                            "so no exp of a large positive number and no log(0) appear."),
    ],
    hints=[
        "With p = sigmoid(z), the loss is -t log p - (1 - t) log(1 - p). Write log p and log(1 - p) "
        "in terms of z: log sigmoid(z) = -log(1 + exp(-z)) and log(1 - sigmoid(z)) = -z - log(1 + exp(-z)).",
        "Combine both terms into z - z t + log(1 + exp(-z)), then make it safe for negative z using "
        "log(1 + exp(-z)) = -z + log(1 + exp(z)): the result is max(z, 0) - z t + log(1 + exp(-|z|)). "
        "torch.log1p helps for small arguments.",
    ],
    solution=_bce_with_logits_solution,
    rtol=1e-6,
    mistakes=[
        Mistake(lambda z, t: F.binary_cross_entropy_with_logits(z, t, reduction="sum"),
                "you summed the losses of the entries. The exercise asks for their mean."),
        Mistake(lambda z, t: -F.binary_cross_entropy_with_logits(z, t),
                "the sign is flipped. The loss is the negative log-likelihood, so it is never negative."),
        Mistake(lambda z, t: F.binary_cross_entropy_with_logits(z, 1 - t),
                "t and 1 - t are swapped: the term with log p must be weighted by t, the probability of class 1."),
        Mistake(lambda z, t: (-z * t + torch.log1p(torch.exp(-z.abs()))).mean(),
                "the term max(z, 0) is missing: log(1 + exp(-|z|)) equals log(1 + exp(-z)) only where z >= 0."),
    ],
    forbidden={  # the built-in the checker compares with
        "torch.nn.functional.binary_cross_entropy_with_logits":
            "your answer calls torch.nn.functional.binary_cross_entropy_with_logits, the built-in this "
            "exercise checks against; write the loss from its formula",
        "torch.nn.functional.binary_cross_entropy":
            "your answer calls torch.nn.functional.binary_cross_entropy; write the loss from its formula",
    },
)



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
                            "variance: use log_var itself for log(sigma^2) and multiply by exp(-log_var)."),
        Case("float32 input", (_mu.float(), torch.linspace(-1, 1, 6), _t6.float())),
    ],
    hints=[
        "Write -log N(t; mu, sigma^2) term by term: a log(2 pi sigma^2) / 2 term and a squared-error term "
        "(t - mu)^2 / (2 sigma^2). Then take the mean over all entries.",
        "You are given log_var = log(sigma^2), so log(sigma^2) needs no log at all, and 1 / sigma^2 is "
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
                "the log-variance term lacks its ½: log sigma = ½ log sigma^2, and log_var is log sigma^2."),
        Mistake(lambda mu, s, t: _gaussian_nll_reference(mu, s, t) + 0.5 * ((t - mu) ** 2 * torch.exp(-s)).mean(),
                "the squared-error term lacks its ½: it is (t - mu)^2 / (2 sigma^2)."),
        Mistake(lambda mu, s, t: _gaussian_nll_reference(mu, s, t) - 0.5 * math.log(2 * math.pi),
                "the constant ½ log 2π is missing. The exercise asks for the full negative log-likelihood."),
        Mistake(lambda mu, s, t: _gaussian_nll_reference(mu, s, t) + 0.5 * math.log(2 * math.pi),
                "the constant is ½ log 2π, not log 2π."),
        Mistake(lambda mu, s, t: -torch.distributions.Normal(mu, torch.exp(s)).log_prob(t).mean(),
                "you used exp(log_var) as the standard deviation. It is the variance sigma^2; sigma is "
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

__all__ = ["ex_bce_with_logits", "ex_gaussian_nll"]
