"""Checkers of the autoencoder chapter: model solutions pass, typical mistakes fail with their own message."""
import numpy as np
import scipy.linalg
import torch
import torch.nn.functional as F

from nbutils.exercises.ch11_autoencoders import ex_denoising_loss, ex_kl_sparsity, ex_principal_angles

# -- principal angles ------------------------------------------------------------------------------


def _orthonormal(A, B):
    return torch.linalg.qr(A)[0], torch.linalg.qr(B)[0]


def test_principal_angles_model_solution_passes():
    result = ex_principal_angles.check(ex_principal_angles.model_solution)
    assert result.passed, result.message


def test_principal_angles_from_sines_only_also_passes():
    def principal_angles(A, B):  # another right way: SVD bases, sines everywhere
        QA = torch.linalg.svd(A, full_matrices=False)[0]
        QB = torch.linalg.svd(B, full_matrices=False)[0]
        sines = torch.linalg.svdvals(QB - QA @ (QA.T @ QB)).clamp(max=1.0)
        return torch.arcsin(sines).sort().values

    result = ex_principal_angles.check(principal_angles)
    assert result.passed, result.message


def test_principal_angles_arccos_fails_on_nearly_equal_subspaces():
    def principal_angles(A, B):
        QA, QB = _orthonormal(A, B)
        return torch.arccos(torch.linalg.svdvals(QA.T @ QB).clamp(-1.0, 1.0))

    result = ex_principal_angles.check(principal_angles)
    assert not result.passed and "nearly equal" in result.message


def test_principal_angles_raw_bases_are_named():
    def principal_angles(A, B):
        return torch.arccos(torch.linalg.svdvals(A.T @ B).clamp(-1.0, 1.0))

    result = ex_principal_angles.check(principal_angles)
    assert not result.passed and "orthonormalise" in result.message


def test_principal_angles_unit_columns_are_named():
    def principal_angles(A, B):
        A, B = A / A.norm(dim=0), B / B.norm(dim=0)
        return torch.arccos(torch.linalg.svdvals(A.T @ B).clamp(-1.0, 1.0))

    result = ex_principal_angles.check(principal_angles)
    assert not result.passed and "orthogonal to each other" in result.message


def test_principal_angles_descending_order_is_named():
    def principal_angles(A, B):
        return ex_principal_angles.model_solution(A, B).flip(0)

    result = ex_principal_angles.check(principal_angles)
    assert not result.passed and "increasing order" in result.message


def test_principal_angles_degrees_are_named():
    def principal_angles(A, B):
        return torch.rad2deg(ex_principal_angles.model_solution(A, B))

    result = ex_principal_angles.check(principal_angles)
    assert not result.passed and "radians" in result.message


def test_principal_angles_scipy_on_tensors_is_refused():
    def principal_angles(A, B):
        return torch.from_numpy(np.sort(scipy.linalg.subspace_angles(A, B)))

    result = ex_principal_angles.check(principal_angles)
    assert result.status == "forbidden" and "NumPy" in result.message


def test_principal_angles_scipy_through_asarray_is_refused():
    def principal_angles(A, B):
        angles = scipy.linalg.subspace_angles(np.asarray(A), np.asarray(B))
        return torch.as_tensor(np.sort(angles))

    result = ex_principal_angles.check(principal_angles)
    assert result.status == "forbidden"


def test_principal_angles_scipy_through_explicit_numpy_is_refused():
    def principal_angles(A, B):
        angles = scipy.linalg.subspace_angles(A.detach().numpy(), B.numpy())
        return torch.from_numpy(np.sort(angles))

    result = ex_principal_angles.check(principal_angles)
    assert result.status == "forbidden" and "torch.Tensor.numpy" in result.message


def test_principal_angles_through_tolist_is_refused():
    def principal_angles(A, B):
        a, b = np.array(A.tolist()), np.array(B.tolist())
        return torch.tensor(np.sort(scipy.linalg.subspace_angles(a, b)))

    result = ex_principal_angles.check(principal_angles)
    assert result.status == "forbidden" and "tolist" in result.message


