"""Book hygiene: every chapter is complete, listed, stored from a clean run and follows CONTRIBUTING.md."""
import base64
import json
import re
from pathlib import Path

import pytest

from nbutils.colab import SETUP_TAGS, setup_cell_source
from nbutils.notebook import DEFINITIONS_TAG, book_chapters, load_definitions, toc_pages

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS, DRAFTS = book_chapters(ROOT)  # drafts: in chapters/ but not yet in _toc.yml
MAX_NOTEBOOK_MB = 2.0  # figures at 100 dpi keep a chapter well under this




def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def code_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def text(cell: dict) -> str:
    return "".join(cell["source"])


def markdown(nb: dict) -> str:
    return "\n".join(text(c) for c in nb["cells"] if c["cell_type"] == "markdown")


def test_there_is_at_least_one_chapter():
    assert CHAPTERS, "no notebooks in chapters/"


def test_every_toc_entry_exists_and_drafts_stay_out_of_the_book():
    listed = toc_pages()
    for entry in listed:
        candidates = [ROOT / f"{entry}{suffix}" for suffix in ("", ".md", ".ipynb")]
        assert any(c.is_file() for c in candidates), f"_toc.yml lists {entry}, which does not exist"
    book_text = "\n".join(markdown(load(path)) for path in CHAPTERS)
    book_text += (ROOT / "intro.md").read_text(encoding="utf-8")
    for draft in DRAFTS:  # a page outside the toc is not built, so a link to it breaks the build
        assert f"{{doc}}`{draft.stem}`" not in book_text, f"a chapter links to the draft {draft.stem}"


@pytest.fixture(params=CHAPTERS, ids=[p.stem for p in CHAPTERS])
def chapter(request):
    return request.param, load(request.param)


def test_outputs_come_from_one_clean_top_to_bottom_run(chapter):
    path, nb = chapter
    counts = [c.get("execution_count") for c in code_cells(nb)]
    assert counts == list(range(1, len(counts) + 1)), f"{path.name}: re-run it top to bottom in a fresh kernel"


def test_no_stored_errors_and_kernel_is_python3(chapter):
    path, nb = chapter
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    for cell in code_cells(nb):
        for out in cell.get("outputs", []):
            assert out["output_type"] != "error", f"{path.name}: stored error in\n{text(cell)[:200]}"
            assert "Traceback" not in "".join(out.get("text", "")), f"{path.name}: traceback in a stream output"


def test_notebook_size(chapter):
    path, _ = chapter
    assert path.stat().st_size / 1e6 <= MAX_NOTEBOOK_MB, f"{path.name} is over {MAX_NOTEBOOK_MB} MB"


def test_first_code_cell_is_the_colab_setup(chapter):
    path, nb = chapter
    first = code_cells(nb)[0]
    assert text(first) == setup_cell_source(), f"{path.name}: run `python -m nbutils.colab` to refresh it"
    assert first["metadata"].get("tags") == SETUP_TAGS


# Code that draws from torch's global generator (parameter initialisation included).
GLOBAL_TORCH_DRAW = re.compile(r"torch\.(randn|rand|randint|randperm|normal|bernoulli|multinomial)(_like)?\("
                               r"|nn\.(Linear|Conv\w*|RNN|LSTM|GRU|Embedding|Bilinear)\(|\.(uniform|normal)_\(")
GLOBAL_SEED = re.compile(r"torch\.manual_seed\(|set_seed\(")
UNSEEDED = {
    "the global NumPy generator (use rng = np.random.default_rng(seed))":
        r"np\.random\.(?!default_rng\b|Generator\b|SeedSequence\b|PCG64\b)\w+\(",
    "an unseeded NumPy generator": r"default_rng\(\s*\)",
    "Python's global random module (use random.Random(seed))":
        r"(?<![\w.])random\.(random|randint|choice|choices|shuffle|sample|uniform|gauss|seed)\(",
}


