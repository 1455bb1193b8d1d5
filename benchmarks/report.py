"""The tables of a results file in Markdown: printed by ``python -m benchmarks`` and shown by ``performance.md``."""
from __future__ import annotations

import json
from pathlib import Path

from benchmarks import CHAPTER_BUDGET_S, CHAPTERS_BUDGET_S, MEMORY_BUDGET_MB, RESULTS_PATH, SCHEMA


def read_results(path: Path = RESULTS_PATH) -> dict:
    """Load a results file written by :func:`write_results`, checking that it is one."""
    results = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(results, dict) or results.get("schema") != SCHEMA:
        raise ValueError(f"{path} is not a benchmark results file of schema {SCHEMA}; run `make bench` again.")
    return results


def write_results(results: dict, path: Path) -> None:
    """Write ``results`` as indented JSON with a trailing newline (stable diffs when committed)."""
    Path(path).write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def table(header: list[str], rows: list[list]) -> str:
    cells = [[str(value).replace("|", "\\|").replace("\n", " ") for value in row] for row in rows]
    return "\n".join(["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
                     + ["| " + " | ".join(row) + " |" for row in cells])


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3g}" if seconds < 0.1 else f"{seconds * 1e3:.0f}"


def ratio_status(ratio: dict) -> str:
    """Within goal, over it for the reason the chapter states, over it with no reason, or the error."""
    if "error" in ratio:
        return f"**error**: {ratio['error']}"
    if not ratio["over_goal"]:
        return f"✓ within {ratio['goal']:g}x"
    return f"over {ratio['goal']:g}x: {ratio['reason']}" if ratio.get("reason") else f"**over {ratio['goal']:g}x**"


def findings(results: dict) -> list[str]:
    """What is over its budget or goal without a stated reason, and what failed, one sentence each."""
    found = [f"{c['chapter']} takes {c['cpu_s']:.0f} s of CPU and {c['peak_rss_mb']:.0f} MB, over the "
             f"{CHAPTER_BUDGET_S:.0f} s or {MEMORY_BUDGET_MB:.0f} MB budget." for c in results.get("chapters", [])
             if c["over_budget"]]
    if results.get("chapters_total_s", 0) > CHAPTERS_BUDGET_S:
        found.append(f"The chapters take {results['chapters_total_s']:.0f} s together, over the "
                     f"{CHAPTERS_BUDGET_S:.0f} s budget.")
    found += [f"{r['chapter']}: {r['name']} is {r['ratio']:.1f}x PyTorch, over its goal of {r['goal']:g}x."
              for r in results.get("ratios", []) if r.get("over_goal") and not r.get("reason")]
    return found + list(results.get("errors", []))


def findings_section(results: dict) -> str:
    return "\n".join(f"- {line}" for line in findings(results)) or \
        "Nothing: every measured number is within its budget or goal, or over it for the reason stated."


def chapters_section(results: dict) -> str | None:
    if "chapters" not in results:
        return None
    rows = [[c["chapter"], f"{c['cpu_s']:.1f}", f"{c['median_s']:.1f}", f"{c['min_s']:.1f} – {c['max_s']:.1f}",
             len(c["runs_s"]), f"{c['peak_rss_mb']:.0f}", "**over budget**" if c["over_budget"] else "✓"]
            for c in results["chapters"]]
    total = results.get("chapters_total_s", 0.0)
    rows.append(["**all chapters**", f"{total:.1f}", "", "", "", "", "**over budget**" if total > CHAPTERS_BUDGET_S
                 else "✓"])
    return (f"Each chapter executed top to bottom in a fresh kernel, {results['config']['chapter_runs']} time(s), "
            "as the book build runs it (kernel start-up included). The budgets are checked against the kernel's "
            "CPU time (the median over the runs), which other processes on a busy machine do not stretch; the "
            "wall times next to it show how busy the machine was.\n\n"
            + table(["chapter", "CPU (s)", "wall, median (s)", "wall, min – max (s)", "runs", "peak memory (MB)",
                     f"≤ {CHAPTER_BUDGET_S:.0f} s and {MEMORY_BUDGET_MB:.0f} MB each, "
                     f"{CHAPTERS_BUDGET_S:.0f} s in all"], rows))


