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


# -- messages that say the right thing ------------------------------------------------------------

def test_not_implemented_after_passing_cases_names_the_case():
    def partial(x):
        if x.numel() == 2:
            raise NotImplementedError
        return 2 * x

    result = EX.check(partial)
    assert result.status == "incomplete"
    assert result.message == ("✗ double passes the first 1 case, then raises NotImplementedError on the case "
                              "'big values': finish the part of double that this case needs.")

    def raises_at_once(x):
        y = 2 * x  # noqa: F841 - started, then gave up
        raise NotImplementedError

    assert EX.check(raises_at_once).status == "not_attempted"


def test_torch_max_without_values_is_told_to_take_values():
    result = EX.check(lambda x: torch.stack([2 * x, x]).max(dim=0))
    assert result.status == "wrong_type"
    assert "returned a torch.return_types.max" in result.message and "take its .values" in result.message


@pytest.mark.parametrize("value, said", [(0, "returned an int"), (0.5, "returned a float"), ("2x", "returned a string"),
                                         ([2.0], "returned a list"), ((2.0,), "returned a tuple")])
def test_a_non_tensor_is_named_with_its_article(value, said):
    result = EX.check(lambda x: value)
    assert result.status == "wrong_type" and said in result.message


def _matrix_exercise():
    A = torch.arange(6.0, dtype=torch.float64).reshape(2, 3)
    return Exercise("scale", reference=lambda a: 3 * a, cases=[Case("a 2 x 3 matrix", (A,))], hints=[],
                    solution=lambda a: 3 * a)


@pytest.mark.parametrize("answer, advice", [
    (lambda a: (3 * a).T, "in another order: is it transposed?"),
    (lambda a: (3 * a).flatten(), "fewer dimensions: it looks flattened."),
    (lambda a: (3 * a).sum(dim=0), "a dimension that should stay was reduced"),
    (lambda a: (3 * a).unsqueeze(0), "an extra dimension of size 1"),
    (lambda a: (3 * a).unsqueeze(-1).expand(2, 3, 2), "a reduction is missing"),
])
def test_wrong_shapes_are_told_apart(answer, advice):
    result = _matrix_exercise().check(answer)
    assert result.status == "wrong_shape" and "expected shape (2, 3)" in result.message
    assert advice in result.message
    for other in ("transposed", "flattened", "reduced", "extra dimension", "reduction is missing"):
        if other not in advice:
            assert other not in result.message


def test_check_without_an_argument_says_what_to_pass():
    result = EX.check()
    assert not result.passed and result.status == "no_function"
    assert result.message == "✗ double: check() needs your function as its argument: ex_double.check(double)."


def test_hint_accepts_a_whole_float_and_refuses_a_fraction_in_one_line(capsys):
    EX.hint(1.0)
    assert capsys.readouterr().out == "Hint 1 of 2: multiply\n"
    EX.hint(1.5)
    assert capsys.readouterr().out == "hint(n) takes n from 1 to 2, got 1.5.\n"


def test_messages_wrap_at_80_columns_and_stay_one_line_in_message():
    result = EX.check(lambda x: (2 * x).sum())
    assert "\n" not in result.message
    shown = repr(result)
    assert shown == str(result) and shown.count("\n") >= 1
    assert all(len(line) <= 80 for line in shown.splitlines())
    assert " ".join(shown.split()) == " ".join(result.message.split())  # only the line breaks differ
    assert repr(EX.check(lambda x: (2 * x).sum())) == shown  # deterministic


def test_dtype_contract_needs_both_float_dtypes():
    both = Exercise("double", reference=_double, cases=[
        Case("float64", (torch.tensor([1.0, 2.0], dtype=torch.float64),)),
        Case("float32", (torch.tensor([1.0, 2.0]),))], hints=[], solution=_double)
    result = both.check(lambda x: 2 * x.double())
    assert result.status == "wrong_dtype" and "'float32'" in result.message and "Keep the input's dtype." in \
        result.message
    assert both.check(lambda x: x + x).passed


# -- robust internals ---------------------------------------------------------------------------

def _scaled(x, options):
    return x * options["scale"] + len(options["shifts"])


