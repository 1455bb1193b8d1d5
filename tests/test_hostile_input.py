"""Hostile input: what a reader types by mistake must give one clear sentence, never a hang or a wrong result.

Two parts. Every exercise checker of every chapter (found automatically) is
fed answers that are missing, of the wrong type, shape or dtype, non-finite,
huge, chatty, raising, mutating or never returning; each must fail with its
own status and a one-line message, and the checker must still accept the
model solution afterwards. Every public function where learners meet nbutils
(``verify``, ``widgets.explore``, the data loaders, the exercise framework) is
called with None, wrong types, wrong shapes, empty tensors, NaN/inf, huge
values and integer tensors; each must refuse with a one-line message that
names the argument, or give the documented result.
"""
from __future__ import annotations

import _thread
import copy
import faulthandler
import importlib
import inspect
import math
import pkgutil
import re
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import nbutils.exercises
from nbutils import data, train, verify, widgets
from nbutils.exercises.core import NOT_ATTEMPTED, Case, Exercise, LoopFree, is_stub
from nbutils.exercises.recording import tensors_in

ROOT = Path(__file__).resolve().parent.parent
HANG_GUARD_SECONDS = 120  # a test that takes this long has hung: dump every stack and stop the run
SHORT_TIME_LIMIT = 0.3


@pytest.fixture(autouse=True)
def nothing_hangs():
    """Stop the run instead of hanging CI when a hostile input blocks forever.

    After HANG_GUARD_SECONDS the main thread gets a KeyboardInterrupt, so pytest
    reports where it hung; if even that is swallowed, the process exits.
    """
    interrupt = threading.Timer(HANG_GUARD_SECONDS, _thread.interrupt_main)
    interrupt.start()
    faulthandler.dump_traceback_later(2 * HANG_GUARD_SECONDS, exit=True)
    yield
    interrupt.cancel()
    faulthandler.cancel_dump_traceback_later()


def assert_one_clear_sentence(message: str, *must_name: str) -> None:
    """A message a learner can read: one line, no traceback, short, naming what it is about."""
    message = message.strip().strip("'\"")
    assert message, "the message is empty"
    assert "\n" not in message, f"the message spans several lines: {message!r}"
    assert "Traceback" not in message, message
    assert len(message) <= 400, f"the message is {len(message)} characters long: {message!r}"
    for name in must_name:
        assert name in message, f"the message does not name {name!r}: {message!r}"


# --------------------------------------------------------------------------- exercise checkers

def all_exercises() -> dict[str, Exercise]:
    """Every ``Exercise`` object in every ``nbutils.exercises.chNN_*`` module, by ``module.name``."""
    found = {}
    for module_info in sorted(pkgutil.iter_modules(nbutils.exercises.__path__), key=lambda m: m.name):
        if not re.match(r"ch\d\d_", module_info.name):
            continue
        module = importlib.import_module(f"nbutils.exercises.{module_info.name}")
        for name, value in vars(module).items():
            if isinstance(value, Exercise):
                found[f"{module_info.name}.{name}"] = value
    return found


EXERCISES = all_exercises()


def _first_tensor(args: tuple) -> torch.Tensor:
    return next(tensors_in(args))


def _other_float(dtype: torch.dtype) -> torch.dtype:
    return torch.float32 if dtype == torch.float64 else torch.float64


def _stub(*args):
    ...  # your code here


def _stub_not_implemented(*args):
    raise NotImplementedError


def _raises_value_error(*args):
    raise ValueError("shapes (3,) and (4,) not aligned")


def _raises_without_message(*args):
    raise ZeroDivisionError


def _raises_a_long_multiline_message(*args):
    raise RuntimeError("first line of the problem\n" + "more detail " * 200)


def _prints_and_forgets_return(*args):
    print("the answer is", args[0])


def _calls_exit(*args):
    sys.exit(1)


def _never_returns(*args):
    while True:
        time.sleep(0.01)


def _never_returns_and_swallows_exceptions(*args):
    while True:
        try:
            time.sleep(0.01)
        except Exception:  # what a hurried learner writes
            pass


def _returns_ellipsis(*args):
    return ...


