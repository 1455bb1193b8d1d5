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
