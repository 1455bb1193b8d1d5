"""Textbook numbering that reads the same in the notebook and on the website.

A chapter's number is its place among the numbered parts of ``_toc.yml``
(the sidebar shows it; ``sphinx-multitoc-numbering`` keeps it running across
parts). Sphinx numbers the chapter's labelled equations "(N.k)" and its
exercises "Exercise N.k". So that a reader of the notebook in Jupyter or Colab
sees the same numbers, the notebook carries them too:

- a labelled equation ends with ``\\tag{N.k}``:  ``$$ ... \\tag{2.3} $$ (ml-bce)``
  (Jupyter's and Colab's math renderers show the tag);
- an exercise's title starts with its number: ``:::{exercise} 2.3 Title``.

Nobody types these numbers. Run this file on a chapter to write or refresh
them::

    .venv/bin/python _ext/numbering.py chapters/02_maximum_likelihood.ipynb

As a Sphinx extension it checks every typed number against the number Sphinx
assigned (a stale number is a build warning, so ``-W`` fails the build) and
then removes it from the page, which shows Sphinx's own number once.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIX = "run `.venv/bin/python _ext/numbering.py {path}` to renumber it"

#: A display equation: ``$$ body $$`` and, on the same line, an optional ``(label)``.
DISPLAY_MATH = re.compile(r"\$\$(?P<body>.*?)\$\$(?P<label>[ \t]*\((?P<name>[\w\-.:]+)\))?", re.DOTALL)
TAG = re.compile(r"[ \t]*\\tag\{(?P<number>[^{}]*)\}[ \t]*")
#: The opening line of an exercise directive (colon or backtick fence) and its argument.
EXERCISE = re.compile(r"^(?P<fence>:{3,}|`{3,})\{exercise\}(?P<argument>[^\n]*)$", re.MULTILINE)
TYPED_NUMBER = re.compile(r"^\s*(?P<number>\d+\.\d+)(?:\s+|$)")


# --------------------------------------------------------------------------- chapter numbers from _toc.yml

def numbered_chapters(root: Path = ROOT) -> list[str]:
    """The toc entries that get a chapter number, in order: the chapters of parts marked ``numbered: true``."""
    import yaml

    toc = yaml.safe_load((Path(root) / "_toc.yml").read_text(encoding="utf-8"))
    chapters = []
    for part in toc.get("parts", []):
        if part.get("numbered"):
            chapters += [entry["file"] for entry in part.get("chapters", []) if "file" in entry]
    return chapters


def chapter_number(notebook: Path, root: Path = ROOT) -> int:
    """The number the sidebar shows for ``notebook`` (1 for the first numbered chapter).

    A draft (a notebook in ``chapters/`` not yet in ``_toc.yml``) is numbered from
    its file's ``NN_`` prefix, the place the hygiene test requires it to take in the toc.
    """
    entry = Path(notebook).resolve().relative_to(Path(root).resolve()).with_suffix("").as_posix()
    chapters = numbered_chapters(root)
    if entry in chapters:
        return chapters.index(entry) + 1
    prefix = Path(entry).name.split("_")[0]
    if entry.startswith("chapters/") and prefix.isdigit():
        return int(prefix)
    raise ValueError(f"{entry} is not a chapter of a part marked `numbered: true` in _toc.yml")


# --------------------------------------------------------------------------- the numbers a notebook carries

def _exercise_is_numbered(source: str, end_of_opening_line: int) -> bool:
    """False for an exercise with ``:nonumber:`` among the option lines that follow its opening line."""
    for line in source[end_of_opening_line:].lstrip("\n").splitlines():
        if not line.startswith(":") or line.startswith(":::"):
            break
        if line.strip() == ":nonumber:":
            return False
    return True


def renumber_source(source: str, chapter: int, counters: dict[str, int]) -> str:
    """``source`` (one markdown cell) with every labelled equation tagged and every exercise numbered.

    ``counters`` holds how many equations and exercises came before this cell;
    it is updated in place.
    """
    def tag_equation(match: re.Match) -> str:
        body = TAG.sub("", match["body"])
        if match["name"] is None:  # an unnumbered equation carries no tag
            return f"$${body}$$"
        counters["equation"] += 1
        number = f"{chapter}.{counters['equation']}"
        if "\n" in match["body"]:
            return f"$${body.rstrip()}\n\\tag{{{number}}}\n$${match['label']}"
        return f"$${body.rstrip()} \\tag{{{number}}} $${match['label']}"

    def number_exercise(match: re.Match) -> str:
        if not _exercise_is_numbered(source, match.end()):
            return match[0]
        counters["exercise"] += 1
        title = TYPED_NUMBER.sub("", match["argument"], count=1).strip()
        number = f"{chapter}.{counters['exercise']}"
        return f"{match['fence']}{{exercise}} {number}" + (f" {title}" if title else "")

    # Exercises first (their positions refer to the original source), then equations.
    source = EXERCISE.sub(number_exercise, source)
    return DISPLAY_MATH.sub(tag_equation, source)


def renumber(nb, chapter: int):
    """Renumber the markdown cells of the nbformat notebook ``nb`` in place; return it."""
    counters = {"equation": 0, "exercise": 0}
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = renumber_source(cell.source, chapter, counters)
    return nb


def typed_numbers(nb) -> dict[str, list[tuple[str, str | None]]]:
    """What the notebook's text says: ``{"equation": [(label, tag)], "exercise": [(label, number)]}`` in order."""
    found: dict[str, list[tuple[str, str | None]]] = {"equation": [], "exercise": []}
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for match in DISPLAY_MATH.finditer(cell.source):
            if match["name"]:
                tag = TAG.search(match["body"])
                found["equation"].append((match["name"], tag["number"] if tag else None))
        for match in EXERCISE.finditer(cell.source):
            if _exercise_is_numbered(cell.source, match.end()):
                following = cell.source[match.end():].lstrip("\n").splitlines()
                label = next((line.split(":label:", 1)[1].strip() for line in following[:6]
                              if line.startswith(":label:")), "")
                typed = TYPED_NUMBER.match(match["argument"])
                found["exercise"].append((label, typed["number"] if typed else None))
    return found


