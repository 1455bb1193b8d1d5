"""The Colab set-up cell, simulated offline: a fake google.colab module and a recorded pip call."""
import importlib.util
import json
import re
import subprocess
import sys
import tomllib
import types
from pathlib import Path

import pytest

import nbutils
from nbutils import colab

ROOT = Path(__file__).resolve().parent.parent
REAL_FIND_SPEC = importlib.util.find_spec


def run_setup_cell(monkeypatch, on_colab: bool, nbutils_installed: bool) -> list[list[str]]:
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: calls.append(cmd))
    if on_colab:
        google = types.ModuleType("google")
        google.colab = types.ModuleType("google.colab")
        monkeypatch.setitem(sys.modules, "google", google)
        monkeypatch.setitem(sys.modules, "google.colab", google.colab)
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    real_find_spec = REAL_FIND_SPEC
    monkeypatch.setattr("importlib.util.find_spec",
                        lambda name, *a: (real_find_spec(name, *a) if nbutils_installed else None)
                        if name == "nbutils" else real_find_spec(name, *a))
    exec(compile(colab.setup_cell_source(), "setup-cell", "exec"), {})  # noqa: S102 (the cell the book ships)
    return calls


def test_on_colab_the_cell_installs_this_package_from_the_configured_repository(monkeypatch):
    calls = run_setup_cell(monkeypatch, on_colab=True, nbutils_installed=False)
    assert len(calls) == 1
    command = calls[0]
    assert command[1:4] == ["-m", "pip", "install"]
    assert command[-1] == f"nbutils @ git+{colab.repository()}@{colab.release_tag()}"
    assert not command[-1].endswith("@main"), "install a pinned ref, not the branch head"
    assert not any("torch" in part for part in command), "the Colab cell must never reinstall torch"


def test_elsewhere_or_when_installed_the_cell_does_nothing(monkeypatch):
    assert run_setup_cell(monkeypatch, on_colab=False, nbutils_installed=False) == []
    assert run_setup_cell(monkeypatch, on_colab=True, nbutils_installed=True) == []


def test_the_package_does_not_depend_on_torch():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not [d for d in project["dependencies"] if re.match(r"torch\b", d)]
    assert "torch==2.13.0" in project["optional-dependencies"]["book"]


def test_the_pinned_ref_is_the_release_tag_of_the_package_version():
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert colab.release_tag() == f"v{version}"
    assert nbutils.__version__ == version, "the installed metadata is stale: run `make install`"
    assert re.fullmatch(r"v\d+\.\d+\.\d+", colab.release_tag())


@pytest.mark.parametrize("notebook", sorted((ROOT / "chapters").glob("*.ipynb")), ids=lambda path: path.stem)
def test_every_chapter_installs_the_tag_that_pyproject_names(notebook):
    """The tag in each chapter's stored set-up cell is the one a release of pyproject.toml's version creates."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    source = "".join(next(cell for cell in cells if cell["cell_type"] == "code")["source"])
    tags = re.findall(r"@(v[\w.]+)\"", source)
    assert tags == [colab.release_tag()], (f"{notebook.name} installs {tags}, pyproject.toml names "
                                           f"{colab.release_tag()}: run `python -m nbutils.colab`")


def test_repository_is_read_from_config_with_safe_yaml(tmp_path, monkeypatch):
    assert colab.repository().startswith("https://")
    config = tmp_path / "_config.yml"
    config.write_text("repository:\n  # a comment\n  url: 'https://example.org/book/'  # trailing\n  branch: main\n")
    monkeypatch.setattr(colab, "CONFIG", config)
    assert colab.repository() == "https://example.org/book"


def test_write_setup_cells_is_idempotent(tmp_path):
    import shutil

    copy = tmp_path / "02.ipynb"
    shutil.copy(ROOT / "chapters" / "02_maximum_likelihood.ipynb", copy)
    colab.write_setup_cells([copy])
    assert colab.write_setup_cells([copy]) == []
    cells = json.loads(copy.read_text(encoding="utf-8"))["cells"]
    first = next(cell for cell in cells if cell["cell_type"] == "code")
    assert "".join(first["source"]) == colab.setup_cell_source() and first["metadata"]["tags"] == ["remove-cell"]


def test_write_setup_cells_inserts_the_cell_and_never_overwrites_a_chapter_cell(tmp_path):
    """A new notebook keeps its first code cell (the set-up cell goes before it); a stale set-up cell is refreshed."""
    imports = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": ["import torch"]}
    notebook = tmp_path / "99_new.ipynb"
    notebook.write_text(json.dumps({"cells": [{"cell_type": "markdown", "metadata": {}, "source": ["# New"]}, imports],
                                    "metadata": {}, "nbformat": 4, "nbformat_minor": 5}), encoding="utf-8")
    assert colab.write_setup_cells([notebook]) == [notebook]
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    assert [c["cell_type"] for c in cells] == ["markdown", "code", "code"]
    assert "".join(cells[1]["source"]) == colab.setup_cell_source() and cells[2]["source"] == ["import torch"]
    stale = json.loads(notebook.read_text(encoding="utf-8"))
    stale["cells"][1]["source"] = ["# an older set-up cell\n", 'if "google.colab" in sys.modules: pass']
    notebook.write_text(json.dumps(stale), encoding="utf-8")
    assert colab.write_setup_cells([notebook]) == [notebook]
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    assert len(cells) == 3 and "".join(cells[1]["source"]) == colab.setup_cell_source()
    assert colab.write_setup_cells([notebook]) == []


def test_missing_repository_section_is_a_clear_error(tmp_path, monkeypatch):
    config = tmp_path / "_config.yml"
    config.write_text("title: x\n")
    monkeypatch.setattr(colab, "CONFIG", config)
    with pytest.raises(LookupError, match="no 'repository:' section"):
        colab.repository()
