"""The built website in a real browser: every page in _toc.yml, opened by Debian's headless Chromium.

The site is served from 127.0.0.1 and every request to anywhere else is
blocked and reported, so the pages are checked as an offline reader sees
them. For each page: HTTP 200, math typeset by the site's own MathJax, every
image loaded, no error in a cell output, the Colab link on a chapter, exercise
solutions collapsed, and no JavaScript error beyond the known ones listed
below. A screenshot of each page goes to ``artifacts/screenshots/``.
"""
from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import threading
from pathlib import Path

import pytest
import yaml

from nbutils.notebook import toc_pages

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path(os.environ.get("CHROMIUM") or "/usr/bin/chromium")  # the Makefile passes CHROMIUM=
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
LAUNCH_BRANCH = "main"  # launch buttons open the chapter as it is on main

# Console errors that come from the theme, not the book, each with the reason it is harmless.
KNOWN_CONSOLE_ERRORS = {
    r"^Identifier 'THEBE_JS_URL' has already been declared$":
        "Jupyter Book 1 writes sphinx-thebe's configuration script twice; the second `const` is refused and the "
        "first has the same values. Thebe (live code in the page) is not enabled in this book.",
    r"^Got invalid theme mode: \. Resetting to auto\.$":
        "pydata-sphinx-theme logs this on a reader's first visit (no theme saved in localStorage yet), then "
        "saves 'auto'; every browser context in this test is a first visit.",
}

# Text that must never be left on a page once MathJax has typeset it.
RAW_MATH = (r"\(", r"\)", r"\[", r"\]", "$$", r"\begin{")

_VISIBLE_TEXT_JS = """() => {
  const main = document.querySelector('article') || document.body;
  const copy = main.cloneNode(true);
  copy.querySelectorAll('pre, code, script, style, mjx-container, .highlight, .cell_input').forEach(e => e.remove());
  return copy.textContent;
}"""

_WAIT_FOR_IMAGES_JS = """() => Promise.all(Array.from(document.images).map(img => img.complete ? null :
  new Promise(done => { img.addEventListener('load', done); img.addEventListener('error', done); })))"""


# --------------------------------------------------------------------------- pages and what they should show

def config() -> dict:
    return yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))


def expected_colab_link(page: str) -> str:
    """Colab's URL for ``page``'s notebook on branch main of the repository in _config.yml."""
    settings = config()
    repository = settings["repository"]["url"].rstrip("/").removeprefix("https://github.com/")
    book = settings["repository"].get("path_to_book") or ""
    path = "/".join(part for part in (book.strip("/"), f"{page}.ipynb") if part)
    return f"{settings['launch_buttons']['colab_url'].rstrip('/')}/github/{repository}/blob/{LAUNCH_BRANCH}/{path}"


def notebook(page: str) -> dict | None:
    path = ROOT / f"{page}.ipynb"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def shown_figures(nb: dict) -> int:
    """Number of image outputs the website shows: those of cells not tagged to remove their output."""
    hidden = {"remove-cell", "remove-output"}
    return sum(1 for cell in nb["cells"] if cell["cell_type"] == "code"
               and not hidden & set(cell.get("metadata", {}).get("tags", []))
               for out in cell.get("outputs", [])
               if any(mime.startswith("image/") for mime in out.get("data", {})))


def solution_directives(nb: dict) -> int:
    return sum("".join(c["source"]).count(":::{solution}") for c in nb["cells"] if c["cell_type"] == "markdown")


# --------------------------------------------------------------------------- server and browser

class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args) -> None:  # noqa: A002 - the standard library's name
        pass


