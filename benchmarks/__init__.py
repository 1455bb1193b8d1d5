"""The book's benchmark: how fast the chapters run, and how the from-scratch code compares with PyTorch.

``python -m benchmarks`` (``make bench``) measures three things and writes them to
``benchmarks/results.json``, which the book page ``performance.md`` shows:

1. every chapter listed in ``_toc.yml``, executed top to bottom in a fresh kernel
   (wall time and peak memory), and the whole book build from a clean copy;
2. each chapter's from-scratch functions against their PyTorch counterparts, timed
   interleaved on the same inputs (declared in ``benchmarks/cases/``);
3. how the cost of chosen functions grows with the size of the work (fitted log-log slopes).
"""
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS_PATH = ROOT / "benchmarks" / "results.json"
CHAPTER_BUDGET_S = 60.0  # DESIGN.md: each chapter executes in at most 60 s on 2 cores
BOOK_BUDGET_S = 600.0  # DESIGN.md: the whole book builds in at most 10 minutes on 2 cores
