"""Exercises of the chapter "Autoencoders".

The references are independent of the chapter's code: SciPy's
``scipy.linalg.subspace_angles`` for principal angles, ``F.linear``,
``F.relu`` and ``F.mse_loss`` for the denoising loss, and
``torch.distributions.kl_divergence`` between Bernoulli distributions,
differentiated by autograd, for the KL sparsity penalty. Each exercise names
the typical mistakes of its topic (bases not orthonormalised, a variance for a
standard deviation, the noisy input as the target, a reversed divergence)
without giving the answer away. The model solutions are what ``solution()``
shows.
"""
from __future__ import annotations

import numpy as np
import scipy.linalg
import torch
import torch.nn.functional as F

from nbutils.exercises.core import Case, Exercise, LoopFree, Mistake
from nbutils.exercises.recording import AUTOGRAD, LEAVING_TORCH

# -------------------------------------------------------- 1. principal angles


def _angles_reference(A, B):
    """SciPy's principal angles (it returns them largest first), ascending."""
    angles = scipy.linalg.subspace_angles(A.detach().double().cpu().numpy(),
                                          B.detach().double().cpu().numpy())
    return torch.from_numpy(np.sort(angles)).to(A.dtype)


def _angles_solution(A, B):
    """Orthonormal bases by QR; cosines for large angles, sines for small."""
    QA, _ = torch.linalg.qr(A)
    QB, _ = torch.linalg.qr(B)
    cos = torch.linalg.svdvals(QA.T @ QB).clamp(max=1.0)  # largest cos first
    sin = torch.linalg.svdvals(QB - QA @ (QA.T @ QB)).clamp(max=1.0)
    sin = sin.sort().values  # ascending, like the angles
    return torch.where(cos**2 >= 0.5, torch.arcsin(sin), torch.arccos(cos))


def _angles_raw_bases(A, B):
    cos = torch.linalg.svdvals(A.T @ B).clamp(-1.0, 1.0)
    return torch.arccos(cos)


def _angles_unit_columns(A, B):
    A = A / torch.linalg.norm(A, dim=0)
    B = B / torch.linalg.norm(B, dim=0)
    return _angles_raw_bases(A, B)


def _angles_degrees(A, B):
    return torch.rad2deg(_angles_reference(A, B))


def _angles_descending(A, B):
    return _angles_reference(A, B).flip(0)


def _angles_cosines(A, B):
    return torch.cos(_angles_reference(A, B))


def _subspaces(D: int, p: int, seed: int) -> tuple:
    gen = torch.Generator().manual_seed(seed)
    A = torch.randn(D, p, generator=gen, dtype=torch.float64)
    B = torch.randn(D, p, generator=gen, dtype=torch.float64)
    return A, B


