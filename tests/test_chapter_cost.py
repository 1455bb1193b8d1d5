"""The cost line each chapter page opens with comes from benchmarks/results.json, never from typed text."""
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "_ext"))
import chapter_cost  # noqa: E402

MACHINE = {"usable_cores": 2}


def results_file(path: Path, chapters: list[dict], schema: int = chapter_cost.RESULTS_SCHEMA) -> Path:
    path.write_text(json.dumps({"schema": schema, "machine": MACHINE, "chapters": chapters}), encoding="utf-8")
    return path


def test_a_measured_chapter_shows_its_time_and_memory(tmp_path):
    path = results_file(tmp_path / "r.json", [{"chapter": "01_a", "median_s": 11.6, "peak_rss_mb": 551.2}])
    costs, machine = chapter_cost.chapter_costs(path)
    assert chapter_cost.cost_line(costs["01_a"], machine) == (
        "Runs in about 12 s on a laptop CPU (2 cores), with a peak memory of 551 MB (measured by `make bench`).")


@pytest.mark.parametrize("content", [None, "{not json", json.dumps({"schema": 1, "chapters": []})])
def test_a_missing_or_foreign_results_file_measures_nothing(tmp_path, content):
    path = tmp_path / "r.json"
    if content is not None:
        path.write_text(content)
    costs, machine = chapter_cost.chapter_costs(path)
    assert costs == {} and "not yet measured" in chapter_cost.cost_line(costs.get("01_a"), machine)


def test_the_committed_results_are_read_and_name_chapters_that_exist():
    """The extension reads the committed file (a chapter added since the last `make bench` says "not yet measured")."""
    costs, machine = chapter_cost.chapter_costs(ROOT / "benchmarks" / "results.json")
    assert costs and machine, "benchmarks/results.json is missing or of another schema: run `make bench`"
    assert all((ROOT / "chapters" / f"{stem}.ipynb").is_file() for stem in costs), sorted(costs)


def test_config_registers_the_extension():
    import yaml

    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    assert config["sphinx"]["local_extensions"].get("chapter_cost") == "_ext"


def build(tmp_path: Path, chapters: list[dict]) -> str:
    """A two-page Sphinx site with the extension; the HTML of its chapter page."""
    from sphinx.application import Sphinx

    source = tmp_path / "src"
    (source / "chapters").mkdir(parents=True)
    (source / "conf.py").write_text(f"import sys\nsys.path.insert(0, {str(ROOT / '_ext')!r})\n"
                                    "extensions = ['chapter_cost']\nchapter_cost_results = 'results.json'\n")
    (source / "index.rst").write_text("Book\n====\n\n.. toctree::\n\n   chapters/01_a\n")
    (source / "chapters" / "01_a.rst").write_text("Linear models\n=============\n\nText.\n")
    results_file(source / "results.json", chapters)
    app = Sphinx(str(source), str(source), str(tmp_path / "out"), str(tmp_path / "doctrees"), "html",
                 status=None, warning=None, freshenv=True)
    app.build()
    return (tmp_path / "out" / "chapters" / "01_a.html").read_text(encoding="utf-8"), \
        (tmp_path / "out" / "index.html").read_text(encoding="utf-8")


def test_the_built_chapter_page_opens_with_its_cost_and_other_pages_do_not(tmp_path):
    chapter, index = build(tmp_path, [{"chapter": "01_a", "median_s": 7.9, "peak_rss_mb": 393.0}])
    title, cost, text = chapter.index("Linear models"), chapter.index("Runs in about 8 s"), chapter.index("Text.")
    assert title < cost < text and "393 MB" in chapter and 'class="chapter-cost"' in chapter
    assert "Runs in about" not in index


def test_an_unmeasured_chapter_says_so_in_the_built_page(tmp_path):
    chapter, _ = build(tmp_path, [{"chapter": "02_other", "median_s": 7.9, "peak_rss_mb": 393.0}])
    assert "not yet measured" in chapter and "Runs in about" not in chapter
