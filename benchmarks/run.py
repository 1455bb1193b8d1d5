"""Run the benchmark's sections and gather everything into one results dictionary."""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from benchmarks import BOOK_BUDGET_S, CHAPTER_BUDGET_S, ROOT
from benchmarks.book_build import time_book_build
from benchmarks.cases import ChapterCases, discover
from benchmarks.chapters import ExecutionFailed, measure_chapters
from benchmarks.config import Config
from benchmarks.machine import describe_machine
from benchmarks.profiling import profile_chapter
from benchmarks.ratios import measure_ratios
from benchmarks.report import SCHEMA
from benchmarks.scaling import measure_all_scaling
from benchmarks.timing import limited_threads
from benchmarks.toc import toc_notebooks

SECTIONS = ("chapters", "build", "ratios", "scaling")


def active_cases(declared: list[ChapterCases], chapters: set[str]) -> tuple[list[ChapterCases], list[str]]:
    """The case modules whose chapter is being benchmarked, and a note for each one that is skipped."""
    active = [cases for cases in declared if cases.chapter in chapters]
    skipped = [f"{cases.module.rsplit('.', 1)[-1]} ({cases.chapter} is not in _toc.yml or not selected)"
               for cases in declared if cases.chapter not in chapters]
    return active, skipped


def run(config: Config, sections: Iterable[str] = SECTIONS, only_chapters: Iterable[str] = (),
        progress: Callable[[str], None] = print) -> dict:
    """Measure the chosen ``sections`` and return the results.

    The chapters are those in _toc.yml, or only those named in ``only_chapters`` (which may
    include a notebook in chapters/ that is not listed yet).
    """
    sections = set(sections)
    unknown = sections - set(SECTIONS)
    if unknown:
        raise ValueError(f"unknown sections {sorted(unknown)}; choose from {', '.join(SECTIONS)}.")
    notebooks = toc_notebooks()
    only_chapters = set(only_chapters)
    if only_chapters:  # a chapter named explicitly may be one that is not in _toc.yml yet
        candidates = notebooks + sorted(set((ROOT / "chapters").glob("*.ipynb")) - set(notebooks))
        missing = only_chapters - {n.stem for n in candidates}
        if missing:
            raise ValueError(f"no chapter notebook named {', '.join(sorted(missing))} in chapters/.")
        notebooks = [n for n in candidates if n.stem in only_chapters]
    started = time.perf_counter()
    results: dict = {"schema": SCHEMA, "created": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                     "machine": describe_machine(), "config": dataclasses.asdict(config),
                     "budgets": {"chapter_s": CHAPTER_BUDGET_S, "book_s": BOOK_BUDGET_S}, "errors": []}
    if "chapters" in sections:
        progress(f"Chapter execution: {len(notebooks)} chapters x {config.chapter_runs} runs")
        summaries, errors = measure_chapters(notebooks, config.chapter_runs, progress=progress)
        results["chapters"] = summaries
        results["chapters_total_s"] = sum(s["median_s"] for s in summaries)
        results["errors"] += errors
        slowest = sorted(summaries, key=lambda s: -s["median_s"])[: config.profile_slowest]
        by_stem = {n.stem: n for n in notebooks}
        results["profiles"] = []
        for summary in slowest:
            progress(f"  profiling {summary['chapter']}")
            try:
                results["profiles"].append(profile_chapter(by_stem[summary["chapter"]]))
            except ExecutionFailed as failure:
                results["errors"].append(f"profiling: {failure}")
    if "build" in sections and config.build_book:
        progress("Book build from a clean copy")
        results["book_build"] = time_book_build()
        progress(f"  {results['book_build']['seconds']:.0f} s, {'ok' if results['book_build']['ok'] else 'FAILED'}")
    if sections & {"ratios", "scaling"}:
        active, skipped = active_cases(discover(), {n.stem for n in notebooks})
        results["skipped_cases"] = skipped
        declared = {cases.chapter for cases in active if cases.ratios}
        results["without_cases"] = [n.stem for n in notebooks if n.stem not in declared]
        with limited_threads(config.timing_threads):
            if "ratios" in sections:
                progress("From scratch vs PyTorch")
                results["ratios"] = measure_ratios(active, config, progress=progress)
            if "scaling" in sections:
                progress("Scaling")
                results["scaling"] = measure_all_scaling(active, config, progress=progress)
            results["errors"] += [f"{c['chapter']}: {c['name']}: {c['error']}"
                                  for c in results["scaling"] if "error" in c]
    results["machine"]["load_average_at_end"] = describe_machine()["load_average"]
    results["benchmark_s"] = time.perf_counter() - started
    return results
