"""The checker sees how an answer was computed: forbidden operations, Python loops, large intermediates."""
import types

import pytest
import torch
import torch.nn.functional as F

from nbutils.exercises import Case, ChapterFunction, Exercise, LoopFree
from nbutils.exercises.recording import AUTOGRAD, Forbidden, Recording

_gen = torch.Generator().manual_seed(0)
_H = torch.tensor([[4.0, 1.0], [1.0, 3.0]], dtype=torch.float64)
_g = torch.tensor([1.0, 2.0], dtype=torch.float64)


def _solve(H, g):
    return torch.linalg.solve(H, g)


SOLVE = Exercise("solve_step", reference=_solve, cases=[Case("a 2 x 2 system", (_H, _g))], hints=[], solution=_solve,
                 forbidden={"torch.linalg.inv": "your answer calls torch.linalg.inv; solve the linear system instead"})


@pytest.mark.parametrize("answer, used", [
    (lambda H, g: torch.linalg.inv(H) @ g, "torch.linalg.inv"),
    (lambda H, g: torch.inverse(H) @ g, "torch.inverse"),
    (lambda H, g: H.inverse() @ g, "torch.Tensor.inverse"),
    (lambda H, g: torch.linalg.inv_ex(H).inverse @ g, "torch.linalg.inv_ex"),
])
def test_a_forbidden_operation_is_caught_under_any_alias_and_named_as_used(answer, used):
    result = SOLVE.check(answer)
    assert result.status == "forbidden"
    assert result.message == f"✗ solve_step: your answer calls {used}; solve the linear system instead."


@pytest.mark.parametrize("answer", [lambda H, g: torch.linalg.solve(H, g),
                                    lambda H, g: torch.cholesky_solve(g[:, None], torch.linalg.cholesky(H))[:, 0],
                                    lambda H, g: torch.linalg.lstsq(H, g[:, None]).solution[:, 0]])
def test_the_same_answer_computed_another_way_passes(answer):
    assert SOLVE.check(answer).passed


def _grad_of_square(x):
    return 2 * x


def _autograd_exercise():
    return Exercise("square_grad", reference=_grad_of_square, cases=[Case("three numbers", (_g.clone(),))], hints=[],
                    solution=_grad_of_square, forbidden={name: "your answer calls {name}; derive it by hand"
                                                         for name in AUTOGRAD})


def _by_autograd_grad(x):
    x = x.clone().requires_grad_()
    return torch.autograd.grad((x ** 2).sum(), x)[0]


def _by_backward(x):
    x = x.clone().requires_grad_()
    (x ** 2).sum().backward()
    return x.grad


def _by_autograd_backward(x):
    x = x.clone().requires_grad_()
    torch.autograd.backward((x ** 2).sum())
    return x.grad


@pytest.mark.parametrize("answer, used", [
    (_by_autograd_grad, "torch.autograd.grad"),
    (_by_backward, "torch.Tensor.backward"),
    (_by_autograd_backward, "torch.autograd.backward"),
    (lambda x: torch.func.grad(lambda v: (v ** 2).sum())(x), "torch.func.grad"),
    (lambda x: torch.func.jacrev(lambda v: (v ** 2).sum())(x), "torch.func.jacrev"),
    (lambda x: torch.func.vjp(lambda v: v ** 2, x)[1](torch.ones_like(x))[0], "torch.func.vjp"),
    (lambda x: torch.autograd.functional.jacobian(lambda v: (v ** 2).sum(), x), "torch.autograd.functional.jacobian"),
])
def test_every_way_into_autograd_is_seen(answer, used):
    result = _autograd_exercise().check(answer)
    assert result.status == "forbidden", result.message
    assert result.message == f"✗ square_grad: your answer calls {used}; derive it by hand."


def test_vmap_is_not_autograd_and_a_hand_derivative_passes():
    ex = _autograd_exercise()
    assert ex.check(lambda x: x + x).passed
    assert ex.check(lambda x: torch.func.vmap(lambda v: 2 * v)(x)).passed


def _batch_norm(x):
    return F.batch_norm(x, None, None, training=True)


def test_a_forbidden_functional_is_seen_through_its_module():
    x = torch.randn(8, 3, generator=_gen, dtype=torch.float64)
    ex = Exercise("normalize", reference=_batch_norm, cases=[Case("8 x 3", (x,))], hints=[], solution=_batch_norm,
                  forbidden={"torch.nn.functional.batch_norm": "your answer calls {name}; write it yourself"})
    by_module = ex.check(lambda x: torch.nn.BatchNorm1d(3, affine=False, dtype=torch.float64)(x))
    assert by_module.status == "forbidden" and "calls torch.nn.functional.batch_norm" in by_module.message
    by_hand = ex.check(lambda x: (x - x.mean(0)) / torch.sqrt(x.var(0, unbiased=False) + 1e-5))
    assert by_hand.passed


def test_a_forbidden_name_that_does_not_exist_is_refused_when_the_exercise_is_built():
    with pytest.raises(ValueError, match="'torch.linalg.invert' is not a torch function"):
        Forbidden({"torch.linalg.invert": "no"})
    with pytest.raises(ValueError, match="a public torch name"):
        Forbidden({"numpy.linalg.inv": "no"})
    with pytest.raises(TypeError, match="forbidden must map torch names to messages"):
        Forbidden({"torch.linalg.inv": ""})



def _chapter_solve(H, g):
    """The chapter's Newton step (its definitions cell)."""
    return torch.linalg.solve(H, g)