def _generator(*args):
    yield args


def _takes_no_arguments():
    return 0.0


def hostile_answers(solution) -> dict[str, tuple[object, str]]:
    """Name -> (answer, status the checker must report). ``solution`` gives right values to spoil one way."""
    def right_but(spoil):
        def answer(*args, **kwargs):
            right = solution(*args, **kwargs)
            if isinstance(right, tuple):  # a tuple result (result_names): its first element is spoiled
                return (spoil(right[0], args), *right[1:])
            return spoil(right, args)
        return answer

    def mutates_input(*args, **kwargs):
        answer = solution(*args, **kwargs)
        _first_tensor(args).add_(1)
        return answer

    return {
        "None": (None, NOT_ATTEMPTED),
        "Ellipsis": (..., NOT_ATTEMPTED),
        "an untouched stub": (_stub, NOT_ATTEMPTED),
        "raise NotImplementedError": (_stub_not_implemented, NOT_ATTEMPTED),
        "a number instead of a function": (3.0, "wrong_type"),
        "a string instead of a function": ("def f(x): return x", "wrong_type"),
        "a tensor instead of a function": (torch.zeros(3), "wrong_type"),
        "raises ValueError": (_raises_value_error, "exception"),
        "raises without a message": (_raises_without_message, "exception"),
        "raises a long multi-line message": (_raises_a_long_multiline_message, "exception"),
        "calls sys.exit()": (_calls_exit, "exception"),
        "takes no arguments": (_takes_no_arguments, "exception"),
        "prints and forgets return": (_prints_and_forgets_return, "no_return"),
        "returns a string": (right_but(lambda r, a: "0.5"), "wrong_type"),
        "returns a list": (right_but(lambda r, a: r.tolist()), "wrong_type"),
        "returns a NumPy array": (right_but(lambda r, a: r.numpy()), "wrong_type"),
        "returns a Python float": (right_but(lambda r, a: 0.5), "wrong_type"),
        "returns Ellipsis": (_returns_ellipsis, NOT_ATTEMPTED),
        "returns a generator": (_generator, "wrong_type"),
        "returns a meta tensor": (right_but(lambda r, a: r.to("meta")), "wrong_type"),
        "returns an extra dimension": (right_but(lambda r, a: r.unsqueeze(0)), "wrong_shape"),
        "returns an empty tensor": (right_but(lambda r, a: r.new_empty(0)), "wrong_shape"),
        "returns another float dtype": (right_but(lambda r, a: r.to(_other_float(r.dtype))), "wrong_dtype"),
        "returns integers": (right_but(lambda r, a: r.round().long()), "wrong_dtype"),
        "returns booleans": (right_but(lambda r, a: r > 0), "wrong_dtype"),
        "returns complex numbers": (right_but(lambda r, a: r.to(torch.complex128)), "wrong_dtype"),
        "returns NaN": (right_but(lambda r, a: torch.full_like(r, math.nan)), "nonfinite"),
        "returns inf": (right_but(lambda r, a: torch.full_like(r, math.inf)), "nonfinite"),
        "returns huge values": (right_but(lambda r, a: r * 0 + 1e300), "wrong_value"),
        "returns -huge values": (right_but(lambda r, a: r * 0 - 1.7e308), "wrong_value"),
        "returns the negated answer": (right_but(lambda r, a: -r - 1), "wrong_value"),
        "mutates its input": (mutates_input, "mutated_input"),
        "never returns": (_never_returns, "timeout"),
        "never returns and swallows exceptions": (_never_returns_and_swallows_exceptions, "timeout"),
    }


HOSTILE_ANSWER_NAMES = list(hostile_answers(lambda *a: torch.zeros(1)))


@pytest.fixture(scope="module")
def case_snapshots():
    """Deep copies of every exercise's cases, to prove no hostile answer changed them."""
    return {key: copy.deepcopy(ex.cases) for key, ex in EXERCISES.items()}


FLOAT_ONLY = {"returns integers", "returns NaN", "returns inf", "returns huge values", "returns -huge values"}


