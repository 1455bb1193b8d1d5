"""The self-checking exercise framework.

An :class:`Exercise` holds named test cases, a reference that computes the
right answer independently (a torch built-in or a closed form), hints and a
model solution. ``check(answer)`` runs the learner's function on every case
and returns a :class:`CheckResult` whose text says *what* is wrong (not
attempted, wrong type, shape, dtype, NaN/inf, wrong values on a named case, an
exception, a forgotten ``return``, a mutated input, no answer in time) without
revealing the answer. The text is deterministic, so nbval can compare it.

An exercise can also check *how* the answer is computed, one line each: torch
operations it must not call (``forbidden``), no Python loop over a dimension
(``loop_free``), and no intermediate tensor much larger than its input
(``memory_bound``). The learner's function runs under a time limit that no
answer can defeat (:mod:`.timelimit`) while :mod:`.recording` watches the
torch operations it calls; :mod:`.answers` copies the arguments and puts a
wrong result into words.
"""
from __future__ import annotations

import ast
import dis
import inspect
import math
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Any

import numpy as np
import torch

from nbutils.exercises.answers import clone, describe, element_name, same, shape_advice, why_this_type
from nbutils.exercises.recording import ChapterFunction, Forbidden, Recording, largest_input
from nbutils.exercises.timelimit import TimeLimitExceeded, call_with_time_limit
from nbutils.verify import rel_error

NOT_ATTEMPTED = "not_attempted"
TEXT_WIDTH = 80  # the notebook's text column: CheckResult text wraps here
_NO_ANSWER = object()


def _wrap(text: str) -> str:
    """``text`` wrapped at TEXT_WIDTH columns, continuation lines indented by two spaces."""
    return textwrap.fill(text, width=TEXT_WIDTH, subsequent_indent="  ", break_long_words=False,
                         break_on_hyphens=False)


