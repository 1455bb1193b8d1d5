"""The chapters to benchmark, discovered from ``_toc.yml`` (never listed by hand)."""
from __future__ import annotations

from pathlib import Path

from benchmarks import ROOT
from nbutils.notebook import toc_pages


def toc_notebooks(root: Path = ROOT) -> list[Path]:
    """The notebooks that ``root/_toc.yml`` lists, in reading order (its ``.md`` pages are left out)."""
    notebooks = []
    for entry in toc_pages(root):
        path = root / entry if entry.endswith(".ipynb") else root / f"{entry}.ipynb"
        if path.is_file() and path not in notebooks:
            notebooks.append(path)
    return notebooks
