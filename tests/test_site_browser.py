"""The built website in a real browser: every page in _toc.yml, opened by Debian's headless Chromium.

The site is served from 127.0.0.1 and every request to anywhere else is
blocked and reported, so the pages are checked as an offline reader sees
them. For each page: HTTP 200, math typeset by the site's own MathJax, every
image loaded, no error in a cell output, the Colab link on a chapter, exercise
solutions collapsed, and no JavaScript error beyond the known ones listed
below. Each page is also read as on a 1280 px screen and on a 390 px phone:
no code block, output block or display equation wider than its box (on the
phone a code or output block may scroll; math may not), no inline formula
running past the text column on the phone, 80 characters of code
visible at 1280 px, figures not shrunk so far that their text is smaller than
the page's, and chapters, equations, exercises and figures numbered "N.k".
Screenshots of each page at both widths go to ``artifacts/screenshots/``.
"""
from __future__ import annotations

import functools
import http.server
import json
import re
import shutil
import threading
from pathlib import Path

import pytest
import yaml

from nbutils.notebook import toc_pages
from nbutils.plot import _STYLE as BOOK_STYLE

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
LAUNCH_BRANCH = "main"  # launch buttons open the chapter as it is on main
DESKTOP, PHONE = 1280, 390  # window widths, CSS px
CODE_COLUMNS = 80  # a code line of this many characters shows whole at DESKTOP width
MIN_MATH_PX = 14  # _ext/fit_math.py never scales display math below this
# Figures: the book style's smallest text, and the pixels a point takes at its dpi.
FIGURE_TEXT_PT = min(BOOK_STYLE[key] for key in ("font.size", "axes.labelsize", "legend.fontsize",
                                                  "xtick.labelsize", "ytick.labelsize"))
FIGURE_PX_PER_PT = BOOK_STYLE["figure.dpi"] / 72

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
    def log_message(self, format, *args) -> None:
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
def screenshots() -> Path:
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)
    return SCREENSHOTS


class PageVisit:
    """One page opened in a fresh browser context, with what the browser reported while loading it."""

    def __init__(self, browser, site_url: str, page_name: str, width: int = DESKTOP):
        self.width = width
        self.context = browser.new_context(viewport={"width": width, "height": 900})
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


def open_page(browser, site_url: str, page_name: str, screenshots: Path, width: int = DESKTOP) -> PageVisit:
    """Load a page, wait until MathJax has typeset it and its images are in, and save its screenshot."""
    visit = PageVisit(browser, site_url, page_name, width)
    if visit.page.locator("script[src*='mathjax']").count():
        visit.page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
        visit.page.evaluate("() => MathJax.startup.promise")
    if visit.page.locator("div.math").count():
        # _ext/fit_math.py marks the page once it has fitted display math to the column.
        visit.page.wait_for_function("() => document.documentElement.dataset.mathFitted !== undefined")
    visit.page.evaluate(_WAIT_FOR_IMAGES_JS)
    suffix = "" if width == DESKTOP else f"@{width}"
    # A long chapter is a tall image: give the screenshot more than the default 30 s on a busy machine.
    visit.page.screenshot(path=str(screenshots / f"{page_name.replace('/', '__')}{suffix}.png"), full_page=True,
                          timeout=180_000)
    return visit


@pytest.fixture(params=toc_pages())
def visit(request, browser, site_url, screenshots, visits) -> PageVisit:
    if request.param not in visits:
        visits[request.param] = open_page(browser, site_url, request.param, screenshots)
    return visits[request.param]


@pytest.fixture(params=toc_pages())
def phone_visit(request, browser, site_url, screenshots, visits) -> PageVisit:
    """The page on a 390 px wide phone."""
    key = f"{request.param}@{PHONE}"
    if key not in visits:
        visits[key] = open_page(browser, site_url, request.param, screenshots, PHONE)
    return visits[key]


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


# --------------------------------------------------------------------------- reading width (issue: "nothing overflows")