def test_seeds_are_set(chapter):
    """Every chapter seeds torch before its first random draw and never uses an unseeded generator."""
    path, nb = chapter
    lecture = [c for c in code_cells(nb)[1:] if DEFINITIONS_TAG not in c["metadata"].get("tags", [])]
    seeded = next((i for i, c in enumerate(lecture) if GLOBAL_SEED.search(text(c))), None)
    assert seeded is not None, f"{path.name} never calls torch.manual_seed (see CONTRIBUTING.md, cell 3)"
    first_draw = next((i for i, c in enumerate(lecture) if GLOBAL_TORCH_DRAW.search(text(c))), len(lecture))
    assert seeded <= first_draw, \
        f"{path.name} draws random numbers before seeding torch, in\n{text(lecture[first_draw])[:200]}"
    for cell in code_cells(nb):
        for what, pattern in UNSEEDED.items():
            assert not re.search(pattern, text(cell)), f"{path.name} uses {what} in\n{text(cell)[:200]}"
        for generator in re.finditer(r"torch\.Generator\(\)", text(cell)):
            assert ".manual_seed(" in text(cell)[generator.start():], \
                f"{path.name}: an unseeded torch.Generator() in\n{text(cell)[:200]}"


def test_printed_floats_are_rounded(chapter):
    path, nb = chapter
    # A float with 7+ decimals, or a tensor printed as is: digits that change with the BLAS and thread count.
    unrounded = re.compile(r"\d\.\d{7,}|tensor\(\[*\s*-?(\d+\.\d|nan|inf)")
    for cell in code_cells(nb):
        if "nbval-ignore-output" in cell["metadata"].get("tags", []):
            continue
        for out in cell.get("outputs", []):
            shown = "".join(out.get("text", "")) + "".join(out.get("data", {}).get("text/plain", ""))
            assert not unrounded.search(shown), \
                f"{path.name}: unrounded float in output of\n{text(cell)[:200]}\n-> {shown[:200]}"


def test_anatomy_of_a_chapter(chapter):
    path, nb = chapter
    prose = markdown(nb)
    assert prose.lstrip().startswith("# "), f"{path.name}: the first cell is the title"
    for part in ("## Summary", "## Exercises", "## References", ":::{admonition} Common mistakes"):
        assert part in prose, f"{path.name} has no '{part}'"
    assert prose.count(":::{exercise}") >= 4, f"{path.name}: at least four exercises"
    checks = [c for c in code_cells(nb) if re.search(r"ex_\w+\.check\(", text(c))]
    assert len(checks) >= 4, f"{path.name}: at least two code exercises, each with a stub and a proof cell"
    assert any("explore(" in text(c) for c in code_cells(nb)), f"{path.name} has no explorer"


def test_definition_cells_only_define(chapter):
    path, nb = chapter
    cells = [c for c in code_cells(nb) if DEFINITIONS_TAG in c["metadata"].get("tags", [])]
    assert cells, f"{path.name}: tag the cells that define the chapter's functions '{DEFINITIONS_TAG}'"
    for cell in cells:
        assert not cell.get("outputs"), f"{path.name}: a definitions cell printed or plotted"
    namespace = load_definitions(path)
    own = [name for name, value in vars(namespace).items()  # not what the cells import
           if callable(value) and getattr(value, "__module__", None) == f"chapter_{path.stem}"]
    assert own, f"{path.name}: its definitions cells define no function or class of the chapter's own"


# --------------------------------------------------------------------------- 80 columns

LINE_LIMIT = 80  # the website's code column and Colab's both show about 80 characters


def shown_text(out: dict) -> str:
    """The text an output shows: a stream, or text/plain when there is nothing richer to show instead."""
    if out["output_type"] == "stream":
        return "".join(out.get("text", ""))
    data = out.get("data", {})
    if any(mime.startswith("image/") or mime == "text/html" for mime in data):
        return ""
    return "".join(data.get("text/plain", ""))


def test_code_and_printed_lines_fit_80_columns(chapter):
    """Every code line and every printed line is at most 80 characters (ruff format --config chapters/ruff.toml)."""
    path, nb = chapter
    too_long = []
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        where = f"cell {index} (In [{cell.get('execution_count')}])"
        for number, line in enumerate(text(cell).splitlines(), 1):
            if len(line) > LINE_LIMIT:
                too_long.append(f"{where}, code line {number}: {len(line)} characters: {line[:70]}")
        for out in cell.get("outputs", []):
            for number, line in enumerate(shown_text(out).splitlines(), 1):
                if len(line) > LINE_LIMIT:
                    too_long.append(f"{where}, output line {number}: {len(line)} characters: {line[:70]}")
    shown = "\n  ".join(too_long[:40]) + (f"\n  ... and {len(too_long) - 40} more" if len(too_long) > 40 else "")
    assert not too_long, (f"{path.stem}: {len(too_long)} lines longer than {LINE_LIMIT} characters; format the code "
                          f"with `ruff format --config chapters/ruff.toml` and wrap printed lines:\n  {shown}")


