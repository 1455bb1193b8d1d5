"""The benchmark runs end to end in a tiny configuration (one short measurement, size 16): it cannot rot.

No test asserts a timing: only that the numbers are measured, combined and reported correctly.
"""
import json
import math
import re

import nbformat
import pytest
import torch

from benchmarks import RESULTS_PATH, ROOT
from benchmarks.__main__ import main, run
from benchmarks.cases import RatioCase, ScalingCase, discover, resolve
from benchmarks.chapters import ExecutionFailed, execute, measure_chapters, summarise, toc_notebooks
from benchmarks.report import SECTIONS, findings, markdown_report, page_section, read_results, write_results
from benchmarks.timing import TINY, log_log_slope, measure_case, relative_difference, run_sizes


def write_notebook(path, *sources, tags=()):
    """A python3 notebook whose code cells hold ``sources``, each tagged with ``tags``."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.cells = [nbformat.v4.new_code_cell(source, metadata={"tags": list(tags)}) for source in sources]
    nbformat.write(notebook, path)
    return path


@pytest.fixture
def toy_chapter(tmp_path):
    """A chapter notebook whose definitions cell defines ``double`` and ``power``."""
    return str(write_notebook(tmp_path / "99_toy.ipynb", "def double(x):\n    return 2 * x\n\n\n"
                              "def power(x, p=2):\n    return x ** p", tags=["definitions"]))


def vector(size, generator):
    return (torch.randn(size, generator=generator),)


# --- discovery -----------------------------------------------------------------------------------------------

def test_toc_notebooks_are_the_listed_notebooks_in_reading_order(tmp_path):
    (tmp_path / "chapters").mkdir()
    for name in ("01_a", "02_b", "03_unlisted"):
        write_notebook(tmp_path / "chapters" / f"{name}.ipynb", "1")
    (tmp_path / "intro.md").write_text("# Intro")
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: intro\nparts:\n  - caption: Two\n    chapters:\n      - file: chapters/02_b\n"
        "  - caption: One\n    chapters:\n      - file: chapters/01_a.ipynb\n      - file: intro\n")
    assert [p.stem for p in toc_notebooks(tmp_path)] == ["02_b", "01_a"]


def test_every_case_module_is_named_after_its_chapter_and_the_chapter_exists():
    modules = discover()
    assert any(module.CHAPTER == "02_maximum_likelihood" for module in modules)
    for module in modules:
        assert module.__name__.split(".")[-1] == f"ch{module.CHAPTER}", f"{module.__name__}: name it ch{module.CHAPTER}"
        assert (ROOT / "chapters" / f"{module.CHAPTER}.ipynb").is_file(), f"{module.__name__}: no such chapter"


@pytest.mark.parametrize("module", discover(), ids=lambda module: module.CHAPTER)
def test_every_declared_case_runs_on_its_chapter_at_tiny_size(module):
    """Each case against its chapter's own code: the two sides agree, the timings and slopes are numbers."""
    for case in getattr(module, "RATIOS", []):
        result = measure_case(case, module.CHAPTER, TINY)
        assert "error" not in result, f"{module.CHAPTER} {case.name}: {result['error']}"
        assert result["ratio"] > 0 and result["size"] == min(case.size, TINY.max_size)
    for case in getattr(module, "SCALING", []):
        result = measure_case(case, module.CHAPTER, TINY)
        assert all(math.isfinite(series["slope"]) for series in result["series"])


def test_resolve_names_what_a_chapter_defines_when_a_function_is_missing(toy_chapter):
    assert resolve("double", toy_chapter)(3) == 6
    assert resolve(lambda ch: lambda x: ch.power(x, 3), toy_chapter)(2) == 8
    with pytest.raises(LookupError, match="no function 'triple'.*double, power"):
        resolve("triple", toy_chapter)


def test_scaling_cases_check_their_declaration():
    with pytest.raises(ValueError, match="at least two increasing"):
        ScalingCase("s", "n", [8], vector, {"f": "double"}, {"f": 1})
    with pytest.raises(ValueError, match="expected slope for each function"):
        ScalingCase("s", "n", [8, 16], vector, {"f": "double"}, {"g": 1})


# --- measuring -----------------------------------------------------------------------------------------------

def test_relative_difference_compares_tensors_numbers_dicts_and_tuples():
    assert relative_difference((torch.ones(3), 2.0), (torch.ones(3), 2.0)) == 0.0
    assert relative_difference({"b": torch.ones(2), "a": 1.0}, {"a": 1.0, "b": torch.ones(2)}) == 0.0
    assert relative_difference(torch.tensor([1.0, 3.0]), torch.tensor([1.0, 4.0])) == pytest.approx(0.25)
    assert relative_difference(torch.tensor([math.nan]), torch.tensor([1.0])) == math.inf
    assert relative_difference(torch.tensor([math.inf, 1.0]), torch.tensor([math.inf, 1.0])) == 0.0
    with pytest.raises(ValueError, match="shapes"):
        relative_difference(torch.ones(2), torch.ones(3))
    with pytest.raises(ValueError):
        relative_difference((torch.ones(2), torch.ones(2)), torch.ones(2))