def _integer_result(exercise: Exercise) -> bool:
    """True when the model solution returns integers (counts, sizes): float-only spoilers do not apply."""
    case = exercise.cases[0]
    result = exercise.model_solution(*copy.deepcopy(case.args), **copy.deepcopy(case.kwargs))
    first = result[0] if isinstance(result, tuple) else result
    return isinstance(first, torch.Tensor) and not (first.is_floating_point() or first.is_complex())


@pytest.mark.parametrize("answer_name", HOSTILE_ANSWER_NAMES)
@pytest.mark.parametrize("key", list(EXERCISES))
def test_checker_names_what_is_wrong(key, answer_name, capsys):
    exercise = copy.copy(EXERCISES[key])
    if answer_name in FLOAT_ONLY and _integer_result(exercise):
        pytest.skip(f"{key} returns integers: an answer that {answer_name} is not a float mistake there")
    answer, status = hostile_answers(exercise.model_solution)[answer_name]
    leaves_torch = {"returns a list": "torch.Tensor.tolist", "returns a NumPy array": "torch.Tensor.numpy"}
    if leaves_torch.get(answer_name) in (exercise.forbidden or {}):
        status = "forbidden"  # a checker that refuses the conversion itself says so before it sees the type
    if status == "timeout":  # only answers that never return get a short limit: the others run at full speed
        exercise.time_limit = SHORT_TIME_LIMIT
    result = exercise.check(answer)
    assert not result.passed, f"{key} accepted an answer that {answer_name}"
    assert result.status == status, f"{key}, answer that {answer_name}: {result.status}: {result.message}"
    assert result.message.startswith("✗ ")
    assert_one_clear_sentence(result.message, exercise.name)


@pytest.mark.parametrize("key", list(EXERCISES))
def test_checker_is_unharmed_by_hostile_answers(key, case_snapshots, capsys):
    exercise = EXERCISES[key]
    quick = copy.copy(exercise)
    quick.time_limit = SHORT_TIME_LIMIT
    for answer, status in hostile_answers(exercise.model_solution).values():
        (quick if status == "timeout" else exercise).check(answer)
    assert exercise.check(exercise.model_solution).passed, f"{key} rejects its model solution after hostile answers"
    for before, after in zip(case_snapshots[key], exercise.cases, strict=True):
        for old, new in zip(tensors_in(before.args), tensors_in(after.args), strict=True):
            assert torch.equal(old, new), f"{key}: a hostile answer changed the stored case '{before.name}'"


@pytest.mark.parametrize("key", list(EXERCISES))
def test_right_answer_that_prints_or_keeps_a_graph_still_passes(key, capsys):
    exercise = EXERCISES[key]

    def chatty(*args, **kwargs):
        print("debugging", args[:1])
        right = exercise.model_solution(*args, **kwargs)
        def with_graph(part):  # only floating tensors can keep a graph
            return part.clone().requires_grad_() if part.is_floating_point() else part.clone()

        if isinstance(right, tuple):
            return tuple(with_graph(part) for part in right)
        return with_graph(right)

    assert exercise.check(chatty).passed


@pytest.mark.parametrize("n", [None, "1", 0, -1, 99, True, 1.5])
def test_hint_with_a_bad_number_says_which_numbers_exist(n, capsys):
    for exercise in EXERCISES.values():
        exercise.hint(n)
        printed = capsys.readouterr().out
        assert_one_clear_sentence(printed, f"1 to {len(exercise.hints)}")


def test_every_chapter_module_has_checkers():
    modules = {key.split(".")[0] for key in EXERCISES}
    on_disk = {p.stem for p in (ROOT / "nbutils" / "exercises").glob("ch[0-9][0-9]_*.py")}
    assert modules == on_disk, f"exercise modules without an Exercise: {on_disk - modules}"


# --------------------------------------------------------------------------- public nbutils functions

def _vocab() -> data.CharVocab:
    return data.CharVocab(["abc"])


_HEX = "0" * 64
NAN, INF = math.nan, math.inf