# Every code block, output block and display equation of the article, measured with every collapsed
# block (hide-input code) opened, then closed again. A block is a problem when its content is wider
# than its box: cut off, or (code and output only, where `allowScroll`) readable behind a scroll bar.
_OVERFLOW_JS = """([allowScroll, minMathPx]) => {
  const article = document.querySelector('article') || document.body;
  const right = article.getBoundingClientRect().right;
  const closed = Array.from(article.querySelectorAll('details:not([open])'));
  closed.forEach(d => { d.open = true; });
  const problems = [];
  const longest = e => (e.textContent || '').split('\\n').reduce((a, b) => (b.length > a.length ? b : a), '');
  const snippet = e => `${longest(e).length}-character line "${longest(e).trim().slice(0, 50)}"`;
  const blocks = new Set(article.querySelectorAll('div.highlight pre, .cell_output pre'));
  for (const pre of blocks) {
    const box = pre.getBoundingClientRect();
    if (!box.width) continue;
    const kind = pre.closest('.cell_output') ? 'output block' : 'code block';
    const scrolls = ['auto', 'scroll'].includes(getComputedStyle(pre).overflowX);
    if (pre.scrollWidth > pre.clientWidth + 1 && !(allowScroll && scrolls)) {
      problems.push(`${kind}, ${snippet(pre)}: content ${pre.scrollWidth} px wide in a ${pre.clientWidth} px box`
                    + (scrolls ? ' (behind a scroll bar)' : ' (cut off)'));
    } else if (box.right > right + 1) {
      problems.push(`${kind}, ${snippet(pre)}: runs ${Math.round(box.right - right)} px past the column`);
    }
  }
  for (const box of article.querySelectorAll('mjx-container[display="true"]')) {
    const math = box.querySelector('mjx-math');
    if (!math || !box.getBoundingClientRect().width) continue;
    const holder = box.closest('div.math');
    const eqno = holder ? holder.querySelector('.eqno') : null;
    const number = eqno ? eqno.textContent.replace('#', '').trim() : '';
    const name = `display equation ${number || '(unnumbered)'}${holder && holder.id ? ' #' + holder.id : ''}`;
    const width = Math.ceil(math.getBoundingClientRect().width);
    const size = parseFloat(getComputedStyle(box).fontSize);
    if (width > box.clientWidth + 1) {
      problems.push(`${name}: ${width} px of math in a ${box.clientWidth} px box (cut off or scrolled); `
                    + 'split it with aligned');
    } else if (box.getBoundingClientRect().right > right + 1) {
      problems.push(`${name}: runs past the column`);
    }
    if (size < minMathPx - 0.05) problems.push(`${name}: scaled to ${size} px, below ${minMathPx} px`);
  }
  closed.forEach(d => { d.open = false; });
  return problems;
}"""


def overflowing(visit: PageVisit, allow_scroll: bool) -> list[str]:
    return visit.page.evaluate(_OVERFLOW_JS, [allow_scroll, MIN_MATH_PX])


def overflow_report(visit: PageVisit, problems: list[str]) -> str:
    return (f"{visit.name} at {visit.width} px: {len(problems)} blocks wider than their box:\n  "
            + "\n  ".join(problems[:40]) + (f"\n  ... and {len(problems) - 40} more" if len(problems) > 40 else ""))


@pytest.mark.slow
def test_nothing_overflows_at_1280_px(visit):
    """On a 1280 px screen every code line, printed line and equation shows whole, with no scroll bar."""
    problems = overflowing(visit, allow_scroll=False)
    assert not problems, overflow_report(visit, problems)


@pytest.mark.slow
def test_nothing_overflows_on_a_phone(phone_visit):
    """At 390 px a code or output block may scroll sideways; an equation must fit (split it with aligned)."""
    problems = overflowing(phone_visit, allow_scroll=True)
    assert not problems, overflow_report(phone_visit, problems)


