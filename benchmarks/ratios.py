"""From-scratch vs PyTorch: both timed interleaved, on the same inputs, after checking that they agree."""
from __future__ import annotations

import statistics
from collections.abc import Sequence

import numpy as np
import torch

from benchmarks.cases import ChapterCases, RatioCase, resolve
from benchmarks.config import Config
from benchmarks.timing import interleaved_samples


def output_parts(output) -> list[torch.Tensor]:
    """A function's output as a list of float64 tensors: a tensor, array or number, or a tuple/list/dict of them."""
    if isinstance(output, torch.Tensor):
        return [output.detach().to(torch.float64)]
    if isinstance(output, (np.ndarray, np.generic, int, float)):
        return [torch.as_tensor(np.asarray(output, dtype=np.float64))]
    if isinstance(output, dict):
        return [part for key in sorted(output) for part in output_parts(output[key])]
    if isinstance(output, (tuple, list)):
        return [part for item in output for part in output_parts(item)]
    raise TypeError(f"cannot compare an output of type {type(output).__name__}; return tensors or numbers.")


def max_relative_difference(ours, reference) -> float:
    """The largest absolute difference between two outputs, relative to the largest reference value."""
    ours_parts, reference_parts = output_parts(ours), output_parts(reference)
    if len(ours_parts) != len(reference_parts):
        raise ValueError(f"the outputs have {len(ours_parts)} and {len(reference_parts)} parts.")
    worst, scale = 0.0, 0.0
    for mine, theirs in zip(ours_parts, reference_parts, strict=True):
        if mine.shape != theirs.shape:
            raise ValueError(f"the outputs have shapes {tuple(mine.shape)} and {tuple(theirs.shape)}.")
        if not mine.numel():
            continue
        same = (mine == theirs) | (mine.isnan() & theirs.isnan())  # equal infinities and NaNs agree
        difference = torch.where(same, 0.0, (mine - theirs).abs())
        if difference.isnan().any():  # a NaN on one side only
            return float("inf")
        worst = max(worst, float(difference.max()))
        finite = theirs[torch.isfinite(theirs)]
        scale = max(scale, float(finite.abs().max()) if finite.numel() else 0.0)
    return worst / scale if scale > 0 else worst


def describe_inputs(args: Sequence) -> str:
    """The arguments in brief: shape and dtype of arrays, e.g. ``(2048, 1000) float32, (2048,) int64``."""
    described = []
    for arg in args:
        if isinstance(arg, (torch.Tensor, np.ndarray)):
            described.append(f"{tuple(arg.shape)} {str(arg.dtype).removeprefix('torch.')}")
        elif isinstance(arg, (dict, list, tuple)):
            described.append(f"{len(arg)} {'parameters' if isinstance(arg, dict) else 'layers'}")
    return ", ".join(described) or "scalars"


def largest_input(args: Sequence) -> str:
    """Shape and dtype of the argument with the most elements, the one that sets the work."""
    arrays = [arg for arg in args if isinstance(arg, (torch.Tensor, np.ndarray))]
    if not arrays:
        return describe_inputs(args)
    return describe_inputs([max(arrays, key=lambda array: array.size if isinstance(array, np.ndarray)
                                else array.numel())])


def measure_ratio(case: RatioCase, chapter: str, config: Config) -> dict:
    """Check that ``case``'s two implementations agree, then time them; the ratio is ours / PyTorch.

    A case whose outputs disagree is reported with an ``error`` and is not timed.
    """
    size = config.ratio_size(case.size)
    args = case.inputs(size, torch.Generator().manual_seed(0))
    ours = resolve(case.ours, chapter)
    result = {"chapter": chapter, "name": case.name, "size": size, "inputs": describe_inputs(args),
              "largest_input": largest_input(args),
              "goal": case.goal, "lesson": case.lesson, "rtol": case.rtol}
    try:
        difference = max_relative_difference(ours(*args), case.reference(*args))
    except (TypeError, ValueError) as mismatch:
        return {**result, "error": f"outputs cannot be compared: {mismatch}"}
    result["rel_difference"] = difference
    if not difference <= case.rtol:
        return {**result, "error": f"outputs disagree: relative difference {difference:.1e} > {case.rtol:.0e}"}
    ours_s, reference_s = interleaved_samples([ours, case.reference], args, config.repetitions,
                                              config.min_sample_s)
    ratios = [mine / theirs for mine, theirs in zip(ours_s, reference_s, strict=True)]
    q1, median, q3 = np.quantile(ratios, [0.25, 0.5, 0.75]).tolist()
    return {**result, "ours_s": statistics.median(ours_s), "reference_s": statistics.median(reference_s),
            "ratio_median": median, "ratio_q1": q1, "ratio_q3": q3, "ratios": ratios,
            "over_goal": median > case.goal}


def measure_ratios(declared: list[ChapterCases], config: Config, progress=print) -> list[dict]:
    """Every ratio case of the given chapters, in declaration order."""
    results = []
    for chapter_cases in declared:
        for case in chapter_cases.ratios:
            try:
                result = measure_ratio(case, chapter_cases.chapter, config)
            except Exception as failure:  # a broken case is reported; the other cases still run
                result = {"chapter": chapter_cases.chapter, "name": case.name, "inputs": "", "goal": case.goal,
                          "error": f"{type(failure).__name__}: {failure}"}
            shown = result.get("error") or f"{result['ratio_median']:.2f}x"
            progress(f"  {chapter_cases.chapter} {case.name}: {shown}")
            results.append(result)
    return results