# (call, arguments, exception, pattern the one-line message must match)
HOSTILE_CALLS = [
    # verify
    (verify.rel_error, (None, 1.0), TypeError, r"x is None"),
    (verify.rel_error, ("1.5", 1.5), TypeError, r"x must be an array, a tensor or a number, got str"),
    (verify.rel_error, ({"a": 1}, 1.0), TypeError, r"x must be an array"),
    (verify.rel_error, (torch.zeros(2), torch.zeros(3)), ValueError, r"same shape"),
    (verify.rel_error, (torch.zeros(2, dtype=torch.complex64), torch.zeros(2)), TypeError, r"x must be real"),
    (verify.numerical_gradient, (None, torch.zeros(2)), TypeError, r"f must be a function"),
    (verify.numerical_gradient, (torch.sum, None), TypeError, r"x is None"),
    (verify.numerical_gradient, (torch.sum, torch.zeros(2), 0.0), ValueError, r"h must be positive"),
    (verify.numerical_gradient, (torch.sum, torch.zeros(2), NAN), ValueError, r"h must be positive"),
    (verify.numerical_gradient, (torch.sum, torch.zeros(2), "1e-6"), ValueError, r"h must be positive"),
    (verify.numerical_gradient, (lambda x: x, torch.zeros(2)), ValueError, r"f must return a scalar"),
    (verify.numerical_gradient, (lambda x: None, torch.zeros(2)), TypeError, r"f\(x\) is None"),
    (verify.format_error, (None,), TypeError, r"err must be a number"),
    (verify.format_error, ("1e-3",), TypeError, r"err must be a number"),
    (verify.compare, (None, 1.0, 1.0), TypeError, r"name must be a non-empty string"),
    (verify.compare, ("x", None, 1.0), TypeError, r"ours is None"),
    (verify.compare, ("x", 1.0, None), TypeError, r"reference is None"),
    (verify.compare, ("x", [1.0], [1.0, 2.0]), verify.VerificationError, r"shapes differ"),
    (verify.compare, ("x", 1.0, 1.0, 0.0), ValueError, r"rtol must be a positive number"),
    (verify.compare, ("x", 1.0, 1.0, NAN), ValueError, r"rtol must be a positive number"),
    (verify.compare, ("x", 1.0, 1.0, "1e-7"), ValueError, r"rtol must be a positive number"),
    (verify.compare, ("x", 1.5e308, 1.7e308), verify.VerificationError, r"x: max relative error"),
    (verify.compare, ("x", 1.0, NAN), verify.VerificationError, r"x: max relative error inf"),
    (verify.check, (None, True), TypeError, r"name must be a non-empty string"),
    (verify.check, ("positive", torch.tensor([True, False])), TypeError, r"condition must be True or False"),
    (verify.check, ("positive", False), verify.VerificationError, r"positive failed"),
    # widgets
    (widgets.explore, (None,), TypeError, r"plot must be a function"),
    (widgets.explore, (print,), ValueError, r"explore needs at least one control"),
    (widgets.explore, (print,), TypeError, r"control 'x' must be an ipywidgets widget", {"x": 1.0}),
    # data
    (data.digits_splits, (), ValueError, r"val_fraction must be a number in \(0, 1\)", {"val_fraction": 1.5}),
    (data.digits_splits, (), ValueError, r"test_fraction must be a number in \(0, 1\)", {"test_fraction": None}),
    (data.digits_splits, (), TypeError, r"seed must be an integer", {"seed": "0"}),
    (data.digits_splits, (), ValueError, r"must be below 1", {"val_fraction": 0.5, "test_fraction": 0.5}),
    (data.load_digits, (None,), ValueError, r"split must be one of 'train', 'val', 'test', got None"),
    (data.load_digits, ("training",), ValueError, r"split must be one of"),
    (data.wiki_tokens, (0,), ValueError, r"max_articles must be a positive integer"),
    (data.wiki_tokens, (NAN,), ValueError, r"max_articles must be a positive integer"),
    (data.wiki_tokens, (None, 3), TypeError, r"cache_dir must be a path or None"),
    (data.date_split, ("2020-01-01",), TypeError, r"day must be a datetime.date, got str"),
    (data.date_split, (None,), TypeError, r"day must be a datetime.date"),
    (data.date_pairs, (-1,), ValueError, r"n must be a non-negative integer"),
    (data.date_pairs, (2.5,), ValueError, r"n must be a non-negative integer"),
    (data.date_pairs, (None,), ValueError, r"n must be a non-negative integer"),
    (data.date_pairs, (3, None), TypeError, r"seed must be an integer"),
    (data.date_pairs, (3, 0, "train", "german"), ValueError, r"target must be one of"),
    (data.reversal_pairs, (3, (5, 2)), ValueError, r"lengths must satisfy"),
    (data.reversal_pairs, (3, 5), TypeError, r"lengths must be a pair of integers"),
    (data.reversal_pairs, (3, (1.0, 2.0)), TypeError, r"lengths must be a pair of integers"),
    (data.reversal_pairs, (3, (1, 2), 0, ""), ValueError, r"alphabet must be a non-empty string"),
    (data.CharVocab, (None,), TypeError, r"texts must be a collection of strings"),
    (data.CharVocab, ("abc",), TypeError, r"texts must be a collection of strings, not one string"),
    (data.CharVocab, ([1, 2],), TypeError, r"texts must contain strings"),
    (lambda: _vocab().encode(None), (), TypeError, r"text must be a string"),
    (lambda: _vocab().decode(None), (), TypeError, r"ids must be a list of integers or a 1-D tensor"),
    (lambda: _vocab().decode([1.5]), (), ValueError, r"ids must be integers in \[0, 7\)"),
    (lambda: _vocab().decode(torch.zeros(2, 2, dtype=torch.long)), (), ValueError, r"one sequence"),
    (lambda: _vocab().decode([99]), (), ValueError, r"ids must be integers in \[0, 7\)"),
    (lambda: data.batches([("a", "b")], None, None, 2), (), TypeError, r"src_vocab and tgt_vocab must be"),
    (lambda: data.batches(None, _vocab(), _vocab(), 2), (), TypeError, r"pairs must be a list"),
    (lambda: data.batches([("a", 1)], _vocab(), _vocab(), 2), (), TypeError, r"pairs must contain"),
    (lambda: data.batches([("a", "b")], _vocab(), _vocab(), 0), (), ValueError, r"batch_size must be a positive"),
    (data.data_file, (None, _HEX), TypeError, r"name must be a file name inside data/"),
    (data.data_file, ("../pyproject.toml", _HEX), ValueError, r"name must be a path inside data/"),
    (data.data_file, ("/etc/passwd", _HEX), ValueError, r"name must be a path inside data/"),
    (data.data_file, ("README.md", None), ValueError, r"sha256 must be 64 hexadecimal digits"),
    (data.data_file, ("README.md", "z" * 64), ValueError, r"sha256 must be 64 hexadecimal digits"),
    (data.data_file, ("README.md", _HEX), ValueError, r"checksum mismatch for data/README.md"),
    (data.data_file, ("no_such_file.csv", _HEX), FileNotFoundError, r"data/no_such_file.csv is missing"),
    # exercises
    (Exercise, ("f", torch.exp, [], [], torch.exp), ValueError, r"an exercise needs at least one test case"),
    (Exercise, (None, torch.exp, [Case("a", (1.0,))], [], torch.exp), TypeError, r"name must be"),
    (Exercise, ("f", None, [Case("a", (1.0,))], [], torch.exp), TypeError, r"reference must be a function"),
    (Exercise, ("f", torch.exp, [("a", 1.0)], [], torch.exp), TypeError, r"cases must be Case objects"),
    (LoopFree, (None,), TypeError, r"make_args must be a function"),
    (LoopFree, (torch.randn, (4,)), ValueError, r"sizes must be two or more increasing positive integers"),
    (Exercise, ("f", torch.exp, [Case("a", (1.0,))], [], None), TypeError, r"solution must be a function"),
    (Exercise, ("f", torch.exp, [Case("a", (1.0,))], [], torch.exp, 0.0), ValueError, r"rtol must be a positive"),
    (Exercise, ("f", torch.exp, [Case("a", (1.0,))], [], torch.exp, 1e-6, -1), ValueError,
     r"time_limit must be a positive"),
]


