"""Checkers of the linear-models chapter: the model solutions pass, typical mistakes fail with their message."""
import pytest
import torch

from nbutils.exercises.ch01_linear_models import ex_logistic_hessian, ex_newton_step


def test_logistic_hessian_model_solution_passes():
    result = ex_logistic_hessian.check(ex_logistic_hessian.model_solution)
    assert result.passed, result.message


def test_logistic_hessian_stub_is_not_attempted():
    def logistic_hessian(X, w):
        ...  # your code here

    assert ex_logistic_hessian.check(logistic_hessian).status == "not_attempted"


def test_logistic_hessian_typical_mistakes():
    def scale(X, w):
        return torch.sigmoid(X @ w)

    def summed_not_mean(X, w):
        y = scale(X, w)
        return X.T @ (X * (y * (1 - y)).unsqueeze(1))

    result = ex_logistic_hessian.check(summed_not_mean)
    assert result.status == "wrong_value" and "N times too large" in result.message

    result = ex_logistic_hessian.check(lambda X, w: X.T @ X / X.shape[0])
    assert result.status == "wrong_value" and "Hessian of linear regression" in result.message

    result = ex_logistic_hessian.check(lambda X, w: X.T @ (X * scale(X, w).unsqueeze(1)) / X.shape[0])
    assert result.status == "wrong_value" and "dy/dz is not y" in result.message

    def outer_on_the_wrong_side(X, w):
        y = scale(X, w)
        return (X * (y * (1 - y)).unsqueeze(1)) @ X.T / X.shape[0]

    result = ex_logistic_hessian.check(outer_on_the_wrong_side)
    assert result.status == "wrong_shape" and "it is (D + 1) x (D + 1)" in result.message

    def flipped(X, w):
        y = scale(X, w)
        return -X.T @ (X * (y * (1 - y)).unsqueeze(1)) / X.shape[0]

    result = ex_logistic_hessian.check(flipped)
    assert result.status == "wrong_value" and "sign is flipped" in result.message


def test_logistic_hessian_overflow_and_dtype():
    def overflowing(X, w):
        e = torch.exp(X @ w)
        s = e / (1 + e) ** 2
        return X.T @ (X * s.unsqueeze(1)) / X.shape[0]

    result = ex_logistic_hessian.check(overflowing)
    assert result.status == "nonfinite" and "overflows" in result.message

    def always_float64(X, w):
        X, w = X.double(), w.double()
        y = torch.sigmoid(X @ w)
        return X.T @ (X * (y * (1 - y)).unsqueeze(1)) / X.shape[0]

    assert ex_logistic_hessian.check(always_float64).status == "wrong_dtype"


def test_logistic_hessian_forgotten_return():
    def no_return(X, w):
        y = torch.sigmoid(X @ w)
        X.T @ (X * (y * (1 - y)).unsqueeze(1)) / X.shape[0]

    assert ex_logistic_hessian.check(no_return).status == "no_return"


def newton(X, w, t, hessian_of, sign=-1.0):
    gradient = X.T @ (torch.sigmoid(X @ w) - t) / X.shape[0]
    return w + sign * torch.linalg.solve(hessian_of(X, w), gradient)


def mean_hessian(X, w):
    y = torch.sigmoid(X @ w)
    return X.T @ (X * (y * (1 - y)).unsqueeze(1)) / X.shape[0]


def test_newton_step_model_solution_passes():
    result = ex_newton_step.check(ex_newton_step.model_solution)
    assert result.passed, result.message


@pytest.mark.parametrize(
    ("used", "invert"),
    [
        ("torch.linalg.inv", torch.linalg.inv),
        ("torch.inverse", torch.inverse),
        ("torch.Tensor.inverse", torch.Tensor.inverse),
        ("torch.Tensor.inverse", lambda H: H.inverse()),
        ("torch.linalg.inv_ex", lambda H: torch.linalg.inv_ex(H)[0]),
        ("torch.linalg.pinv", torch.linalg.pinv),
        ("torch.pinverse", torch.pinverse),
        ("torch.Tensor.pinverse", lambda H: H.pinverse()),
    ],
)
def test_newton_step_that_inverts_the_hessian_is_told_to_solve(used, invert):
    # The values agree on these well-conditioned cases; the text says "do not invert H".
    # Every alias of the inverse (a function, a method, the _ex variant) is caught.
    def with_inverse(X, w, t):
        gradient = X.T @ (torch.sigmoid(X @ w) - t) / X.shape[0]
        return w - invert(mean_hessian(X, w)) @ gradient

    result = ex_newton_step.check(with_inverse)
    assert result.status == "forbidden", result.message
    assert result.message == f"✗ newton_step: your answer calls {used}; solve the linear system H s = grad J " \
                             "instead of inverting H."


def test_newton_step_solved_another_way_still_passes():
    def by_cholesky(X, w, t):
        gradient = X.T @ (torch.sigmoid(X @ w) - t) / X.shape[0]
        factor = torch.linalg.cholesky(mean_hessian(X, w))
        return w - torch.cholesky_solve(gradient.unsqueeze(1), factor).squeeze(1)

    assert ex_newton_step.check(by_cholesky).passed


def test_logistic_hessian_by_autograd_is_refused():
    def by_autograd(X, w):
        return torch.func.hessian(lambda v: torch.nn.functional.binary_cross_entropy_with_logits(
            X @ v, torch.zeros(len(X), dtype=X.dtype)))(w)

    result = ex_logistic_hessian.check(by_autograd)
    assert result.status == "forbidden" and "calls torch.func.hessian; derive the Hessian by hand" in result.message


def test_newton_step_stub_is_not_attempted():
    def newton_step(X, w, t):
        ...  # your code here

    assert ex_newton_step.check(newton_step).status == "not_attempted"


def test_newton_step_typical_mistakes():
    result = ex_newton_step.check(lambda X, w, t: newton(X, w, t, mean_hessian, sign=+1.0))
    assert result.status == "wrong_value" and "climbs the cost" in result.message

    result = ex_newton_step.check(lambda X, w, t: newton(X, w, t, mean_hessian) - w)
    assert result.status == "wrong_value" and "you returned the step" in result.message

    result = ex_newton_step.check(lambda X, w, t: newton(X, w, t, lambda X, w: X.shape[0] * mean_hessian(X, w)))
    assert result.status == "wrong_value" and "N times too short" in result.message

    result = ex_newton_step.check(lambda X, w, t: newton(X, w, t, lambda X, w: X.T @ X / X.shape[0]))
    assert result.status == "wrong_value" and "Hessian of linear regression" in result.message

    result = ex_newton_step.check(lambda X, w, t: w - X.T @ (torch.sigmoid(X @ w) - t) / X.shape[0])
    assert result.status == "wrong_value" and "gradient-descent step" in result.message


def test_newton_step_dtype_and_return():
    assert ex_newton_step.check(lambda X, w, t: newton(X.double(), w.double(), t.double(), mean_hessian)).status \
        == "wrong_dtype"

    def no_return(X, w, t):
        newton(X, w, t, mean_hessian)

    assert ex_newton_step.check(no_return).status == "no_return"
