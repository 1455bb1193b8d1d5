"""Checks that compare a from-scratch computation with an independent reference.

Every derivation in the book is followed by one of these checks. They print one
stable line per check, e.g. ``softmax Jacobian: max rel. error 3e-16 ✓``, and
raise :class:`VerificationError` with a readable message when the tolerance is
missed, so a wrong formula cannot build.
"""
from __future__ import annotations

from collections.abc import Callable
from numbers import Real

import numpy as np
import torch


class VerificationError(AssertionError):
    """Raised when a from-scratch result does not match its reference."""


def _as_float64(value, name: str) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        if value.is_complex():
            raise TypeError(f"{name} must be real-valued, got a complex tensor.")
        return value.to(torch.float64).numpy()
    if value is None:
        raise TypeError(f"{name} is None; pass an array, a tensor or a number.")
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be an array, a tensor or a number, got {type(value).__name__}.")
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"{name} must be an array, a tensor or a number, got {type(value).__name__}."
        ) from None
    return array


def _nonfinite_mismatch(a: np.ndarray, b: np.ndarray) -> bool:
    """True unless NaN sits at the same positions on both sides and so does each signed infinity."""
    return bool(np.any(np.isnan(a) ^ np.isnan(b)) or np.any(np.isposinf(a) ^ np.isposinf(b))
                or np.any(np.isneginf(a) ^ np.isneginf(b)))


def rel_error(x, y, eps: float = 1e-12, allow_nonfinite: bool = False) -> float:
    """Maximum element-wise relative error ``|x - y| / max(|x| + |y|, eps)``.

    This is CS231n's definition: symmetric in x and y, bounded by 1 for finite
    values, and meaningful for values of any scale. ``x`` and ``y`` must have
    the same shape; the result is a Python float (0.0 for empty inputs).

    A NaN or an infinity on either side gives ``inf``: two computations that
    both overflow do not agree, they both failed. With ``allow_nonfinite=True``
    (for a result that is legitimately infinite) NaN and each signed infinity
    must sit at exactly the same positions on both sides, where they count as
    agreement; anywhere else the result is ``inf``.
    """
    a, b = _as_float64(x, "x"), _as_float64(y, "y")
    if a.shape != b.shape:
        raise ValueError(f"x and y must have the same shape, got {a.shape} and {b.shape}.")
    if a.size == 0:
        return 0.0
    finite = np.isfinite(a) & np.isfinite(b)
    if not finite.all() and (not allow_nonfinite or _nonfinite_mismatch(a, b)):
        return float("inf")
    a, b = np.where(finite, a, 0.0), np.where(finite, b, 0.0)
    # Halved, so that |x - y| and |x| + |y| cannot overflow for finite values near the float64 limit.
    err = np.abs(a / 2 - b / 2) / np.maximum(np.abs(a) / 2 + np.abs(b) / 2, eps / 2)
    return float(err.max())


def numerical_gradient(f: Callable[[torch.Tensor], torch.Tensor], x, h: float = 1e-6) -> torch.Tensor:
    """Central-difference gradient of a scalar function ``f`` at ``x``, in float64.

    ``df/dx_i ~ (f(x + h e_i) - f(x - h e_i)) / (2 h)``, whose error is O(h^2).
    ``x`` may have any shape; the result has the same shape and dtype float64.
    ``f`` receives a float64 tensor and must return a scalar (one element).
    """
    if not callable(f):
        raise TypeError(f"f must be a function, got {type(f).__name__}.")
    if isinstance(h, bool) or not isinstance(h, Real) or not h > 0:
        raise ValueError(f"h must be positive, a step such as 1e-6, got {h!r}.")
    x = torch.as_tensor(_as_float64(x, "x")).clone()
    grad = torch.zeros_like(x)
    flat_x, flat_grad = x.view(-1), grad.view(-1)
    for i in range(flat_x.numel()):
        old = flat_x[i].item()
        flat_x[i] = old + h
        f_plus = _scalar(f(x))
        flat_x[i] = old - h
        f_minus = _scalar(f(x))
        flat_x[i] = old
        flat_grad[i] = (f_plus - f_minus) / (2 * h)
    return grad