def _call_id(entry) -> str:
    call, args = entry[0], entry[1]
    name = getattr(call, "__qualname__", repr(call))
    shown = ", ".join(repr(a)[:30] for a in args)
    return f"{name}({shown})"


@pytest.mark.parametrize("entry", HOSTILE_CALLS, ids=[_call_id(e) for e in HOSTILE_CALLS])
def test_public_function_refuses_hostile_input_in_one_sentence(entry, capsys):
    call, args, error, pattern, *kwargs = entry
    with pytest.raises(error) as raised:
        call(*args, **(kwargs[0] if kwargs else {}))
    message = str(raised.value)
    assert re.search(pattern, message), f"message {message!r} does not match {pattern!r}"
    assert_one_clear_sentence(message)


# Where learners meet nbutils: the checkers, compare and check, explore, the data loaders. Maintainer tools
# (plot, train, timing, notebook, colab) validate only what would otherwise give a silently wrong result.
MODULES = {"verify": verify, "widgets": widgets, "data": data, "core": nbutils.exercises.core}
# Public names of those modules that take no input (nothing hostile to pass) or only hold data, with the reason.
NO_INPUT = {
    "verify.VerificationError": "an exception class",
    "data.WordPair": "a named tuple of the word-similarity tables",
    "data.wordsim353": "takes no arguments (a missing gensim is tested in test_data.py)",
    "data.simlex999": "takes no arguments (a missing gensim is tested in test_data.py)",
    "data.analogy_questions": "takes no arguments (a missing gensim is tested in test_data.py)",
    "widgets.use_build_environment": "takes no arguments",
    "core.CheckResult": "what check() returns, built only by the checker",
    "core.Case": "a frozen record of a test case, validated by Exercise",
    "core.Mistake": "a frozen record of a typical wrong answer, written by chapter authors, not learners",
    "core.is_stub": "tested with hostile values in test_is_stub_never_raises",
    "core.seeded_normal": "a sampler chapter authors call with a literal seed to build cases; learners never call it",
}


