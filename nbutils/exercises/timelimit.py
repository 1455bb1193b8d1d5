"""Run a learner's function with a time limit that no answer can defeat.

The function runs in a worker thread while the caller waits with
``Thread.join(timeout)``. Waiting needs no signal, so the limit holds on every
platform (Windows has no ``signal.setitimer``) and when ``check()`` itself runs
outside the main thread; and nothing the learner writes can swallow a
``join`` timeout, so the caller always gets its answer on time.

A worker that overran is then stopped, so that it does not keep a core busy.
The worker runs under a trace function from the start (it also reports every
Python call, which is how calls of forbidden Python functions are seen); it
traces no lines until the time is up, which keeps it cheap. When the time is
up every running frame of the learner gets line tracing, and the trace
function raises :class:`TimeLimitExceeded` at the first line where no ``try``
or ``with`` of the learner's frames covers the current instruction (read from
the code's exception table), so not even a bare ``except:`` can catch it. If
the exception was caught after all, an asynchronous one is sent repeatedly
(``PyThreadState_SetAsyncExc``).

A worker stuck inside one long C call (``time.sleep(1e9)``) cannot be stopped
from Python: the caller still gets its answer on time, ``still_running`` says
so, and a background thread keeps trying for 30 s.
"""
from __future__ import annotations

import ctypes
import dis
import sys
import threading
import time
from collections.abc import Callable
from types import CodeType, FrameType
from typing import Any

STOP_GRACE_SECONDS = 0.5  # how long the caller waits for an overrunning worker to stop
_PACKAGE_DIR = __file__.rsplit("/", 1)[0].rsplit("\\", 1)[0]


class TimeLimitExceeded(BaseException):
    """Raised in a learner's thread when its time is up.

    A BaseException, so ``except Exception:`` does not catch it. The caller of
    :func:`call_with_time_limit` receives it with ``still_running`` set when
    the worker could not be stopped.
    """

    def __init__(self, seconds: float = 0.0, still_running: bool = False):
        super().__init__(seconds)
        self.seconds = seconds
        self.still_running = still_running


def _covered_offsets(code: CodeType, cache: dict = {}) -> list[tuple[int, int]]:  # noqa: B006 - a cache
    """The (start, end) byte ranges of ``code`` that a ``try`` or ``with`` protects (3.11+ exception table)."""
    if code not in cache:
        parse = getattr(dis, "_parse_exception_table", None)
        cache[code] = [(e.start, e.end) for e in parse(code)] if parse else [(0, sys.maxsize)]
    return cache[code]


def _protected(frame: FrameType) -> bool:
    return any(start <= frame.f_lasti <= end for start, end in _covered_offsets(frame.f_code))


