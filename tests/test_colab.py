"""The Colab set-up cell, simulated offline: a fake google.colab module and a recorded pip call."""
import importlib.util
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
    exec(compile(colab.setup_cell_source(), "setup-cell", "exec"), {})
    return calls


def test_on_colab_the_cell_installs_this_package_from_the_configured_repository(monkeypatch):
    calls = run_setup_cell(monkeypatch, on_colab=True, nbutils_installed=False)
    assert len(calls) == 1
    command = calls[0]
    assert command[1:4] == ["-m", "pip", "install"]
    url, branch = colab.repository()
    assert command[-1] == f"nbutils @ git+{url}@{colab.release_tag()}"
    assert not command[-1].endswith(f"@{branch}"), "install a pinned ref, not the branch head"
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
    assert nbutils.__version__ == version, "nbutils.__version__ and pyproject.toml disagree"
    assert re.fullmatch(r"v\d+\.\d+\.\d+", colab.release_tag())


def test_repository_is_configured_once_in_config():
    url, branch = colab.repository()
    assert url.startswith("https://") and branch == "main"
    assert colab.raw_file_url("data/x.csv").endswith("/main/data/x.csv")


def test_write_setup_cells_is_idempotent(tmp_path):
    import shutil

    copy = tmp_path / "02.ipynb"
    shutil.copy(ROOT / "chapters" / "02_maximum_likelihood.ipynb", copy)
    assert colab.write_setup_cells([copy]) == []


def test_missing_repository_section_is_a_clear_error(tmp_path, monkeypatch):
    config = tmp_path / "_config.yml"
    config.write_text("title: x\n")
    monkeypatch.setattr(colab, "CONFIG", config)
    with pytest.raises(LookupError, match="no 'repository:' section"):
        colab.repository()