def main(paths: list[str]) -> int:
    import nbformat

    if not paths:
        print(__doc__)
        return 2
    for path in map(Path, paths):
        nb = nbformat.read(path, as_version=4)
        before = [cell.source for cell in nb.cells]
        renumber(nb, chapter_number(path))
        changed = sum(old != cell.source for old, cell in zip(before, nb.cells, strict=True))
        if changed:
            nbformat.write(nb, path)
        counts = typed_numbers(nb)
        print(f"{path}: chapter {chapter_number(path)}, {len(counts['equation'])} numbered equations, "
              f"{len(counts['exercise'])} exercises; {changed} cells changed")
    return 0


# --------------------------------------------------------------------------- the Sphinx extension

def _strip_exercise_numbers(app, doctree) -> None:
    """Take the typed "N.k" out of each exercise title (kept as ``typed_number`` for the check)."""
    from sphinx_exercise.nodes import exercise_enumerable_node, exercise_subtitle

    registry = getattr(app.env, "sphinx_exercise_registry", {})
    for node in doctree.findall(exercise_enumerable_node):
        copies = [node] + ([registry[node["label"]]["node"]] if node.get("label") in registry else [])
        for copy in copies:
            for subtitle in list(copy.findall(exercise_subtitle)):
                first = subtitle.children[0] if subtitle.children else None
                typed = TYPED_NUMBER.match(first.astext()) if first is not None and first.tagname == "#text" else None
                if not typed:
                    continue
                node["typed_number"] = typed["number"]
                rest = first.astext()[typed.end():]
                from docutils import nodes

                if rest:
                    subtitle.replace(first, nodes.Text(rest))
                else:
                    subtitle.remove(first)
                if not subtitle.children:
                    subtitle.parent.remove(subtitle)


def _check_and_strip(app, doctree, docname: str) -> None:
    """Compare each typed number with Sphinx's, warn on a difference, and leave only Sphinx's on the page."""
    from docutils import nodes
    from sphinx.util import logging

    logger = logging.getLogger(__name__)
    numbers = app.env.toc_fignumbers.get(docname, {})
    path = app.env.doc2path(docname, False)

    def assigned(figtype: str, node) -> str:
        return ".".join(map(str, numbers.get(figtype, {}).get(node["ids"][0], ()))) if node["ids"] else ""

    for node in list(doctree.findall(nodes.math_block)):
        latex = node.astext()
        tag = TAG.search(latex)
        if not tag:
            continue
        expected = assigned("displaymath", node)
        if not expected:
            logger.warning(f"an equation without a label carries \\tag{{{tag['number']}}}; give it a label "
                           f"or drop the tag ({FIX.format(path=path)})", location=node)
        elif tag["number"] != expected:
            logger.warning(f"equation {node['ids'][0].removeprefix('equation-')} is ({expected}) on the page "
                           f"but \\tag{{{tag['number']}}} in the notebook; {FIX.format(path=path)}", location=node)
        node[:] = [nodes.Text(TAG.sub(" ", latex))]

    from sphinx_exercise.nodes import exercise_enumerable_node

    for node in doctree.findall(exercise_enumerable_node):
        typed = node.get("typed_number")
        expected = assigned("exercise", node)
        if typed and typed != expected:
            logger.warning(f"exercise {node.get('label')} is Exercise {expected} on the page but {typed} "
                           f"in the notebook; {FIX.format(path=path)}", location=node)


def setup(app):
    app.connect("doctree-read", _strip_exercise_numbers)
    app.connect("doctree-resolved", _check_and_strip)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
