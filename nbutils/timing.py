"""Wall-clock timing for the chapters' cost experiments (not the lesson, so it lives here)."""
from __future__ import annotations

import time
from collections.abc import Callable


def wall_times(run: Callable[[], object], repeats: int = 3, min_total: float = 0.05,
               max_repeats: int = 200) -> list[float]:
    """Seconds taken by each of several calls of ``run()``.

    Calls ``run`` at least ``repeats`` times, and more (up to ``max_repeats``)
    until ``min_total`` seconds have passed, so fast functions are timed over
    enough calls to rise above the clock's resolution. Take ``min`` of the
    result for the run least disturbed by other work, or the median for a
    typical run.
    """
    times, start = [], time.perf_counter()
    while len(times) < repeats or (time.perf_counter() - start < min_total and len(times) < max_repeats):
        tick = time.perf_counter()
        run()
        times.append(time.perf_counter() - tick)
    return times