def public_names() -> set[str]:
    names = set()
    for short, module in MODULES.items():
        for name, value in vars(module).items():
            if not name.startswith("_") and (inspect.isfunction(value) or inspect.isclass(value)) \
                    and value.__module__ == module.__name__:
                names.add(f"{short}.{name}")
    return names


def _covered() -> set[str]:
    covered = set()
    for call, *_ in HOSTILE_CALLS:
        for short, module in MODULES.items():
            if getattr(module, getattr(call, "__name__", ""), None) is call:
                covered.add(f"{short}.{call.__name__}")
        if getattr(call, "__name__", "") == "<lambda>":
            covered |= {f"data.{name}" for name in ("CharVocab", "batches") if name in inspect.getsource(call)}
    return covered


def test_every_public_function_meets_hostile_input():
    missing = public_names() - _covered() - set(NO_INPUT)
    assert not missing, f"add hostile calls for {sorted(missing)} to HOSTILE_CALLS in {Path(__file__).name}"
    for name in NO_INPUT:
        short, attribute = name.split(".")
        value = getattr(MODULES[short], attribute)
        if inspect.isfunction(value) and "no arguments" in NO_INPUT[name]:
            assert not inspect.signature(value).parameters, f"{name} takes arguments now: give it hostile calls"


@pytest.mark.parametrize("value, stub", [(None, False), (3, False), ("def f(): ...", False), (torch.exp, False),
                                         (print, False), (lambda: ..., True), (_stub, True), (_generator, False)])
def test_is_stub_never_raises_and_tells_a_stub_from_an_answer(value, stub):
    assert is_stub(value) is stub


# --------------------------------------------------------------------------- documented results at the edges

