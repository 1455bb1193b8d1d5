"""Load a chapter's own definitions from its notebook, for tests and benchmarks.

A chapter marks the cells that define its from-scratch functions and classes
with the cell tag ``definitions`` (see CONTRIBUTING.md). Those cells must only
import and define: no training, no printing, no figures. ``load_definitions``
runs exactly those cells, in order, in a fresh namespace, so tests and
benchmarks exercise the chapter's code itself, not a copy of it.
"""
from __future__ import annotations

import json
import types
from functools import cache
from pathlib import Path

DEFINITIONS_TAG = "definitions"
ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = ROOT / "chapters"


def chapter_path(chapter: str | Path) -> Path:
    """The notebook for ``chapter``: a path, a file name, or a stem like ``02_maximum_likelihood``."""
    if not isinstance(chapter, (str, Path)) or not str(chapter):
        raise TypeError(f"chapter must be a notebook name or path, got {chapter!r}.")
    path = Path(chapter)
    if not path.suffix:
        path = path.with_suffix(".ipynb")
    if path.suffix != ".ipynb":
        raise ValueError(f"chapter must be a .ipynb notebook, got {path.name}.")
    if not path.is_absolute() and not path.exists():
        path = CHAPTERS / path.name
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in CHAPTERS.glob("*.ipynb")))
        raise FileNotFoundError(f"no chapter notebook {path.name}; the chapters are: {known}.")
    return path


def definition_cells(chapter: str | Path) -> list[str]:
    """The source of every code cell tagged ``definitions``, in notebook order."""
    cells = json.loads(chapter_path(chapter).read_text(encoding="utf-8"))["cells"]
    return ["".join(c["source"]) for c in cells
            if c["cell_type"] == "code" and DEFINITIONS_TAG in c.get("metadata", {}).get("tags", [])]


@cache
def _load(path: Path, mtime: float) -> types.SimpleNamespace:
    sources = definition_cells(path)
    if not sources:
        raise LookupError(f"{path.name} has no cells tagged '{DEFINITIONS_TAG}'.")
    namespace: dict = {"__name__": f"chapter_{path.stem}"}
    for index, source in enumerate(sources):
        code = compile(source, f"{path.name}[definitions cell {index + 1}]", "exec")
        exec(code, namespace)  # the book's own chapter code, never data
    # The functions keep `namespace` as their globals, __builtins__ included.
    return types.SimpleNamespace(**{k: v for k, v in namespace.items() if k != "__builtins__"})


def load_definitions(chapter: str | Path) -> types.SimpleNamespace:
    """Run a chapter's ``definitions`` cells and return what they define as attributes.

    >>> ml = load_definitions("02_maximum_likelihood")
    >>> ml.log_softmax  # the chapter's own function
    """
    path = chapter_path(chapter).resolve()
    return _load(path, path.stat().st_mtime)
