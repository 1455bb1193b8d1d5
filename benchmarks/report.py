"""Tables of a results file, in Markdown: printed by the benchmark and shown on the book's performance page."""
from __future__ import annotations

import json
from pathlib import Path

from benchmarks import BOOK_BUDGET_S, CHAPTER_BUDGET_S

SCHEMA = 1


def read_results(path: Path) -> dict:
    """Load a results file written by :func:`write_results`, checking that it is one."""
    results = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(results, dict) or results.get("schema") != SCHEMA:
        raise ValueError(f"{path} is not a benchmark results file of schema {SCHEMA}; run `make bench` again.")
    return results


def write_results(results: dict, path: Path) -> None:
    """Write ``results`` as indented JSON with a trailing newline (stable diffs when committed)."""
    Path(path).write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def _cell(text) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def _threads(results: dict) -> str:
    """How many threads the timings used, as a phrase."""
    threads = results["config"].get("timing_threads")
    if threads is None:
        return f"with torch's default {results['machine']['torch_threads']} threads"
    return f"with {threads} torch and BLAS thread{'s' if threads > 1 else ''}"


def _number(chapter: str) -> str:
    """A chapter's number (``02`` for ``02_maximum_likelihood``), to keep wide tables narrow."""
    return chapter.split("_", 1)[0]


def _milliseconds(seconds: float) -> str:
    milliseconds = seconds * 1e3
    return f"{milliseconds:.3g}" if milliseconds < 100 else f"{milliseconds:.0f}"


def machine_line(machine: dict) -> str:
    """One sentence that says where the numbers come from."""
    load = machine.get("load_average")
    busy = f"; load average {load[0]:.1f} when it started" if load else ""
    if load and machine.get("load_average_at_end"):
        busy += f" and {machine['load_average_at_end'][0]:.1f} when it ended"
    return (f"{machine['usable_cores']} usable cores ({machine['logical_cores']} logical) of "
            f"{machine['cpu_model']}, torch {machine['torch']} with {machine['torch_threads']} threads, "
            f"numpy {machine['numpy']}, Python {machine['python']}, {machine['platform']}{busy}")


def chapter_table(results: dict) -> str:
    """Wall time and peak memory of each chapter's fresh-kernel executions, and the total."""
    chapters = results.get("chapters", [])
    rows = [[c["chapter"], f"{c['median_s']:.1f}", f"{c['min_s']:.1f} – {c['max_s']:.1f}", len(c["runs_s"]),
             f"{c['peak_rss_mb']:.0f}", "**over budget**" if c["over_budget"] else "✓"] for c in chapters]
    total = results.get("chapters_total_s", sum(c["median_s"] for c in chapters))
    rows.append(["**total**", f"{total:.1f}", "", "", "", "**over budget**" if total > BOOK_BUDGET_S else "✓"])
    return _table(["chapter", "median (s)", "min – max (s)", "runs", "peak memory (MB)",
                   f"≤ {CHAPTER_BUDGET_S:.0f} s each, {BOOK_BUDGET_S:.0f} s in total"], rows)


def book_build_line(build: dict) -> str:
    """The clean-copy book build: its time against the budget, or why it failed."""
    verdict = "**over budget**" if build["over_budget"] else "within budget"
    status = "" if build["ok"] else " **The build failed** (last lines of its log are in the results file)."
    return (f"Whole book build from a clean copy with the existing virtual environment (`{build['command']}`): "
            f"**{build['seconds']:.0f} s** of the {BOOK_BUDGET_S:.0f} s budget, {verdict}.{status}")


def profile_section(profile: dict, chapter: dict | None) -> str:
    """The slowest cells of one chapter and where a cProfile run says its time went."""
    lines = [f"**{profile['chapter']}** (median {chapter['median_s']:.1f} s)" if chapter
             else f"**{profile['chapter']}**", ""]
    if chapter:
        lines.append("Slowest cells: " + "; ".join(f"cell {c['index']} `{c['first_line']}` {c['seconds']:.1f} s"
                                                   for c in chapter["slowest_cells"]) + ".")
        lines.append("")
    groups = ", ".join(f"{g['group']} {g['self_s']:.1f} s ({g['share']:.0%})" for g in profile["by_group"])
    lines += [f"Self time by package, in a {profile['profiled_run_s']:.1f} s profiled run: {groups}.", ""]
    lines.append(_table(["function (most self time)", "calls", "self time (s)"],
                        [[f"`{f['function']}`", f["calls"], f"{f['self_s']:.2f}"] for f in profile["top_functions"]]))
    return "\n".join(lines)


def _ratio_status(ratio: dict) -> str:
    goal = f"{ratio['goal']:g}x"
    if "error" in ratio:
        return f"**error**: {ratio['error']}"
    if not ratio["over_goal"]:
        return f"✓ within {goal}"
    return f"over {goal}, on purpose: {ratio['lesson']}" if ratio.get("lesson") else f"**over {goal}**"


def ratio_table(results: dict) -> str:
    """From-scratch vs PyTorch: median time of each, their ratio with its interquartile range, the goal."""
    rows = []
    for r in results.get("ratios", []):
        timed = "error" not in r
        rows.append([_number(r["chapter"]), r["name"], r.get("largest_input", r["inputs"]),
                     _milliseconds(r["ours_s"]) if timed else "", _milliseconds(r["reference_s"]) if timed else "",
                     f"**{r['ratio_median']:.2f}** ({r['ratio_q1']:.2f} – {r['ratio_q3']:.2f})" if timed else "",
                     _ratio_status(r)])
    return _table(["ch.", "implementation", "largest input", "ours (ms)", "PyTorch (ms)",
                   "ours / PyTorch (IQR)", "goal"], rows)


