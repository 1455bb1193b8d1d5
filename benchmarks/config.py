"""How much to measure: the full benchmark, a quick look, and the tiny configuration the tests use."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Config:
    """Repetitions and sizes of one benchmark run.

    ``max_size`` caps the size of every ratio case and keeps only the scaling sizes up to
    it (at least the two smallest), so the tests can run every declared case in seconds.
    """

    chapter_runs: int = 3  # fresh-kernel executions of each chapter (median, min, max)
    repetitions: int = 7  # interleaved timing samples per ratio and per scaling point
    min_sample_s: float = 0.05  # each timing sample repeats the call until it lasts this long
    profile_slowest: int = 3  # chapters profiled with cProfile, slowest first
    build_book: bool = True  # also time `jupyter-book build` from a clean copy
    max_size: int | None = None
    timing_threads: int | None = 1  # torch and BLAS threads for the ratio and scaling timings (None: defaults)

    def __post_init__(self):
        if self.chapter_runs < 1 or self.repetitions < 1:
            raise ValueError(f"chapter_runs and repetitions must be at least 1, got {self.chapter_runs} "
                             f"and {self.repetitions}.")
        if self.timing_threads is not None and self.timing_threads < 1:
            raise ValueError(f"timing_threads must be at least 1 or None, got {self.timing_threads}.")
        if self.max_size is not None and self.max_size < 1:
            raise ValueError(f"max_size must be a positive size or None, got {self.max_size}.")

    def ratio_size(self, size: int) -> int:
        """The size a ratio case declared at ``size`` runs at."""
        return size if self.max_size is None else min(size, self.max_size)

    def scaling_sizes(self, sizes: Sequence[int]) -> list[int]:
        """The sizes a scaling case declared with ``sizes`` runs at."""
        if self.max_size is None:
            return list(sizes)
        kept = [size for size in sizes if size <= self.max_size]
        return kept if len(kept) >= 2 else list(sizes[:2])


FULL = Config()
QUICK = Config(chapter_runs=1, repetitions=3, min_sample_s=0.02, profile_slowest=0, build_book=False)
TINY = Config(chapter_runs=1, repetitions=1, min_sample_s=0.0, profile_slowest=0, build_book=False, max_size=16)
