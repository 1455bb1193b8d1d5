"""Checkers of the generalisation chapter: model solutions pass, typical mistakes fail with their own message."""
import numpy as np
import torch

from nbutils.exercises.ch09_generalization import ex_closest_interpolant, ex_gram_from_jacobians, ex_ridge_dual

# -- the interpolant closest to a start -----------------------------------------------------------


def test_closest_model_solution_passes():
    result = ex_closest_interpolant.check(ex_closest_interpolant.model_solution)
    assert result.passed, result.message


def test_closest_cholesky_solve_also_passes():
    def closest_interpolant(features, targets, start):  # another right way: a Cholesky solve of the Gram matrix
        chol = torch.linalg.cholesky(features @ features.T)
        residual = targets - features @ start
        rhs = residual if residual.dim() == 2 else residual[:, None]
        a = torch.cholesky_solve(rhs, chol)
        return start + (features.T @ a).reshape(start.shape)

    result = ex_closest_interpolant.check(closest_interpolant)
    assert result.passed, result.message


def test_closest_pinv_is_refused():
    def closest_interpolant(features, targets, start):
        pinv = torch.linalg.pinv(features)
        return start + pinv @ (targets - features @ start)

    result = ex_closest_interpolant.check(closest_interpolant)
    assert result.status == "forbidden" and "torch.linalg.pinv" in result.message


def test_closest_lstsq_is_refused():
    def closest_interpolant(features, targets, start):
        return start + torch.linalg.lstsq(features, targets - features @ start).solution

    result = ex_closest_interpolant.check(closest_interpolant)
    assert result.status == "forbidden" and "lstsq" in result.message


def test_closest_numpy_pinv_is_refused():
    def closest_interpolant(features, targets, start):  # escapes to NumPy through Tensor.numpy
        pinv = torch.from_numpy(np.linalg.pinv(features.numpy())).to(features.dtype)
        return start + pinv @ (targets - features @ start)

    result = ex_closest_interpolant.check(closest_interpolant)
    assert result.status == "forbidden" and "torch.Tensor.numpy" in result.message
    assert "NumPy" in result.message


def test_closest_numpy_asarray_is_refused():
    def closest_interpolant(features, targets, start):  # escapes through np.asarray (Tensor.__array__)
        pinv = torch.from_numpy(np.linalg.pinv(np.asarray(features))).to(features.dtype)
        return start + pinv @ (targets - features @ start)

    result = ex_closest_interpolant.check(closest_interpolant)
    assert result.status == "forbidden" and "torch.Tensor.__array__" in result.message


def test_closest_tolist_is_refused():
    def closest_interpolant(features, targets, start):
        pinv = torch.tensor(np.linalg.pinv(np.array(features.tolist())), dtype=features.dtype)
        return start + pinv @ (targets - features @ start)

    result = ex_closest_interpolant.check(closest_interpolant)
    assert result.status == "forbidden" and "torch.Tensor.tolist" in result.message


def test_closest_ignoring_start_is_named():
    def closest_interpolant(features, targets, start):
        return features.T @ torch.linalg.solve(features @ features.T, targets)

    result = ex_closest_interpolant.check(closest_interpolant)
    assert not result.passed and "limit from zero" in result.message


def test_closest_adding_whole_start_is_named():
    def closest_interpolant(features, targets, start):
        return start + features.T @ torch.linalg.solve(features @ features.T, targets)

    result = ex_closest_interpolant.check(closest_interpolant)
    assert not result.passed and "outside the row space survives" in result.message


def test_closest_loop_over_examples_is_refused():
    def closest_interpolant(features, targets, start):
        gram = torch.stack([features @ row for row in features])  # one row at a time
        return start + features.T @ torch.linalg.solve(gram, targets - features @ start)

    result = ex_closest_interpolant.check(closest_interpolant)
    assert result.status == "python_loop", result.message


def test_closest_float32_kept():
    def closest_interpolant(features, targets, start):
        f, w0 = features.double(), start.double()
        return w0 + f.T @ torch.linalg.solve(f @ f.T, targets.double() - f @ w0)

    result = ex_closest_interpolant.check(closest_interpolant)
    assert result.status == "wrong_dtype" and "float32" in result.message


def test_closest_stub_is_not_attempted():
    def closest_interpolant(features, targets, start): ...

    assert ex_closest_interpolant.check(closest_interpolant).status == "not_attempted"


