"""Benchmark cases, declared by each chapter in its own module ``benchmarks/cases/chNN_short_name.py``.

A case module names its chapter and lists its cases::

    CHAPTER = "02_maximum_likelihood"   # the notebook's stem in chapters/
    RATIOS = [RatioCase(...), ...]      # from-scratch vs PyTorch, timed side by side
    SCALING = [ScalingCase(...), ...]   # cost against the size of the work

An implementation is either the name of a function the chapter defines in its cells
tagged ``definitions`` (loaded with :func:`nbutils.notebook.load_definitions`, so a
change in the chapter is what gets measured), or a function that receives those
definitions as a namespace and returns the callable to time. Every module in this
package that defines ``CHAPTER`` joins the benchmark by itself once its chapter is
listed in ``_toc.yml``.
"""
from __future__ import annotations

import importlib
import pkgutil
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from nbutils.notebook import load_definitions

ELEMENTWISE_GOAL = 3.0  # element-wise and reduction work: within 3x of PyTorch's CPU kernels
CONV_RECURRENT_GOAL = 10.0  # convolution and recurrent cells: within 10x

Implementation = str | Callable[[types.SimpleNamespace], Callable]
InputMaker = Callable[[int, torch.Generator], tuple]


@dataclass(frozen=True)
class RatioCase:
    """A from-scratch implementation (``ours``) and its PyTorch counterpart, on inputs of one size.

    ``inputs(size, generator)`` returns the arguments both are called with. Their outputs
    (a tensor, a number, or a tuple/list of them) must agree to ``rtol``, the largest
    absolute difference relative to the largest reference value. ``goal`` is the ratio
    (ours / PyTorch) the implementation should stay within; ``lesson`` says why a case is
    slower on purpose (a deliberately naive loop that the chapter explains).
    """

    name: str
    ours: Implementation
    reference: Callable
    inputs: InputMaker
    size: int
    goal: float = ELEMENTWISE_GOAL
    rtol: float = 1e-5
    lesson: str | None = None


@dataclass(frozen=True)
class ScalingCase:
    """How the cost of some functions grows with a size: time each at every size, fit a log-log slope.

    ``functions`` maps a label to an implementation; all are called with ``inputs(size,
    generator)``. ``expected_slopes`` gives, per label, the exponent the chapter's cost
    count predicts (time ~ size ** slope), and ``note`` what the count is.
    """

    name: str
    variable: str
    sizes: Sequence[int]
    inputs: InputMaker
    functions: dict[str, Implementation]
    expected_slopes: dict[str, float]
    note: str = ""

    def __post_init__(self):
        if len(self.sizes) < 2 or list(self.sizes) != sorted(set(self.sizes)):
            raise ValueError(f"{self.name}: sizes must be at least two increasing numbers, got {self.sizes}.")
        if set(self.expected_slopes) != set(self.functions):
            raise ValueError(f"{self.name}: give an expected slope for each function, and only for those.")


@dataclass(frozen=True)
class ChapterCases:
    """The cases one module declares for its chapter."""

    module: str
    chapter: str
    ratios: list[RatioCase] = field(default_factory=list)
    scaling: list[ScalingCase] = field(default_factory=list)


def resolve(implementation: Implementation, chapter: str) -> Callable:
    """The callable an implementation names, taken from ``chapter``'s own definitions when it is a name."""
    definitions = load_definitions(chapter)
    if isinstance(implementation, str):
        function = getattr(definitions, implementation, None)
        if not callable(function):
            defined = ", ".join(name for name, value in vars(definitions).items()
                                if callable(value) and not name.startswith("_"))
            raise LookupError(f"{chapter} defines no function '{implementation}' in its definitions cells; "
                              f"it defines: {defined}.")
        return function
    function = implementation(definitions)
    if not callable(function):
        raise TypeError(f"an implementation for {chapter} returned {type(function).__name__}, not a function.")
    return function


def discover(package: str = __name__) -> list[ChapterCases]:
    """Every case module in ``package``, in name order (so chapter order for ``chNN_`` names)."""
    found = []
    for module_info in sorted(pkgutil.iter_modules(importlib.import_module(package).__path__),
                              key=lambda m: m.name):
        module = importlib.import_module(f"{package}.{module_info.name}")
        chapter = getattr(module, "CHAPTER", None)
        if not isinstance(chapter, str):
            raise TypeError(f"{module.__name__} must set CHAPTER to the chapter's notebook stem, e.g. '02_name'.")
        found.append(ChapterCases(module.__name__, chapter, list(getattr(module, "RATIOS", [])),
                                  list(getattr(module, "SCALING", []))))
    return found
