"""The benchmark runs end to end in a tiny configuration (one repetition, small sizes): it cannot rot.

No test asserts a timing: only that the numbers are measured, combined and reported correctly.
"""
import json
import math
import re

import nbformat
import pytest
import torch

from benchmarks import RESULTS_PATH, ROOT
from benchmarks.__main__ import main
from benchmarks.book_build import source_files
from benchmarks.cases import RatioCase, ScalingCase, discover, resolve
from benchmarks.chapters import ExecutionFailed, measure_chapters, run_worker, summarise_runs
from benchmarks.config import TINY, Config
from benchmarks.page import page_section
from benchmarks.profiling import function_label, group_of, summarise_profile
from benchmarks.ratios import max_relative_difference, measure_ratio
from benchmarks.report import findings, markdown_report, read_results, write_results
from benchmarks.run import run
from benchmarks.scaling import log_log_slope, measure_scaling
from benchmarks.timing import interleaved_samples, limited_threads
from benchmarks.toc import toc_notebooks


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
    return write_notebook(tmp_path / "99_toy.ipynb", "def double(x):\n    return 2 * x\n\n\n"
                          "def power(x, p=2):\n    return x ** p", tags=["definitions"])


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


def test_toc_notebooks_of_this_book_are_its_chapters():
    stems = [p.stem for p in toc_notebooks()]
    assert "02_maximum_likelihood" in stems
    assert all(p.parent.name == "chapters" for p in toc_notebooks())


def test_a_missing_toc_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no _toc.yml"):
        toc_notebooks(tmp_path)


def test_every_case_module_names_a_chapter():
    declared = discover()
    assert any(cases.chapter == "02_maximum_likelihood" and cases.ratios for cases in declared)
    for cases in declared:
        assert cases.module.split(".")[-1] == f"ch{cases.chapter}", f"{cases.module}: name it ch{cases.chapter}"


def test_every_declared_case_runs_on_its_chapter_at_tiny_size():
    """Each case module against its chapter's own code, if the notebook exists (listed in _toc.yml or not yet)."""
    existing = {p.stem for p in (ROOT / "chapters").glob("*.ipynb")}
    declared = [cases for cases in discover() if cases.chapter in existing]
    assert declared
    for cases in declared:
        for case in cases.ratios:
            result = measure_ratio(case, cases.chapter, TINY)
            assert "error" not in result, f"{cases.chapter} {case.name}: {result['error']}"
            assert result["ratio_median"] > 0 and len(result["ratios"]) == TINY.repetitions
        for case in cases.scaling:
            result = measure_scaling(case, cases.chapter, TINY)
            assert all(math.isfinite(series["slope"]) for series in result["series"])


def test_resolve_names_what_a_chapter_defines_when_a_function_is_missing(toy_chapter):
    assert resolve("double", str(toy_chapter))(3) == 6
    assert resolve(lambda ch: lambda x: ch.power(x, 3), str(toy_chapter))(2) == 8
    with pytest.raises(LookupError, match="no function 'triple'.*double, power"):
        resolve("triple", str(toy_chapter))


def test_scaling_cases_check_their_declaration():
    with pytest.raises(ValueError, match="at least two increasing"):
        ScalingCase("s", "n", [8], vector, {"f": "double"}, {"f": 1})
    with pytest.raises(ValueError, match="expected slope for each function"):
        ScalingCase("s", "n", [8, 16], vector, {"f": "double"}, {"g": 1})


# --- measuring -----------------------------------------------------------------------------------------------

def test_max_relative_difference_compares_tensors_numbers_and_tuples():
    assert max_relative_difference((torch.ones(3), 2.0), (torch.ones(3), 2.0)) == 0.0
    assert max_relative_difference(torch.tensor([1.0, 3.0]), torch.tensor([1.0, 4.0])) == pytest.approx(0.25)
    assert max_relative_difference(torch.tensor([math.nan]), torch.tensor([1.0])) == math.inf
    with pytest.raises(ValueError, match="shapes"):
        max_relative_difference(torch.ones(2), torch.ones(3))
    with pytest.raises(ValueError, match="parts"):
        max_relative_difference((torch.ones(2), torch.ones(2)), torch.ones(2))


def test_interleaved_samples_alternate_the_order_on_the_same_inputs():
    calls = []
    first, second = (lambda x: calls.append(("first", x))), (lambda x: calls.append(("second", x)))
    samples = interleaved_samples([first, second], ("input",), repetitions=3, min_sample_s=0.0)
    assert [len(s) for s in samples] == [3, 3]
    order = [name for name, _ in calls[2:]]  # after one calibration call each
    assert order == ["first", "second", "second", "first", "first", "second"]
    assert {x for _, x in calls} == {"input"}


