"""Chapter execution: every chapter run top to bottom in a fresh kernel, several times, round-robin."""
from __future__ import annotations

import json
import statistics
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from benchmarks import CHAPTER_BUDGET_S, ROOT

Executor = Callable[[Path], dict]
SLOWEST_CELLS = 3


class ExecutionFailed(RuntimeError):
    """A notebook did not execute to the end."""


def run_worker(notebook: Path, profile_to: Path | None = None) -> dict:
    """Execute ``notebook`` in a fresh process and kernel (``benchmarks.worker``) and return its report."""
    command = [sys.executable, "-m", "benchmarks.worker", str(notebook)]
    if profile_to is not None:
        command += ["--profile", str(profile_to)]
    finished = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    lines = finished.stdout.strip().splitlines()
    report = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {}
    if finished.returncode != 0 or "seconds" not in report:
        reason = report.get("error") or (finished.stderr.strip().splitlines() or ["no output"])[-1]
        raise ExecutionFailed(f"{notebook.name} did not execute: {reason}")
    return report


def summarise_runs(notebook: Path, runs: list[dict], budget_s: float = CHAPTER_BUDGET_S) -> dict:
    """Median, min and max wall time, the largest peak memory and the slowest cells of one chapter's runs."""
    if not runs:
        raise ValueError(f"no runs of {notebook.name} to summarise.")
    seconds = [run["seconds"] for run in runs]
    per_cell: dict[int, list[float]] = {}
    lines: dict[int, str] = {}
    for run in runs:
        for cell in run["cells"]:
            if cell["seconds"] is not None:
                per_cell.setdefault(cell["index"], []).append(cell["seconds"])
                lines[cell["index"]] = cell["first_line"]
    cells = sorted(({"index": index, "first_line": lines[index], "seconds": statistics.median(times)}
                    for index, times in per_cell.items()), key=lambda cell: -cell["seconds"])
    median = statistics.median(seconds)
    return {"chapter": notebook.stem, "runs_s": seconds, "median_s": median, "min_s": min(seconds),
            "max_s": max(seconds), "peak_rss_mb": max(run["peak_rss_mb"] for run in runs),
            "over_budget": median > budget_s, "slowest_cells": cells[:SLOWEST_CELLS]}


def measure_chapters(notebooks: list[Path], runs: int, execute: Executor = run_worker,
                     progress: Callable[[str], None] = print) -> tuple[list[dict], list[str]]:
    """Execute every notebook ``runs`` times, round-robin so slow drifts in machine load touch all alike.

    Returns the per-chapter summaries (see :func:`summarise_runs`) and one message per failed chapter;
    a chapter that fails once is not run again.
    """
    if runs < 1:
        raise ValueError(f"runs must be at least 1, got {runs}.")
    results: dict[Path, list[dict]] = {notebook: [] for notebook in notebooks}
    errors: dict[Path, str] = {}
    for round_number in range(1, runs + 1):
        for notebook in notebooks:
            if notebook in errors:
                continue
            try:
                results[notebook].append(execute(notebook))
            except ExecutionFailed as failure:
                errors[notebook] = str(failure)
                progress(f"  {failure}")
                continue
            progress(f"  run {round_number}/{runs} {notebook.stem}: {results[notebook][-1]['seconds']:.1f} s")
    summaries = [summarise_runs(notebook, results[notebook]) for notebook in notebooks if notebook not in errors]
    return summaries, list(errors.values())
