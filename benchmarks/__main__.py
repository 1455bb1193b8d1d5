"""``python -m benchmarks``: measure the book and write benchmarks/results.json (``make bench``).

A full run (no options) writes ``benchmarks/results.json``. A partial run (``--quick``,
``--only``, ``--chapter``) prints its tables and writes a file only when ``--output`` is
given, so it never replaces the committed results.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import torch
from torch.utils.benchmark import Compare

from benchmarks import RESULTS_PATH, ROOT, SCHEMA
from benchmarks.cases import discover
from benchmarks.chapters import measure_chapters, toc_notebooks
from benchmarks.report import markdown_report, read_results, write_results
from benchmarks.timing import FULL, QUICK, Config, measure_cases

SECTIONS = ("chapters", "ratios", "scaling")


def describe_machine() -> dict:
    """What a reader needs to compare the numbers with their own."""
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), None) if Path("/proc/cpuinfo").is_file() else None
    return {"cpu_model": cpu or platform.processor() or platform.machine(),
            "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
            "torch": torch.__version__, "python": platform.python_version(), "platform": platform.platform(terse=True),
            "load_average": [round(x, 1) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None}


def chapters_to_measure(only: list[str]) -> list[Path]:
    """The chapters in _toc.yml, or those named (which may be notebooks in chapters/ not listed yet)."""
    if not only:
        return toc_notebooks()
    found = {path.stem: path for path in (ROOT / "chapters").glob("*.ipynb")}
    missing = sorted(set(only) - set(found))
    if missing:
        raise ValueError(f"no chapter notebook named {', '.join(missing)} in chapters/.")
    return [found[stem] for stem in only]


def run(config: Config, sections=SECTIONS, only_chapters: list[str] = (), progress=print) -> dict:
    """Measure the chosen ``sections`` of the chosen chapters and return the results."""
    notebooks = chapters_to_measure(list(only_chapters))
    started = time.perf_counter()
    results = {"schema": SCHEMA, "created": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
               "machine": describe_machine(), "config": dataclasses.asdict(config), "errors": []}
    if "chapters" in sections:
        progress(f"Chapter execution: {len(notebooks)} chapters x {config.chapter_runs} runs")
        results["chapters"], results["errors"] = measure_chapters(notebooks, config.chapter_runs, progress=progress)
        results["chapters_total_s"] = sum(chapter["cpu_s"] for chapter in results["chapters"])
    stems = {notebook.stem for notebook in notebooks}
    modules = [module for module in discover() if module.CHAPTER in stems]
    measurements = []
    for kind in ("ratios", "scaling"):
        if kind in sections:
            progress(f"Cases: {kind}")
            results[kind] = measure_cases(modules, kind, config, measurements, progress=progress)
            results["errors"] += [f"{c['chapter']}: {c['name']}: {c['error']}" for c in results[kind] if "error" in c]
    if "ratios" in sections:
        declared = {module.CHAPTER for module in modules if getattr(module, "RATIOS", [])}
        results["without_cases"] = [stem for stem in sorted(stems) if stem not in declared]
    if measurements:
        Compare(measurements).print()
    results["benchmark_s"] = time.perf_counter() - started
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one run per chapter, one short measurement per case")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=SECTIONS, metavar="SECTION",
                        help=f"measure only these sections ({', '.join(SECTIONS)})")
    parser.add_argument("--chapter", nargs="+", default=[], metavar="STEM", help="only these chapters, e.g. 02_name")
    parser.add_argument("--runs", type=int, help="fresh-kernel executions of each chapter (default 3; 1 with --quick)")
    parser.add_argument("--threads", type=int, default=1, help="torch and BLAS threads while timing (default 1)")
    parser.add_argument("--output", type=Path, help="where to write the results (a full run: benchmarks/results.json)")
    parser.add_argument("--show", type=Path, nargs="?", const=RESULTS_PATH, metavar="RESULTS",
                        help="print the tables of an existing results file and exit")
    args = parser.parse_args(argv)
    if args.show is not None:
        print(markdown_report(read_results(args.show)))
        return 0
    if args.threads < 1 or (args.runs is not None and args.runs < 1):
        parser.error(f"--threads and --runs must be 1 or more, got {args.threads} and {args.runs}.")
    config = dataclasses.replace(QUICK if args.quick else FULL, threads=args.threads)
    config = dataclasses.replace(config, chapter_runs=args.runs or config.chapter_runs)
    results = run(config, sections=args.only, only_chapters=args.chapter)
    partial = args.quick or args.chapter or set(args.only) != set(SECTIONS)
    output = args.output or (None if partial else RESULTS_PATH)
    print("\n" + markdown_report(results))
    if output is not None:
        write_results(results, output)
        print(f"Wrote {output} in {results['benchmark_s']:.0f} s.")
    return 1 if results["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