def _badly_scaled() -> tuple:
    A, B = _subspaces(12, 3, seed=2)
    scales = torch.tensor([1e-3, 1.0, 1e3], dtype=torch.float64)
    mix = torch.tensor([[1.0, 2.0, 0.5], [0.0, 1.0, 3.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
    return A @ mix * scales, B * scales.flip(0)


def _nearly_equal() -> tuple:
    gen = torch.Generator().manual_seed(3)
    A = torch.randn(10, 3, generator=gen, dtype=torch.float64)
    tilt = torch.randn(10, 3, generator=gen, dtype=torch.float64)
    mix = torch.tensor([[2.0, 1.0, 0.0], [0.0, 1.0, 1.0], [1.0, 0.0, 1.0]], dtype=torch.float64)
    return A, (A + 1e-7 * tilt) @ mix


def _nearly_orthogonal() -> tuple:
    gen = torch.Generator().manual_seed(4)
    Q, _ = torch.linalg.qr(torch.randn(8, 4, generator=gen, dtype=torch.float64))
    return Q[:, :2], Q[:, 2:] + 1e-6 * Q[:, :2] @ torch.tensor([[1.0, 0.5], [0.0, 2.0]],
                                                                 dtype=torch.float64)


def _angles_loop_args(n: int) -> tuple:
    return _subspaces(2 * n, n, seed=n)


ex_principal_angles = Exercise(
    name="principal_angles",
    reference=_angles_reference,
    cases=[
        Case("two random planes in R^5", _subspaces(5, 2, seed=0)),
        Case("two random 4-dim subspaces of R^10", _subspaces(10, 4, seed=1)),
        Case("two lines (q = 1) in R^6", _subspaces(6, 1, seed=5)),
        Case("bases with columns of lengths 1e-3 to 1e3, not orthogonal", _badly_scaled()),
        Case("nearly equal subspaces (angles about 1e-7)", _nearly_equal(),
             nonfinite_hint="A cosine a little above 1 from round-off makes arccos NaN."),
        Case("nearly orthogonal subspaces (angles near pi/2)", _nearly_orthogonal()),
    ],
    hints=[
        "First replace each basis by an orthonormal basis of the same column "
        "space (torch.linalg.qr). The cosines of the angles are then the "
        "singular values of QA^T QB, largest cosine for the smallest angle.",
        "arccos loses small angles: cos(1e-7) is 1 to within round-off. The "
        "sines of the angles are the singular values of QB - QA (QA^T QB), "
        "which stay accurate for small angles; use arcsin of the sines where "
        "the angle is small (cos^2 >= 1/2) and arccos of the cosines elsewhere.",
    ],
    solution=_angles_solution,
    rtol=1e-6,
    mistakes=[
        Mistake(_angles_raw_bases,
                "the singular values of A^T B are cosines only when both bases "
                "are orthonormal; orthonormalise A and B first."),
        Mistake(_angles_unit_columns,
                "unit-length columns are not enough: the columns must also be "
                "orthogonal to each other (an orthonormal basis)."),
        Mistake(_angles_degrees, "return the angles in radians, not degrees."),
        Mistake(_angles_descending,
                "return the angles in increasing order, smallest first."),
        Mistake(_angles_cosines,
                "these are the cosines of the angles; return the angles."),
    ],
    # "no SciPy, no conversion to NumPy": every way out of torch is refused, implicit (NumPy or SciPy on a tensor
    # calls Tensor.__array__) or explicit (.numpy(), .tolist(), DLPack), and torch.as_tensor on what came back.
    forbidden={
        name: "your answer calls {name}, which hands the tensors to NumPy (for "
              "SciPy?) or to Python; compute the angles with torch operations."
        for name in (*LEAVING_TORCH, "torch.as_tensor")
    },
    loop_free=LoopFree(_angles_loop_args, sizes=(2, 8), what="the columns"),
)


# -------------------------------------------------------- 2. the denoising loss


def _denoise_reference(x, xi, noise_std, W1, b1, W2, b2):
    """F.mse_loss with reduction='sum', divided by the number of examples."""
    x_tilde = x + noise_std * xi
    x_hat = F.linear(F.relu(F.linear(x_tilde, W1, b1)), W2, b2)
    return F.mse_loss(x_hat, x, reduction="sum") / x.shape[0]


def _denoise_solution(x, xi, noise_std, W1, b1, W2, b2):
    """Corrupt, encode, decode, and compare with the clean input."""
    x_tilde = x + noise_std * xi
    h = torch.relu(x_tilde @ W1.T + b1)
    x_hat = h @ W2.T + b2
    return ((x - x_hat) ** 2).sum(dim=1).mean()


def _reconstruct(x_in, W1, b1, W2, b2):
    return torch.relu(x_in @ W1.T + b1) @ W2.T + b2


def _denoise_noisy_target(x, xi, noise_std, W1, b1, W2, b2):
    x_tilde = x + noise_std * xi
    return ((x_tilde - _reconstruct(x_tilde, W1, b1, W2, b2)) ** 2).sum(1).mean()


def _denoise_variance(x, xi, noise_std, W1, b1, W2, b2):
    x_in = x + noise_std**2 * xi
    return ((x - _reconstruct(x_in, W1, b1, W2, b2)) ** 2).sum(1).mean()


def _denoise_sqrt(x, xi, noise_std, W1, b1, W2, b2):
    x_in = x + noise_std**0.5 * xi
    return ((x - _reconstruct(x_in, W1, b1, W2, b2)) ** 2).sum(1).mean()


def _denoise_mean_over_pixels(x, xi, noise_std, W1, b1, W2, b2):
    x_in = x + noise_std * xi
    return ((x - _reconstruct(x_in, W1, b1, W2, b2)) ** 2).mean()


def _denoise_no_noise(x, xi, noise_std, W1, b1, W2, b2):
    return ((x - _reconstruct(x, W1, b1, W2, b2)) ** 2).sum(1).mean()


def _denoise_args(n: int, d: int = 6, q: int = 4, noise_std: float = 0.3,
                  dtype: torch.dtype = torch.float64, seed: int = 0) -> tuple:
    gen = torch.Generator().manual_seed(1000 * seed + n)

    def randn(*shape):
        return torch.randn(*shape, generator=gen, dtype=torch.float64).to(dtype)

    return (randn(n, d), randn(n, d), noise_std, randn(q, d), randn(q), randn(d, q), randn(d))


ex_denoising_loss = Exercise(
    name="denoising_loss",
    reference=_denoise_reference,
    cases=[
        Case("8 examples of 6 inputs, code of 4, noise_std 0.3", _denoise_args(8)),
        Case("one example", _denoise_args(1, seed=1)),
        Case("a wide code (q = 10 > D = 5), noise_std 0.5",
             _denoise_args(16, d=5, q=10, noise_std=0.5, seed=2)),
        Case("noise_std 2.0", _denoise_args(8, noise_std=2.0, seed=3)),
        Case("noise_std 0 (a plain autoencoder)", _denoise_args(8, noise_std=0.0, seed=4)),
        Case("float32 input", _denoise_args(12, dtype=torch.float32, seed=5)),
    ],
    hints=[
        "Three steps: corrupt (x_tilde = x + noise_std * xi), encode and decode "
        "x_tilde with the nn.Linear convention (x @ W.T + b), then compare the "
        "reconstruction with an input.",
        "The target is the clean x, not x_tilde. Sum the squared errors over "
        "the D inputs of each example, then average over the N examples.",
    ],
    solution=_denoise_solution,
    rtol=1e-5,
    mistakes=[
        Mistake(_denoise_noisy_target,
                "you compared the reconstruction with the noisy input; the "
                "target of a denoising autoencoder is the clean x."),
        Mistake(_denoise_variance,
                "noise_std is a standard deviation: the noise is noise_std * xi, "
                "not noise_std**2 * xi."),
        Mistake(_denoise_sqrt,
                "noise_std is already the standard deviation; do not take its "
                "square root."),
        Mistake(_denoise_mean_over_pixels,
                "the loss sums the squared errors over the inputs of an example "
                "and averages only over the examples (the mean over all entries "
                "divides by D too)."),
        Mistake(_denoise_no_noise,
                "the encoder must see the corrupted input x + noise_std * xi."),
    ],
    loop_free=LoopFree(_denoise_args, sizes=(4, 16), what="the examples"),
)


# -------------------------------------------------------- 3. the KL sparsity penalty


def _kl_reference(H, rho):
    """Bernoulli KL by torch.distributions, its gradient by autograd."""
    H = H.detach().clone().requires_grad_(True)
    target = torch.distributions.Bernoulli(probs=torch.full_like(H[0], rho))
    model = torch.distributions.Bernoulli(probs=H.mean(dim=0))
    penalty = torch.distributions.kl_divergence(target, model).sum()
    (grad,) = torch.autograd.grad(penalty, H)
    return penalty.detach(), grad


def _kl_solution(H, rho):
    """R = sum_j KL(rho || rho_hat_j), rho_hat_j the mean of column j;

    dR/dh_nj = (-rho / rho_hat_j + (1 - rho) / (1 - rho_hat_j)) / N.
    """
    rho_hat = H.mean(dim=0)
    penalty = (rho * torch.log(rho / rho_hat)
               + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))).sum()
    grad_rho_hat = -rho / rho_hat + (1 - rho) / (1 - rho_hat)
    grad = (grad_rho_hat / H.shape[0]).expand_as(H).clone()
    return penalty, grad


def _kl_reversed(H, rho):
    p = H.mean(dim=0)
    penalty = (p * torch.log(p / rho) + (1 - p) * torch.log((1 - p) / (1 - rho))).sum()
    grad = (torch.log(p / rho) - torch.log((1 - p) / (1 - rho))) / H.shape[0]
    return penalty, grad.expand_as(H).clone()


def _kl_no_mean_factor(H, rho):
    penalty, grad = _kl_solution(H, rho)
    return penalty, grad * H.shape[0]


def _kl_per_example(H, rho):
    penalty = (rho * torch.log(rho / H) + (1 - rho) * torch.log((1 - rho) / (1 - H))).sum(1).mean()
    grad = (-rho / H + (1 - rho) / (1 - H)) / H.shape[0]
    return penalty, grad


def _kl_args(n: int, q: int = 5, rho: float = 0.05, dtype: torch.dtype = torch.float64,
             seed: int = 0, shift: float = -2.0) -> tuple:
    gen = torch.Generator().manual_seed(1000 * seed + n)
    z = torch.randn(n, q, generator=gen, dtype=torch.float64) + shift
    return torch.sigmoid(z).to(dtype), rho


_near_target = list(_kl_args(64, q=6, rho=0.1, seed=3, shift=0.0))
_near_target[0] = (0.1 + 0.02 * (_near_target[0] - 0.5)).clamp(0.01, 0.99)

ex_kl_sparsity = Exercise(
    name="kl_sparsity",
    reference=_kl_reference,
    result_names=("penalty", "grad_H"),
    cases=[
        Case("8 examples, 5 units, rho = 0.05", _kl_args(8)),
        Case("one example", _kl_args(1, seed=1)),
        Case("32 examples, 16 units, rho = 0.2", _kl_args(32, q=16, rho=0.2, seed=2)),
        Case("mean activations close to rho = 0.1", tuple(_near_target)),
        Case("busy units (mean activation near 0.9), rho = 0.05",
             _kl_args(16, q=4, seed=4, shift=2.5)),
        Case("float32 input", _kl_args(16, q=8, dtype=torch.float32, seed=5)),
    ],
    hints=[
        "rho_hat = H.mean(dim=0) has one entry per unit. The penalty is "
        "sum_j [rho log(rho / rho_hat_j) + (1 - rho) log((1 - rho) / "
        "(1 - rho_hat_j))]. Differentiate it with respect to rho_hat_j first.",
        "dR/drho_hat_j = -rho / rho_hat_j + (1 - rho) / (1 - rho_hat_j), and "
        "drho_hat_j / dh_nj = 1 / N for every example n: broadcast the (q,) "
        "vector over the N rows.",
    ],
    solution=_kl_solution,
    rtol=1e-5,
    mistakes=[
        Mistake(_kl_reversed,
                "the divergence is reversed: the penalty is KL(rho || rho_hat), "
                "with the target rho as the first distribution."),
        Mistake(_kl_no_mean_factor,
                "rho_hat_j is a mean over the N examples, so each h_nj moves it "
                "by 1/N: the gradient has that factor."),
        Mistake(_kl_per_example,
                "the penalty compares rho with each unit's *mean* activation "
                "over the batch, not with every single activation."),
    ],
    forbidden={name: "your answer calls {name}; derive the gradient by hand." for name in AUTOGRAD}
    | {"torch.distributions.kl_divergence":
       "your answer calls {name}; write the Bernoulli divergence out."},
    loop_free=(LoopFree(lambda n: _kl_args(n), sizes=(4, 16), what="the examples"),
               LoopFree(lambda n: _kl_args(8, q=n), sizes=(2, 8), what="the units")),
)

__all__ = ["ex_denoising_loss", "ex_kl_sparsity", "ex_principal_angles"]
