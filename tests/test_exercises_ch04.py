"""Checkers of the backpropagation chapter: model solutions pass, typical mistakes fail with their own message."""
import pytest
import torch
import torch.nn.functional as F

from nbutils.exercises.ch04_backprop_jacobians import ex_normalize_vjp, ex_numerical_jacobian, ex_softmax_vjp


def _finite_difference_jacobian(f, x, h, central=True, transpose=False, scaled=False):
    """Difference quotients with the step h, or h * max(1, |x_j|) for coordinate j when scaled."""
    sizes = x.abs().clamp(min=1.0) if scaled else torch.ones_like(x)
    steps = torch.diag(h * sizes)
    if central:
        columns = [(f(x + step) - f(x - step)) / (2 * step.sum()) for step in steps]
    else:
        columns = [(f(x + step) - f(x)) / step.sum() for step in steps]
    jacobian = torch.stack(columns, dim=1)
    return jacobian.T if transpose else jacobian


def test_numerical_jacobian_model_solution_passes():
    result = ex_numerical_jacobian.check(ex_numerical_jacobian.model_solution)
    assert result.passed and result.message == "✓ numerical_jacobian: all 5 test cases pass."


def test_numerical_jacobian_transposed_is_named():
    result = ex_numerical_jacobian.check(lambda f, x: _finite_difference_jacobian(f, x, 1e-5, transpose=True))
    assert result.status == "transposed" and "transpose of the Jacobian" in result.message
    assert "f: R^3 -> R^2" in result.message


def test_numerical_jacobian_transposed_is_named_for_a_square_jacobian():
    # Rows and columns swapped with a stack along dim=0; only the square case can tell by values.
    def central(f, x):
        return _finite_difference_jacobian(f, x, 1e-5)

    result = ex_numerical_jacobian.check(lambda f, x: central(f, x).T if x.numel() == len(f(x)) else central(f, x))
    assert result.status == "transposed" and "non-symmetric" in result.message


@pytest.mark.parametrize("by_autograd, used", [
    (lambda f, x: torch.func.jacrev(f)(x), "torch.func.jacrev"),
    (lambda f, x: torch.func.jacfwd(f)(x), "torch.func.jacfwd"),
    (lambda f, x: torch.autograd.functional.jacobian(f, x), "torch.autograd.functional.jacobian"),
])
def test_numerical_jacobian_by_autograd_is_refused(by_autograd, used):
    result = ex_numerical_jacobian.check(by_autograd)
    assert result.status == "forbidden"
    assert result.message == f"✗ numerical_jacobian: your answer calls {used}; compute the Jacobian by central " \
                             "differences, as the exercise asks."


def test_numerical_jacobian_inaccurate_steps_are_named():
    for h in (1e-8, 1e-6, 1e-4):  # forward differences, even at their best step
        forward = ex_numerical_jacobian.check(lambda f, x, h=h: _finite_difference_jacobian(f, x, h, central=False))
        assert forward.status == "inaccurate" and "central differences" in forward.message
    tiny_step = ex_numerical_jacobian.check(lambda f, x: _finite_difference_jacobian(f, x, 1e-10))
    assert tiny_step.status == "inaccurate" and "round-off" in tiny_step.message
    for h in (1e-6, 1e-5, 1e-4):  # central differences with a sensible step, scaled like x_j, pass
        assert ex_numerical_jacobian.check(lambda f, x, h=h: _finite_difference_jacobian(f, x, h, scaled=True)).passed


def test_numerical_jacobian_step_that_ignores_the_size_of_x_is_named():
    """At x = (2e4, 5e4) a fixed step is tiny next to x_j: the text asks for h = eps^(1/3) max(1, |x_j|)."""
    for h in (1e-6, 1e-5, 1e-4):
        result = ex_numerical_jacobian.check(lambda f, x, h=h: _finite_difference_jacobian(f, x, h))
        assert result.status == "inaccurate" and "(20000, 50000)" in result.message
        assert "max(1, |x_j|)" in result.message


def test_numerical_jacobian_far_off_and_float32_fail():
    assert ex_numerical_jacobian.check(lambda f, x: _finite_difference_jacobian(f, x, 1.0)).status == "wrong_value"
    assert ex_numerical_jacobian.check(lambda f, x: _finite_difference_jacobian(f, x, 1e-13)).status == "wrong_value"
    float32 = ex_numerical_jacobian.check(lambda f, x: _finite_difference_jacobian(f, x, 1e-5).float())
    assert float32.status == "wrong_dtype"


def test_numerical_jacobian_stub_is_not_attempted():
    def numerical_jacobian(f, x):
        ...

    assert ex_numerical_jacobian.check(numerical_jacobian).status == "not_attempted"


def test_softmax_vjp_model_solution_passes():
    assert ex_softmax_vjp.check(ex_softmax_vjp.model_solution).passed


