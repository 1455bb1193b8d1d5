"""The strict book build (-W -n --keep-going) is part of the tests: zero warnings, math served locally."""
import re
from pathlib import Path

import pytest

from nbutils.notebook import toc_pages

ROOT = Path(__file__).resolve().parent.parent
# built_site (tests/conftest.py) builds the book once per test run.


@pytest.mark.slow
def test_every_toc_page_is_built(built_site):
    for entry in toc_pages():
        assert (built_site / f"{entry}.html").is_file(), f"{entry}.html was not built"


@pytest.mark.slow
def test_math_is_served_from_the_site_not_a_cdn(built_site):
    page = (built_site / "intro.html").read_text(encoding="utf-8")
    scripts = re.findall(r'<script[^>]+src="([^"]*mathjax[^"]*)"', page, re.IGNORECASE)
    assert scripts, "no MathJax script on the page"
    assert all(not s.startswith(("http:", "https:", "//")) for s in scripts), scripts
    assert (built_site / "mathjax" / "tex-mml-chtml.js").is_file()
    assert not list((built_site / "_static").rglob("tex-mml-chtml.js")), "MathJax must not sit under _static/"


# --------------------------------------------------------------------------- numbering (_ext/numbering.py)

def _numbering():
    import importlib.util

    spec = importlib.util.spec_from_file_location("book_numbering", ROOT / "_ext" / "numbering.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CELL = """Text.

$$
a = b
$$ (ch-one)

$$ c = d \\tag{9.9} $$ (ch-two)

$$
e = f
$$

:::{exercise}
:label: ch-ex-first
Do it.
:::

:::{exercise} 9.4 A title
:label: ch-ex-second
:::

:::{exercise}
:label: ch-ex-aside
:nonumber:
:::
"""


def test_numbering_tags_labelled_equations_and_numbers_exercises():
    numbering = _numbering()
    counters = {"equation": 0, "exercise": 0}
    out = numbering.renumber_source(CELL, 3, counters)
    assert "a = b\n\\tag{3.1}\n$$ (ch-one)" in out
    assert "$$ c = d \\tag{3.2} $$ (ch-two)" in out and "9.9" not in out
    assert "e = f\n$$" in out and out.count("\\tag") == 2, "an unlabelled equation gets no number"
    assert ":::{exercise} 3.1\n:label: ch-ex-first" in out
    assert ":::{exercise} 3.2 A title\n:label: ch-ex-second" in out
    assert ":::{exercise}\n:label: ch-ex-aside\n:nonumber:" in out
    assert counters == {"equation": 2, "exercise": 2}
    assert numbering.renumber_source(out, 3, {"equation": 0, "exercise": 0}) == out, "renumbering is idempotent"


def test_numbering_counts_across_cells_and_reads_back():
    import nbformat

    numbering = _numbering()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(CELL), nbformat.v4.new_code_cell("x = 1"),
                                         nbformat.v4.new_markdown_cell(CELL.replace("ch-", "ch2-"))])
    numbering.renumber(nb, 5)
    found = numbering.typed_numbers(nb)
    assert [number for _, number in found["equation"]] == ["5.1", "5.2", "5.3", "5.4"]
    assert found["exercise"] == [("ch-ex-first", "5.1"), ("ch-ex-second", "5.2"),
                                 ("ch2-ex-first", "5.3"), ("ch2-ex-second", "5.4")]


def test_chapter_numbers_come_from_the_numbered_parts_of_the_toc():
    numbering = _numbering()
    chapters = numbering.numbered_chapters(ROOT)
    assert chapters and all(entry.startswith("chapters/") for entry in chapters)
    assert numbering.chapter_number(ROOT / f"{chapters[0]}.ipynb", ROOT) == 1
    # a draft, not yet in the toc, takes the number its NN prefix promises
    assert numbering.chapter_number(ROOT / "chapters/42_a_draft.ipynb", ROOT) == 42
    with pytest.raises(ValueError, match="numbered: true"):
        numbering.chapter_number(ROOT / "intro.md", ROOT)


@pytest.mark.slow
def test_typed_numbers_are_removed_from_the_page(built_site):
    """The page shows Sphinx's equation number once: no \\tag from the notebook is left in the HTML."""
    for entry in toc_pages():
        page = built_site / f"{entry}.html"
        assert "\\tag{" not in page.read_text(encoding="utf-8"), f"{entry}.html still holds a typed \\tag"