class _Worker:
    """The learner's call, run in its own thread, with what it takes to stop it."""

    def __init__(self, call: Callable[[], Any], on_python_call: Callable[[CodeType], None] | None):
        self.call, self.on_python_call = call, on_python_call
        self.expired = False
        self.outcome: tuple[str, Any] = ("running", None)
        self.thread = threading.Thread(target=self.run, name="exercise-answer", daemon=True)

    def run(self) -> None:
        sys.settrace(self.on_call)
        try:
            self.outcome = ("value", self.call())
        except TimeLimitExceeded:
            self.outcome = ("timeout", None)
        except BaseException as exc:  # the learner's exception, reported by the caller
            self.outcome = ("error", exc)
        finally:
            sys.settrace(None)

    def on_call(self, frame: FrameType, event: str, arg: Any):
        """The thread's trace function: sees every Python call; traces lines only once time is up."""
        if self.on_python_call is not None:
            self.on_python_call(frame.f_code)
        return self.on_line if self.expired else None

    def on_line(self, frame: FrameType, event: str, arg: Any):
        """Once time is up, raise at a line of the learner's that no try of the learner's protects."""
        callers = self._learner_frames(frame)  # its first item is ``frame`` unless this is our own code
        if event == "line" and self.expired and next(callers, None) is frame and not _protected(frame) \
                and not any(_protected(caller) for caller in callers):
            raise TimeLimitExceeded
        return self.on_line

    def _learner_frames(self, frame: FrameType | None):
        """``frame`` and its callers up to the frame of ``call``, without this package's frames.

        This package's frames between them (the recorder's ``with``) never swallow an exception.
        """
        while frame is not None and frame.f_code is not self.call.__code__:
            if not frame.f_code.co_filename.startswith(_PACKAGE_DIR):
                yield frame
            frame = frame.f_back

    def stop(self, grace: float) -> bool:
        """Stop the worker within ``grace`` seconds if it can be stopped; True if it ended.

        First every running frame of the learner gets line tracing, which raises at the next line
        no ``try`` protects. If that exception was caught after all (tracing is then off), or the
        worker runs no Python lines, an asynchronous exception is sent repeatedly. Each is
        withdrawn after 20 ms if it was not delivered: a pending one, left on a thread blocked in
        C, stalls the next worker's tracing.
        """
        self.expired = True
        frame = sys._current_frames().get(self.thread.ident)
        for caller in self._learner_frames(frame):
            caller.f_trace = self.on_line
        deadline = time.monotonic() + grace
        self.thread.join(min(0.2, grace))
        while self.thread.is_alive() and time.monotonic() < deadline:
            self._send(TimeLimitExceeded)
            self.thread.join(0.02)
            self._send(None)
        return not self.thread.is_alive()

    def _send(self, exception: type[BaseException] | None) -> None:
        """Raise ``exception`` in the worker thread asynchronously; None withdraws one not yet delivered."""
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self.thread.ident),
                                                   None if exception is None else ctypes.py_object(exception))
        if exception is None:
            _reset_async_signal()


class _Flush(BaseException):
    """Sent to this thread and caught at once, to reset the interpreter's "async exception" signal."""


def _reset_async_signal() -> None:
    """Reset CPython's interpreter-wide async-exception signal, which withdrawing an exception leaves set.

    It is cleared only when some thread receives an async exception; left set, it stalls every thread
    that runs under a trace function (CPython 3.11). So this thread receives one and catches it.
    """
    me = ctypes.c_ulong(threading.get_ident())
    try:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(me, ctypes.py_object(_Flush))
        for _ in range(1000):
            time.sleep(0)
        ctypes.pythonapi.PyThreadState_SetAsyncExc(me, None)  # not delivered (other Python versions): withdrawn
    except _Flush:
        pass


def _keep_stopping(worker: _Worker, seconds: int = 30) -> None:
    """Try again once a second, for an answer blocked in one long C call."""
    for _ in range(seconds):
        if worker.stop(0.1):
            return
        time.sleep(1.0)


def call_with_time_limit(call: Callable[[], Any], seconds: float,
                         on_python_call: Callable[[CodeType], None] | None = None) -> tuple[str, Any]:
    """Run ``call()`` in a worker thread: ``("value", result)`` or ``("error", exception it raised)``.

    Raises TimeLimitExceeded when no result comes within ``seconds``. ``on_python_call``, if
    given, receives the code object of every Python function the worker calls
    (used to see calls of forbidden Python functions such as torch.func.jacrev).
    If the caller is interrupted (KeyboardInterrupt) while waiting, the worker
    is stopped too.
    """
    worker = _Worker(call, on_python_call)
    worker.thread.start()
    try:
        worker.thread.join(seconds)
    except BaseException:
        worker.stop(STOP_GRACE_SECONDS)
        raise
    if worker.thread.is_alive():
        stopped = worker.stop(STOP_GRACE_SECONDS)
        if not stopped:
            threading.Thread(target=_keep_stopping, args=(worker,), daemon=True).start()
        raise TimeLimitExceeded(seconds, still_running=not stopped)
    if worker.outcome[0] == "timeout":  # stopped just as the wait ended
        raise TimeLimitExceeded(seconds)
    return worker.outcome
