"""Running a chapter alone on Colab.

Every chapter's first code cell (tagged ``remove-cell``, so the website hides
it) is :func:`setup_cell_source`. On Colab it pip-installs this package from
the repository configured in ``_config.yml``, at the release tag of the
package's version (``v`` + ``version`` in ``pyproject.toml``; CONTRIBUTING.md,
"Releases", says how a release creates that tag), never at a branch head that
may have moved since; everywhere else it does nothing. The package's
dependencies leave out torch, so Colab's own PyTorch is kept. The cell cannot
import anything from this package (it is not installed yet), which is why its
text is generated here and a test keeps every chapter's copy identical to it:
``python -m nbutils.colab`` rewrites the cells after a change.
"""
from __future__ import annotations

import json
import sys
import tomllib
import uuid
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "_config.yml"
PYPROJECT = ROOT / "pyproject.toml"
SETUP_TAGS = ["remove-cell"]


def repository() -> str:
    """The URL of the book's repository, from the ``repository:`` section of ``_config.yml``."""
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8")) or {}
    url = (config.get("repository") or {}).get("url")
    if not url:
        raise LookupError(f"{CONFIG} has no 'repository:' section with the book's url.")
    return url.rstrip("/")


def release_tag() -> str:
    """The git tag the Colab cell installs from: ``v`` followed by the version in ``pyproject.toml``."""
    return "v" + tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]["version"]


def setup_cell_source() -> str:
    """The text of every chapter's first code cell (80 columns, ruff-clean like the rest of the chapter)."""
    return (
        "# Colab set-up: installs the book's helper package `nbutils` at its release\n"
        "# tag and keeps Colab's PyTorch. Anywhere else, `make book` has installed\n"
        "# it already and this cell does nothing.\n"
        "import importlib.util\n"
        "import subprocess\n"
        "import sys\n"
        "\n"
        "if \"google.colab\" in sys.modules and not importlib.util.find_spec(\"nbutils\"):\n"
        f"    repository = \"{repository()}\"\n"
        f"    requirement = f\"nbutils @ git+{{repository}}@{release_tag()}\"\n"
        "    subprocess.run(\n"
        "        [sys.executable, \"-m\", \"pip\", \"install\", \"-q\", requirement], check=True\n"
        "    )"
    )


def _is_setup_cell(cell: dict) -> bool:
    """A code cell tagged like the set-up cell that imports ``google.colab``: a set-up cell of any version."""
    tagged = set(SETUP_TAGS) <= set(cell.get("metadata", {}).get("tags", []))
    return tagged and "google.colab" in "".join(cell["source"])


def write_setup_cells(notebooks: list[Path]) -> list[Path]:
    """Make the first code cell of each notebook the set-up cell; return the notebooks changed.

    A notebook whose first code cell is a set-up cell gets it refreshed; any other
    notebook gets a new set-up cell inserted before its first code cell (its own
    cells are never overwritten).
    """
    changed = []
    source = setup_cell_source()
    for path in map(Path, notebooks):
        nb = json.loads(path.read_text(encoding="utf-8"))
        index = next((k for k, c in enumerate(nb["cells"]) if c["cell_type"] == "code"), None)
        if index is None:
            raise ValueError(f"{path.name} has no code cell to hold the Colab set-up.")
        first = nb["cells"][index]
        if _is_setup_cell(first):
            if "".join(first["source"]) == source:
                continue
            first["source"] = source.splitlines(keepends=True)
        else:
            nb["cells"].insert(index, {"cell_type": "code", "execution_count": None, "metadata": {"tags": SETUP_TAGS},
                                       "outputs": [], "source": source.splitlines(keepends=True)})
            if nb.get("nbformat", 4) >= 4 and nb.get("nbformat_minor", 0) >= 5:
                nb["cells"][index]["id"] = uuid.uuid4().hex[:8]
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        changed.append(path)
    return changed


if __name__ == "__main__":
    done = write_setup_cells(sorted((ROOT / "chapters").glob("*.ipynb")))
    print("updated:", *done, sep="\n  ") if done else print("all set-up cells are current")
    sys.exit(0)
