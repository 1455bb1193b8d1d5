"""Safety: nothing in the book's code runs code hidden in data.

ruff, run by ``make test`` with the rules in ``pyproject.toml``, refuses ``exec``,
``eval``, pickle and its kin, marshal and unsafe YAML in nbutils, tests,
benchmarks, the Sphinx extensions and every chapter notebook; a deliberate use
carries a ``noqa`` that names the rule, and :data:`ALLOWED` lists each one.
This file checks what ruff cannot: ``torch.load`` without ``weights_only=True``,
``np.load(allow_pickle=True)`` and importing joblib.
"""
from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYTHON_FOLDERS = ("nbutils", "benchmarks", "_ext", "tests")
ALLOWED = {  # every `noqa: S...` in the book's Python files, and why it is safe
    ("nbutils/notebook.py", "S102"): "runs the book's own `definitions` cells, never data",
    ("tests/test_colab.py", "S102"): "runs the Colab set-up cell the book itself ships",
}


def unsafe_uses(source: str) -> list[str]:
    """Every use ruff cannot see in ``source``, as 'line N: what'."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            found += [f"line {node.lineno}: imports {m}" for m in modules if m.split(".")[0] == "joblib"]
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute) or node.func.attr != "load":
            continue
        owner = ast.unparse(node.func.value)
        keywords = {k.arg: k.value.value for k in node.keywords if isinstance(k.value, ast.Constant)}
        if owner == "torch" and keywords.get("weights_only") is not True:
            found.append(f"line {node.lineno}: torch.load without weights_only=True")
        if owner in ("np", "numpy") and keywords.get("allow_pickle") is True:
            found.append(f"line {node.lineno}: np.load(allow_pickle=True)")
    return found


def python_files() -> list[Path]:
    return sorted(path for folder in PYTHON_FOLDERS for path in (ROOT / folder).rglob("*.py")
                  if path.name != Path(__file__).name)


def notebook_source(path: Path) -> str:
    """The notebook's code cells as one Python file (IPython magics and shell lines blanked)."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    return re.sub(r"^\s*[%!].*$", "", "\n\n".join(code), flags=re.MULTILINE)


@pytest.mark.parametrize("path", python_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_python_code_loads_no_data_as_code(path):
    assert not unsafe_uses(path.read_text(encoding="utf-8")), f"{path.name}: {unsafe_uses(path.read_text())}"


@pytest.mark.parametrize("path", sorted((ROOT / "chapters").glob("*.ipynb")), ids=lambda p: p.stem)
def test_chapters_load_no_data_as_code(path):
    assert not unsafe_uses(notebook_source(path)), f"{path.name}: {unsafe_uses(notebook_source(path))}"


def test_every_silenced_security_rule_is_allowed_for_a_reason():
    silenced = {(path.relative_to(ROOT).as_posix(), code) for path in python_files()
                for code in re.findall(r"noqa:[^\n]*?\b(S\d{3})", path.read_text(encoding="utf-8"))}
    assert silenced == set(ALLOWED), f"silenced: {sorted(silenced)}; allowed: {sorted(ALLOWED)}"


@pytest.mark.parametrize("source, expected", [
    ("torch.load('w.pt')", "torch.load without weights_only=True"),
    ("torch.load('w.pt', weights_only=False)", "torch.load without weights_only=True"),
    ("np.load('a.npy', allow_pickle=True)", "np.load(allow_pickle=True)"),
    ("from joblib import load", "imports joblib"),
])
def test_the_scanner_finds_what_ruff_cannot(source, expected):
    assert [use.split(": ", 1)[1] for use in unsafe_uses(source)] == [expected]


@pytest.mark.parametrize("source", ["torch.load('w.pt', weights_only=True)", "np.load('a.npy')", "model.load()"])
def test_the_scanner_allows_safe_uses(source):
    assert unsafe_uses(source) == []


@pytest.mark.parametrize("source, rule", [
    ("import pickle\n", "S403"), ("import dill\n", "S403"), ("import pickle\npickle.loads(b'')\n", "S301"),
    ("import marshal\nmarshal.loads(b'')\n", "S302"), ("eval('1')\n", "S307"), ("exec('1')\n", "S102"),
    ("import yaml\nyaml.load('a', Loader=yaml.Loader)\n", "S506"),
])
def test_the_ruff_configuration_refuses_code_that_runs_data(source, rule):
    """The rules `make test` runs catch each unsafe use (so the scanner above need not)."""
    checked = subprocess.run([sys.executable, "-m", "ruff", "check", "--config", str(ROOT / "pyproject.toml"),
                              "--output-format", "json", "--stdin-filename", "example.py", "-"],
                             input=source, capture_output=True, text=True)
    assert rule in {found["code"] for found in json.loads(checked.stdout or "[]")}, checked.stdout + checked.stderr
