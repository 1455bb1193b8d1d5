"""The one case loop: build a case's inputs at each size, check that a ratio case's two sides agree, then time
every function with ``torch.utils.benchmark``; a ratio case gives ours / PyTorch, a scaling case a fitted slope."""
from __future__ import annotations

import statistics
from dataclasses import dataclass

import numpy as np
import torch
from threadpoolctl import threadpool_limits
from torch.utils.benchmark import Measurement, Timer

from benchmarks.cases import RatioCase, ScalingCase, resolve


@dataclass(frozen=True)
class Config:
    """How much to measure. ``max_size`` caps every size (the tests run each case at 16)."""

    chapter_runs: int = 3  # fresh-kernel executions of each chapter
    rounds: int = 5  # blocked_autorange measurements of each function, in alternating order
    min_run_time: float = 0.2  # seconds each blocked_autorange measurement lasts at least
    threads: int = 1  # torch and BLAS threads while timing (one: steady on a small shared machine)
    max_size: int | None = None


FULL = Config()
QUICK = Config(chapter_runs=1, rounds=1, min_run_time=0.05)
TINY = Config(chapter_runs=1, rounds=1, min_run_time=0.001, max_size=16)


def leaves(output) -> list[torch.Tensor]:
    """An output (a tensor, array or number, or a tuple, list or dict of them) as float64 tensors."""
    if isinstance(output, dict):
        return [leaf for key in sorted(output) for leaf in leaves(output[key])]
    if isinstance(output, (tuple, list)):
        return [leaf for item in output for leaf in leaves(item)]
    if isinstance(output, torch.Tensor):
        return [output.detach().to(torch.float64)]
    if isinstance(output, (np.ndarray, np.generic, int, float)):
        return [torch.as_tensor(np.asarray(output, dtype=np.float64))]
    raise TypeError(f"cannot compare an output of type {type(output).__name__}; return tensors or numbers.")


def relative_difference(ours, reference) -> float:
    """The largest absolute difference of two outputs over the largest finite reference value (inf for a lone NaN)."""
    worst = scale = 0.0
    for mine, theirs in zip(leaves(ours), leaves(reference), strict=True):
        if mine.shape != theirs.shape:
            raise ValueError(f"the outputs have shapes {tuple(mine.shape)} and {tuple(theirs.shape)}.")
        same = (mine == theirs) | (mine.isnan() & theirs.isnan())  # equal infinities and NaNs agree
        difference = torch.where(same, 0.0, (mine - theirs).abs())
        if difference.isnan().any():
            return float("inf")
        finite = theirs[theirs.isfinite()].abs()
        worst = max(worst, float(difference.max()) if difference.numel() else 0.0)
        scale = max(scale, float(finite.max()) if finite.numel() else 0.0)
    return worst / scale if scale > 0 else worst


def largest_input(args: tuple) -> str:
    """Shape and dtype of the argument with the most elements, the one that sets the work."""
    arrays = [torch.as_tensor(arg) for arg in args if isinstance(arg, (torch.Tensor, np.ndarray))]
    if not arrays:
        return "no tensors"
    largest = max(arrays, key=torch.numel)
    return f"{tuple(largest.shape)} {str(largest.dtype).removeprefix('torch.')}"


def log_log_slope(sizes, seconds) -> float:
    """The least-squares slope p of log(seconds) against log(size): time ~ c * size ** p."""
    return float(np.polyfit(np.log(sizes), np.log(seconds), 1)[0])


def run_sizes(case: RatioCase | ScalingCase, config: Config) -> list[int]:
    """The sizes a case runs at: capped by ``config.max_size``, and always two at least for a scaling case."""
    if isinstance(case, RatioCase):
        return [case.size if config.max_size is None else min(case.size, config.max_size)]
    kept = [size for size in case.sizes if config.max_size is None or size <= config.max_size]
    return kept if len(kept) >= 2 else list(case.sizes[:2])


def measure_case(case: RatioCase | ScalingCase, chapter: str, config: Config,
                 measurements: list[Measurement] | None = None) -> dict:
    """Measure one case. Every ``blocked_autorange`` measurement is appended to ``measurements`` (for Compare).

    A ratio case whose two outputs disagree gets an ``error`` and is not timed.
    """
    if isinstance(case, RatioCase):
        functions = {"ours": resolve(case.ours, chapter), "PyTorch": case.reference}
        result = {"chapter": chapter, "name": case.name, "goal": case.goal, "reason": case.reason, "rtol": case.rtol}
    else:
        functions = {label: resolve(function, chapter) for label, function in case.functions.items()}
        result = {"chapter": chapter, "name": case.name, "variable": case.variable, "note": case.note}
    sizes, seconds = run_sizes(case, config), {label: [] for label in functions}
    for size in sizes:
        args = case.inputs(size, torch.Generator().manual_seed(0))
        if isinstance(case, RatioCase):
            difference = relative_difference(functions["ours"](*args), case.reference(*args))
            result.update(size=size, largest_input=largest_input(args), rel_difference=difference)
            if not difference <= case.rtol:
                return {**result, "error": f"outputs disagree: relative difference {difference:.1e} > {case.rtol:.0e}"}
        blocks = {label: [] for label in functions}  # seconds per call of every timed block
        with threadpool_limits(limits=config.threads):
            for round_index in range(config.rounds):
                labels = list(functions) if round_index % 2 == 0 else list(reversed(functions))
                for label in labels:
                    timer = Timer("function(*args)", globals={"function": functions[label], "args": args},
                                  num_threads=config.threads, label=f"{chapter}: {case.name}",
                                  sub_label=f"size {size}", description=label)
                    measurement = timer.blocked_autorange(min_run_time=config.min_run_time)
                    blocks[label] += measurement.times
                    if measurements is not None:
                        measurements.append(measurement)
        for label, times in blocks.items():  # the fastest block: the one least disturbed by other processes
            seconds[label].append(min(times))
        if isinstance(case, RatioCase):
            ratio = seconds["ours"][0] / seconds["PyTorch"][0]
            result.update(ours_s=seconds["ours"][0], reference_s=seconds["PyTorch"][0],
                          ours_median_s=statistics.median(blocks["ours"]),
                          reference_median_s=statistics.median(blocks["PyTorch"]), ratio=ratio,
                          over_goal=ratio > case.goal)
    if isinstance(case, ScalingCase):
        result.update(sizes=sizes, series=[{"label": label, "seconds": times, "slope": log_log_slope(sizes, times),
                                            "expected_slope": case.expected_slopes[label]}
                                           for label, times in seconds.items()])
    return result


def measure_cases(modules: list, kind: str, config: Config, measurements: list[Measurement] | None = None,
                  progress=print) -> list[dict]:
    """Every case of ``kind`` (``"ratios"`` or ``"scaling"``) of the given case modules, in declaration order.

    A case that raises is reported with its error; the other cases still run.
    """
    results = []
    for module in modules:
        for case in getattr(module, kind.upper(), []):
            try:
                result = measure_case(case, module.CHAPTER, config, measurements)
            except Exception as failure:
                result = {"chapter": module.CHAPTER, "name": case.name, "error": f"{type(failure).__name__}: {failure}"}
            shown = result.get("error") or (f"{result['ratio']:.2f}x" if "ratio" in result else ", ".join(
                f"{s['label']} slope {s['slope']:.2f}" for s in result["series"]))
            progress(f"  {module.CHAPTER} {case.name}: {shown}")
            results.append(result)
    return results
