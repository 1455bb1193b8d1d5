"""The whole book build, timed from a clean copy of the repository with the existing virtual environment."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import BOOK_BUDGET_S, ROOT
from benchmarks.worker import BUILD_ENVIRONMENT

BUILD_ARGS = ["-W", "-n", "--keep-going"]  # as `make book`: warnings and failing cells fail the build
LOG_TAIL_LINES = 20


def source_files(root: Path = ROOT) -> list[Path]:
    """The files a clean checkout of ``root`` has: git's tracked and new, not ignored, files (no _build, no cache)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=root, capture_output=True, text=True)
    if listed.returncode != 0:
        raise RuntimeError(f"cannot list the book's files with git in {root}: {listed.stderr.strip()}")
    return [Path(name) for name in listed.stdout.split("\0") if name and (root / name).is_file()]


def copy_sources(destination: Path, root: Path = ROOT) -> int:
    """Copy :func:`source_files` of ``root`` into ``destination``; return how many files were copied."""
    files = source_files(root)
    for relative in files:
        (destination / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / relative, destination / relative)
    return len(files)


def time_book_build(root: Path = ROOT, budget_s: float = BOOK_BUDGET_S) -> dict:
    """Build the book from a fresh copy of ``root`` (empty execution cache) and return how long it took."""
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    with tempfile.TemporaryDirectory(prefix="bench-book-") as folder:
        book = Path(folder) / "book"
        copy_sources(book, root)
        start = time.perf_counter()
        built = subprocess.run([str(jupyter_book), "build", str(book), *BUILD_ARGS], capture_output=True,
                               text=True, cwd=book, env={**os.environ, **BUILD_ENVIRONMENT})
        seconds = time.perf_counter() - start
    result = {"seconds": seconds, "ok": built.returncode == 0, "over_budget": seconds > budget_s,
              "command": f"jupyter-book build . {' '.join(BUILD_ARGS)}"}
    if built.returncode != 0:
        result["log_tail"] = "\n".join((built.stdout + built.stderr).strip().splitlines()[-LOG_TAIL_LINES:])
    return result
