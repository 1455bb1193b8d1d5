"""Chapter run times and peak memory: each chapter executed top to bottom in a fresh kernel, several times.

Each execution runs in its own process (``python -m benchmarks.chapters NOTEBOOK`` prints one
JSON line), so the kernel is that process's only child and ``getrusage(RUSAGE_CHILDREN)``
after the kernel exits is the kernel's peak memory. The notebook is never written back.
"""
from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import CHAPTER_BUDGET_S, MEMORY_BUDGET_MB, ROOT
from nbutils.notebook import toc_pages
from nbutils.widgets import use_build_environment

CELL_TIMEOUT_S = 300  # the book build's limit (_config.yml); a hanging cell fails the run, not the benchmark


class ExecutionFailed(RuntimeError):
    """A notebook did not execute to the end."""


def toc_notebooks(root: Path = ROOT) -> list[Path]:
    """The notebooks ``root/_toc.yml`` lists, in reading order."""
    paths = [root / (page if page.endswith(".ipynb") else f"{page}.ipynb") for page in toc_pages(root)]
    return list(dict.fromkeys(path for path in paths if path.is_file()))


def execute(notebook: Path) -> dict:
    """Execute ``notebook`` in a fresh process and kernel; its wall time and peak memory."""
    finished = subprocess.run([sys.executable, "-m", "benchmarks.chapters", str(notebook)],
                              capture_output=True, text=True, cwd=ROOT)
    last = (finished.stdout.strip().splitlines() or ["{}"])[-1]
    report = json.loads(last) if last.startswith("{") else {}
    if finished.returncode != 0 or "seconds" not in report:
        reason = report.get("error") or (finished.stderr.strip().splitlines() or ["no output"])[-1]
        raise ExecutionFailed(f"{notebook.name} did not execute: {reason}")
    return report


def summarise(notebook: Path, runs: list[dict]) -> dict:
    """Median, min and max wall time, the median CPU time and the largest peak memory of one chapter's runs.

    The budget is checked against the kernel's CPU time: other processes on a busy machine
    stretch the wall time of a single-threaded chapter, not the work it does.
    """
    seconds = [run["seconds"] for run in runs]
    cpu_s = statistics.median(run["cpu_s"] for run in runs)
    peak = max(run["peak_rss_mb"] for run in runs)
    return {"chapter": notebook.stem, "runs_s": seconds, "median_s": statistics.median(seconds),
            "min_s": min(seconds), "max_s": max(seconds), "cpu_s": cpu_s, "peak_rss_mb": peak,
            "over_budget": cpu_s > CHAPTER_BUDGET_S or peak > MEMORY_BUDGET_MB}


def measure_chapters(notebooks: list[Path], runs: int, run=execute, progress=print) -> tuple[list[dict], list[str]]:
    """Execute every notebook ``runs`` times, round-robin so a change in machine load touches all alike.

    Returns one summary per chapter that ran and one message per chapter that failed (not retried).
    """
    done: dict[Path, list[dict]] = {notebook: [] for notebook in notebooks}
    errors: dict[Path, str] = {}
    for round_number in range(1, runs + 1):
        for notebook in [n for n in notebooks if n not in errors]:
            try:
                done[notebook].append(run(notebook))
            except ExecutionFailed as failure:
                errors[notebook] = str(failure)
                progress(f"  {failure}")
                continue
            progress(f"  run {round_number}/{runs} {notebook.stem}: {done[notebook][-1]['seconds']:.1f} s")
    return [summarise(n, done[n]) for n in notebooks if n not in errors], list(errors.values())


def main(notebook: Path) -> int:
    """Execute one notebook in this process's only kernel and print its cost as one JSON line."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    use_build_environment()
    book = nbformat.read(notebook, as_version=4)
    client = NotebookClient(book, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                            resources={"metadata": {"path": str(notebook.parent)}})
    start = time.perf_counter()
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError) as error:
        print(json.dumps({"error": str(error).strip().splitlines()[-1][:500]}))
        return 1
    kernel = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak_mb = kernel.ru_maxrss / (2**20 if sys.platform == "darwin" else 2**10)  # bytes on macOS, KiB on Linux
    print(json.dumps({"seconds": time.perf_counter() - start, "cpu_s": kernel.ru_utime + kernel.ru_stime,
                      "peak_rss_mb": peak_mb}))
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]).resolve()))