# Inline math ($...$) is one unbreakable box: a formula wider than the rest of its line moves to the
# next line, and one wider than the column runs past its right edge, where the page cuts it off. A
# formula inside a block that scrolls sideways (a table, an output area) can be scrolled to and is
# left out. Each problem is named by the formula's TeX source, as MathJax read it from the page.
_INLINE_OVERFLOW_JS = """() => {
  const article = document.querySelector('article') || document.body;
  const right = article.getBoundingClientRect().right;
  const closed = Array.from(article.querySelectorAll('details:not([open])'));
  closed.forEach(d => { d.open = true; });
  const typeset = window.MathJax && MathJax.startup && MathJax.startup.document;
  const source = new Map((typeset ? typeset.getMathItemsWithin(article) : [])
    .map(item => [item.typesetRoot, item.math]));
  const scrolls = e => {
    for (let up = e.parentElement; up && up !== article; up = up.parentElement) {
      if (['auto', 'scroll'].includes(getComputedStyle(up).overflowX)) return true;
    }
    return false;
  };
  const problems = [];
  for (const box of article.querySelectorAll('mjx-container:not([display="true"])')) {
    const r = box.getBoundingClientRect();
    if (!r.width || r.right <= right + 1 || scrolls(box)) continue;
    const tex = (source.get(box) || box.textContent || '').replace(/\\s+/g, ' ').trim();
    const shown = tex.length > 90 ? tex.slice(0, 87) + '...' : tex;
    problems.push(`inline formula $${shown}$: ${Math.round(r.width)} px wide, runs `
                  + `${Math.round(r.right - right)} px past the column (cut off); split it in two, `
                  + 'joined by words, or make it a display equation');
  }
  closed.forEach(d => { d.open = false; });
  return problems;
}"""


@pytest.mark.slow
def test_no_inline_formula_is_cut_off_on_a_phone(phone_visit):
    """At 390 px every inline formula outside a sideways-scrolling block ends inside the text column."""
    problems = phone_visit.page.evaluate(_INLINE_OVERFLOW_JS)
    assert not problems, overflow_report(phone_visit, problems)


_CODE_CAPACITY_JS = """() => {
  const pre = document.querySelector('article div.highlight pre');
  if (!pre) return null;
  const probe = document.createElement('span');
  probe.textContent = 'x'.repeat(100);
  pre.appendChild(probe);
  const perCharacter = probe.getBoundingClientRect().width / 100;
  probe.remove();
  const style = getComputedStyle(pre);
  const inside = pre.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  return [Math.floor(inside / perCharacter), pre.clientWidth, perCharacter];
}"""


@pytest.mark.slow
def test_a_code_block_shows_80_characters_at_1280_px(visit):
    capacity = visit.page.evaluate(_CODE_CAPACITY_JS)
    if capacity is None:
        pytest.skip(f"{visit.name} has no code block")
    characters, width, per_character = capacity
    assert characters >= CODE_COLUMNS, \
        f"{visit.name}: a {width} px code block shows {characters} characters of {per_character:.1f} px, " \
        f"fewer than {CODE_COLUMNS}; widen the column in _static/custom.css"


_FIGURES_JS = """() => {
  const article = document.querySelector('article') || document.body;
  const sizes = Array.from(article.querySelectorAll('p, li, div.highlight pre'))
    .filter(e => e.getBoundingClientRect().width).map(e => parseFloat(getComputedStyle(e).fontSize));
  const images = Array.from(article.querySelectorAll('.cell_output img'))
    .filter(i => i.naturalWidth && i.getBoundingClientRect().width)
    .map(i => {
      const code = i.closest('.cell') && i.closest('.cell').querySelector('.cell_input pre');
      const figure = i.closest('figure');
      const name = figure && figure.id ? figure.id
        : (code ? `the figure of "${code.textContent.trim().split('\\n')[0].slice(0, 50)}"` : i.getAttribute('src'));
      return [name, i.naturalWidth, i.getBoundingClientRect().width];
    });
  return [Math.min(...sizes), images];
}"""


