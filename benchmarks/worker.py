"""Execute one notebook in a fresh kernel and print what it cost as one JSON line.

Run in its own process, one per execution, so every run starts from nothing::

    python -m benchmarks.worker chapters/02_maximum_likelihood.ipynb [--profile STATS_FILE]

The notebook is executed in memory and never written back. The working directory
of the kernel is the notebook's folder, as when the book builds. Peak memory is
the kernel's maximum resident set size, read with ``getrusage(RUSAGE_CHILDREN)``
once the kernel has exited: the kernel is this process's only child.
With ``--profile``, a first and a last cell are added that run the whole notebook
under cProfile and dump the statistics to STATS_FILE.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from datetime import datetime
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError

CELL_TIMEOUT_S = 300  # the book build's limit (_config.yml); a hanging cell fails the run, not the benchmark
PROFILE_START = ("import cProfile as _benchmark_cprofile\n"
                 "_benchmark_profiler = _benchmark_cprofile.Profile()\n"
                 "_benchmark_profiler.enable()")
PROFILE_STOP = "_benchmark_profiler.disable()\n_benchmark_profiler.dump_stats({path!r})"
BUILD_ENVIRONMENT = {"NBUTILS_STATIC": "1", "PYDEVD_DISABLE_FILE_VALIDATION": "1"}  # as `make book` sets them


def children_peak_rss_mb() -> float:
    """The largest peak resident set size of any finished child process, in MB."""
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, KiB on Linux


def first_line(source: str, width: int = 70) -> str:
    """The first line of a cell that is neither blank nor a comment, shortened to ``width`` characters."""
    for line in source.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            return line.strip() if len(line.strip()) <= width else line.strip()[: width - 1] + "…"
    return "(comments only)"


def cell_seconds(cell) -> float | None:
    """How long a code cell ran, from the timestamps nbclient records in its metadata."""
    timing = cell.get("metadata", {}).get("execution", {})
    started, finished = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (started and finished):
        return None
    return (datetime.fromisoformat(finished) - datetime.fromisoformat(started)).total_seconds()


def execute_notebook(path: Path, profile_to: Path | None = None) -> dict:
    """Execute ``path`` top to bottom in a fresh kernel; return its wall time, peak memory and per-cell times.

    The result is ``{"seconds", "peak_rss_mb", "cells": [{"index", "first_line", "seconds"}]}``;
    ``index`` counts the notebook's cells from 0, markdown included. Cells that fail raise
    nbclient's ``CellExecutionError``.
    """
    notebook = nbformat.read(path, as_version=4)
    cells = list(notebook.cells)  # the chapter's own cells, without the profiler's
    if profile_to is not None:
        notebook.cells = ([nbformat.v4.new_code_cell(PROFILE_START)] + cells
                          + [nbformat.v4.new_code_cell(PROFILE_STOP.format(path=str(profile_to)))])
    kernel = notebook.metadata.get("kernelspec", {}).get("name", "python3")
    client = NotebookClient(notebook, timeout=CELL_TIMEOUT_S, kernel_name=kernel,
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    timed = [{"index": index, "first_line": first_line(cell.source), "seconds": cell_seconds(cell)}
             for index, cell in enumerate(cells) if cell.cell_type == "code"]
    return {"seconds": seconds, "peak_rss_mb": children_peak_rss_mb(), "cells": timed}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--profile", type=Path, help="run under cProfile and write the statistics here")
    args = parser.parse_args(argv)
    if not args.notebook.is_file():
        parser.error(f"no notebook at {args.notebook}.")
    os.environ.update(BUILD_ENVIRONMENT)
    try:
        result = execute_notebook(args.notebook.resolve(), args.profile)
    except (CellExecutionError, CellTimeoutError) as error:
        print(json.dumps({"error": str(error).strip().splitlines()[-1][:500]}))
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