def _kwargs_exercise():
    return Exercise("scaled", reference=_scaled, hints=[], solution=_scaled, cases=[
        Case("options", (torch.tensor([1.0, 2.0], dtype=torch.float64),),
             kwargs={"options": {"scale": torch.tensor(3.0, dtype=torch.float64), "shifts": [1, 2], "name": "a"}})])


@pytest.mark.parametrize("mutate", [
    lambda o: o["scale"].mul_(2),        # a tensor inside a dict
    lambda o: o["shifts"].append(3),     # a list inside a dict
    lambda o: o.update(name="b"),        # a plain value
    lambda o: o.pop("name"),
])
def test_mutating_keyword_arguments_is_reported_and_the_case_is_unharmed(mutate):
    ex = _kwargs_exercise()

    def answer(x, options):
        result = _scaled(x, options)
        mutate(options)
        return result

    result = ex.check(answer)
    assert result.status == "mutated_input", result.message
    assert ex.check(_scaled).passed
    assert ex.cases[0].kwargs["options"]["shifts"] == [1, 2] and ex.cases[0].kwargs["options"]["name"] == "a"


def test_mutating_a_tuple_argument_inside_is_reported():
    ex = Exercise("total", reference=lambda pair: pair[0] + pair[1], hints=[], solution=lambda pair: pair[0] + pair[1],
                  cases=[Case("a pair", ((torch.ones(2), torch.ones(2)),))])

    def in_place(pair):
        pair[0].add_(1)
        return pair[0] - 1 + pair[1]

    assert ex.check(in_place).status == "mutated_input"


def _backward(x):
    return x * 2, x.sum(dim=0), x.mean(dim=0)


def _tuple_exercise():
    x = torch.arange(12.0, dtype=torch.float64).reshape(4, 3)
    return Exercise("bn_backward", reference=_backward, cases=[Case("4 examples, 3 units", (x,))], hints=[],
                    solution=_backward, result_names=("dx", "dgamma", "dbeta"))


def test_tuple_results_are_checked_element_by_element():
    ex = _tuple_exercise()
    assert ex.check(_backward).passed
    assert ex.check(lambda x: [x + x, x.sum(0), x.sum(0) / 4]).passed  # written another way, as a list
    shape = ex.check(lambda x: (x * 2, x.sum(dim=1), x.mean(dim=0)))
    assert shape.status == "wrong_shape"
    assert shape.message.startswith("✗ bn_backward: the second element, dgamma, has shape (4,) on the case")
    values = ex.check(lambda x: (x * 2, x.sum(dim=0), x.sum(dim=0)))
    assert values.status == "wrong_value" and "the third element, dbeta, has wrong values" in values.message
    dtype = ex.check(lambda x: (x.float() * 2, x.sum(dim=0), x.mean(dim=0)))
    assert dtype.status == "wrong_dtype" and "the first element, dx, has dtype torch.float32" in dtype.message


def test_tuple_results_of_the_wrong_kind_or_length():
    ex = _tuple_exercise()
    single = ex.check(lambda x: x * 2)
    assert single.status == "wrong_type" and "return a tuple of 3 tensors (dx, dgamma, dbeta)" in single.message
    short = ex.check(lambda x: (x * 2, x.sum(dim=0)))
    assert short.status == "wrong_type" and "returned 2 values" in short.message
    not_tensor = ex.check(lambda x: (x * 2, x.sum(dim=0).tolist(), x.mean(dim=0)))
    assert not_tensor.status == "wrong_type" and "the second element, dgamma, is a list" in not_tensor.message


def test_a_mistake_with_a_tuple_result_is_named():
    from nbutils.exercises import Mistake

    x = torch.arange(12.0, dtype=torch.float64).reshape(4, 3)
    ex = Exercise("bn_backward", reference=_backward, cases=[Case("4 examples", (x,))], hints=[], solution=_backward,
                  result_names=("dx", "dgamma", "dbeta"),
                  mistakes=[Mistake(lambda x: (x * 2, x.mean(dim=0), x.mean(dim=0)), "dgamma is a sum, not a mean.")])
    result = ex.check(lambda x: (x * 2, x.mean(dim=0), x.mean(dim=0)))
    assert result.status == "wrong_value" and "dgamma is a sum, not a mean." in result.message
