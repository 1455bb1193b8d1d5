"""The chapters to benchmark, discovered from ``_toc.yml`` (never listed by hand)."""
from __future__ import annotations

from pathlib import Path

import yaml

from benchmarks import ROOT


def _toc_entries(node) -> list[str]:
    """Every ``file:`` value in a parsed _toc.yml, depth first (the reading order)."""
    if isinstance(node, dict):
        found = [node["file"]] if isinstance(node.get("file"), str) else []
        for key, value in node.items():
            if key != "file":
                found += _toc_entries(value)
        return found
    if isinstance(node, list):
        return [entry for item in node for entry in _toc_entries(item)]
    return []


def toc_notebooks(root: Path = ROOT) -> list[Path]:
    """The notebooks that ``root/_toc.yml`` lists, in reading order (its ``.md`` pages are left out)."""
    toc_path = root / "_toc.yml"
    if not toc_path.is_file():
        raise FileNotFoundError(f"no _toc.yml in {root}; run the benchmark from the book's repository.")
    toc = yaml.safe_load(toc_path.read_text(encoding="utf-8"))
    notebooks = []
    for entry in [toc.get("root", "")] + _toc_entries(toc.get("parts", toc.get("chapters", []))):
        path = root / entry if entry.endswith(".ipynb") else root / f"{entry}.ipynb"
        if path.is_file() and path not in notebooks:
            notebooks.append(path)
    return notebooks