def test_a_case_whose_outputs_disagree_is_reported_and_not_timed(toy_chapter):
    wrong = RatioCase("double vs square", "double", lambda x: x ** 2, vector, size=8)
    result = measure_ratio(wrong, str(toy_chapter), TINY)
    assert "outputs disagree" in result["error"] and "ratio_median" not in result
    right = RatioCase("double vs 2x", "double", lambda x: x + x, vector, size=1000)
    result = measure_ratio(right, str(toy_chapter), TINY)
    assert result["size"] == TINY.max_size and result["inputs"] == f"({TINY.max_size},) float32"
    assert result["rel_difference"] == 0.0 and result["ratio_median"] > 0


def test_timings_run_with_the_chosen_threads_and_restore_the_default():
    default = torch.get_num_threads()
    with limited_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == default
    with pytest.raises(ValueError, match="at least 1"), limited_threads(0):
        pass


def test_log_log_slope_recovers_the_exponent():
    sizes = [8, 16, 32, 64]
    assert log_log_slope(sizes, [3e-6 * n ** 2.5 for n in sizes]) == pytest.approx(2.5)
    with pytest.raises(ValueError, match="at least two"):
        log_log_slope([8], [1.0])
    with pytest.raises(ValueError, match="positive"):
        log_log_slope([8, 16], [0.0, 1.0])


def test_config_sizes():
    assert Config(max_size=16).ratio_size(2048) == 16 and Config().ratio_size(2048) == 2048
    assert Config(max_size=16).scaling_sizes([8, 16, 32]) == [8, 16]
    assert Config(max_size=16).scaling_sizes([64, 128, 256]) == [64, 128]
    with pytest.raises(ValueError, match="at least 1"):
        Config(repetitions=0)


# --- chapters ------------------------------------------------------------------------------------------------

def fake_run(seconds, peak=100.0):
    return {"seconds": seconds, "peak_rss_mb": peak,
            "cells": [{"index": 0, "first_line": "import torch", "seconds": seconds / 2}]}


def test_chapters_run_round_robin_and_a_failing_chapter_is_not_retried(tmp_path):
    good, bad = tmp_path / "01_good.ipynb", tmp_path / "02_bad.ipynb"
    order, times = [], iter([10.0, 30.0, 20.0])

    def execute(notebook):
        order.append(notebook.stem)
        if notebook == bad:
            raise ExecutionFailed("02_bad did not execute: ZeroDivisionError")
        return fake_run(next(times))

    summaries, errors = measure_chapters([good, bad], runs=3, execute=execute, progress=lambda _: None)
    assert order == ["01_good", "02_bad", "01_good", "01_good"]
    assert errors == ["02_bad did not execute: ZeroDivisionError"]
    (summary,) = summaries
    assert (summary["median_s"], summary["min_s"], summary["max_s"]) == (20.0, 10.0, 30.0)
    assert summary["slowest_cells"][0]["seconds"] == 10.0


def test_a_chapter_over_budget_is_marked(tmp_path):
    summary = summarise_runs(tmp_path / "03_slow.ipynb", [fake_run(70.0, 300.0), fake_run(50.0, 500.0),
                                                         fake_run(65.0, 400.0)], budget_s=60.0)
    assert summary["over_budget"] and summary["peak_rss_mb"] == 500.0


@pytest.mark.slow
def test_the_worker_runs_a_fresh_kernel_without_touching_the_notebook(tmp_path):
    notebook = write_notebook(tmp_path / "toy.ipynb", "import os\nstatic = os.environ['NBUTILS_STATIC']",
                              "def busy_work():\n    total = 0\n    for i in range(300_000):\n        total += i * i\n"
                              "    return total\n\n\nbusy_work()")
    before = notebook.read_bytes()
    report = run_worker(notebook, profile_to=tmp_path / "toy.prof")
    assert notebook.read_bytes() == before
    assert report["seconds"] > 0 and report["peak_rss_mb"] > 10
    assert [c["first_line"] for c in report["cells"]] == ["import os", "def busy_work():"]
    profile = summarise_profile(tmp_path / "toy.prof")
    assert any("busy_work" in f["function"] for f in profile["top_functions"])
    assert any(g["group"] == "notebook cells" for g in profile["by_group"])


@pytest.mark.slow
def test_a_failing_notebook_is_reported_with_its_error(tmp_path):
    with pytest.raises(ExecutionFailed, match="ZeroDivisionError"):
        run_worker(write_notebook(tmp_path / "broken.ipynb", "1 / 0"))


