"""Open every chapter page with what it costs to run: its measured time on a laptop CPU and its peak memory.

The numbers come from ``benchmarks/results.json`` (``make bench``) when the book builds, never
from the page's text: a chapter the file does not measure says "not yet measured". The line
goes right under the chapter's title, below the Colab and download buttons of the page header.
Each chapter page depends on the results file, so a new ``make bench`` re-renders them.
"""
from __future__ import annotations

import json
from pathlib import Path

from docutils import nodes

RESULTS_SCHEMA = 2  # benchmarks.SCHEMA; read as plain JSON so the build needs nothing from benchmarks/


def chapter_costs(results_path: Path) -> tuple[dict[str, dict], dict]:
    """The measured chapters of a results file by notebook stem, and the file's machine; empty when unreadable."""
    try:
        results = json.loads(Path(results_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}, {}
    if not isinstance(results, dict) or results.get("schema") != RESULTS_SCHEMA:
        return {}, {}
    return {c["chapter"]: c for c in results.get("chapters", [])}, results.get("machine", {})


def cost_line(chapter: dict | None, machine: dict) -> str:
    """One sentence: the chapter's run time (the kernel's CPU time, which machine load does not stretch, where
    measured) and peak memory, or that it is not yet measured."""
    if chapter is None:
        return "Run time and memory on a laptop CPU: not yet measured (`make bench` measures them)."
    cores = f" ({machine['usable_cores']} cores)" if machine.get("usable_cores") else ""
    return (f"Runs in about {chapter.get('cpu_s', chapter['median_s']):.0f} s on a laptop CPU{cores}, with a peak "
            f"memory of {chapter['peak_rss_mb']:.0f} MB (measured by `make bench`).")


def add_cost_line(app, doctree) -> None:
    """Insert the cost line under the title of a page in ``chapters/``."""
    docname = app.env.docname
    if not docname.startswith("chapters/"):
        return
    results_path = Path(app.srcdir) / app.config.chapter_cost_results
    app.env.note_dependency(str(results_path))
    section = next(iter(doctree.findall(nodes.section)), None)
    if section is None or not section.children or not isinstance(section[0], nodes.title):
        return
    costs, machine = chapter_costs(results_path)
    before, _, after = cost_line(costs.get(docname.rsplit("/", 1)[-1]), machine).partition("`make bench`")
    line = nodes.paragraph(classes=["chapter-cost"])
    line += [nodes.Text(before), nodes.literal("make bench", "make bench"), nodes.Text(after)]
    section.insert(1, line)


def setup(app):
    app.add_config_value("chapter_cost_results", "benchmarks/results.json", "env")
    app.connect("doctree-read", add_cost_line)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
