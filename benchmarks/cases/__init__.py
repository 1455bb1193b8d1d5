"""Benchmark cases, declared beside each chapter in ``benchmarks/cases/chNN_short_name.py``.

A case module names its chapter and lists its cases (CONTRIBUTING.md, "Benchmarks")::

    CHAPTER = "02_maximum_likelihood"   # the notebook's stem in chapters/
    RATIOS = [RatioCase(...), ...]      # from-scratch vs PyTorch at one size
    SCALING = [ScalingCase(...), ...]   # cost against the size of the work

An implementation is the name of a function the chapter defines in its cells tagged
``definitions`` (loaded with :func:`nbutils.notebook.load_definitions`, so the chapter's
own code is what gets measured), or a function that receives those definitions as a
namespace and returns the callable to time.
"""
from __future__ import annotations

import importlib
import pkgutil
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from nbutils.notebook import load_definitions

ELEMENTWISE_GOAL = 3.0  # element-wise and reduction work: within 3x of PyTorch's CPU kernels
CONV_RECURRENT_GOAL = 10.0  # convolutions and recurrent cells: within 10x

Implementation = str | Callable[[types.SimpleNamespace], Callable]
InputMaker = Callable[[int, torch.Generator], tuple]


@dataclass(frozen=True)
class RatioCase:
    """The chapter's function (``ours``) and its PyTorch counterpart, both called with ``inputs(size, generator)``.

    Their outputs must agree to ``rtol`` (largest difference relative to the largest
    reference value) before anything is timed. ``goal`` is the ratio ours / PyTorch to stay
    within. ``reason`` says why the chapter accepts a larger ratio, as the chapter says it
    (its clearest form costs more, or the slow loop is the lesson); the page shows it in
    place of "over goal".
    """

    name: str
    ours: Implementation
    reference: Callable
    inputs: InputMaker
    size: int
    goal: float = ELEMENTWISE_GOAL
    rtol: float = 1e-5
    reason: str | None = None


@dataclass(frozen=True)
class ScalingCase:
    """Time each of ``functions`` (label -> implementation) at every size and fit log(time) against log(size).

    ``expected_slopes`` gives, per label, the exponent the chapter's operation count
    predicts, and ``note`` what that count is.
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


def resolve(implementation: Implementation, chapter: str) -> Callable:
    """The callable an implementation names, taken from ``chapter``'s own definitions."""
    definitions = load_definitions(chapter)
    if not isinstance(implementation, str):
        return implementation(definitions)
    function = getattr(definitions, implementation, None)
    if not callable(function):
        defined = ", ".join(name for name, value in vars(definitions).items()
                            if callable(value) and not name.startswith("_"))
        raise LookupError(f"{chapter} defines no function '{implementation}' in its definitions cells; "
                          f"it defines: {defined}.")
    return function


def discover() -> list[types.ModuleType]:
    """Every case module of this package, in name order (chapter order for ``chNN_`` names)."""
    modules = [importlib.import_module(f"{__name__}.{info.name}")
               for info in sorted(pkgutil.iter_modules(__path__), key=lambda info: info.name)]
    for module in modules:
        if not isinstance(getattr(module, "CHAPTER", None), str):
            raise TypeError(f"{module.__name__} must set CHAPTER to its chapter's notebook stem, e.g. '02_name'.")
    return modules