def test_a_case_whose_outputs_disagree_is_reported_and_not_timed(toy_chapter):
    wrong = RatioCase("double vs square", "double", lambda x: x ** 2, vector, size=8)
    result = measure_case(wrong, toy_chapter, TINY)
    assert "outputs disagree" in result["error"] and "ratio" not in result
    right = RatioCase("double vs 2x", "double", lambda x: x + x, vector, size=1000)
    result = measure_case(right, toy_chapter, TINY)
    assert result["size"] == TINY.max_size and result["largest_input"] == f"({TINY.max_size},) float32"
    assert result["rel_difference"] == 0.0 and result["ratio"] > 0 and result["over_goal"] in (True, False)


def test_a_scaling_case_fits_a_slope_per_function_on_the_kept_sizes(toy_chapter):
    case = ScalingCase("toy", "n", [4, 8, 1024], vector, {"double": "double", "square": "power"},
                       {"double": 1, "square": 1})
    assert run_sizes(case, TINY) == [4, 8]
    result = measure_case(case, toy_chapter, TINY)
    assert result["sizes"] == [4, 8] and [s["label"] for s in result["series"]] == ["double", "square"]
    assert all(len(s["seconds"]) == 2 and math.isfinite(s["slope"]) for s in result["series"])


def test_log_log_slope_recovers_the_exponent():
    sizes = [8, 16, 32, 64]
    assert log_log_slope(sizes, [3e-6 * n ** 2.5 for n in sizes]) == pytest.approx(2.5)


# --- chapters ------------------------------------------------------------------------------------------------

def test_chapters_run_round_robin_and_a_failing_chapter_is_not_retried(tmp_path):
    good, bad = tmp_path / "01_good.ipynb", tmp_path / "02_bad.ipynb"
    order, times = [], iter([10.0, 30.0, 20.0])

    def run_once(notebook):
        order.append(notebook.stem)
        if notebook == bad:
            raise ExecutionFailed("02_bad did not execute: ZeroDivisionError")
        seconds = next(times)
        return {"seconds": seconds, "cpu_s": seconds / 2, "peak_rss_mb": 100.0}

    summaries, errors = measure_chapters([good, bad], runs=3, run=run_once, progress=lambda _: None)
    assert order == ["01_good", "02_bad", "01_good", "01_good"]
    assert errors == ["02_bad did not execute: ZeroDivisionError"]
    (summary,) = summaries
    assert (summary["median_s"], summary["min_s"], summary["max_s"], summary["cpu_s"]) == (20.0, 10.0, 30.0, 10.0)
    assert not summary["over_budget"]


def test_a_chapter_over_its_time_or_memory_budget_is_marked(tmp_path):
    slow = summarise(tmp_path / "03_slow.ipynb", [{"seconds": s, "cpu_s": s, "peak_rss_mb": 300.0}
                                                  for s in (70, 50, 65)])
    heavy = summarise(tmp_path / "04_heavy.ipynb", [{"seconds": 5.0, "cpu_s": 5.0, "peak_rss_mb": 900.0}])
    busy = summarise(tmp_path / "05_busy.ipynb", [{"seconds": 90.0, "cpu_s": 20.0, "peak_rss_mb": 300.0}])
    assert slow["over_budget"] and heavy["over_budget"] and heavy["peak_rss_mb"] == 900.0
    assert not busy["over_budget"], "a busy machine stretches the wall time, not the chapter's work"


@pytest.mark.slow
def test_a_chapter_runs_in_a_fresh_kernel_with_the_build_environment(tmp_path):
    notebook = write_notebook(tmp_path / "toy.ipynb", "import os\nassert os.environ['NBUTILS_STATIC'] == '1'",
                              "x = bytearray(50 * 2**20)")
    before = notebook.read_bytes()
    report = execute(notebook)
    assert notebook.read_bytes() == before
    assert report["seconds"] > 0 and report["cpu_s"] > 0 and report["peak_rss_mb"] > 50
    with pytest.raises(ExecutionFailed, match="ZeroDivisionError"):
        execute(write_notebook(tmp_path / "broken.ipynb", "1 / 0"))