@pytest.mark.slow
def test_figure_text_is_as_large_as_the_page_text_at_1280_px(visit):
    """A figure scaled into the column keeps its smallest text (the book style's) as large as the page's smallest.

    Figures are PNGs at the book style's dpi, so text of ``FIGURE_TEXT_PT`` points is
    ``FIGURE_TEXT_PT * dpi / 72`` px at natural size and shrinks with the image.
    Text a chapter draws smaller than the style is caught by the hygiene test.
    """
    smallest_page_px, images = visit.page.evaluate(_FIGURES_JS)
    shrunk = []
    for name, natural, shown in images:
        text_px = FIGURE_TEXT_PT * FIGURE_PX_PER_PT * shown / natural
        if text_px < smallest_page_px - 0.05:
            widest = shown * FIGURE_TEXT_PT * FIGURE_PX_PER_PT / smallest_page_px / BOOK_STYLE["figure.dpi"]
            shrunk.append(f"{name}: {natural / BOOK_STYLE['figure.dpi']:.1f} in ({natural} px) shown at "
                          f"{shown:.0f} px, so its {FIGURE_TEXT_PT} pt text is {text_px:.1f} px; "
                          f"at most {widest:.1f} in wide keeps it at {smallest_page_px:.0f} px")
    assert not shrunk, (f"{visit.name}: figures whose text is smaller than the page's smallest text "
                        f"({smallest_page_px:.0f} px) at {visit.width} px; draw them narrower "
                        f"(nbutils.plot.figure(width=...)):\n  " + "\n  ".join(shrunk))


# --------------------------------------------------------------------------- numbering (CONTRIBUTING.md, "Numbering")

_NUMBERS_JS = """() => {
  const article = document.querySelector('article');
  const numbers = selector => Array.from(article.querySelectorAll(selector)).map(e => e.textContent.trim());
  const current = document.querySelector('nav.bd-links a.current, nav.bd-links li.current > a');
  return {
    title: article.querySelector('h1') ? article.querySelector('h1').textContent.trim() : '',
    sidebar: current ? current.textContent.trim() : '',
    equations: numbers('div.math > span.eqno').map(t => t.replace('#', '').trim()),
    exercises: numbers('.exercise .caption-number'),
    figures: numbers('figure figcaption .caption-number'),
    mathTags: article.querySelectorAll('mjx-mlabeledtr, mjx-mtd[id^="mjx-eqn"]').length,
  };
}"""


def _chapter_number(page: str) -> int | None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("book_numbering", ROOT / "_ext" / "numbering.py")
    numbering = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(numbering)
    chapters = numbering.numbered_chapters(ROOT)
    return chapters.index(page) + 1 if page in chapters else None


@pytest.mark.slow
def test_chapter_pages_are_numbered_like_a_textbook(visit):
    """Title and sidebar "N. ...", equations "(N.1)", "(N.2)", ..., "Exercise N.k" and "Figure N.k" in order."""
    number = _chapter_number(visit.name)
    if number is None:
        pytest.skip(f"{visit.name} is not a numbered chapter")
    found = visit.page.evaluate(_NUMBERS_JS)
    assert found["title"].startswith(f"{number}. "), f"{visit.name}: the title reads {found['title']!r}"
    assert found["sidebar"].startswith(f"{number}. "), f"{visit.name}: the sidebar reads {found['sidebar']!r}"
    for kind, form in (("equations", "({}.{})"), ("exercises", "Exercise {}.{}"), ("figures", "Figure {}.{}")):
        expected = [form.format(number, k) for k in range(1, len(found[kind]) + 1)]
        assert found[kind] == expected, f"{visit.name}: {kind} numbered {found[kind]}, expected {expected}"
    assert not found["mathTags"], f"{visit.name}: {found['mathTags']} equations show a typed \\tag as well as " \
                                  "the page's number (is _ext/numbering.py in _config.yml?)"
    nb = notebook(visit.name)
    assert len(found["exercises"]) == "".join("".join(c["source"]) for c in nb["cells"]).count("{exercise}"), \
        f"{visit.name}: an exercise on the page has no number"


def test_the_browser_visits_the_root_and_every_toc_entry():
    toc = (ROOT / "_toc.yml").read_text(encoding="utf-8")
    listed = re.findall(r"^\s*-?\s*file:\s*(\S+)", toc, re.MULTILINE)
    assert toc_pages() == [yaml.safe_load(toc)["root"], *listed]