def seeded_normal(seed: int) -> Callable[..., torch.Tensor]:
    """A sampler of standard normal tensors with a stream of its own: ``randn(*shape, dtype=...)``.

    Each call continues the stream; values are drawn in float64 and then cast, so a
    float32 case holds the same numbers as its float64 twin would.
    """
    generator = torch.Generator().manual_seed(seed)

    def randn(*shape: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        return torch.randn(*shape, generator=generator, dtype=torch.float64).to(dtype)

    return randn


@dataclass(frozen=True)
class Case:
    """One test case: a name the learner can read and the arguments to pass."""

    name: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    nonfinite_hint: str = ""  # said when the answer has NaN/inf on this case


@dataclass(frozen=True)
class Mistake:
    """A typical wrong answer: how to compute it from a case's arguments, and what to tell the learner.

    ``status`` replaces the generic status ("wrong_value", "wrong_shape") when
    the learner's answer matches this mistake; None keeps the generic one.
    """

    answer: Callable[..., Any]
    message: str
    status: str | None = None


@dataclass(frozen=True)
class LoopFree:
    """Declares "no Python loop over a dimension".

    ``make_args(n)`` returns the arguments of one call in which the dimension
    named by ``what`` has size n. The learner's function is run at each of
    ``sizes`` and fails when the number of torch operations it calls grows
    with n, which is what a Python loop over that dimension does.

    Example: ``LoopFree(lambda n: (torch.randn(n, 5), torch.randn(n, 5)), what="the batch")``.
    """

    make_args: Callable[[int], tuple]
    sizes: tuple[int, ...] = (4, 16)
    what: str = "the batch"

    def __post_init__(self):
        if not callable(self.make_args):
            raise TypeError("make_args must be a function of the size n that returns the arguments, "
                            "e.g. lambda n: (torch.randn(n, 5),).")
        sizes = tuple(self.sizes) if isinstance(self.sizes, (list, tuple)) else ()
        if len(sizes) < 2 or not all(isinstance(n, Integral) and not isinstance(n, bool) and n > 0 for n in sizes) \
                or list(sizes) != sorted(set(sizes)):
            raise ValueError(f"sizes must be two or more increasing positive integers, got {self.sizes!r}.")
        if not isinstance(self.what, str) or not self.what:
            raise TypeError(f"what must say which dimension must not be looped over, got {self.what!r}.")
        object.__setattr__(self, "sizes", sizes)


@dataclass(frozen=True)
class CheckResult:
    """What ``Exercise.check`` found.

    ``message`` is one line (for programs and tests); ``str()`` and ``repr()``
    (what a notebook shows) give it wrapped at 80 columns.
    """

    passed: bool
    status: str  # "passed", "not_attempted", "wrong_type", "wrong_shape", ...
    message: str

    def __str__(self) -> str:
        return _wrap(self.message)

    def __repr__(self) -> str:
        return _wrap(self.message)

    def __bool__(self) -> bool:
        return self.passed


def _empty_function():
    pass


def _returns_ellipsis_only(code) -> bool:
    """True for the code of ``lambda *args: ...``."""
    steps = [(i.opname, i.argval) for i in dis.get_instructions(code) if i.opname not in ("RESUME", "NOP")]
    return steps in ([("LOAD_CONST", Ellipsis), ("RETURN_VALUE", None)], [("RETURN_CONST", Ellipsis)])


def is_stub(func: Callable) -> bool:
    """True when ``func``'s body is only a docstring, ``...``, ``pass`` or ``raise NotImplementedError``
    (or ``func`` is ``lambda: ...``)."""
    if getattr(func, "__name__", None) == "<lambda>" and hasattr(func, "__code__"):
        return _returns_ellipsis_only(func.__code__)
    try:
        source = textwrap.dedent(inspect.getsource(func))
        tree = ast.parse(source)
    except (OSError, TypeError, SyntaxError, IndentationError):
        # No source (e.g. defined with exec): an empty body compiles to the same bytecode as `pass`.
        code = getattr(func, "__code__", None)
        return code is not None and code.co_code == _empty_function.__code__.co_code and not code.co_names
    funcs = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    if not funcs:
        return False
    body = list(funcs[0].body)
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    for stmt in body:
        if isinstance(stmt, ast.Pass):
            continue
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and stmt.value.value is Ellipsis:
            continue
        if isinstance(stmt, ast.Raise) and "NotImplementedError" in ast.dump(stmt):
            continue
        if isinstance(stmt, ast.Return) and isinstance(stmt.value, ast.Constant) and stmt.value.value is Ellipsis:
            continue
        return False
    return True


def _one_line(exc: BaseException, limit: int = 200) -> str:
    """``TypeName: first line of the message``, shortened, for a one-line report."""
    lines = str(exc).strip().splitlines()
    detail = lines[0] if lines else ""
    if len(detail) > limit or len(lines) > 1:
        detail = detail[:limit].rstrip() + " ..."
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__



class Exercise:
    """A self-checking code exercise.

    Parameters
    ----------
    name: the function name the learner writes (used in every message).
    reference: the independent right answer: a function called with each
        case's arguments (typically a torch built-in). It returns a tensor, a
        number, or a tuple of tensors (see ``result_names``).
    cases: the named test cases.
    hints: progressively stronger hints; ``hint(n)`` prints the n-th.
    solution: the model solution; ``solution()`` prints its source.
    rtol: largest relative error accepted (see ``nbutils.verify.rel_error``).
    time_limit: seconds the learner's function may take on one case.
    mistakes: typical wrong answers. When an answer has wrong values or a wrong
        shape, the first mistake whose answer on the same case agrees with it
        (same shape, relative error within ``rtol``) names what went wrong.
    near_miss: ``(tol, message)``: said when the values are wrong but within
        ``tol`` of the right ones (e.g. an inaccurate numerical method).
    forbidden: torch operations the answer must not call, each with the
        message to show, e.g. ``{"torch.linalg.inv": "your answer calls
        torch.linalg.inv; solve the linear system instead"}``. Aliases are
        forbidden too (``torch.inverse``, ``Tensor.inverse``); ``"torch.func.*"``
        forbids every function of ``torch.func``.
    chapter_functions: functions of the chapter the answer must not call
        (:class:`ChapterFunction`: name, docstring, message), e.g. the
        chapter's own size formula when the exercise asks for the formula.
    loop_free: a :class:`LoopFree` (or several): the number of torch
        operations the answer calls must not grow with that dimension.
    memory_bound: no tensor the answer creates may hold more than this many
        times the entries of its largest input tensor (catches forming a K x K
        Jacobian per example).
    result_names: names of the elements when the reference returns a tuple of
        tensors, e.g. ``("dx", "dgamma", "dbeta")``, used in the messages.
    """

    def __init__(self, name: str, reference: Callable, cases: Sequence[Case], hints: Sequence[str],
                 solution: Callable, rtol: float = 1e-6, time_limit: float = 5.0,
                 mistakes: Sequence[Mistake] = (), near_miss: tuple[float, str] | None = None,
                 forbidden: dict[str, str] | None = None, chapter_functions: Sequence[ChapterFunction] = (),
                 loop_free: LoopFree | Sequence[LoopFree] | None = None, memory_bound: float | None = None,
                 result_names: tuple[str, ...] | None = None):
        if not isinstance(name, str) or not name.isidentifier():
            raise TypeError(f"name must be the function name the learner writes, got {name!r}.")
        for role, function in (("reference", reference), ("solution", solution)):
            if not callable(function):
                raise TypeError(f"{role} must be a function, got {describe(function)}.")
        if not cases:
            raise ValueError("an exercise needs at least one test case.")
        if not all(isinstance(case, Case) for case in cases):
            raise TypeError("cases must be Case objects, e.g. Case('a 2-D batch', (z, t)).")
        for setting, value in (("rtol", rtol), ("time_limit", time_limit), ("memory_bound", memory_bound)):
            if value is None and setting == "memory_bound":
                continue
            if isinstance(value, bool) or not isinstance(value, Real) or not value > 0:
                raise ValueError(f"{setting} must be a positive number, got {value!r}.")
        loops = (loop_free,) if isinstance(loop_free, LoopFree) else loop_free or ()
        if not isinstance(loops, (tuple, list)) or not all(isinstance(loop, LoopFree) for loop in loops):
            raise TypeError("loop_free must be a LoopFree, e.g. LoopFree(lambda n: (torch.randn(n, 3),)).")
        if result_names is not None and (not isinstance(result_names, tuple)
                                         or not all(isinstance(n, str) and n for n in result_names)):
            raise TypeError(f"result_names must be a tuple of names such as ('dx', 'dgamma'), got {result_names!r}.")
        self.name = name
        self.reference = reference
        self.cases = list(cases)
        self.hints = list(hints)
        self.model_solution = solution
        self.rtol = rtol
        self.time_limit = time_limit
        self.mistakes = list(mistakes)
        self.near_miss = near_miss
        self.forbidden = dict(forbidden or {})
        self.chapter_functions = tuple(chapter_functions)
        self._forbidden = (Forbidden(self.forbidden, self.chapter_functions)
                           if self.forbidden or self.chapter_functions else None)
        self.loop_free = tuple(loops)
        self.memory_bound = memory_bound
        self.result_names = result_names

    # -- the learner's three calls -------------------------------------------------
    def check(self, answer: Any = _NO_ANSWER) -> CheckResult:
        """Run ``answer`` (the learner's function) on every case and say what is wrong, if anything."""
        if answer is _NO_ANSWER:
            return self._fail("no_function", f"{self.name}: check() needs your function as its argument: "
                              f"ex_{self.name}.check({self.name}).")
        if answer is None or answer is Ellipsis or (callable(answer) and is_stub(answer)):
            return self._fail(NOT_ATTEMPTED, f"{self.name}: not attempted yet. Replace the `...` in "
                              f"`{self.name}` with your code, run that cell, then run this one again.")
        if not callable(answer):
            return self._fail("wrong_type", f"{self.name}: expected a function, got {describe(answer)}. "
                              f"Pass the function itself: check({self.name}), not check({self.name}(...)).")
        for passed, case in enumerate(self.cases):
            problem = self._check_case(answer, case, passed)
            if problem is not None:
                return problem
        for loop in self.loop_free:
            problem = self._check_loop(answer, loop)
            if problem is not None:
                return problem
        n = len(self.cases)
        return CheckResult(True, "passed", f"✓ {self.name}: all {n} test case{'s' if n > 1 else ''} pass.")

    def hint(self, n: int = 1) -> None:
        """Print the n-th hint (1-based)."""
        if not self.hints:
            print(f"{self.name} has no hints.")
            return
        whole = isinstance(n, Integral) or (isinstance(n, float) and n.is_integer())
        if isinstance(n, bool) or not whole or not 1 <= n <= len(self.hints):
            print(f"hint(n) takes n from 1 to {len(self.hints)}, got {n!r}.")
            return
        print(_wrap(f"Hint {int(n)} of {len(self.hints)}: {self.hints[int(n) - 1]}"))

    def solution(self) -> None:
        """Print the model solution's source code."""
        print(textwrap.dedent(inspect.getsource(self.model_solution)).rstrip())

    # -- running the learner's function ------------------------------------------------
    def _fail(self, status: str, message: str) -> CheckResult:
        return CheckResult(False, status, "✗ " + message)

    def _run(self, answer: Callable, args: tuple, kwargs: dict, where: str, passed: int):
        """``(recording, result)`` of one call of ``answer``, or the CheckResult that says why there is none."""
        recording = Recording(self._forbidden)
        try:
            kind, got = call_with_time_limit(lambda: recording.run(answer, args, kwargs), self.time_limit,
                                             recording.on_python_call)
        except TimeLimitExceeded as stopped:
            if recording.forbidden_call is not None:
                return self._forbidden_call(recording)
            still = (" It is still running in the background; restart the kernel if the notebook slows down."
                     if stopped.still_running else "")
            return self._fail("timeout", f"{self.name}: no answer within {self.time_limit:g} s {where}. "
                              f"Look for a loop that never ends.{still}")
        if recording.forbidden_call is not None:
            return self._forbidden_call(recording)
        if kind == "value":
            return recording, got
        if isinstance(got, NotImplementedError):
            if passed == 0:
                return self._fail(NOT_ATTEMPTED, f"{self.name}: not attempted yet (it raises NotImplementedError).")
            return self._fail("incomplete", f"{self.name} passes the first {passed} case{'s' if passed > 1 else ''}"
                              f", then raises NotImplementedError {where}: finish the part of {self.name} that "
                              "this case needs.")
        if isinstance(got, SystemExit):
            return self._fail("exception", f"{self.name} called exit() {where}; return the result instead.")
        return self._fail("exception", f"{self.name} raised {_one_line(got)} {where}.")

    def _forbidden_call(self, recording: Recording) -> CheckResult:
        message = self._forbidden.message(*recording.forbidden_call).rstrip()
        return self._fail("forbidden", f"{self.name}: {message}{'' if message[-1] in '.!?' else '.'}")

    def _how_it_was_computed(self, recording: Recording, args: tuple, kwargs: dict, where: str):
        biggest_input = largest_input(args, kwargs)
        size, shape, operation = recording.largest
        if self.memory_bound is not None and biggest_input and size > self.memory_bound * biggest_input:
            return self._fail("memory", f"{self.name} creates a tensor of shape {shape} with {operation} {where}, "
                              f"{size / biggest_input:.0f} times the size of its largest input (this exercise "
                              f"allows {self.memory_bound:g}). Compute the result without forming such a large "
                              "intermediate.")
        return None

    def _check_case(self, answer: Callable, case: Case, passed: int) -> CheckResult | None:
        where = f"on the case '{case.name}'"
        expected = self.reference(*clone(case.args), **clone(case.kwargs))
        args, kwargs = clone(case.args), clone(case.kwargs)
        outcome = self._run(answer, args, kwargs, where, passed)
        if isinstance(outcome, CheckResult):
            return outcome
        recording, got = outcome
        problem = self._how_it_was_computed(recording, args, kwargs, where)
        if problem is not None:
            return problem
        if not (same(case.args, args) and same(case.kwargs, kwargs)):
            return self._fail("mutated_input", f"{self.name} changed its input {where}. Compute a new tensor "
                              "instead of modifying the argument in place (avoid `x -= ...`, `x[...] = ...`).")
        if got is None and expected is not None:
            return self._fail("no_return", f"{self.name} returned None {where}. Did you forget `return`?")
        return self._compare(got, expected, where, case)

    def _check_loop(self, answer: Callable, loop: LoopFree) -> CheckResult | None:
        counts = []
        for n in loop.sizes:
            args = loop.make_args(n)
            args = args if isinstance(args, tuple) else (args,)
            where = f"at size {n} of {loop.what}"
            outcome = self._run(answer, clone(args), {}, where, passed=len(self.cases))
            if isinstance(outcome, CheckResult):
                return outcome
            problem = self._how_it_was_computed(outcome[0], args, {}, where)
            if problem is not None:
                return problem
            counts.append(outcome[0].operations)
        if counts[-1] > counts[0]:
            return self._fail("python_loop", f"{self.name} calls {counts[0]} torch operations at size "
                              f"{loop.sizes[0]} and {counts[-1]} at size {loop.sizes[-1]} of {loop.what}: a Python "
                              f"loop over {loop.what}. Replace the loop with tensor operations that handle all of "
                              f"{loop.what} at once.")
        return None

    # -- comparing the result with the reference ----------------------------------------------
    def _compare(self, got, expected, where: str, case: Case) -> CheckResult | None:
        if isinstance(expected, tuple):
            problem = self._compare_tuple(got, expected, where, case)
        else:
            problem = self._compare_values(got, expected, where, case)
        if problem is None or problem.status not in {"wrong_value", "wrong_shape"}:
            return problem
        named = self._name_the_mistake(got, expected, where, case)
        return problem if named is None else named

    def _compare_tuple(self, got, expected: tuple, where: str, case: Case) -> CheckResult | None:
        names = f" ({', '.join(self.result_names)})" if self.result_names else ""
        if not isinstance(got, (tuple, list)) or type(got).__module__ == "torch.return_types":
            return self._fail("wrong_type", f"{self.name} returned {describe(got)} {where}; return a tuple of "
                              f"{len(expected)} tensors{names}.")
        if len(got) != len(expected):
            return self._fail("wrong_type", f"{self.name} returned {len(got)} values {where}; expected "
                              f"{len(expected)}{names}.")
        for index, (one_got, one_expected) in enumerate(zip(got, expected, strict=True)):
            problem = self._compare_values(one_got, one_expected, where, case, element_name(index, self.result_names))
            if problem is not None:
                return problem
        return None

    def _agrees(self, got, wrong) -> bool:
        if isinstance(got, (tuple, list)) and isinstance(wrong, (tuple, list)):
            return len(got) == len(wrong) and all(self._agrees(g, w) for g, w in zip(got, wrong, strict=True))
        return (isinstance(got, torch.Tensor) and isinstance(wrong, torch.Tensor) and wrong.shape == got.shape
                and bool(torch.isfinite(got).all()) and rel_error(got, wrong) <= self.rtol)

    def _name_the_mistake(self, got, expected, where: str, case: Case) -> CheckResult | None:
        for mistake in self.mistakes:
            try:
                wrong = mistake.answer(*clone(case.args), **clone(case.kwargs))
            except Exception:  # a mistake that cannot be made on this case
                continue
            if self._agrees(got, wrong):
                same_shape = not isinstance(got, torch.Tensor) or got.shape == expected.shape
                status = mistake.status or ("wrong_value" if same_shape else "wrong_shape")
                return self._fail(status, f"{self.name} is wrong {where}: {mistake.message}")
        if self.near_miss is not None and isinstance(got, torch.Tensor) and got.shape == expected.shape \
                and bool(torch.isfinite(got).all()):
            tolerance, message = self.near_miss
            err = rel_error(got, expected)
            if err <= tolerance:
                return self._fail("inaccurate", f"{self.name} {where}: max rel. error {err:.0e}, close but above "
                                  f"the tolerance {self.rtol:.0e}. {message}")
        return None

    def _compare_values(self, got, expected, where: str, case: Case, element: str = "") -> CheckResult | None:
        returned = f"{self.name}: {element} is" if element else f"{self.name} returned"
        has = f"{self.name}: {element} has" if element else f"{self.name} returned"
        if isinstance(expected, torch.Tensor):
            if not isinstance(got, torch.Tensor):
                return self._fail("wrong_type", f"{returned} {describe(got)} {where}; return a torch.Tensor."
                                  + why_this_type(got))
            if got.device.type != "cpu" or got.layout != torch.strided:
                return self._fail("wrong_type", f"{returned} a {got.layout} tensor on the {got.device.type} "
                                  f"device {where}; return an ordinary tensor on the CPU.")
            if got.shape != expected.shape:
                return self._fail("wrong_shape", f"{has} shape {tuple(got.shape)} {where}; expected shape "
                                  f"{tuple(expected.shape)}. {shape_advice(tuple(got.shape), tuple(expected.shape))}")
            if got.dtype != expected.dtype:
                return self._fail("wrong_dtype", f"{has} dtype {got.dtype} {where}; expected {expected.dtype}. "
                                  "Keep the input's dtype.")
            if got.dtype.is_floating_point and not bool(torch.isfinite(got).all()) \
                    and bool(torch.isfinite(expected).all()):
                extra = " " + case.nonfinite_hint if case.nonfinite_hint else ""
                return self._fail("nonfinite", f"{has} NaN or inf {where}.{extra}")
            err = rel_error(got, expected, allow_nonfinite=True)
            if err > self.rtol:
                return self._fail("wrong_value", f"{has} wrong values {where} (max rel. error {err:.0e}).")
            return None
        if isinstance(expected, (int, float)):
            if isinstance(got, torch.Tensor) and got.numel() == 1:
                got = got.item()
            if isinstance(got, bool) or not isinstance(got, (int, float, np.floating, np.integer)):
                return self._fail("wrong_type", f"{returned} {describe(got)} {where}; return a number."
                                  + why_this_type(got))
            if not math.isfinite(float(got)):
                return self._fail("nonfinite", f"{has} {float(got)} {where}.")
            if rel_error(float(got), float(expected)) > self.rtol:
                return self._fail("wrong_value", f"{has} a wrong value {where}.")
            return None
        raise TypeError(f"unsupported reference result type {type(expected).__name__}")
