"""Wall-clock timing of one call, repeated enough times to rise above the clock's resolution."""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import torch
from threadpoolctl import threadpool_limits

MAX_CALLS_PER_SAMPLE = 1 << 20


def seconds_per_call(function: Callable, args: Sequence, calls: int) -> float:
    """The mean wall time of ``function(*args)`` over ``calls`` back-to-back calls, in seconds."""
    start = time.perf_counter()
    for _ in range(calls):
        function(*args)
    return (time.perf_counter() - start) / calls


def calls_per_sample(function: Callable, args: Sequence, min_sample_s: float) -> int:
    """The smallest power of two of calls that together take at least ``min_sample_s`` seconds."""
    calls = 1
    while calls < MAX_CALLS_PER_SAMPLE and seconds_per_call(function, args, calls) * calls < min_sample_s:
        calls *= 2
    return calls


def interleaved_samples(functions: Sequence[Callable], args: Sequence, repetitions: int,
                        min_sample_s: float) -> list[list[float]]:
    """Per-call seconds of each function, sampled ``repetitions`` times in turn on the same ``args``.

    Each repetition times every function once, in an order that alternates between
    repetitions, so a change in machine load affects all of them alike. The result has
    one list per function, ``repetitions`` long.
    """
    if repetitions < 1:
        raise ValueError(f"repetitions must be at least 1, got {repetitions}.")
    calls = [calls_per_sample(function, args, min_sample_s) for function in functions]
    samples: list[list[float]] = [[] for _ in functions]
    for repetition in range(repetitions):
        order = range(len(functions)) if repetition % 2 == 0 else reversed(range(len(functions)))
        for index in order:
            samples[index].append(seconds_per_call(functions[index], args, calls[index]))
    return samples


@contextmanager
def limited_threads(threads: int | None) -> Iterator[None]:
    """Run the block with ``threads`` torch threads and BLAS threads (NumPy's too); None leaves the defaults.

    On a small shared machine a parallel kernel stalls whenever another process holds a
    core; one thread keeps the timings of both implementations steady and comparable.
    """
    if threads is None:
        yield
        return
    if threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}.")
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with threadpool_limits(limits=threads):
            yield
    finally:
        torch.set_num_threads(previous)