def ratios_section(results: dict) -> str | None:
    if "ratios" not in results:
        return None
    config = results["config"]
    rows = [[r["chapter"].split("_")[0], r["name"], r.get("largest_input", ""),
             ms(r["ours_s"]) if "ratio" in r else "", ms(r["reference_s"]) if "ratio" in r else "",
             f"**{r['ratio']:.2f}**" if "ratio" in r else "", ratio_status(r)] for r in results["ratios"]]
    parts = [f"Timed with `torch.utils.benchmark` (`blocked_autorange`, {config['threads']} torch and BLAS "
             f"thread(s)), {config['rounds']} measurement(s) of each side in alternating order; each time is the "
             "fastest block of calls, the one least disturbed by other processes, and the ratio is ours over "
             "PyTorch's. Both sides are first checked to agree (largest difference relative to the largest "
             "reference value).",
             table(["ch.", "implementation", "largest input", "ours (ms)", "PyTorch (ms)", "ours / PyTorch",
                    "goal"], rows)]
    if results.get("without_cases"):
        parts.append("Chapters that declare no cases yet: " + ", ".join(results["without_cases"]) + ".")
    return "\n\n".join(parts)


def scaling_section(results: dict) -> str | None:
    if "scaling" not in results:
        return None
    if not results["scaling"]:
        return "None of the chapters measured declares a scaling case."
    rows, notes = [], []
    for case in results["scaling"]:
        if "error" in case:
            rows.append([case["chapter"].split("_")[0], case["name"], "", "", "", "", f"**error**: {case['error']}"])
            continue
        notes += [f"- {case['name']}: {case['note']}"] if case.get("note") else []
        for s in case["series"]:
            rows.append([case["chapter"].split("_")[0], case["name"], s["label"],
                         f"{case['variable']} = {case['sizes'][0]} … {case['sizes'][-1]}", f"**{s['slope']:.2f}**",
                         f"{s['expected_slope']:g}", ms(s["seconds"][-1])])
    return "\n\n".join(["The fastest block of calls at each size (the least disturbed by other processes); the slope "
                        "is fitted to log(time) against log(size).",
                        table(["ch.", "case", "function", "sizes", "fitted slope", "expected slope",
                               "ms at the largest size"], rows)] + (["\n".join(notes)] if notes else []))


def measured_on(results: dict) -> str:
    machine = results["machine"]
    return (f"Measured {results['created']} on {machine['usable_cores']} usable cores of {machine['cpu_model']}, "
            f"torch {machine['torch']}, Python {machine['python']}, {machine['platform']}; load average "
            f"{machine['load_average']} when it started.")


SECTIONS = {"machine": measured_on, "findings": findings_section, "chapters": chapters_section,
            "ratios": ratios_section, "scaling": scaling_section}
TITLES = {"findings": "Over budget or goal", "chapters": "Chapter execution", "ratios": "From scratch vs PyTorch",
          "scaling": "Scaling"}


def markdown_report(results: dict) -> str:
    """Every measured section of ``results`` under its heading."""
    parts = [measured_on(results)]
    for name, title in TITLES.items():
        body = SECTIONS[name](results)
        parts += [f"## {title}", body] if body is not None else []
    return "\n\n".join(parts) + "\n"


def page_section(section: str, path: Path = RESULTS_PATH) -> str:
    """One section of the page from the results in ``path``, or what to run when there are none."""
    if section not in SECTIONS:
        raise ValueError(f"unknown section {section!r}; choose one of {', '.join(SECTIONS)}.")
    try:
        results = read_results(path)
    except (OSError, ValueError) as problem:  # json.JSONDecodeError is a ValueError
        return f"No measurements to show ({type(problem).__name__}: {problem}). Run `make bench`."
    body = SECTIONS[section](results)
    return body if body is not None else "Not measured in the latest run: `make bench` measures it."


def show(section: str, path: Path = RESULTS_PATH) -> None:
    """Display one section of the page in a notebook (rendered as Markdown by the book)."""
    from IPython.display import Markdown, display

    display(Markdown(page_section(section, path)))