def test_softmax_vjp_typical_mistakes():
    def diagonal_only(z, v):
        y = torch.softmax(z, dim=-1)
        return y * (1 - y) * v

    result = ex_softmax_vjp.check(diagonal_only)
    assert result.status == "diagonal_only" and "off-diagonal" in result.message

    assert ex_softmax_vjp.check(lambda z, v: torch.softmax(z, -1) * v).status == "missing_term"
    assert ex_softmax_vjp.check(
        lambda z, v: v - (v * torch.softmax(z, -1)).sum(-1, keepdim=True)).status == "missing_factor"

    def batch_sum(z, v):
        y = torch.softmax(z, dim=-1)
        return y * (v - (v * y).sum(dim=0, keepdim=True))

    result = ex_softmax_vjp.check(batch_sum)
    assert result.status == "wrong_dim" and "a batch of 3 rows" in result.message

    def no_keepdim(z, v):
        y = torch.softmax(z, dim=-1)
        return y * (v - (v * y).sum(dim=-1))

    assert ex_softmax_vjp.check(no_keepdim).status in {"wrong_value", "exception"}


def test_softmax_vjp_overflow_and_dtype():
    def naive(z, v):
        e = torch.exp(z)
        y = e / e.sum(dim=-1, keepdim=True)
        return y * (v - (v * y).sum(dim=-1, keepdim=True))

    result = ex_softmax_vjp.check(naive)
    assert result.status == "nonfinite" and "±1000" in result.message and "overflows" in result.message
    assert ex_softmax_vjp.check(lambda z, v: ex_softmax_vjp.model_solution(z.double(), v.double())).status \
        == "wrong_dtype"


def test_softmax_vjp_that_forms_the_jacobian_is_refused():
    def with_jacobian(z, v):
        y = torch.softmax(z, dim=-1)
        jacobian = torch.diag_embed(y) - y.unsqueeze(-1) * y.unsqueeze(-2)
        return (v.unsqueeze(-2) @ jacobian).squeeze(-2)

    result = ex_softmax_vjp.check(with_jacobian)
    assert result.status == "memory" and "creates a tensor of shape (4, 4) with torch.diag_embed" in result.message


def test_softmax_vjp_that_forms_one_jacobian_per_row_in_a_loop_is_refused():
    def row_by_row(z, v):
        if z.ndim == 1:
            return ex_softmax_vjp.model_solution(z, v)
        rows = []
        for z_row, v_row in zip(z, v, strict=True):
            y = torch.softmax(z_row, dim=-1)
            rows.append((torch.diag(y) - torch.outer(y, y)) @ v_row)
        return torch.stack(rows)

    result = ex_softmax_vjp.check(row_by_row)
    assert result.status == "memory" and "'2 rows of 32 classes'" in result.message
    assert "shape (32, 32)" in result.message


def test_softmax_vjp_with_broadcast_views_or_autograd():
    def with_expand(z, v):  # an expanded view stores nothing new
        y = torch.softmax(z, dim=-1)
        inner = (v * y).sum(dim=-1, keepdim=True).expand_as(y)
        return y * (v - inner)

    assert ex_softmax_vjp.check(with_expand).passed
    result = ex_softmax_vjp.check(lambda z, v: torch.func.vjp(lambda q: torch.softmax(q, -1), z)[1](v)[0])
    assert result.status == "forbidden" and "torch.func.vjp" in result.message


def test_softmax_vjp_stub_is_not_attempted():
    def softmax_vjp(z, v):
        ...

    assert ex_softmax_vjp.check(softmax_vjp).status == "not_attempted"


def test_normalize_vjp_model_solution_passes():
    assert ex_normalize_vjp.check(ex_normalize_vjp.model_solution).passed


def test_normalize_vjp_typical_mistakes():
    def norm(x):
        return x.norm(dim=-1, keepdim=True)

    def unit(x):
        return x / norm(x)

    result = ex_normalize_vjp.check(lambda x, v: v / norm(x))
    assert result.status == "norm_as_constant" and "constant" in result.message
    result = ex_normalize_vjp.check(lambda x, v: (v + unit(x) * (unit(x) * v).sum(-1, keepdim=True)) / norm(x))
    assert result.status == "wrong_sign" and "orthogonal" in result.message
    result = ex_normalize_vjp.check(lambda x, v: (v - unit(x) * (unit(x) * v).sum(-1, keepdim=True)) / norm(x) ** 2)
    assert result.status == "wrong_power"
    result = ex_normalize_vjp.check(lambda x, v: (v - unit(x) * (unit(x) * v).sum(0, keepdim=True)) / norm(x))
    assert result.status == "wrong_dim" and "a batch of 4 rows" in result.message
    # Normalising along the batch dimension instead of each row.
    assert ex_normalize_vjp.check(lambda x, v: (v - unit_rows(x) * (unit_rows(x) * v).sum(0, keepdim=True))
                                  / x.norm(dim=0, keepdim=True)).status == "wrong_value"
    by_autograd = ex_normalize_vjp.check(lambda x, v: torch.func.vjp(lambda t: F.normalize(t, dim=-1), x)[1](v)[0])
    assert by_autograd.status == "forbidden" and "derive the backward rule by hand" in by_autograd.message


def unit_rows(x):
    return x / x.norm(dim=0, keepdim=True)


def test_normalize_vjp_in_place_update_is_reported():
    def in_place(x, v):
        r = x.norm(dim=-1, keepdim=True)
        x /= r
        return (v - x * (x * v).sum(-1, keepdim=True)) / r

    assert ex_normalize_vjp.check(in_place).status == "mutated_input"


def test_normalize_vjp_stub_is_not_attempted():
    def normalize_vjp(x, v):
        ...

    assert ex_normalize_vjp.check(normalize_vjp).status == "not_attempted"
