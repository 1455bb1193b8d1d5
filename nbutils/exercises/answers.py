"""What a learner passes and gets back: copies they cannot corrupt, and words for what they returned.

``_clone`` deep-copies a case's arguments and ``_same`` tells whether the
learner changed them; ``_describe``, ``_why_this_type`` and ``_shape_advice``
say in words what a wrong result is ("an int", "transposed", "flattened").
"""
from __future__ import annotations

import copy
import inspect
import math

import numpy as np
import torch

_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth")


# -- arguments: copies that a learner cannot corrupt, and the test that they did not -----------

def clone(value):
    """A deep copy: tensors and arrays copied, containers rebuilt, anything else deep-copied."""
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, (list, tuple)) and type(value) in (list, tuple):
        return type(value)(clone(v) for v in value)
    if isinstance(value, dict):
        return {k: clone(v) for k, v in value.items()}
    try:
        return copy.deepcopy(value)
    except Exception:  # something that cannot be copied (a module, a generator) is passed as is
        return value


def same(a, b) -> bool:
    """True when ``b`` still equals ``a`` (the stored case): same type, shape and values, NaN equal to NaN."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.shape == b.shape and a.dtype == b.dtype and bool(
            torch.equal(a, b) or (a.dtype.is_floating_point and torch.allclose(a, b, rtol=0, atol=0, equal_nan=True)))
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if a is b:
        return True
    try:
        return bool(a == b) or (isinstance(a, float) and math.isnan(a) and isinstance(b, float) and math.isnan(b))
    except Exception:  # values that cannot be compared are taken as unchanged
        return True


# -- describing what the learner returned -------------------------------------------------------

def article(noun: str) -> str:
    return f"an {noun}" if noun[:1].lower() in "aeiou" else f"a {noun}"


def describe(value) -> str:
    """What a value is, in words: "a torch.Tensor", "an int", "a torch.return_types.max", "None"."""
    if value is None:
        return "None"
    if isinstance(value, torch.Tensor):
        return "a torch.Tensor"
    if isinstance(value, np.ndarray):
        return "a NumPy array"
    kind = type(value)
    if kind.__module__ == "torch.return_types":
        return f"a torch.return_types.{kind.__name__}"
    names = {str: "string", bool: "bool (True or False)"}
    return article(names.get(kind, kind.__name__))


def why_this_type(value) -> str:
    """A sentence for the usual reason a function returns ``value`` instead of a tensor."""
    if type(value).__module__ == "torch.return_types" and hasattr(value, "values"):
        return " It holds values and indices: take its .values."
    if inspect.isgenerator(value):
        return " Is there a `yield` where `return` was meant?"
    return ""


def shape_advice(got: tuple[int, ...], expected: tuple[int, ...]) -> str:
    """Why a result may have the wrong shape: transposed, flattened, an extra or a reduced dimension."""
    n_got, n_expected = math.prod(got), math.prod(expected)
    if n_got == 0 and n_expected:
        return "The result is empty."
    if n_got == n_expected:
        if len(got) == len(expected) and sorted(got) == sorted(expected):
            return "It has the right dimensions in another order: is it transposed?"
        if len(got) < len(expected):
            return "It has the right number of entries in fewer dimensions: it looks flattened."
        if [d for d in got if d != 1] == [d for d in expected if d != 1]:
            return "It has an extra dimension of size 1: check keepdim and unsqueeze."
        return "It has the right number of entries, arranged differently: check the reshape."
    if n_got < n_expected:
        return ("It has fewer entries than expected: a dimension that should stay was reduced or indexed "
                "away. Check the dimension you reduce over and whether you keep it (keepdim=True).")
    return ("It has more entries than expected: a reduction is missing (a sum or mean), or broadcasting "
            "made it bigger.")


def element_name(index: int, names: tuple[str, ...] | None) -> str:
    ordinal = _ORDINALS[index] if index < len(_ORDINALS) else f"element {index + 1}"
    return f"the {ordinal} element, {names[index]}," if names and index < len(names) else f"the {ordinal} element"