# -- the tangent-kernel Gram matrix ---------------------------------------------------------------


def test_ntk_gram_model_solution_passes():
    result = ex_gram_from_jacobians.check(ex_gram_from_jacobians.model_solution)
    assert result.passed, result.message


def test_ntk_gram_einsum_also_passes():
    def gram_from_jacobians(jacobians):
        return sum(torch.einsum("n...,m...->nm", j, j) for j in jacobians.values())

    result = ex_gram_from_jacobians.check(gram_from_jacobians)
    assert result.passed, result.message


def test_ntk_gram_scaling_the_jacobians_in_place_is_refused():
    def gram_from_jacobians(jacobians):
        total = 0
        for jac in jacobians.values():
            flat = jac.reshape(jac.shape[0], -1)  # a view: the in-place product changes the learner's dict
            total = total + flat @ flat.T
            flat.mul_(0)
        return total

    result = ex_gram_from_jacobians.check(gram_from_jacobians)
    assert result.status == "mutated_input" and "changed its input" in result.message


def test_ntk_gram_float32_kept():
    dtypes = {j.dtype for case in ex_gram_from_jacobians.cases for j in case.args[0].values()}
    assert dtypes == {torch.float32, torch.float64}

    def gram_from_jacobians(jacobians):
        return sum((j.reshape(j.shape[0], -1) @ j.reshape(j.shape[0], -1).T).double() for j in jacobians.values())

    assert ex_gram_from_jacobians.check(gram_from_jacobians).status == "wrong_dtype"


def test_ntk_gram_first_tensor_only_is_named():
    def gram_from_jacobians(jacobians):
        j = next(iter(jacobians.values())).flatten(1)
        return j @ j.T

    result = ex_gram_from_jacobians.check(gram_from_jacobians)
    assert not result.passed and "all parameter tensors" in result.message


def test_ntk_gram_mean_is_named():
    def gram_from_jacobians(jacobians):
        total = sum(j.flatten(1) @ j.flatten(1).T for j in jacobians.values())
        return total / sum(j[0].numel() for j in jacobians.values())

    result = ex_gram_from_jacobians.check(gram_from_jacobians)
    assert not result.passed and "not a mean" in result.message


def test_ntk_gram_parameter_space_product_fails_on_shape():
    def gram_from_jacobians(jacobians):
        g = next(iter(jacobians.values())).flatten(1)
        return g.T @ g

    result = ex_gram_from_jacobians.check(gram_from_jacobians)
    assert result.status == "wrong_shape", result.message


def test_ntk_gram_loop_over_examples_is_refused():
    def gram_from_jacobians(jacobians):
        flats = [j.flatten(1) for j in jacobians.values()]
        n = len(flats[0])
        return torch.stack([torch.stack([sum(g[a] @ g[b] for g in flats) for b in range(n)]) for a in range(n)])

    result = ex_gram_from_jacobians.check(gram_from_jacobians)
    assert result.status == "python_loop" and "examples" in result.message


def test_ntk_gram_concatenating_g_is_refused():
    def gram_from_jacobians(jacobians):  # the page's ntk_gram: forms G first
        g = torch.cat([j.reshape(len(j), -1) for j in jacobians.values()], 1)
        return g @ g.T

    result = ex_gram_from_jacobians.check(gram_from_jacobians)
    assert result.status == "forbidden" and "torch.cat" in result.message


def test_ntk_gram_stub_is_not_attempted():
    def gram_from_jacobians(jacobians): ...

    assert ex_gram_from_jacobians.check(gram_from_jacobians).status == "not_attempted"


# -- ridge in the N x N form ----------------------------------------------------------------------


def test_ridge_dual_model_solution_passes():
    result = ex_ridge_dual.check(ex_ridge_dual.model_solution)
    assert result.passed, result.message


def test_ridge_dual_primal_form_exceeds_memory_bound():
    def ridge_dual(features, targets, lam):
        n, p = features.shape
        eye = torch.eye(p, dtype=features.dtype)
        return torch.linalg.solve(features.T @ features + n * lam * eye, features.T @ targets)

    result = ex_ridge_dual.check(ridge_dual)
    assert result.status == "memory" and "(256, 256)" in result.message


