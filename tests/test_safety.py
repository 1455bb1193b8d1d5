"""Safety: nothing in the book's code runs code hidden in data.

No pickle (or anything built on it), no ``torch.load`` without
``weights_only=True``, no ``np.load(allow_pickle=True)``, no unsafe YAML, no
``eval``/``exec``, in nbutils, the benchmarks, the Sphinx extensions and every
chapter's code cells. The one ``exec`` allowed is nbutils/notebook.py running
the book's own ``definitions`` cells.
"""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYTHON_FOLDERS = ("nbutils", "benchmarks", "_ext")
PICKLE_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "shelve", "marshal", "joblib"}
ALLOWED = {("nbutils/notebook.py", "exec"): "runs the book's own `definitions` cells, never data"}


def _call_name(node: ast.Call) -> str:
    """``torch.load`` for ``torch.load(...)``, ``eval`` for ``eval(...)``; '' for anything fancier."""
    parts = []
    func = node.func
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if isinstance(func, ast.Name):
        parts.append(func.id)
    return ".".join(reversed(parts))


def _keyword_is(node: ast.Call, name: str, value) -> bool:
    return any(k.arg == name and isinstance(k.value, ast.Constant) and k.value.value is value for k in node.keywords)


def unsafe_uses(source: str) -> list[str]:
    """Every unsafe use in ``source``, as 'line N: what'."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for module in modules:
                if module.split(".")[0] in PICKLE_MODULES:
                    found.append(f"line {node.lineno}: imports {module}")
        if not isinstance(node, ast.Call):
            continue
        name = _call_name(node)
        last = name.rsplit(".", 1)[-1]
        if name in ("eval", "exec", "builtins.eval", "builtins.exec"):
            found.append(f"line {node.lineno}: {last}")
        elif last == "load" and name.split(".")[0] == "torch" and not _keyword_is(node, "weights_only", True):
            found.append(f"line {node.lineno}: torch.load without weights_only=True")
        elif last == "load" and name.split(".")[0] in ("np", "numpy") and _keyword_is(node, "allow_pickle", True):
            found.append(f"line {node.lineno}: np.load(allow_pickle=True)")
        elif last in ("read_pickle", "unsafe_load", "full_load") or (
                name in ("yaml.load", "yaml.load_all") and not any(k.arg == "Loader" and "Safe" in ast.unparse(k.value)
                                                                   for k in node.keywords)):
            found.append(f"line {node.lineno}: {name}")
    return found


def python_files() -> list[Path]:
    return sorted(path for folder in PYTHON_FOLDERS for path in (ROOT / folder).rglob("*.py"))


def chapter_notebooks() -> list[Path]:
    return sorted((ROOT / "chapters").glob("*.ipynb"))


def notebook_source(path: Path) -> str:
    """The notebook's code cells as one Python file (IPython magics and shell lines blanked)."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    return re.sub(r"^\s*[%!].*$", "", "\n\n".join(code), flags=re.MULTILINE)


@pytest.mark.parametrize("path", python_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_python_code_loads_no_data_as_code(path):
    relative = path.relative_to(ROOT).as_posix()
    uses = [use for use in unsafe_uses(path.read_text(encoding="utf-8"))
            if (relative, use.split(": ", 1)[1]) not in ALLOWED]
    assert not uses, f"{relative}: {uses}"


def test_the_one_allowed_exec_is_still_the_only_one():
    uses = unsafe_uses((ROOT / "nbutils" / "notebook.py").read_text(encoding="utf-8"))
    assert [use.split(": ", 1)[1] for use in uses] == ["exec"], uses


@pytest.mark.parametrize("path", chapter_notebooks(), ids=lambda p: p.stem)
def test_chapters_load_no_data_as_code(path):
    assert not unsafe_uses(notebook_source(path)), f"{path.name}: {unsafe_uses(notebook_source(path))}"


@pytest.mark.parametrize("source, expected", [
    ("import pickle", "imports pickle"),
    ("from joblib import load", "imports joblib"),
    ("import dill as d", "imports dill"),
    ("torch.load('w.pt')", "torch.load without weights_only=True"),
    ("torch.load('w.pt', weights_only=False)", "torch.load without weights_only=True"),
    ("np.load('a.npy', allow_pickle=True)", "np.load(allow_pickle=True)"),
    ("pd.read_pickle('frame.pkl')", "pd.read_pickle"),
    ("yaml.load(text)", "yaml.load"),
    ("yaml.load(text, Loader=yaml.Loader)", "yaml.load"),
    ("yaml.unsafe_load(text)", "yaml.unsafe_load"),
    ("eval(line)", "eval"),
    ("exec(open('x.py').read())", "exec"),
])
def test_the_scanner_finds_each_unsafe_use(source, expected):
    assert [use.split(": ", 1)[1] for use in unsafe_uses(source)] == [expected]


@pytest.mark.parametrize("source", [
    "torch.load('w.pt', weights_only=True)",
    "np.load('a.npy')",
    "yaml.safe_load(text)",
    "yaml.load(text, Loader=yaml.SafeLoader)",
    "model.eval()",
    "json.loads(text)",
])
def test_the_scanner_allows_safe_uses(source):
    assert unsafe_uses(source) == []