# --------------------------------------------------------------------------- numbering (CONTRIBUTING.md, "Numbering")

def _numbering():
    """_ext/numbering.py, the one place that knows how a chapter's numbers are written."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("book_numbering", ROOT / "_ext" / "numbering.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


numbering = _numbering()
LABEL_TARGET = re.compile(r"^\((?P<name>[\w\-.:]+)\)=\s*$", re.MULTILINE)


def labels(nb: dict) -> dict[str, list[str]]:
    """The chapter's labels by kind, in order: equations, exercises, figures and other targets."""
    found = {"equation": [], "exercise": [], "figure": [], "target": []}
    for cell in nb["cells"]:
        source = text(cell)
        if cell["cell_type"] == "markdown":
            found["equation"] += [m["name"] for m in numbering.DISPLAY_MATH.finditer(source) if m["name"]]
            found["exercise"] += re.findall(r"^:label:\s*(\S+)", source, re.MULTILINE)
            found["target"] += LABEL_TARGET.findall(source)
        else:
            name = cell["metadata"].get("mystnb", {}).get("figure", {}).get("name")
            if name:
                found["figure"].append(name)
    return found


def chapter_prefix(nb: dict) -> str:
    every = [name for names in labels(nb).values() for name in names]
    return every[0].split("-")[0] if every else ""


def shown_images(cell: dict) -> int:
    return sum(1 for out in cell.get("outputs", []) if any(m.startswith("image/") for m in out.get("data", {})))


def is_shown(cell: dict) -> bool:
    return not {"remove-cell", "remove-output"} & set(cell["metadata"].get("tags", []))


def numbers_by_chapter() -> dict[int, dict[str, int]]:
    """How many equations, exercises and figures each numbered chapter has (what "2.5" may refer to)."""
    counts = {}
    for number, entry in enumerate(numbering.numbered_chapters(ROOT), 1):
        path = ROOT / f"{entry}.ipynb"
        if path.is_file():
            nb = load(path)
            found = labels(nb)
            counts[number] = {"equation": len(found["equation"]), "figure": len(found["figure"]),
                              "exercise": len(numbering.typed_numbers(_as_nbformat(nb))["exercise"])}
    return counts


def _as_nbformat(nb: dict):
    import nbformat

    return nbformat.reads(json.dumps(nb), as_version=4)


def test_chapters_are_numbered_in_toc_order():
    """The sidebar's number is the file's NN prefix, and every chapter is in a part marked `numbered: true`."""
    chapters = numbering.numbered_chapters(ROOT)
    for path in CHAPTERS:
        assert f"chapters/{path.stem}" in chapters, \
            f"{path.name} is in a part of _toc.yml without `numbered: true`; its chapter would have no number"
    for number, entry in enumerate(chapters, 1):
        prefix = Path(entry).name.split("_")[0]
        assert prefix.isdigit() and int(prefix) == number, \
            f"_toc.yml makes {entry} chapter {number}, but its file name says {prefix}; rename it or reorder the toc"


def test_numbers_typed_in_the_notebook_are_current(chapter):
    """Each labelled equation carries \\tag{N.k} and each exercise title starts with N.k, as the page numbers them."""
    path, nb = chapter
    if f"chapters/{path.stem}" not in numbering.numbered_chapters(ROOT):
        pytest.fail(f"{path.stem} has no chapter number yet: list it in a `numbered: true` part of _toc.yml, "
                    f"then run `.venv/bin/python _ext/numbering.py chapters/{path.name}`")
    current = _as_nbformat(nb)
    renumbered = numbering.renumber(_as_nbformat(nb), numbering.chapter_number(path, ROOT))
    pairs = enumerate(zip(current.cells, renumbered.cells, strict=True))
    stale = [index for index, (old, new) in pairs if old.source != new.source]
    found = numbering.typed_numbers(renumbered)
    assert not stale, (f"{path.stem}: the equation and exercise numbers in cells {stale} are missing or stale "
                       f"({len(found['equation'])} numbered equations, {len(found['exercise'])} exercises); run "
                       f"`.venv/bin/python _ext/numbering.py chapters/{path.name}`")