def test_principal_angles_arcsin_everywhere_still_passes():
    """A right answer written another way: sines for every angle (no cosine switch), QR instead of an SVD basis."""

    def principal_angles(A, B):
        QA, QB = torch.linalg.qr(A)[0], torch.linalg.qr(B)[0]
        sines = torch.linalg.svdvals(QB - QA @ (QA.T @ QB)).clamp(max=1.0)
        return torch.arcsin(sines).sort().values

    assert ex_principal_angles.check(principal_angles).passed


def test_principal_angles_loop_over_columns_is_refused():
    def principal_angles(A, B):
        QA, QB = _orthonormal(A, B)
        residual = QB - QA @ (QA.T @ QB)
        sines = torch.linalg.svdvals(residual).clamp(max=1.0).sort().values
        cosines = torch.linalg.svdvals(QA.T @ QB).clamp(max=1.0)
        angles = [torch.arcsin(s) if c * c >= 0.5 else torch.arccos(c)
                  for s, c in zip(sines, cosines, strict=True)]
        return torch.stack(angles)

    result = ex_principal_angles.check(principal_angles)
    assert result.status == "python_loop", result.message


def test_principal_angles_stub_is_not_attempted():
    def principal_angles(A, B):
        ...  # your code here

    assert ex_principal_angles.check(principal_angles).status == "not_attempted"


# -- the denoising loss ----------------------------------------------------------------------------


def test_denoising_loss_model_solution_passes():
    result = ex_denoising_loss.check(ex_denoising_loss.model_solution)
    assert result.passed, result.message


def test_denoising_loss_written_with_functional_passes():
    def denoising_loss(x, xi, noise_std, W1, b1, W2, b2):
        x_hat = F.linear(F.relu(F.linear(x + noise_std * xi, W1, b1)), W2, b2)
        return F.mse_loss(x_hat, x, reduction="sum") / len(x)

    assert ex_denoising_loss.check(denoising_loss).passed


def test_denoising_loss_noisy_target_is_named():
    def denoising_loss(x, xi, noise_std, W1, b1, W2, b2):
        x_tilde = x + noise_std * xi
        x_hat = torch.relu(x_tilde @ W1.T + b1) @ W2.T + b2
        return ((x_tilde - x_hat) ** 2).sum(1).mean()

    result = ex_denoising_loss.check(denoising_loss)
    assert not result.passed and "clean x" in result.message


def test_denoising_loss_variance_for_std_is_named():
    def denoising_loss(x, xi, noise_std, W1, b1, W2, b2):
        x_hat = torch.relu((x + noise_std**2 * xi) @ W1.T + b1) @ W2.T + b2
        return ((x - x_hat) ** 2).sum(1).mean()

    result = ex_denoising_loss.check(denoising_loss)
    assert not result.passed and "standard deviation" in result.message


def test_denoising_loss_mean_over_all_entries_is_named():
    def denoising_loss(x, xi, noise_std, W1, b1, W2, b2):
        x_hat = F.linear(F.relu(F.linear(x + noise_std * xi, W1, b1)), W2, b2)
        return F.mse_loss(x_hat, x)

    result = ex_denoising_loss.check(denoising_loss)
    assert not result.passed and "divides by D" in result.message


def test_denoising_loss_loop_over_examples_is_refused():
    def denoising_loss(x, xi, noise_std, W1, b1, W2, b2):
        total = 0
        for row, noise in zip(x, xi, strict=True):
            x_hat = torch.relu(W1 @ (row + noise_std * noise) + b1) @ W2.T + b2
            total = total + ((row - x_hat) ** 2).sum()
        return total / len(x)

    result = ex_denoising_loss.check(denoising_loss)
    assert result.status == "python_loop", result.message


def test_denoising_loss_float64_for_float32_input_is_a_dtype_error():
    def denoising_loss(x, xi, noise_std, W1, b1, W2, b2):
        args = (t.double() for t in (x, xi, W1, b1, W2, b2))
        x, xi, W1, b1, W2, b2 = args
        return ex_denoising_loss.model_solution(x, xi, noise_std, W1, b1, W2, b2)

    result = ex_denoising_loss.check(denoising_loss)
    assert result.status == "wrong_dtype" and "float32" in result.message


