"""The self-checking exercise framework.

An :class:`Exercise` holds named test cases, a reference that computes the
right answer independently (a torch built-in or a closed form), hints and a
model solution. ``check(answer)`` runs the learner's function on every case
and returns a :class:`CheckResult` whose text says *what* is wrong (not
attempted, wrong type, shape, dtype, NaN/inf, wrong values on a named case, an
exception, a forgotten ``return``, a mutated input, no answer in time) without
revealing the answer. The text is deterministic, so nbval can compare it.
"""
from __future__ import annotations

import ast
import inspect
import math
import signal
import textwrap
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from nbutils.verify import rel_error

NOT_ATTEMPTED = "not_attempted"


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

    answer: Callable[..., torch.Tensor]
    message: str
    status: str | None = None


@dataclass(frozen=True)
class CheckResult:
    """What ``Exercise.check`` found. Displays as its message in Jupyter."""

    passed: bool
    status: str  # "passed", "not_attempted", "wrong_type", "wrong_shape", ...
    message: str

    def __repr__(self) -> str:
        return self.message

    def __bool__(self) -> bool:
        return self.passed


class _Timeout(BaseException):
    """Raised by the alarm; a BaseException so a learner's ``except Exception:`` cannot swallow it."""


def _run_with_time_limit(func: Callable, args: tuple, kwargs: dict, seconds: float):
    """Call ``func``; raise _Timeout after ``seconds`` (main thread only)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        return func(*args, **kwargs)

    def on_alarm(signum, frame):
        raise _Timeout

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return func(*args, **kwargs)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _clone(value):
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, (list, tuple)):
        return type(value)(_clone(v) for v in value)
    return value


def _same(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.shape == b.shape and bool(torch.equal(a, b) or (
            a.dtype.is_floating_point and torch.allclose(a, b, rtol=0, atol=0, equal_nan=True)))
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return True


def _empty_function():
    pass


def is_stub(func: Callable) -> bool:
    """True when ``func``'s body is only a docstring, ``...``, ``pass`` or ``raise NotImplementedError``."""
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


def _describe(value) -> str:
    if isinstance(value, torch.Tensor):
        return "a torch.Tensor"
    if isinstance(value, np.ndarray):
        return "a NumPy array"
    return f"a {type(value).__name__}" if value is not None else "None"