def _scalar(value) -> float:
    array = _as_float64(value, "f(x)")
    if array.size != 1:
        raise ValueError(f"f must return a scalar, got shape {array.shape}.")
    return float(array.reshape(()))


def format_error(err: float) -> str:
    """Round an error to one significant digit for a stable printed line."""
    if err is None or isinstance(err, (str, bytes)):
        raise TypeError(f"err must be a number, got {type(err).__name__}.")
    err = float(err)
    if err == 0:
        return "0"
    if not np.isfinite(err):
        return "inf"
    return f"{err:.0e}".replace("e-0", "e-").replace("e+0", "e+")


def compare(name: str, ours, reference, rtol: float = 1e-7, atol_floor: float = 1e-12,
            allow_nonfinite: bool = False) -> None:
    """Print ``name: max rel. error E ✓``, or raise VerificationError if E > rtol.

    ``ours`` is the from-scratch result, ``reference`` the independent one
    (torch autograd, a torch built-in, a closed form). Both must have the same
    shape. ``rtol`` bounds the maximum relative error (see :func:`rel_error`);
    ``atol_floor`` keeps entries that are both ~0 from counting as large
    relative errors.

    A NaN or inf on either side fails the check: a check whose two sides both
    overflow would otherwise pass without testing anything. Pass
    ``allow_nonfinite=True`` when infinities are the expected result; NaN and
    inf must then sit at exactly the same positions on both sides.

    The printed error is rounded to one significant digit. Errors more than a
    thousand times below the tolerance are round-off, whose digits change with
    the BLAS library and the thread count, so they print as a bound
    (``< 1e-10``) and the line is the same on every machine.
    """
    if not isinstance(name, str) or not name:
        raise TypeError("name must be a non-empty string describing the check.")
    if not (isinstance(rtol, (int, float)) and rtol > 0):
        raise ValueError(f"rtol must be a positive number, got {rtol!r}.")
    a, b = _as_float64(ours, "ours"), _as_float64(reference, "reference")
    if a.shape != b.shape:
        print(f"{name}: shapes differ ✗")
        raise VerificationError(
            f"{name}: shapes differ, ours {a.shape} vs reference {b.shape}."
        )
    bad_ours, bad_reference = int((~np.isfinite(a)).sum()), int((~np.isfinite(b)).sum())
    if (bad_ours or bad_reference) and (not allow_nonfinite or _nonfinite_mismatch(a, b)):
        print(f"{name}: NaN or inf ✗ (ours {bad_ours}, reference {bad_reference})")
        where = "where the other side has none" if allow_nonfinite else "so the comparison tests nothing there"
        raise VerificationError(
            f"{name}: max relative error inf, because ours has {bad_ours} and the reference {bad_reference} "
            f"NaN or inf entries, {where}; pass allow_nonfinite=True only where both sides must be infinite."
        )
    err = rel_error(a, b, eps=atol_floor, allow_nonfinite=allow_nonfinite)
    floor = rtol * 1e-3
    shown = f"< {format_error(floor)}" if err < floor else format_error(err)
    if err > rtol:
        print(f"{name}: max rel. error {shown} ✗ (tolerance {format_error(rtol)})")
        raise VerificationError(
            f"{name}: max relative error {err:.1e} exceeds the tolerance {rtol:.0e}; "
            "the formula or the code that implements it is wrong."
        )
    print(f"{name}: max rel. error {shown} ✓")


def check(name: str, condition: bool, detail: str = "") -> None:
    """Print ``name ✓`` when ``condition`` holds, otherwise raise with ``detail``."""
    if not isinstance(name, str) or not name:
        raise TypeError("name must be a non-empty string describing the check.")
    try:
        holds = bool(condition)
    except (RuntimeError, ValueError):
        raise TypeError(f"{name}: condition must be True or False; reduce a tensor or array to one value "
                        "with .all() or .any() first.") from None
    if holds:
        print(f"{name} ✓")
        return
    print(f"{name} ✗")
    raise VerificationError(f"{name} failed{': ' + detail if detail else '.'}")
