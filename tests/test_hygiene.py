"""Book hygiene: every chapter is complete, listed, stored from a clean run and follows CONTRIBUTING.md."""
import json
import re
from pathlib import Path

import pytest

from nbutils.colab import SETUP_TAGS, setup_cell_source
from nbutils.notebook import DEFINITIONS_TAG, load_definitions, toc_pages

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))
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


def test_every_chapter_is_in_the_toc_and_every_toc_entry_exists():
    listed = toc_pages()
    for path in CHAPTERS:
        assert f"chapters/{path.stem}" in listed, f"{path.name} is not in _toc.yml"
    for entry in listed:
        candidates = [ROOT / f"{entry}{suffix}" for suffix in ("", ".md", ".ipynb")]
        assert any(c.is_file() for c in candidates), f"_toc.yml lists {entry}, which does not exist"


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
    assert any(callable(v) for v in vars(namespace).values())