class Exercise:
    """A self-checking code exercise.

    Parameters
    ----------
    name: the function name the learner writes (used in every message).
    reference: the independent right answer: a function called with each
        case's arguments (typically a torch built-in).
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
    """

    def __init__(self, name: str, reference: Callable, cases: Sequence[Case], hints: Sequence[str],
                 solution: Callable, rtol: float = 1e-6, time_limit: float = 5.0,
                 mistakes: Sequence[Mistake] = (), near_miss: tuple[float, str] | None = None):
        if not isinstance(name, str) or not name.isidentifier():
            raise TypeError(f"name must be the function name the learner writes, got {name!r}.")
        for role, function in (("reference", reference), ("solution", solution)):
            if not callable(function):
                raise TypeError(f"{role} must be a function, got {_describe(function)}.")
        if not cases:
            raise ValueError("an exercise needs at least one test case.")
        if not all(isinstance(case, Case) for case in cases):
            raise TypeError("cases must be Case objects, e.g. Case('a 2-D batch', (z, t)).")
        for setting, value in (("rtol", rtol), ("time_limit", time_limit)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"{setting} must be a positive number, got {value!r}.")
        self.name = name
        self.reference = reference
        self.cases = list(cases)
        self.hints = list(hints)
        self.model_solution = solution
        self.rtol = rtol
        self.time_limit = time_limit
        self.mistakes = list(mistakes)
        self.near_miss = near_miss

    # -- the learner's three calls -------------------------------------------------
    def check(self, answer: Any) -> CheckResult:
        """Run ``answer`` (the learner's function) on every case and say what is wrong, if anything."""
        if answer is None or answer is Ellipsis or (callable(answer) and is_stub(answer)):
            return self._fail(NOT_ATTEMPTED, f"{self.name}: not attempted yet. Replace the `...` in "
                              f"`{self.name}` with your code, run that cell, then run this one again.")
        if not callable(answer):
            return self._fail("wrong_type", f"{self.name}: expected a function, got {_describe(answer)}. "
                              f"Pass the function itself: check({self.name}), not check({self.name}(...)).")
        for case in self.cases:
            problem = self._check_case(answer, case)
            if problem is not None:
                return problem
        n = len(self.cases)
        return CheckResult(True, "passed", f"✓ {self.name}: all {n} test case{'s' if n > 1 else ''} pass.")

    def hint(self, n: int = 1) -> None:
        """Print the n-th hint (1-based)."""
        if not self.hints:
            print(f"{self.name} has no hints.")
            return
        if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= len(self.hints):
            print(f"hint(n) takes n from 1 to {len(self.hints)}, got {n!r}.")
            return
        print(f"Hint {n} of {len(self.hints)}: {self.hints[n - 1]}")

    def solution(self) -> None:
        """Print the model solution's source code."""
        print(textwrap.dedent(inspect.getsource(self.model_solution)).rstrip())

    # -- internals ---------------------------------------------------------------------
    def _fail(self, status: str, message: str) -> CheckResult:
        return CheckResult(False, status, "✗ " + message)

    def _check_case(self, answer: Callable, case: Case) -> CheckResult | None:
        where = f"on the case '{case.name}'"
        expected = self.reference(*_clone(case.args), **_clone(case.kwargs))
        args, kwargs = _clone(case.args), _clone(case.kwargs)
        try:
            got = _run_with_time_limit(answer, args, kwargs, self.time_limit)
        except _Timeout:
            return self._fail("timeout", f"{self.name} did not finish within {self.time_limit:g} s {where}. "
                              "Look for a loop that never ends.")
        except NotImplementedError:
            return self._fail(NOT_ATTEMPTED, f"{self.name}: not attempted yet (it raises NotImplementedError).")
        except SystemExit:
            return self._fail("exception", f"{self.name} called exit() {where}; return the result instead.")
        except Exception as exc:  # the learner's bug, reported in one line
            return self._fail("exception", f"{self.name} raised {_one_line(exc)} {where}.")
        if not (_same(args, case.args) and _same(kwargs, case.kwargs)):
            return self._fail("mutated_input", f"{self.name} changed its input {where}. Compute a new tensor "
                              "instead of modifying the argument in place (avoid `x -= ...`, `x[...] = ...`).")
        if got is None and expected is not None:
            return self._fail("no_return", f"{self.name} returned None {where}. Did you forget `return`?")
        return self._compare(got, expected, where, case)

    def _compare(self, got, expected, where: str, case: Case) -> CheckResult | None:
        problem = self._compare_values(got, expected, where, case)
        if problem is None or problem.status not in {"wrong_value", "wrong_shape"}:
            return problem
        named = self._name_the_mistake(got, expected, where, case)
        return problem if named is None else named

    def _name_the_mistake(self, got, expected, where: str, case: Case) -> CheckResult | None:
        if not isinstance(got, torch.Tensor) or not bool(torch.isfinite(got).all()):
            return None
        for mistake in self.mistakes:
            try:
                wrong = mistake.answer(*_clone(case.args), **_clone(case.kwargs))
            except Exception:  # noqa: BLE001 - a mistake that cannot be made on this case
                continue
            if isinstance(wrong, torch.Tensor) and wrong.shape == got.shape and rel_error(got, wrong) <= self.rtol:
                status = mistake.status or ("wrong_shape" if got.shape != expected.shape else "wrong_value")
                return self._fail(status, f"{self.name} is wrong {where}: {mistake.message}")
        if self.near_miss is not None and got.shape == expected.shape:
            tolerance, message = self.near_miss
            err = rel_error(got, expected)
            if err <= tolerance:
                return self._fail("inaccurate", f"{self.name} {where}: max rel. error {err:.0e}, close but above "
                                  f"the tolerance {self.rtol:.0e}. {message}")
        return None

    def _compare_values(self, got, expected, where: str, case: Case) -> CheckResult | None:
        if isinstance(expected, torch.Tensor):
            if not isinstance(got, torch.Tensor):
                return self._fail("wrong_type", f"{self.name} returned {_describe(got)} {where}; "
                                  "return a torch.Tensor.")
            if got.device.type != "cpu" or got.layout != torch.strided:
                return self._fail("wrong_type", f"{self.name} returned a {got.layout} tensor on the "
                                  f"{got.device.type} device {where}; return an ordinary tensor on the CPU.")
            if got.shape != expected.shape:
                return self._fail("wrong_shape", f"{self.name} returned shape {tuple(got.shape)} {where}; "
                                  f"expected shape {tuple(expected.shape)}. Check the dimension you reduce "
                                  "over and whether you keep it (keepdim=True).")
            if got.dtype != expected.dtype:
                return self._fail("wrong_dtype", f"{self.name} returned dtype {got.dtype} {where}; expected "
                                  f"{expected.dtype}. Keep the input's dtype.")
            if got.dtype.is_floating_point and not bool(torch.isfinite(got).all()) \
                    and bool(torch.isfinite(expected).all()):
                extra = " " + case.nonfinite_hint if case.nonfinite_hint else ""
                return self._fail("nonfinite", f"{self.name} returned NaN or inf {where}.{extra}")
            err = rel_error(got, expected)
            if err > self.rtol:
                return self._fail("wrong_value", f"{self.name} returned wrong values {where} "
                                  f"(max rel. error {err:.0e}).")
            return None
        if isinstance(expected, (int, float)):
            if isinstance(got, torch.Tensor) and got.numel() == 1:
                got = got.item()
            if isinstance(got, bool) or not isinstance(got, (int, float, np.floating, np.integer)):
                return self._fail("wrong_type", f"{self.name} returned {_describe(got)} {where}; return a number.")
            if not math.isfinite(float(got)):
                return self._fail("nonfinite", f"{self.name} returned {float(got)} {where}.")
            if rel_error(float(got), float(expected)) > self.rtol:
                return self._fail("wrong_value", f"{self.name} returned a wrong value {where}.")
            return None
        raise TypeError(f"unsupported reference result type {type(expected).__name__}")
