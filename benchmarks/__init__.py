"""The book's benchmark (``make bench``): how fast the chapters run, and how their from-scratch code compares.

``python -m benchmarks`` measures three sections and writes ``benchmarks/results.json``,
which the page ``performance.md`` and every chapter's cost line (``_ext/chapter_cost.py``) show:

- ``chapters``: every chapter in ``_toc.yml`` executed in a fresh kernel (wall time, peak memory);
- ``ratios``: each chapter's from-scratch functions against PyTorch (``benchmarks/cases/``), timed with
  ``torch.utils.benchmark`` once both sides are shown to agree;
- ``scaling``: how the cost of chosen functions grows with the size of the work (fitted log-log slopes).
"""
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS_PATH = ROOT / "benchmarks" / "results.json"
SCHEMA = 2  # the layout of results.json; files of another schema are refused
# The budgets of CONTRIBUTING.md ("Budget"): per chapter, for all chapters together, peak memory per chapter.
CHAPTER_BUDGET_S = 60.0
CHAPTERS_BUDGET_S = 300.0
MEMORY_BUDGET_MB = 700.0
