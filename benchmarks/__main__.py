"""``python -m benchmarks``: measure the book and write benchmarks/results.json (``make bench``).

A full run (no options) writes ``benchmarks/results.json``, which the book's performance
page shows. A partial run (``--quick``, ``--only``, ``--chapter``) prints its tables and
writes a file only when ``--output`` is given, so it never replaces the committed results.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from benchmarks import RESULTS_PATH
from benchmarks.config import FULL, QUICK
from benchmarks.report import markdown_report, read_results, write_results
from benchmarks.run import SECTIONS, run


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=(
        "Measure how fast the book runs and how its from-scratch code compares with PyTorch. "
        "A full run writes benchmarks/results.json; a partial one writes only with --output."))
    parser.add_argument("--quick", action="store_true",
                        help="one run per chapter, fewer samples, no profiles and no book build")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, metavar="SECTION",
                        help=f"measure only these sections ({', '.join(SECTIONS)})")
    parser.add_argument("--chapter", nargs="+", default=[], metavar="STEM",
                        help="only these chapters, e.g. 02_maximum_likelihood")
    parser.add_argument("--runs", type=int, help="fresh-kernel executions of each chapter (default 3; 1 with --quick)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch and BLAS threads for the ratio and scaling timings (default 1; 0: the defaults)")
    parser.add_argument("--output", type=Path, help=f"where to write the results (default for a full run: "
                        f"{RESULTS_PATH.relative_to(RESULTS_PATH.parents[1])})")
    parser.add_argument("--show", type=Path, nargs="?", const=RESULTS_PATH, metavar="RESULTS",
                        help="print the tables of an existing results file and exit")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.show is not None:
        print(markdown_report(read_results(args.show)))
        return 0
    if args.threads < 0 or (args.runs is not None and args.runs < 1):
        sys.exit(f"--threads must be 0 or more and --runs 1 or more, got {args.threads} and {args.runs}.")
    config = dataclasses.replace(QUICK if args.quick else FULL, timing_threads=args.threads or None)
    if args.runs is not None:
        config = dataclasses.replace(config, chapter_runs=args.runs)
    partial = args.quick or args.only or args.chapter
    results = run(config, sections=args.only or SECTIONS, only_chapters=args.chapter)
    output = args.output or (None if partial else RESULTS_PATH)
    print()
    print(markdown_report(results))
    if output is not None:
        write_results(results, output)
        print(f"Wrote {output} in {results['benchmark_s']:.0f} s.")
    return 1 if results["errors"] or any("error" in r for r in results.get("ratios", [])) else 0


if __name__ == "__main__":
    sys.exit(main())
