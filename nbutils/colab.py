"""Running a chapter alone on Colab.

Every chapter's first code cell (tagged ``remove-cell``, so the website hides
it) is :func:`setup_cell_source`. On Colab it pip-installs this package from
the repository configured in ``_config.yml``, at the release tag of the
package's version (``v`` + ``version`` in ``pyproject.toml``), never at a
branch head that may have moved since; everywhere else it does nothing.
The package's dependencies leave out torch, so Colab's own PyTorch is kept.
The cell cannot import anything from this package (it is not installed yet),
which is why its text is generated here and a test keeps every chapter's copy
identical to it: ``python -m nbutils.colab`` rewrites the cells after a change.
"""
from __future__ import annotations

import json
import re
import sys
import tomllib
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "_config.yml"
PYPROJECT = ROOT / "pyproject.toml"
SETUP_TAGS = ["remove-cell"]


def repository() -> tuple[str, str]:
    """``(url, branch)`` of the book's repository, read from ``_config.yml``."""
    text = CONFIG.read_text(encoding="utf-8")
    block = re.search(r"^repository:\n((?:[ \t]+.*\n)+)", text, re.M)
    if block is None:
        raise LookupError(f"{CONFIG} has no 'repository:' section with the book's url and branch.")
    fields = dict(re.findall(r"^\s+(\w+):\s*(\S*)", block.group(1), re.M))
    return fields["url"].rstrip("/"), fields.get("branch", "main")


def release_tag() -> str:
    """The git tag the Colab cell installs from: ``v`` followed by the version in ``pyproject.toml``."""
    return "v" + tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]["version"]


def pip_requirement() -> str:
    """What the Colab cell asks pip to install: this package at its release tag (a pinned ref)."""
    url, _ = repository()
    return f"nbutils @ git+{url}@{release_tag()}"


def setup_cell_source() -> str:
    """The text of every chapter's first code cell."""
    return (
        "# Colab set-up: installs the book's helper package `nbutils` (keeps Colab's PyTorch).\n"
        "# Anywhere else, `make book` has installed it already and this cell does nothing.\n"
        "import importlib.util, subprocess, sys\n"
        "if \"google.colab\" in sys.modules and importlib.util.find_spec(\"nbutils\") is None:\n"
        "    subprocess.run([sys.executable, \"-m\", \"pip\", \"install\", \"-q\",\n"
        f"                    \"{pip_requirement()}\"], check=True)"
    )


def raw_file_url(relative_path: str) -> str:
    """URL of a file in the repository at the configured branch (for data missing on Colab)."""
    if not isinstance(relative_path, str) or not relative_path:
        raise TypeError(f"relative_path must be a path inside the repository, like 'data/x.csv', "
                        f"got {relative_path!r}.")
    if Path(relative_path).is_absolute() or ".." in Path(relative_path).parts:
        raise ValueError(f"relative_path must be a path inside the repository, like 'data/x.csv', "
                         f"got {relative_path!r}.")
    url, branch = repository()
    if "github.com" not in url:
        return f"{url}/{relative_path}"
    return url.replace("github.com", "raw.githubusercontent.com") + f"/{branch}/{relative_path}"


def write_setup_cells(notebooks: list[Path]) -> list[Path]:
    """Make the first code cell of each notebook the set-up cell; return the notebooks changed."""
    if isinstance(notebooks, (str, Path)) or not isinstance(notebooks, Iterable):
        raise TypeError(f"notebooks must be a list of notebook paths, got {type(notebooks).__name__}.")
    changed = []
    source = setup_cell_source()
    for path in map(Path, notebooks):
        nb = json.loads(path.read_text(encoding="utf-8"))
        first = next((c for c in nb["cells"] if c["cell_type"] == "code"), None)
        if first is None:
            raise ValueError(f"{path.name} has no code cell to hold the Colab set-up.")
        if "".join(first["source"]) != source:
            first["source"] = source.splitlines(keepends=True)
            first.setdefault("metadata", {})["tags"] = SETUP_TAGS
            path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
            changed.append(path)
    return changed


if __name__ == "__main__":
    done = write_setup_cells(sorted((ROOT / "chapters").glob("*.ipynb")))
    print("updated:", *done, sep="\n  " if done else " ") if done else print("all set-up cells are current")
    sys.exit(0)