def test_ridge_dual_without_n_is_named():
    def ridge_dual(features, targets, lam):
        eye = torch.eye(features.shape[0], dtype=features.dtype)
        return features.T @ torch.linalg.solve(features @ features.T + lam * eye, targets)

    result = ex_ridge_dual.check(ridge_dual)
    assert not result.passed and "N * lam" in result.message


def test_ridge_dual_without_penalty_is_named():
    def ridge_dual(features, targets, lam):
        return features.T @ torch.linalg.solve(features @ features.T, targets)

    result = ex_ridge_dual.check(ridge_dual)
    assert not result.passed and "lam is missing" in result.message


def test_ridge_dual_numpy_solve_is_refused():
    def ridge_dual(features, targets, lam):  # a P x P solve hidden in NumPy
        f, t = features.numpy(), targets.numpy()
        n, p = f.shape
        w = np.linalg.solve(f.T @ f + n * lam * np.eye(p), f.T @ t)
        return torch.from_numpy(w).to(features.dtype)

    result = ex_ridge_dual.check(ridge_dual)
    assert result.status == "forbidden" and "NumPy" in result.message


def test_ridge_dual_stub_is_not_attempted():
    def ridge_dual(features, targets, lam): ...

    assert ex_ridge_dual.check(ridge_dual).status == "not_attempted"


# -- escapes closed in all three exercises: NumPy through DLPack, other spellings of an inverse ----


def _dlpack_closest(features, targets, start):  # np.from_dlpack goes through Tensor.__dlpack__
    f, t, s = (np.from_dlpack(x) for x in (features, targets, start))
    pinv = np.linalg.pinv(f)
    return torch.from_numpy(pinv @ t + s - pinv @ (f @ s)).to(features.dtype)


def _dlpack_gram(jacobians):
    g = np.concatenate([np.from_dlpack(j).reshape(j.shape[0], -1) for j in jacobians.values()], 1)
    return torch.from_numpy(g @ g.T)


def _dlpack_ridge(features, targets, lam):
    f, t = np.from_dlpack(features).astype(np.float64), np.from_dlpack(targets).astype(np.float64)
    n, p = f.shape
    return torch.from_numpy(np.linalg.solve(f.T @ f + n * lam * np.eye(p), f.T @ t)).to(features.dtype)


def test_numpy_through_dlpack_is_refused_in_every_exercise():
    for exercise, answer in ((ex_closest_interpolant, _dlpack_closest), (ex_gram_from_jacobians, _dlpack_gram),
                             (ex_ridge_dual, _dlpack_ridge)):
        result = exercise.check(answer)
        assert result.status == "forbidden", result.message
        assert "torch.Tensor.__dlpack__" in result.message and "NumPy" in result.message


def test_closest_matrix_power_minus_one_is_refused():
    def closest_interpolant(features, targets, start):
        inverse = torch.linalg.matrix_power(features @ features.T, -1)
        return start + features.T @ (inverse @ (targets - features @ start))

    result = ex_closest_interpolant.check(closest_interpolant)
    assert result.status == "forbidden", result.message
    assert "torch.linalg.matrix_power" in result.message and "inverse" in result.message


def test_closest_eig_is_refused():
    def closest_interpolant(features, targets, start):
        values, vectors = torch.linalg.eig(features @ features.T)
        values, vectors = values.real, vectors.real
        residual = targets - features @ start
        coeff = vectors.T @ residual
        coeff = coeff / (values if coeff.dim() == 1 else values[:, None])
        return start + features.T @ (vectors @ coeff)

    result = ex_closest_interpolant.check(closest_interpolant)
    assert result.status == "forbidden" and "torch.linalg.eig" in result.message, result.message


def test_closest_eigvals_is_refused():
    def closest_interpolant(features, targets, start):  # checks the conditioning first, then solves
        gram = features @ features.T
        assert torch.linalg.eigvals(gram).real.min() > 0
        return start + features.T @ torch.linalg.solve(gram, targets - features @ start)

    result = ex_closest_interpolant.check(closest_interpolant)
    assert result.status == "forbidden" and "torch.linalg.eigvals" in result.message, result.message


