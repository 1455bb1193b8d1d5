"""Checkers of the generalisation chapter: model solutions pass, typical mistakes fail with their own message."""
import torch

from nbutils.exercises.ch09_generalization import ex_gram_from_jacobians, ex_min_norm_solution, ex_ridge_dual

# -- the minimum-norm interpolant -----------------------------------------------------------------


def test_min_norm_model_solution_passes():
    result = ex_min_norm_solution.check(ex_min_norm_solution.model_solution)
    assert result.passed, result.message


def test_min_norm_cholesky_solve_also_passes():
    def min_norm_solution(features, targets):  # another right way: a Cholesky solve of the Gram matrix
        chol = torch.linalg.cholesky(features @ features.T)
        rhs = targets if targets.dim() == 2 else targets[:, None]
        a = torch.cholesky_solve(rhs, chol)
        return (features.T @ a).reshape(features.shape[1], *targets.shape[1:])

    result = ex_min_norm_solution.check(min_norm_solution)
    assert result.passed, result.message


def test_min_norm_pinv_is_refused():
    result = ex_min_norm_solution.check(lambda features, targets: torch.linalg.pinv(features) @ targets)
    assert result.status == "forbidden" and "torch.linalg.pinv" in result.message


def test_min_norm_lstsq_is_refused():
    def min_norm_solution(features, targets):
        return torch.linalg.lstsq(features, targets).solution

    result = ex_min_norm_solution.check(min_norm_solution)
    assert result.status == "forbidden" and "lstsq" in result.message


def test_min_norm_without_gram_is_named():
    result = ex_min_norm_solution.check(lambda features, targets: features.T @ targets)
    assert not result.passed and "first gradient direction" in result.message


def test_min_norm_divided_by_n_is_named():
    def min_norm_solution(features, targets):
        n = features.shape[0]
        return features.T @ torch.linalg.solve(features @ features.T, targets) / n

    result = ex_min_norm_solution.check(min_norm_solution)
    assert not result.passed and "N times too small" in result.message


def test_min_norm_loop_over_examples_is_refused():
    def min_norm_solution(features, targets):
        gram = torch.stack([features @ row for row in features])  # one row at a time
        return features.T @ torch.linalg.solve(gram, targets)

    result = ex_min_norm_solution.check(min_norm_solution)
    assert result.status == "python_loop", result.message


def test_min_norm_float32_kept():
    def min_norm_solution(features, targets):
        f = features.double()
        return f.T @ torch.linalg.solve(f @ f.T, targets.double())

    result = ex_min_norm_solution.check(min_norm_solution)
    assert result.status == "wrong_dtype" and "float32" in result.message


def test_min_norm_stub_is_not_attempted():
    def min_norm_solution(features, targets): ...

    assert ex_min_norm_solution.check(min_norm_solution).status == "not_attempted"


# -- the tangent-kernel Gram matrix ---------------------------------------------------------------


def test_ntk_gram_model_solution_passes():
    result = ex_gram_from_jacobians.check(ex_gram_from_jacobians.model_solution)
    assert result.passed, result.message


def test_ntk_gram_einsum_also_passes():
    def gram_from_jacobians(jacobians):
        return sum(torch.einsum("n...,m...->nm", j, j) for j in jacobians.values())

    result = ex_gram_from_jacobians.check(gram_from_jacobians)
    assert result.passed, result.message


def test_ntk_gram_first_tensor_only_is_named():
    def gram_from_jacobians(jacobians):
        j = next(iter(jacobians.values())).flatten(1)
        return j @ j.T

    result = ex_gram_from_jacobians.check(gram_from_jacobians)
    assert not result.passed and "all parameter tensors" in result.message


def test_ntk_gram_mean_is_named():
    def gram_from_jacobians(jacobians):
        g = torch.cat([j.flatten(1) for j in jacobians.values()], 1)
        return g @ g.T / g.shape[1]

    result = ex_gram_from_jacobians.check(gram_from_jacobians)
    assert not result.passed and "not a mean" in result.message


def test_ntk_gram_parameter_space_product_fails_on_shape():
    def gram_from_jacobians(jacobians):
        g = torch.cat([j.flatten(1) for j in jacobians.values()], 1)
        return g.T @ g

    result = ex_gram_from_jacobians.check(gram_from_jacobians)
    assert result.status == "wrong_shape", result.message


def test_ntk_gram_loop_over_examples_is_refused():
    def gram_from_jacobians(jacobians):
        g = torch.cat([j.flatten(1) for j in jacobians.values()], 1)
        return torch.stack([torch.stack([g[n] @ g[m] for m in range(len(g))]) for n in range(len(g))])

    result = ex_gram_from_jacobians.check(gram_from_jacobians)
    assert result.status == "python_loop" and "examples" in result.message


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


def test_ridge_dual_stub_is_not_attempted():
    def ridge_dual(features, targets, lam): ...

    assert ex_ridge_dual.check(ridge_dual).status == "not_attempted"