CHAPTER_SOLVE = Exercise("solve_step", reference=_solve, cases=[Case("a 2 x 2 system", (_H, _g))], hints=[],
                         solution=_solve, chapter_functions=(ChapterFunction(
                             "newton_step", "The chapter's Newton step (its definitions cell).",
                             "your answer calls the chapter's newton_step; write the step yourself"),))


def _notebook_newton_step(H, g):
    return torch.linalg.solve(H, g)


def _answer_calling_newton_step(H, g):
    return newton_step(H, g)  # noqa: F821  (resolved in the notebook's namespace below)


def _answer_by_hand(H, g):
    return torch.linalg.solve(H, g)


def _in_namespace(function, namespace: dict):
    """``function`` as if a cell of the notebook whose globals are ``namespace`` had defined it."""
    return types.FunctionType(function.__code__, namespace, function.__name__)


def test_a_chapter_function_is_refused_by_its_name_in_the_notebook_and_by_its_docstring():
    notebook = {"torch": torch}  # the notebook's namespace; its newton_step has no docstring
    notebook["newton_step"] = _in_namespace(_notebook_newton_step, notebook)
    alias = _in_namespace(_answer_calling_newton_step, notebook)  # an answer written in that notebook
    for answer in (alias, notebook["newton_step"], lambda H, g: _chapter_solve(H, g)):
        result = CHAPTER_SOLVE.check(answer)
        assert result.status == "forbidden" and "chapter's newton_step" in result.message, result.message
    by_hand = _in_namespace(_answer_by_hand, notebook)  # the same text, its own code
    assert CHAPTER_SOLVE.check(by_hand).passed


def test_a_chapter_function_declaration_needs_a_name_a_docstring_and_a_message():
    with pytest.raises(TypeError, match="ChapterFunction needs"):
        ChapterFunction("newton step", "doc", "message")
    with pytest.raises(TypeError, match="ChapterFunction needs"):
        ChapterFunction("newton_step", "doc", "")
    with pytest.raises(TypeError, match="chapter_functions must be ChapterFunction"):
        Forbidden({}, ("newton_step",))

# -- loops -----------------------------------------------------------------------------------------

def _row_norms(x):
    return x.norm(dim=1)


def _norm_args(n):
    return (torch.randn(n, 5, generator=torch.Generator().manual_seed(n), dtype=torch.float64),)


NORMS = Exercise("row_norms", reference=_row_norms, cases=[Case("3 rows", _norm_args(3))], hints=[],
                 solution=_row_norms, loop_free=LoopFree(_norm_args, what="the rows"))


def test_a_python_loop_over_the_declared_dimension_fails():
    result = NORMS.check(lambda x: torch.stack([row.norm() for row in x]))
    assert result.status == "python_loop"
    assert result.message.startswith("✗ row_norms calls ")
    assert "at size 4 and " in result.message and "at size 16 of the rows: a Python loop over the rows." in \
        result.message


def test_a_loop_over_a_fixed_dimension_and_a_vectorised_answer_pass():
    assert NORMS.check(lambda x: (x * x).sum(dim=1).sqrt()).passed
    assert NORMS.check(lambda x: sum(x[:, j] ** 2 for j in range(x.shape[1])).sqrt()).passed  # 5 columns always


def test_loop_free_validates_its_declaration():
    with pytest.raises(TypeError, match="make_args must be a function"):
        LoopFree(None)
    with pytest.raises(ValueError, match="two or more increasing positive integers"):
        LoopFree(_norm_args, sizes=(16, 4))
    with pytest.raises(TypeError, match="loop_free must be a LoopFree"):
        Exercise("row_norms", _row_norms, [Case("3 rows", _norm_args(3))], [], _row_norms, loop_free=_norm_args)


# -- memory --------------------------------------------------------------------------------------

def _weighted(y, v):
    return y * (v - (v * y).sum(-1, keepdim=True))


_y = torch.softmax(torch.randn(2, 8, generator=_gen, dtype=torch.float64), dim=-1)
_v = torch.randn(2, 8, generator=_gen, dtype=torch.float64)
WEIGHTED = Exercise("weighted", reference=_weighted, cases=[Case("2 rows of 8", (_y, _v))], hints=[],
                    solution=_weighted, memory_bound=3)


def test_an_intermediate_larger_than_the_bound_fails_and_names_the_operation():
    def with_outer_product(y, v):
        jacobian = torch.diag_embed(y) - y.unsqueeze(-1) * y.unsqueeze(-2)
        return (v.unsqueeze(-2) @ jacobian).squeeze(-2)

    result = WEIGHTED.check(with_outer_product)
    assert result.status == "memory"
    assert "creates a tensor of shape (2, 8, 8) with torch.diag_embed on the case '2 rows of 8', 8 times the size " \
           "of its largest input (this exercise allows 3)" in result.message


def test_views_and_small_intermediates_pass():
    def with_views(y, v):
        inner = (v * y).sum(-1, keepdim=True).expand(2, 8)
        return y * (v - inner)

    assert WEIGHTED.check(with_views).passed
    assert WEIGHTED.check(lambda y, v: torch.stack([y, v]).prod(0) - y * (v * y).sum(-1, keepdim=True)).passed


def test_the_recording_counts_operations_and_keeps_the_largest_tensor():
    recording = Recording()
    recording.run(lambda: torch.eye(6) @ torch.ones(6, 2), (), {})
    assert recording.operations == 3
    assert recording.largest == (36, (6, 6), "torch.eye")