def scaling_table(results: dict) -> str:
    """Fitted log-log slopes next to the slopes the chapters' cost counts predict."""
    rows = []
    for case in results.get("scaling", []):
        if "error" in case:
            rows.append([_number(case["chapter"]), case["name"], "", "", "", "", f"**error**: {case['error']}"])
            continue
        sizes = f"{case['variable']} = {case['sizes'][0]} … {case['sizes'][-1]}"
        for s in case["series"]:
            rows.append([_number(case["chapter"]), case["name"], s["label"], sizes, f"**{s['slope']:.2f}**",
                         f"{s['expected_slope']:g}", _milliseconds(s["seconds"][-1])])
    return _table(["ch.", "case", "function", "sizes", "fitted slope", "expected slope",
                   "ms at the largest size"], rows)


def findings(results: dict) -> list[str]:
    """What is over its budget or goal, and what failed, one sentence each."""
    found = [f"{c['chapter']} takes {c['median_s']:.0f} s, over the {CHAPTER_BUDGET_S:.0f} s budget."
             for c in results.get("chapters", []) if c["over_budget"]]
    total = results.get("chapters_total_s")
    if total is not None and total > BOOK_BUDGET_S:
        found.append(f"The chapters take {total:.0f} s together, over the {BOOK_BUDGET_S:.0f} s book budget.")
    build = results.get("book_build")
    if build and (build["over_budget"] or not build["ok"]):
        found.append(book_build_line(build))
    found += [f"{r['chapter']}: {r['name']} is {r['ratio_median']:.1f}x PyTorch, over its goal of {r['goal']:g}x."
              for r in results.get("ratios", []) if r.get("over_goal") and not r.get("lesson")]
    found += [f"{r['chapter']}: {r['name']}: {r['error']}" for r in results.get("ratios", []) if "error" in r]
    found += list(results.get("errors", []))
    return found


def findings_section(results: dict) -> str:
    """The findings as a bullet list, or a sentence saying there are none."""
    found = findings(results)
    if not found:
        return "Nothing: every measured number is within its budget or goal."
    return "\n".join(f"- {line}" for line in found)


def chapters_section(results: dict) -> str | None:
    """The chapter table and the book build, or None when they were not measured."""
    if not results.get("chapters"):
        return None
    parts = [f"Each chapter executed top to bottom in a fresh kernel, {results['config']['chapter_runs']} times "
             "(`NBUTILS_STATIC=1`, as the build sets it; kernel start-up included).", chapter_table(results)]
    if results.get("book_build"):
        parts.append(book_build_line(results["book_build"]))
    return "\n\n".join(parts)


def profiles_section(results: dict) -> str | None:
    """What the slowest chapters spend their time on, or None when no chapter was profiled."""
    if not results.get("profiles"):
        return None
    chapters = {c["chapter"]: c for c in results.get("chapters", [])}
    return "\n\n".join(profile_section(p, chapters.get(p["chapter"])) for p in results["profiles"])


def ratios_section(results: dict) -> str | None:
    """The from-scratch vs PyTorch table with how it was measured, or None when it was not."""
    if "ratios" not in results:
        return None
    if results["ratios"]:
        parts = [f"Both run in one process on the same inputs, interleaved, {results['config']['repetitions']} "
                 f"samples each, {_threads(results)}; the ratio is the median of the per-sample ratios, with its "
                 "interquartile range. The outputs are checked to agree first (largest difference relative to "
                 "the largest reference value; every difference is in the results file).", ratio_table(results)]
    else:
        parts = ["No chapter in _toc.yml declares a from-scratch vs PyTorch case yet."]
    if results.get("without_cases"):
        parts.append("Chapters that declare no from-scratch vs PyTorch cases yet: "
                     + ", ".join(results["without_cases"]) + ".")
    if results.get("skipped_cases"):
        parts.append("Case modules not run: " + "; ".join(results["skipped_cases"]) + ".")
    return "\n\n".join(parts)


def scaling_section(results: dict) -> str | None:
    """The scaling table with its notes, or None when no scaling case was measured."""
    if "scaling" not in results:
        return None
    if not results["scaling"]:
        skipped = results.get("skipped_cases")
        return "No chapter in _toc.yml declares a scaling case yet." + (
            f" Case modules not run: {'; '.join(skipped)}." if skipped else "")
    parts = [f"The fastest of the samples at each size (the least disturbed by other processes), "
             f"{_threads(results)}; the slope is fitted to log(time) against log(size).", scaling_table(results)]
    notes = [f"- {c['name']}: {c['note']}" for c in results["scaling"] if c.get("note")]
    return "\n\n".join(parts + (["\n".join(notes)] if notes else []))


SECTIONS = {
    "findings": ("Over budget or goal", findings_section),
    "chapters": ("Chapter execution", chapters_section),
    "profiles": ("What the slowest chapters spend their time on", profiles_section),
    "ratios": ("From scratch vs PyTorch", ratios_section),
    "scaling": ("Scaling", scaling_section),
}


def measured_on(results: dict) -> str:
    """When and where the results were measured, as one sentence."""
    return f"Measured {results['created']} on {machine_line(results['machine'])}."


def markdown_report(results: dict) -> str:
    """Every measured section of ``results`` under a heading, as Markdown."""
    parts = [measured_on(results)]
    for title, section in SECTIONS.values():
        body = section(results)
        if body is not None:
            parts += [f"## {title}", body]
    return "\n\n".join(parts) + "\n"
