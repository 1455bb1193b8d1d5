"""The exercise framework: each failure message comes from the answer that should produce it."""
import time

import pytest
import torch

from nbutils.exercises import Case, Exercise, is_stub


def _double(x):
    return 2 * x


def make_exercise(**kwargs):
    cases = [Case("three numbers", (torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64),)),
             Case("big values", (torch.tensor([1e3, 2e3], dtype=torch.float64),), nonfinite_hint="Mind overflow.")]
    return Exercise("double", reference=_double, cases=cases, hints=["multiply", "by two"], solution=_double, **kwargs)


EX = make_exercise(time_limit=0.5)


def test_reference_solution_passes():
    result = EX.check(_double)
    assert result.passed and result.status == "passed"
    assert repr(result) == "✓ double: all 2 test cases pass."


@pytest.mark.parametrize("answer", [None, ...])
def test_missing_answer_is_not_attempted(answer):
    assert EX.check(answer).status == "not_attempted"


def test_untouched_stubs_are_not_attempted():
    def stub_ellipsis(x):
        ...

    def stub_pass(x):
        """Docstring only."""
        pass

    def stub_raise(x):
        raise NotImplementedError

    for stub in (stub_ellipsis, stub_pass, stub_raise):
        assert is_stub(stub)
        assert EX.check(stub).status == "not_attempted", stub.__name__


def test_forgotten_return():
    def forgot(x):
        y = 2 * x  # noqa: F841

    result = EX.check(forgot)
    assert result.status == "no_return" and "forget `return`" in result.message


def test_wrong_type():
    assert EX.check(lambda x: (2 * x).tolist()).status == "wrong_type"
    assert "expected a function" in EX.check(torch.zeros(3)).message


def test_wrong_shape_names_the_case_without_the_answer():
    result = EX.check(lambda x: (2 * x).sum())
    assert result.status == "wrong_shape"
    assert "'three numbers'" in result.message and "expected shape (3,)" in result.message


def test_wrong_dtype():
    assert EX.check(lambda x: (2 * x).float()).status == "wrong_dtype"


def test_nan_or_inf_gives_the_case_hint():
    result = EX.check(lambda x: 2 * x + torch.exp(x) - torch.exp(x))
    assert result.status == "nonfinite" and "Mind overflow." in result.message


def test_wrong_value():
    result = EX.check(lambda x: 3 * x)
    assert result.status == "wrong_value" and "'three numbers'" in result.message


def test_exception_is_one_line_not_a_traceback():
    def broken(x):
        return x / undefined_name  # noqa: F821

    result = EX.check(broken)
    assert result.status == "exception"
    assert result.message.count("\n") == 0 and "NameError" in result.message


def test_mutating_the_input_is_reported_and_the_case_is_unharmed():
    def in_place(x):
        x *= 2
        return x

    assert EX.check(in_place).status == "mutated_input"
    assert EX.check(_double).passed  # the stored case was not changed


def test_a_function_that_never_returns_is_stopped():
    def forever(x):
        while True:
            time.sleep(0.01)

    start = time.monotonic()
    result = EX.check(forever)
    assert result.status == "timeout" and time.monotonic() - start < 3
    assert EX.check(_double).passed  # the timer was cleared


def test_output_of_the_learner_does_not_break_the_check(capsys):
    def chatty(x):
        print("debugging")
        return 2 * x

    assert EX.check(chatty).passed


def test_hints_and_solution(capsys):
    EX.hint(2)
    assert capsys.readouterr().out == "Hint 2 of 2: by two\n"
    EX.hint(5)
    assert "from 1 to 2" in capsys.readouterr().out
    EX.solution()
    assert "def _double" in capsys.readouterr().out


def test_an_exercise_needs_cases():
    with pytest.raises(ValueError, match="at least one test case"):
        Exercise("x", _double, [], [], _double)


def test_scalar_reference_accepts_numbers_and_rejects_others():
    ex = Exercise("area", reference=lambda r: 3.0 * r * r, cases=[Case("r = 2", (2.0,))], hints=[],
                  solution=lambda r: 3.0 * r * r)
    assert ex.check(lambda r: 12.0).passed
    assert ex.check(lambda r: torch.tensor(12.0)).passed
    assert ex.check(lambda r: "12").status == "wrong_type"
    assert ex.check(lambda r: float("nan")).status == "nonfinite"
    assert ex.check(lambda r: 11.0).status == "wrong_value"


def test_a_known_mistake_is_named():
    from nbutils.exercises import Mistake

    ex = make_exercise(mistakes=[Mistake(lambda x: 3 * x, "you tripled instead of doubling."),
                                 Mistake(lambda x: (2 * x).sum(), "you summed.", status="summed")])
    tripled = ex.check(lambda x: 3 * x)
    assert tripled.status == "wrong_value" and "you tripled" in tripled.message
    assert ex.check(lambda x: (2 * x).sum()).status == "summed"
    assert ex.check(lambda x: 4 * x).message.endswith("(max rel. error 3e-01).")  # no mistake matches


def test_a_near_miss_is_named():
    ex = make_exercise(near_miss=(1e-3, "Use a better method."))
    result = ex.check(lambda x: 2 * x * (1 + 1e-5))
    assert result.status == "inaccurate" and "Use a better method." in result.message
    assert ex.check(lambda x: 3 * x).status == "wrong_value"