def test_rel_error_at_the_edges():
    assert verify.rel_error(torch.empty(0), torch.empty(0)) == 0.0
    assert verify.rel_error(torch.tensor([1, 2]), np.array([1.0, 2.0])) == 0.0  # integers are numbers too
    assert verify.rel_error([NAN, INF, -INF], [NAN, INF, -INF]) == INF  # both sides failing is no agreement
    assert verify.rel_error([NAN, INF, -INF], [NAN, INF, -INF], allow_nonfinite=True) == 0.0
    assert verify.rel_error([1.0], [NAN]) == INF
    assert verify.rel_error([INF], [-INF]) == INF
    assert verify.rel_error(1.5e308, 1.7e308) == pytest.approx(0.2 / 3.2)  # no overflow to a false 0
    assert verify.rel_error(1e308, -1e308) == 1.0


def test_numerical_gradient_of_integer_and_empty_inputs():
    grad = verify.numerical_gradient(lambda x: (x ** 2).sum(), torch.tensor([1, 2]))
    assert grad.dtype == torch.float64 and torch.allclose(grad, torch.tensor([2.0, 4.0], dtype=torch.float64))
    assert verify.numerical_gradient(lambda x: x.sum(), torch.empty(0)).shape == (0,)


def test_compare_accepts_equal_infinities_and_refuses_nan_against_a_number(capsys):
    verify.compare("overflow on both sides", torch.tensor([INF]), torch.tensor([INF]), allow_nonfinite=True)
    assert capsys.readouterr().out == "overflow on both sides: max rel. error < 1e-10 ✓\n"
    with pytest.raises(verify.VerificationError):
        verify.compare("overflow on both sides, not allowed", torch.tensor([INF]), torch.tensor([INF]))
    with pytest.raises(verify.VerificationError):
        verify.compare("NaN against a number", torch.tensor([NAN]), torch.tensor([1.0]))


def test_accuracy_on_integer_logits_and_float_targets():
    assert train.accuracy(torch.tensor([[0, 5], [3, 1]]), torch.tensor([1.0, 0.0])) == 1.0


# --------------------------------------------------------------------------- data that is damaged or unreachable

@pytest.fixture(scope="module")
def one_article(tmp_path_factory):
    """Tokens of the first Wikipedia article and the cache file they were written to."""
    cache_dir = tmp_path_factory.mktemp("wiki")
    tokens = data.wiki_tokens(max_articles=1, cache_dir=cache_dir)
    (path,) = cache_dir.glob("wiki_tokens-*-1.txt")
    return tokens, path.read_bytes(), path.name


@pytest.mark.parametrize("damage", ["empty file", "binary garbage", "header is null", "header is a list",
                                    "body from another cache", "header only"])
def test_damaged_cache_is_rebuilt_never_trusted(one_article, tmp_path, damage):
    tokens, raw, name = one_article
    header, _, body = raw.partition(b"\n")
    damaged = {"empty file": b"", "binary garbage": bytes(range(256)) * 4, "header is null": b"null\n" + body,
               "header is a list": b"[1, 2]\n" + body, "body from another cache": header + b"\nthe the the\n",
               "header only": header}[damage]
    (tmp_path / name).write_bytes(damaged)
    with pytest.warns(UserWarning, match=r"are corrupt: .*; rebuilding them"):
        assert data.wiki_tokens(max_articles=1, cache_dir=tmp_path) == tokens
    assert (tmp_path / name).read_bytes() == raw


def test_corrupt_cache_in_a_read_only_folder_gives_the_right_tokens_uncached(one_article, tmp_path, monkeypatch):
    tokens, raw, name = one_article
    (tmp_path / name).write_bytes(raw[: len(raw) // 3])

    def read_only(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(data.tempfile, "mkstemp", read_only)  # root ignores chmod, so simulate it
    with pytest.warns(UserWarning) as warned:
        assert data.wiki_tokens(max_articles=1, cache_dir=tmp_path) == tokens
    messages = [str(w.message) for w in warned]
    assert any("corrupt" in m for m in messages) and any("Permission denied" in m for m in messages), messages
    for message in messages:
        assert_one_clear_sentence(message)


def test_cache_path_taken_by_a_folder_still_gives_the_tokens(one_article, tmp_path):
    tokens, _, name = one_article
    (tmp_path / name).mkdir()
    with pytest.warns(UserWarning, match="cannot write the cache"):
        assert data.wiki_tokens(max_articles=1, cache_dir=tmp_path) == tokens