# --- results, report and page --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_results():
    """Ratios and scaling measured by the real runner at tiny size, plus made-up chapter runs."""
    results = run(TINY, sections=("ratios", "scaling"), only_chapters=["02_maximum_likelihood"],
                  progress=lambda _: None)
    results["chapters"] = [summarise(ROOT / "chapters" / "02_maximum_likelihood.ipynb",
                                     [{"seconds": s, "cpu_s": s, "peak_rss_mb": 200.0} for s in (75.0, 70.0, 80.0)])]
    results["chapters_total_s"] = 75.0
    results["ratios"] += [
        {"chapter": "02_maximum_likelihood", "name": "toy slow", "goal": 3.0, "reason": None, "ours_s": 1e-3,
         "reference_s": 1e-4, "ratio": 10.0, "over_goal": True, "largest_input": "(8,) float32"},
        {"chapter": "02_maximum_likelihood", "name": "toy clear", "goal": 3.0, "ours_s": 1e-3, "reference_s": 2e-4,
         "reason": "the chapter keeps the three-pass form that mirrors the equation", "ratio": 5.0,
         "over_goal": True, "largest_input": "(8,) float32"}]
    results["scaling"].append({"chapter": "02_maximum_likelihood", "name": "toy growth", "variable": "n",
                               "sizes": [8, 16], "note": "quadratic by construction",
                               "series": [{"label": "f", "seconds": [1e-3, 4e-3], "slope": 2.0,
                                           "expected_slope": 2}]})
    return results


def test_the_report_shows_every_section_and_what_is_over_budget(tiny_results):
    report = markdown_report(tiny_results)
    for heading in ("Chapter execution", "From scratch vs PyTorch", "Scaling", "Over budget or goal"):
        assert f"## {heading}" in report
    found = findings(tiny_results)
    assert "02_maximum_likelihood takes 75 s of CPU and 200 MB, over the 60 s or 700 MB budget." in found
    assert "02_maximum_likelihood: toy slow is 10.0x PyTorch, over its goal of 3x." in found
    assert not any("toy clear" in line for line in found)
    assert "over 3x: the chapter keeps the three-pass form" in report and "**over 3x**" in report
    (module,) = [module for module in discover() if module.CHAPTER == "02_maximum_likelihood"]
    assert all(case.name in report for case in module.RATIOS) and "quadratic by construction" in report


def test_results_round_trip_and_a_foreign_file_is_refused(tiny_results, tmp_path):
    path = tmp_path / "results.json"
    write_results(tiny_results, path)
    assert read_results(path) == json.loads(json.dumps(tiny_results))
    (tmp_path / "other.json").write_text('{"schema": 0}')
    with pytest.raises(ValueError, match="not a benchmark results file"):
        read_results(tmp_path / "other.json")


def test_the_page_shows_the_results_or_says_what_to_run(tiny_results, tmp_path):
    assert "Run `make bench`" in page_section("chapters", tmp_path / "missing.json")
    path = tmp_path / "results.json"
    write_results(tiny_results, path)
    assert "| 02_maximum_likelihood | 75.0 | 75.0 |" in page_section("chapters", path)
    assert page_section("machine", path).startswith("Measured ")
    path.write_text("{not json")
    assert "Run `make bench`" in page_section("machine", path)
    with pytest.raises(ValueError, match="unknown section"):
        page_section("everything", path)


def test_a_partial_run_writes_only_where_it_is_told(tmp_path, capsys):
    committed = RESULTS_PATH.read_bytes()
    output = tmp_path / "quick.json"
    assert main(["--quick", "--only", "ratios", "--chapter", "03_mlp_activations", "--output", str(output)]) in (0, 1)
    assert "ratios" in read_results(output) and "scaling" not in read_results(output)
    assert RESULTS_PATH.read_bytes() == committed
    assert main(["--show", str(output)]) == 0
    assert "Measured " in capsys.readouterr().out
    with pytest.raises(ValueError, match="no chapter notebook named 99_nowhere"):
        main(["--quick", "--only", "ratios", "--chapter", "99_nowhere"])


def test_the_committed_results_fill_every_section_the_page_shows():
    """Each section performance.md shows is measured in benchmarks/results.json, not a placeholder."""
    page = (ROOT / "performance.md").read_text(encoding="utf-8")
    sections = re.findall(r'show\("(\w+)"\)', page)
    assert set(sections) == set(SECTIONS), f"the page shows {sections}; the report has {list(SECTIONS)}"
    results = read_results(RESULTS_PATH)
    for section in sections:
        assert SECTIONS[section](results) is not None, f"results.json has no '{section}' section: run `make bench`"
    measured = {chapter["chapter"] for chapter in results["chapters"]}
    assert measured and all((ROOT / "chapters" / f"{stem}.ipynb").is_file() for stem in measured), measured