def test_labels_carry_the_chapter_prefix(chapter):
    """Equation, exercise and figure labels share one prefix, unique to the chapter; every exercise has a label."""
    path, nb = chapter
    found = labels(nb)
    prefix = chapter_prefix(nb)
    assert prefix, f"{path.stem} has no labels; number its equations as `$$ ... $$ (prefix-name)`"
    wrong = [name for names in found.values() for name in names if not name.startswith(f"{prefix}-")]
    assert not wrong, f"{path.stem}: labels without the chapter's prefix '{prefix}-': {wrong}"
    others = {chapter_prefix(load(other)): other.stem for other in CHAPTERS if other != path}
    assert prefix not in others, f"{path.stem} and {others.get(prefix)} both use the label prefix '{prefix}-'"
    exercises = markdown(nb).count(":::{exercise}") + markdown(nb).count("```{exercise}")
    assert len(found["exercise"]) >= exercises, f"{path.stem}: an exercise without `:label: {prefix}-ex-...`"


# "Exercise 16", "equation (3)", "Fig. 2": numbers that do not say their chapter, or that point nowhere.
TYPED_REFERENCE = re.compile(r"\b(?P<kind>[Ee]xercises?|[Ff]igures?|[Ff]igs?\.|[Ee]quations?|[Ee]qs?\.|[Ee]qn\.?)"
                             r"\s*\(?(?P<chapter>\d+)(?:\.(?P<number>\d+))?\)?")
KINDS = {"e": "equation", "f": "figure"}


def typed_references(source: str) -> list[tuple[str, int, int | None]]:
    source = re.sub(r"```.*?```|`[^`\n]*`|\$\$.*?\$\$|\$[^$\n]*\$", " ", source, flags=re.DOTALL)
    found = []
    for match in TYPED_REFERENCE.finditer(source):
        word = match["kind"].lower()
        kind = "exercise" if word.startswith("exe") else KINDS[word[0]]
        found.append((match[0], kind, int(match["chapter"]), int(match["number"]) if match["number"] else None))
    return found


def test_numbers_in_the_text_point_somewhere(chapter):
    """A number typed in prose or printed ("Exercise 3.4", "equation (2.5)") has its chapter and exists."""
    path, nb = chapter
    counts = numbers_by_chapter()
    wrong = []
    for index, cell in enumerate(nb["cells"]):
        sources = [text(cell)] if cell["cell_type"] == "markdown" else [shown_text(o) for o in cell.get("outputs", [])]
        for source in sources:
            for written, kind, chapter_number, number in typed_references(source):
                if number is None:
                    wrong.append(f"cell {index}: '{written}' has no chapter number (write N.k or use a role)")
                elif number > counts.get(chapter_number, {}).get(kind, 0):
                    wrong.append(f"cell {index}: '{written}': chapter {chapter_number} has no {kind} {number}")
    assert not wrong, f"{path.stem}: numbers that do not match the book's numbering " \
                      f"(cite with {{eq}}`label` or {{numref}}`label`):\n  " + "\n  ".join(wrong)


def book_labels() -> set[str]:
    return {name for path in CHAPTERS for names in labels(load(path)).values() for name in names}


def string_literals(source: str) -> list[str]:
    """The string literals of a code cell (legends, titles and check names live there; comments do not count)."""
    import io
    import tokenize

    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return re.findall(r"\"[^\"\n]*\"|'[^'\n]*'", re.sub(r"#.*", "", source))
    return [token.string for token in tokens if token.type == tokenize.STRING]


def test_outputs_and_legends_never_show_an_internal_label(chapter):
    """Check lines, legends and titles name a formula in words or by its number, never as `(ml-bce)`."""
    path, nb = chapter
    every = sorted(book_labels(), key=len, reverse=True)
    if not every:
        return
    as_token = re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, every)) + r")(?![\w-])")
    in_parentheses = re.compile(r"\((" + "|".join(map(re.escape, every)) + r")\)")
    shown = []
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        for out in cell.get("outputs", []):
            shown += [f"cell {index}, output: {m[0]}" for m in as_token.finditer(shown_text(out))]
        shown += [f"cell {index}, a string in the code (legend, title, check name): {m[0]}"
                  for literal in string_literals(text(cell)) for m in in_parentheses.finditer(literal)]
    assert not shown, f"{path.stem} shows internal labels to the reader; name the formula in words " \
                      f"('softmax Jacobian') or by its number ('(2.8)'):\n  " + "\n  ".join(shown)


