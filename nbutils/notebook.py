"""The book's chapters for tests and benchmarks: which pages ``_toc.yml`` lists, and a chapter's own definitions.

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


def _file_entries(node) -> list[str]:
    """Every ``file:`` value in a parsed _toc.yml node, depth first (the reading order)."""
    if isinstance(node, dict):
        found = [node["file"]] if isinstance(node.get("file"), str) else []
        return found + [entry for key, value in node.items() if key != "file" for entry in _file_entries(value)]
    if isinstance(node, list):
        return [entry for item in node for entry in _file_entries(item)]
    return []


def toc_pages(root: str | Path = ROOT) -> list[str]:
    """Every page ``root/_toc.yml`` lists, in reading order: its root page, then each ``file:`` entry.

    Entries are as written in the toc, relative to ``root`` and usually without
    a suffix (``chapters/02_maximum_likelihood``).
    """
    toc_path = Path(root) / "_toc.yml"
    if not toc_path.is_file():
        raise FileNotFoundError(f"no _toc.yml in {root}; run this from the book's repository.")
    import yaml  # installed with Jupyter Book; only tests and benchmarks read the toc

    toc = yaml.safe_load(toc_path.read_text(encoding="utf-8"))
    return [toc["root"], *_file_entries({key: value for key, value in toc.items() if key != "root"})]


def book_chapters(root: str | Path = ROOT) -> tuple[list[Path], list[Path]]:
    """The notebooks of ``root/chapters``, split into (in the book, drafts).

    A chapter is in the book when ``_toc.yml`` lists it; a notebook in
    ``chapters/`` that the toc does not list is a draft: the build, nbval and
    the hygiene tests leave it alone until it is whole and listed.
    """
    listed = set(toc_pages(root))
    notebooks = sorted((Path(root) / "chapters").glob("*.ipynb"))
    in_book = [p for p in notebooks if f"chapters/{p.stem}" in listed]
    return in_book, [p for p in notebooks if p not in in_book]


def chapter_path(chapter: str | Path) -> Path:
    """The notebook for ``chapter``: a path, a file name, or a stem like ``02_maximum_likelihood``."""
    path = Path(chapter)
    if not path.suffix:
        path = path.with_suffix(".ipynb")
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
        exec(code, namespace)  # noqa: S102 (the book's own chapter code, never data)
    # The functions keep `namespace` as their globals, __builtins__ included.
    return types.SimpleNamespace(**{k: v for k, v in namespace.items() if k != "__builtins__"})


def load_definitions(chapter: str | Path) -> types.SimpleNamespace:
    """Run a chapter's ``definitions`` cells and return what they define as attributes.

    >>> ml = load_definitions("02_maximum_likelihood")
    >>> ml.log_softmax  # the chapter's own function
    """
    path = chapter_path(chapter).resolve()
    return _load(path, path.stat().st_mtime)
