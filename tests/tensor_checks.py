"""Assertions shared by the tests of the chapters' definitions: seeded inputs and matching against torch."""
from __future__ import annotations

import torch

from nbutils.verify import rel_error

DTYPES = [torch.float32, torch.float64]
#: How close a chapter's function must come to torch in each dtype.
RTOL = {torch.float32: 1e-5, torch.float64: 1e-12}


def randn(seed: int, *shape: int, dtype: torch.dtype, scale: float = 1.0) -> torch.Tensor:
    """Standard normal entries (times ``scale``) drawn in float64 from ``seed``, then cast to ``dtype``."""
    generator = torch.Generator().manual_seed(seed)
    return (scale * torch.randn(*shape, generator=generator, dtype=torch.float64)).to(dtype)


def assert_matches(ours, reference: torch.Tensor, what: str, floor: float = 1e-3, rtol: float | None = None,
                   allow_nonfinite: bool = False) -> None:
    """Same dtype and shape, no NaN where the reference is finite, values within the dtype's tolerance."""
    assert isinstance(ours, torch.Tensor), f"{what}: returned {type(ours).__name__}, not a tensor"
    assert ours.dtype == reference.dtype, f"{what}: dtype {ours.dtype}, torch gives {reference.dtype}"
    assert ours.shape == reference.shape, f"{what}: shape {tuple(ours.shape)} vs {tuple(reference.shape)}"
    bad = torch.isnan(ours) & torch.isfinite(reference)
    assert not bad.any(), f"{what}: NaN where torch is finite, at {bad.nonzero().tolist()[:4]}"
    tolerance = rtol if rtol is not None else RTOL.get(reference.dtype, 1e-12)
    err = rel_error(ours.detach(), reference.detach(), eps=floor, allow_nonfinite=allow_nonfinite)
    assert err <= tolerance, f"{what}: max rel. error {err:.1e} > {tolerance:.0e}"