def test_profile_groups_name_the_package():
    assert group_of("~", "<built-in method torch.tanh>") == "torch"
    assert group_of("~", "<method 'run_backward' of 'torch._C._EngineBase' objects>") == "torch"
    assert group_of("~", "<built-in method marshal.loads>") == "imports"
    assert group_of("/x/lib/python3.11/site-packages/matplotlib/figure.py", "draw") == "matplotlib"
    assert group_of("/tmp/ipykernel_12/345.py", "softmax") == "notebook cells"
    assert group_of(str(ROOT / "nbutils" / "plot.py"), "figure") == "nbutils"
    assert function_label("/x/site-packages/torch/nn/functional.py", 12, "softmax") == \
        "torch/nn/functional.py:12(softmax)"


def test_the_book_build_copies_what_a_clean_checkout_has():
    files = {str(path) for path in source_files()}
    assert {"_toc.yml", "_config.yml", "Makefile", "benchmarks/__init__.py"} <= files
    assert not any(name.startswith((".venv/", "_build/", ".git/")) for name in files)


# --- results, report and page --------------------------------------------------------------------------------

@pytest.fixture
def tiny_results():
    """Ratios measured by the real runner at tiny size, plus made-up chapter, build, profile and scaling results."""
    results = run(TINY, sections=("ratios", "scaling"), only_chapters=["02_maximum_likelihood"],
                  progress=lambda _: None)
    results["chapters"] = [summarise_runs(ROOT / "chapters" / "02_maximum_likelihood.ipynb",
                                          [fake_run(75.0), fake_run(70.0), fake_run(80.0)])]
    results["chapters_total_s"] = 75.0
    results["scaling"].append({"chapter": "02_maximum_likelihood", "name": "toy growth", "variable": "n",
                               "sizes": [8, 16], "note": "quadratic by construction",
                               "series": [{"label": "f", "seconds": [1e-3, 4e-3], "slope": 2.0,
                                           "expected_slope": 2}]})
    results["book_build"] = {"seconds": 120.0, "ok": True, "over_budget": False, "command": "jupyter-book build ."}
    results["profiles"] = [{"chapter": "02_maximum_likelihood", "profiled_run_s": 90.0, "profiled_s": 80.0,
                            "by_group": [{"group": "torch", "self_s": 60.0, "share": 0.75}],
                            "top_functions": [{"function": "<built-in method torch.tanh>", "calls": 3,
                                               "self_s": 50.0}]}]
    return results


def test_the_report_shows_every_section_and_what_is_over_budget(tiny_results):
    report = markdown_report(tiny_results)
    for heading in ("Chapter execution", "From scratch vs PyTorch", "Scaling", "slowest chapters"):
        assert heading in report
    assert "02_maximum_likelihood takes 75 s, over the 60 s budget." in findings(tiny_results)
    assert "softmax (stable)" in report and "torch 2." in report and "threads" in report
    assert "**120 s** of the 600 s budget" in report


def test_results_round_trip_and_a_foreign_file_is_refused(tiny_results, tmp_path):
    path = tmp_path / "results.json"
    write_results(tiny_results, path)
    assert read_results(path) == json.loads(json.dumps(tiny_results))
    (tmp_path / "other.json").write_text('{"schema": 0}')
    with pytest.raises(ValueError, match="not a benchmark results file"):
        read_results(tmp_path / "other.json")


def test_the_page_shows_the_results_or_the_build_statistics(tiny_results, tmp_path):
    missing = tmp_path / "missing.json"
    assert "nb-exec-table" in page_section("chapters", missing)
    assert "no results file" in page_section("machine", missing) and "cores" in page_section("machine", missing)
    path = tmp_path / "results.json"
    write_results(tiny_results, path)
    assert "| 02_maximum_likelihood | 75.0 |" in page_section("chapters", path)
    assert page_section("machine", path).startswith("Measured ")
    path.write_text("{not json")
    assert "could not be read" in page_section("machine", path)
    with pytest.raises(ValueError, match="unknown section"):
        page_section("everything", path)


def test_a_partial_run_writes_only_where_it_is_told(tmp_path, capsys):
    committed = RESULTS_PATH.read_bytes() if RESULTS_PATH.exists() else None
    output = tmp_path / "quick.json"
    assert main(["--quick", "--only", "scaling", "--chapter", "02_maximum_likelihood", "--output", str(output)]) == 0
    assert read_results(output)["config"]["chapter_runs"] == 1
    assert (RESULTS_PATH.read_bytes() if RESULTS_PATH.exists() else None) == committed
    assert main(["--show", str(output)]) == 0
    assert "Measured " in capsys.readouterr().out
    with pytest.raises(ValueError, match="no chapter notebook named 99_nowhere"):
        main(["--quick", "--only", "ratios", "--chapter", "99_nowhere"])


def test_every_section_the_page_shows_exists():
    page = (ROOT / "performance.md").read_text(encoding="utf-8")
    sections = re.findall(r'show\("(\w+)"\)', page)
    assert {"machine", "chapters", "ratios", "scaling"} <= set(sections)
    for section in sections:
        assert page_section(section, RESULTS_PATH)
