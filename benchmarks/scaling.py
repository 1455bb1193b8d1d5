"""Scaling: how the cost of a function grows with the size of the work, as a fitted log-log slope."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from benchmarks.cases import ChapterCases, ScalingCase, resolve
from benchmarks.config import Config
from benchmarks.timing import interleaved_samples


def log_log_slope(sizes: Sequence[float], seconds: Sequence[float]) -> float:
    """The least-squares slope of log(seconds) against log(size): p in time ~ c * size ** p."""
    if len(sizes) != len(seconds) or len(sizes) < 2:
        raise ValueError(f"need at least two (size, time) pairs of equal length, got {len(sizes)} and {len(seconds)}.")
    if min(sizes) <= 0 or min(seconds) <= 0:
        raise ValueError("sizes and times must be positive to take their logarithms.")
    slope, _ = np.polyfit(np.log(sizes), np.log(seconds), 1)
    return float(slope)


def measure_scaling(case: ScalingCase, chapter: str, config: Config) -> dict:
    """Time every function of ``case`` at each size and fit its slope.

    Each point is the fastest of the interleaved samples: the one least disturbed by other
    processes, so the fit follows the cost of the work rather than the machine's load.
    """
    functions = {label: resolve(implementation, chapter) for label, implementation in case.functions.items()}
    sizes = config.scaling_sizes(case.sizes)
    seconds: dict[str, list[float]] = {label: [] for label in functions}
    for size in sizes:
        args = case.inputs(size, torch.Generator().manual_seed(0))
        samples = interleaved_samples(list(functions.values()), args, config.repetitions, config.min_sample_s)
        for label, times in zip(functions, samples, strict=True):
            seconds[label].append(min(times))
    series = [{"label": label, "seconds": times, "slope": log_log_slope(sizes, times),
               "expected_slope": case.expected_slopes[label]} for label, times in seconds.items()]
    return {"chapter": chapter, "name": case.name, "variable": case.variable, "sizes": sizes,
            "note": case.note, "series": series}


def measure_all_scaling(declared: list[ChapterCases], config: Config, progress=print) -> list[dict]:
    """Every scaling case of the given chapters, in declaration order."""
    results = []
    for chapter_cases in declared:
        for case in chapter_cases.scaling:
            try:
                result = measure_scaling(case, chapter_cases.chapter, config)
            except Exception as failure:  # a broken case is reported; the other cases still run
                result = {"chapter": chapter_cases.chapter, "name": case.name,
                          "error": f"{type(failure).__name__}: {failure}"}
                progress(f"  {chapter_cases.chapter} {case.name}: {result['error']}")
            else:
                slopes = ", ".join(f"{s['label']} {s['slope']:.2f}" for s in result["series"])
                progress(f"  {chapter_cases.chapter} {case.name}: {slopes}")
            results.append(result)
    return results
