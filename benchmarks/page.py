"""The book's performance page (performance.md): each section from the latest results file when there is one.

Without ``benchmarks/results.json`` the page shows the build's own execution statistics
(MyST-NB's ``nb-exec-table``: each chapter executed once, by this build) and the machine
that built it.
"""
from __future__ import annotations

import json
from pathlib import Path

from benchmarks import RESULTS_PATH
from benchmarks.machine import describe_machine
from benchmarks.report import SECTIONS, machine_line, measured_on, read_results

BUILD_STATISTICS = "```{nb-exec-table}\n```"


def load_latest(path: Path = RESULTS_PATH) -> tuple[dict | None, str]:
    """The results in ``path``, or None with the reason they cannot be shown."""
    if not path.is_file():
        return None, f"There is no results file (`{path.name}`) yet"
    try:
        return read_results(path), ""
    except (ValueError, json.JSONDecodeError) as problem:
        return None, f"The results file could not be read ({problem})"


def page_section(section: str, path: Path = RESULTS_PATH) -> str:
    """The Markdown of one section of the page: ``machine`` or one of :data:`benchmarks.report.SECTIONS`."""
    if section != "machine" and section not in SECTIONS:
        raise ValueError(f"unknown section {section!r}; choose 'machine' or one of {', '.join(SECTIONS)}.")
    results, reason = load_latest(path)
    if results is None:
        if section == "machine":
            return (f"{reason}, so this page shows the execution statistics of the build that made it, on "
                    f"{machine_line(describe_machine())}. Run `make bench` to measure everything below.")
        if section == "chapters":
            return "Each chapter as this build executed it, once:\n\n" + BUILD_STATISTICS
        return "Not measured yet: run `make bench`."
    if section == "machine":
        return measured_on(results)
    body = SECTIONS[section][1](results)
    return body if body is not None else "Not measured in the latest run (`make bench` measures it)."


def show(section: str, path: Path = RESULTS_PATH) -> None:
    """Display one section of the page in a notebook (rendered as MyST Markdown by the book)."""
    from IPython.display import Markdown, display

    display(Markdown(page_section(section, path)))