@pytest.fixture(scope="module")
def site_url(built_site):
    """Serve the built site on 127.0.0.1 at a free port for the duration of this module."""
    handler = functools.partial(_QuietHandler, directory=str(built_site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` (it apt-get installs Debian's chromium).")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the playwright package is missing: run `make install`.")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def screenshots() -> Path:
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)
    return SCREENSHOTS


class PageVisit:
    """One page opened in a fresh browser context, with what the browser reported while loading it."""

    def __init__(self, browser, site_url: str, page_name: str):
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.blocked: list[str] = []
        self.failed_responses: list[str] = []
        self.console_errors: list[str] = []
        self.context.route("**/*", self._only_local(site_url))
        self.page = self.context.new_page()
        self.page.set_default_timeout(30_000)
        self.page.on("console", lambda message: self.console_errors.append(message.text)
                     if message.type == "error" else None)
        self.page.on("pageerror", lambda error: self.console_errors.append(str(error.message)))
        self.page.on("response", lambda response: self.failed_responses.append(f"{response.status} {response.url}")
                     if response.status >= 400 else None)
        self.name = page_name
        self.response = self.page.goto(site_url + f"{page_name}.html", wait_until="load")

    def _only_local(self, site_url: str):
        def route(route) -> None:
            if route.request.url.startswith(site_url):
                route.continue_()
            else:
                self.blocked.append(route.request.url)
                route.abort()
        return route

    def close(self) -> None:
        self.context.close()


@pytest.fixture(scope="module")
def visits(browser, site_url, screenshots):
    """Pages opened so far in this module, by name: each page is loaded and photographed once."""
    opened: dict[str, PageVisit] = {}
    yield opened
    for visit in opened.values():
        visit.close()


def open_page(browser, site_url: str, page_name: str, screenshots: Path) -> PageVisit:
    """Load a page, wait until MathJax has typeset it and its images are in, and save its screenshot."""
    visit = PageVisit(browser, site_url, page_name)
    if visit.page.locator("script[src*='mathjax']").count():
        visit.page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
        visit.page.evaluate("() => MathJax.startup.promise")
    visit.page.evaluate(_WAIT_FOR_IMAGES_JS)
    visit.page.screenshot(path=str(screenshots / f"{page_name.replace('/', '__')}.png"), full_page=True)
    return visit


@pytest.fixture(params=toc_pages())
def visit(request, browser, site_url, screenshots, visits) -> PageVisit:
    if request.param not in visits:
        visits[request.param] = open_page(browser, site_url, request.param, screenshots)
    return visits[request.param]


# --------------------------------------------------------------------------- the checks, one page at a time

@pytest.mark.slow
def test_page_loads_with_200_and_nothing_from_the_network(visit):
    assert visit.response is not None and visit.response.status == 200, \
        f"{visit.name}.html answered {visit.response.status if visit.response else 'nothing'}"
    assert not visit.blocked, f"{visit.name} asks the network for {visit.blocked}; the site must work offline"
    assert not visit.failed_responses, f"{visit.name} requested missing files: {visit.failed_responses}"


@pytest.mark.slow
def test_math_is_typeset_by_the_local_mathjax(visit):
    page = visit.page
    formulas = page.locator(".math").count()
    if formulas:
        assert page.locator("script[src*='mathjax']").count(), f"{visit.name} has math but loads no MathJax"
        untypeset = page.evaluate("() => Array.from(document.querySelectorAll('.math'))"
                                  ".filter(e => !e.querySelector('mjx-container')).map(e => e.textContent)")
        assert not untypeset, f"{visit.name}: {len(untypeset)} of {formulas} formulas not typeset: {untypeset[:3]}"
    assert page.locator("mjx-merror").count() == 0, \
        f"{visit.name}: MathJax could not typeset {page.locator('mjx-merror').first.inner_text()!r}"
    text = page.evaluate(_VISIBLE_TEXT_JS)
    raw = [token for token in RAW_MATH if token in text]
    assert not raw, f"{visit.name} shows raw TeX delimiters {raw} near: " \
                    f"{text[max(0, text.find(raw[0]) - 80):text.find(raw[0]) + 80]!r}"


@pytest.mark.slow
def test_every_image_loads(visit):
    images = visit.page.evaluate(
        "() => Array.from(document.images).map(i => [i.getAttribute('src'), i.naturalWidth, i.naturalHeight])")
    broken = [src for src, width, height in images if not (width and height)]
    assert not broken, f"{visit.name}: images that did not load: {broken}"
    nb = notebook(visit.name)
    if nb is not None:
        shown = visit.page.locator(".cell_output img").count()
        assert shown == shown_figures(nb), \
            f"{visit.name}: the notebook has {shown_figures(nb)} figures in shown outputs, the page {shown}"


@pytest.mark.slow
def test_no_cell_output_shows_an_error(visit):
    page = visit.page
    assert page.locator(".cell_output .traceback").count() == 0, f"{visit.name} shows a traceback"
    outputs = page.locator(".cell_output").all_inner_texts()
    shown = [text for text in outputs if "Traceback (most recent call last)" in text]
    assert not shown, f"{visit.name} shows a traceback: {shown[0][:300]}"
    stderr = page.locator(".cell_output .stderr").all_inner_texts()
    errors = [text for text in stderr if re.search(r"\b\w*(Error|Exception)\b", text)]
    assert not errors, f"{visit.name} shows an error on stderr: {errors[0][:300]}"


@pytest.mark.slow
def test_colab_link_opens_this_chapter_on_main(visit):
    links = visit.page.evaluate(
        "() => Array.from(document.querySelectorAll('a[href*=\"colab.research.google.com\"]')).map(a => a.href)")
    if notebook(visit.name) is None:
        assert not links, f"{visit.name} is not a notebook but links to Colab: {links}"
        return
    expected = expected_colab_link(visit.name)
    assert links, f"{visit.name} has no Colab launch link"
    assert set(links) == {expected}, f"{visit.name}: Colab links {links}, expected {expected}"


@pytest.mark.slow
def test_exercise_solutions_are_collapsed(visit):
    nb = notebook(visit.name)
    page = visit.page
    solutions = page.locator(".solution")
    if nb is not None:
        assert solutions.count() == solution_directives(nb), \
            f"{visit.name}: {solution_directives(nb)} solutions in the notebook, {solutions.count()} on the page"
        assert "model_solution" not in page.inner_text("article"), \
            f"{visit.name} shows a cell that runs a model solution; tag it remove-cell"
    for index in range(solutions.count()):
        solution = solutions.nth(index)
        classes = solution.get_attribute("class") or ""
        assert "dropdown" in classes.split(), f"{visit.name}: solution {index + 1} lacks `:class: dropdown`"
        body = solution.locator(":scope > :not(.admonition-title)")
        visible = [body.nth(i).inner_text()[:80] for i in range(body.count()) if body.nth(i).is_visible()]
        assert not visible, f"{visit.name}: solution {index + 1} is open on load, showing {visible}"


@pytest.mark.slow
def test_no_javascript_errors_beyond_the_known_ones(visit):
    unknown = [message for message in visit.console_errors
               if not any(re.search(pattern, message) for pattern in KNOWN_CONSOLE_ERRORS)]
    assert not unknown, f"{visit.name}: JavaScript errors in the console: {unknown}"


def test_the_browser_visits_the_root_and_every_toc_entry():
    toc = (ROOT / "_toc.yml").read_text(encoding="utf-8")
    listed = re.findall(r"^\s*-?\s*file:\s*(\S+)", toc, re.MULTILINE)
    assert toc_pages() == [yaml.safe_load(toc)["root"], *listed]