def test_every_shown_figure_is_numbered(chapter):
    """A figure on the page is alone in its cell, which names and captions it for "Figure N.k"."""
    path, nb = chapter
    prefix = chapter_prefix(nb)
    problems = []
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code" or not is_shown(cell) or not shown_images(cell):
            continue
        figure = cell["metadata"].get("mystnb", {}).get("figure", {})
        if shown_images(cell) > 1:
            problems.append(f"cell {index}: {shown_images(cell)} images; draw them as panels of one figure")
        if not figure.get("name") or not str(figure.get("caption", "")).strip():
            problems.append(f"cell {index}: no figure name and caption in its metadata")
    assert not problems, (f"{path.stem}: figures that would have no number; give each cell metadata "
                          f'{{"mystnb": {{"figure": {{"name": "{prefix}-fig-...", "caption": "..."}}}}}}:\n  '
                          + "\n  ".join(problems))


MIN_FIGURE_PT = 11  # nbutils.plot's smallest text; see tests/test_site_browser.py
SMALL_FONT = re.compile(r"\b(?:fontsize|labelsize|size)\s*=\s*(?:(?P<points>\d+(?:\.\d+)?)\b"
                        r"|[\"'](?P<name>xx-small|x-small|small|smaller)[\"'])")
# A cell that draws: only there is ``size=`` a font size (``nn.LocalResponseNorm(size=5)`` is not).
DRAWS = re.compile(r"\b(?:ax|axes|fig|plt|figure)\b|\.(?:text|annotate|set_title|legend)\(")


def test_figure_text_is_not_smaller_than_the_book_style(chapter):
    """No figure text below 11 pt: smaller text is unreadable once the figure is scaled to the column."""
    path, nb = chapter
    small = []
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code" and DRAWS.search(text(cell)):
            for match in SMALL_FONT.finditer(text(cell)):
                if match["name"] or float(match["points"]) < MIN_FIGURE_PT:
                    small.append(f"cell {index}: {match[0]}")
    assert not small, f"{path.stem}: figure text below {MIN_FIGURE_PT} pt:\n  " + "\n  ".join(small)


MAX_FIGURE_PX = 820  # 8.2 in at the book style's 100 dpi: wider figures shrink 11 pt text below the page's 14 px


def png_width(encoded: str) -> int:
    """Width in pixels of a base64 PNG, from its IHDR chunk (bytes 16 to 20)."""
    header = base64.b64decode("".join(encoded)[:32])
    return int.from_bytes(header[16:20], "big")


def test_stored_figures_fit_the_text_column(chapter):
    """Every stored figure is at most 8.2 in wide, so the page does not shrink its text (as the browser test sees)."""
    path, nb = chapter
    wide = []
    for index, cell in enumerate(nb["cells"]):
        for output in cell.get("outputs", []):
            image = output.get("data", {}).get("image/png")
            if image and png_width(image) > MAX_FIGURE_PX:
                name = cell.get("metadata", {}).get("mystnb", {}).get("figure", {}).get("name", "")
                wide.append(f"cell {index} {name}: {png_width(image)} px")
    assert not wide, (f"{path.stem}: figures wider than {MAX_FIGURE_PX} px; draw them narrower "
                      "(nbutils.plot.figure(width=...), legends inside the axes):\n  " + "\n  ".join(wide))


LIST_MARKER = re.compile(r"^\s*([-+*]|\d+\.)\s")


def test_inline_math_never_breaks_into_a_list(chapter):
    """A line that starts with `- `, `+ `, `* ` or `1. ` inside inline math starts a Markdown list on the page.

    (`$a\\n- b$` renders as the text "$a" and a bullet "b$".) Keep the operator at the end of the line before.
    """
    path, nb = chapter
    broken = []
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        prose = re.sub(r"\$\$.*?\$\$", "", text(cell), flags=re.DOTALL)  # display math may break anywhere
        for paragraph in prose.split("\n\n"):
            before = ""
            for line in paragraph.split("\n"):
                if LIST_MARKER.match(line) and before.count("$") % 2 == 1:
                    broken.append(f"cell {index}: {line[:60]!r}")
                before += line
    assert not broken, f"{path.stem}: a line inside inline math starts like a list item:\n  " + "\n  ".join(broken)
