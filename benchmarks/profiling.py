"""What dominates a chapter's time: its slowest cells and a cProfile summary of one profiled run."""
from __future__ import annotations

import pstats
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

from benchmarks import ROOT
from benchmarks.chapters import run_worker

TOP_FUNCTIONS = 8
TOP_GROUPS = 6
IMPORT_MACHINERY = {"marshal", "_imp", "importlib", "zipimport"}
# A built-in's name in cProfile: "<built-in method torch.tanh>" or "<method 'x' of 'torch._C.Y' objects>".
BUILTIN_MODULE = re.compile(r"(?:built-in method |of ')([A-Za-z_][\w]*)")


def group_of(filename: str, function: str) -> str:
    """The package a profiled function belongs to: 'torch', 'matplotlib', 'imports', 'notebook cells', ..."""
    if filename == "~":
        match = BUILTIN_MODULE.search(function)
        module = match.group(1) if match else "builtins"
        if module in IMPORT_MACHINERY:
            return "imports"
        return "python built-ins" if module in {"builtins", "_io", "posix"} else module.lstrip("_")
    if filename.startswith("<frozen importlib") or filename.startswith("<frozen zipimport"):
        return "imports"
    if "/ipykernel_" in filename:
        return "notebook cells"
    path = Path(filename)
    if "site-packages" in path.parts:
        return path.parts[path.parts.index("site-packages") + 1].removesuffix(".py")
    if path.is_relative_to(ROOT):
        return path.relative_to(ROOT).parts[0]
    return "python standard library"


def function_label(filename: str, line: int, function: str) -> str:
    """A short readable name: a built-in as cProfile shows it, else ``package/module.py:line(function)``."""
    if filename == "~":
        return function
    if "/ipykernel_" in filename:
        return f"notebook cell: {function}"
    parts = Path(filename).parts
    if "site-packages" in parts:
        filename = "/".join(parts[parts.index("site-packages") + 1:])
    elif Path(filename).is_relative_to(ROOT):
        filename = str(Path(filename).relative_to(ROOT))
    return f"{filename}:{line}({function})"


def summarise_profile(stats_file: Path) -> dict:
    """Self time by package and the functions with the most self time, from a cProfile statistics file."""
    stats = pstats.Stats(str(stats_file)).stats
    groups: dict[str, float] = {}
    functions = []
    for (filename, line, function), (_, calls, self_s, _, _) in stats.items():
        group = group_of(filename, function)
        groups[group] = groups.get(group, 0.0) + self_s
        functions.append({"function": function_label(filename, line, function), "calls": calls, "self_s": self_s})
    total = sum(groups.values())
    by_group = sorted(({"group": name, "self_s": seconds, "share": seconds / total if total else 0.0}
                       for name, seconds in groups.items()), key=lambda g: -g["self_s"])
    functions.sort(key=lambda f: -f["self_s"])
    return {"profiled_s": total, "by_group": by_group[:TOP_GROUPS], "top_functions": functions[:TOP_FUNCTIONS]}


def profile_chapter(notebook: Path, execute: Callable[[Path, Path], dict] = run_worker) -> dict:
    """Run ``notebook`` once under cProfile in a fresh kernel and summarise where its time went."""
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as folder:
        stats_file = Path(folder) / f"{notebook.stem}.prof"
        run = execute(notebook, stats_file)
        summary = summarise_profile(stats_file)
    return {"chapter": notebook.stem, "profiled_run_s": run["seconds"], **summary}