def test_denoising_loss_stub_is_not_attempted():
    def denoising_loss(x, xi, noise_std, W1, b1, W2, b2):
        ...  # your code here

    assert ex_denoising_loss.check(denoising_loss).status == "not_attempted"


# -- the KL sparsity penalty -----------------------------------------------------------------------


def test_kl_sparsity_model_solution_passes():
    result = ex_kl_sparsity.check(ex_kl_sparsity.model_solution)
    assert result.passed, result.message


def test_kl_sparsity_written_with_xlogy_passes():
    def kl_sparsity(H, rho):
        p = H.mean(0)
        rho_t = torch.full_like(p, rho)
        penalty = (torch.xlogy(rho_t, rho_t / p) + torch.xlogy(1 - rho_t, (1 - rho_t) / (1 - p))).sum()
        grad = ((1 - rho) / (1 - p) - rho / p).div(len(H)).repeat(len(H), 1)
        return penalty, grad

    result = ex_kl_sparsity.check(kl_sparsity)
    assert result.passed, result.message


def test_kl_sparsity_reversed_divergence_is_named():
    def kl_sparsity(H, rho):
        p = H.mean(0)
        penalty = (p * torch.log(p / rho) + (1 - p) * torch.log((1 - p) / (1 - rho))).sum()
        grad = (torch.log(p / rho) - torch.log((1 - p) / (1 - rho))) / len(H)
        return penalty, grad.expand_as(H).clone()

    result = ex_kl_sparsity.check(kl_sparsity)
    assert not result.passed and "reversed" in result.message


def test_kl_sparsity_missing_one_over_n_is_named():
    def kl_sparsity(H, rho):
        p = H.mean(0)
        penalty = (rho * torch.log(rho / p) + (1 - rho) * torch.log((1 - rho) / (1 - p))).sum()
        return penalty, (-rho / p + (1 - rho) / (1 - p)).expand_as(H).clone()

    result = ex_kl_sparsity.check(kl_sparsity)
    assert not result.passed and "1/N" in result.message


def test_kl_sparsity_per_example_divergence_is_named():
    def kl_sparsity(H, rho):
        penalty = (rho * torch.log(rho / H) + (1 - rho) * torch.log((1 - rho) / (1 - H))).sum(1).mean()
        return penalty, (-rho / H + (1 - rho) / (1 - H)) / len(H)

    result = ex_kl_sparsity.check(kl_sparsity)
    assert not result.passed and "mean" in result.message


def test_kl_sparsity_autograd_is_refused():
    def kl_sparsity(H, rho):
        H = H.detach().requires_grad_()
        p = H.mean(0)
        penalty = (rho * torch.log(rho / p) + (1 - rho) * torch.log((1 - rho) / (1 - p))).sum()
        (grad,) = torch.autograd.grad(penalty, H)
        return penalty.detach(), grad

    result = ex_kl_sparsity.check(kl_sparsity)
    assert result.status == "forbidden" and "torch.autograd.grad" in result.message


def test_kl_sparsity_loop_over_units_is_refused():
    def kl_sparsity(H, rho):
        parts = [ex_kl_sparsity.model_solution(H[:, [j]], rho) for j in range(H.shape[1])]
        return sum(p for p, _ in parts), torch.cat([g for _, g in parts], dim=1)

    result = ex_kl_sparsity.check(kl_sparsity)
    assert result.status == "python_loop" and "units" in result.message


def test_kl_sparsity_stub_is_not_attempted():
    def kl_sparsity(H, rho):
        ...  # your code here

    assert ex_kl_sparsity.check(kl_sparsity).status == "not_attempted"


# -- what learners read ----------------------------------------------------------------------------


def test_model_solutions_print_within_80_columns(capsys):
    for exercise in (ex_principal_angles, ex_denoising_loss, ex_kl_sparsity):
        exercise.solution()
        lines = capsys.readouterr().out.splitlines()
        too_long = [line for line in lines if len(line) > 80]
        assert not too_long, f"{exercise.name}: solution lines over 80 columns: {too_long}"
