"""Exercises of the chapter "Maximum likelihood and cross-entropy".

References are torch built-ins; the model solutions are what ``solution()`` shows.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from nbutils.exercises.core import Case, Exercise

_gen = torch.Generator().manual_seed(2)
_LARGE = "Inputs here reach ±1000: subtract the largest logit before exponentiating (log-sum-exp)."


def _log_softmax_solution(z: torch.Tensor) -> torch.Tensor:
    """Stable log-softmax over the last dimension: z - max - log(sum(exp(z - max)))."""
    shifted = z - z.max(dim=-1, keepdim=True).values
    return shifted - shifted.exp().sum(dim=-1, keepdim=True).log()


ex_log_softmax = Exercise(
    name="log_softmax",
    reference=lambda z: torch.log_softmax(z, dim=-1),
    cases=[
        Case("one vector of 4 logits", (torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64),)),
        Case("a batch of 3 rows, 5 classes", (torch.randn(3, 5, generator=_gen, dtype=torch.float64),)),
        Case("equal logits", (torch.zeros(2, 3, dtype=torch.float64),)),
        Case("large logits (±1000)", (torch.tensor([[1000.0, -1000.0, 999.0], [-1000.0, -1001.0, -999.0]],
                                                   dtype=torch.float64),), nonfinite_hint=_LARGE),
        Case("float32 input", (torch.randn(4, 6, generator=_gen),)),
    ],
    hints=[
        "log softmax(z)_k = z_k - log(sum_j exp(z_j)); compute the second term once per row "
        "with keepdim=True so it broadcasts.",
        "Adding a constant c to every logit of a row does not change the softmax. "
        "Choose c = -max_j z_j so the largest exponent is exp(0) = 1.",
    ],
    solution=_log_softmax_solution,
    rtol=1e-5,
)


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
)

__all__ = ["ex_log_softmax", "ex_bce_with_logits"]