def test_closest_parameter_space_solve_exceeds_memory_bound():
    def closest_interpolant(features, targets, start):  # a near-ridge P x P solve
        f, t, s = features.double(), targets.double(), start.double()
        a = f.T @ f
        eye = torch.eye(f.shape[1], dtype=torch.float64)
        w = s + torch.linalg.solve(a + 1e-9 * torch.trace(a) / f.shape[1] * eye, f.T @ (t - f @ s))
        return w.to(features.dtype)

    result = ex_closest_interpolant.check(closest_interpolant)
    assert result.status == "memory", result.message
    assert "(30, 30)" in result.message and "allows 3" in result.message


def test_closest_case_with_many_more_features_than_examples():
    features = ex_closest_interpolant.cases[2].args[0]
    assert "200 features" in ex_closest_interpolant.cases[2].name
    assert features.shape[1] >= 50 * features.shape[0]


def test_closest_triangular_solves_also_pass():
    def closest_interpolant(features, targets, start):  # another right way: two triangular solves
        chol = torch.linalg.cholesky(features @ features.T)
        residual = targets - features @ start
        rhs = residual if residual.dim() == 2 else residual[:, None]
        half = torch.linalg.solve_triangular(chol, rhs, upper=False)
        a = torch.linalg.solve_triangular(chol.T, half, upper=True)
        return start + (features.T @ a).reshape(start.shape)

    result = ex_closest_interpolant.check(closest_interpolant)
    assert result.passed, result.message


# -- 9.2: G assembled without concatenation ------------------------------------------------------


def test_ntk_gram_filling_slices_of_g_exceeds_memory_bound():
    def gram_from_jacobians(jacobians):
        first = next(iter(jacobians.values()))
        n = first.shape[0]
        g = first.new_zeros(n, sum(j[0].numel() for j in jacobians.values()))
        offset = 0
        for jac in jacobians.values():
            size = jac[0].numel()
            g[:, offset:offset + size] = jac.reshape(n, -1)
            offset += size
        return g @ g.T

    result = ex_gram_from_jacobians.check(gram_from_jacobians)
    assert result.status == "memory", result.message
    assert "(1, 256)" in result.message and "32 parameter tensors" in result.message


def test_ntk_gram_padding_and_adding_exceeds_memory_bound():
    def gram_from_jacobians(jacobians):
        n = next(iter(jacobians.values())).shape[0]
        total_size = sum(j[0].numel() for j in jacobians.values())
        g, offset = 0, 0
        for jac in jacobians.values():
            size = jac[0].numel()
            g = g + torch.nn.functional.pad(jac.reshape(n, -1), (offset, total_size - offset - size))
            offset += size
        return g @ g.T

    result = ex_gram_from_jacobians.check(gram_from_jacobians)
    assert result.status == "memory" and "torch.nn.functional.pad" in result.message, result.message


def test_ntk_gram_broadcast_products_also_pass():
    def gram_from_jacobians(jacobians):  # another right way: (N, N, size) products, summed
        total = 0
        for jac in jacobians.values():
            flat = jac.reshape(jac.shape[0], -1)
            total = total + (flat[:, None, :] * flat[None, :, :]).sum(-1)
        return total

    result = ex_gram_from_jacobians.check(gram_from_jacobians)
    assert result.passed, result.message


# -- 9.3: the N x N system, not the thin SVD -----------------------------------------------------


def test_ridge_dual_thin_svd_is_refused():
    def ridge_dual(features, targets, lam):
        u, s, vh = torch.linalg.svd(features, full_matrices=False)
        factor = s / (s**2 + features.shape[0] * lam)
        ut = u.T @ targets
        return vh.T @ (factor[:, None] * ut if ut.dim() == 2 else factor * ut)

    result = ex_ridge_dual.check(ridge_dual)
    assert result.status == "forbidden", result.message
    assert "torch.linalg.svd" in result.message and "N x N linear system" in result.message


def test_ridge_dual_cholesky_of_the_dual_system_also_passes():
    def ridge_dual(features, targets, lam):  # another right way: Cholesky of the N x N system
        n = features.shape[0]
        system = features @ features.T + n * lam * torch.eye(n, dtype=features.dtype)
        rhs = targets if targets.dim() == 2 else targets[:, None]
        a = torch.cholesky_solve(rhs, torch.linalg.cholesky(system))
        return (features.T @ a).reshape((features.shape[1],) + targets.shape[1:])

    result = ex_ridge_dual.check(ridge_dual)
    assert result.passed, result.message
