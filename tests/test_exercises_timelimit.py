"""No answer can hang check(): each hang runs in a subprocess, so a regression fails the test instead of the suite."""
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 0.5
SLACK = 1.5  # seconds beyond the limit: stopping the answer, a busy machine

PROGRAM = """
import os, sys, threading, time
import torch
{setup}
from nbutils.exercises import Case, Exercise

ex = Exercise("double", reference=lambda x: 2 * x, cases=[Case("three numbers", (torch.ones(3),))], hints=[],
              solution=lambda x: 2 * x, time_limit={limit})

{answer}

start = time.monotonic()
{call}
print("elapsed", time.monotonic() - start)
print("status", result.status)
print("message", result.message)
print("usable", ex.check(lambda x: 2 * x).passed)
time.sleep(0.5)
print("threads", threading.active_count())
sys.stdout.flush()
os._exit(0)
"""

BARE_EXCEPT_SLEEP = """
def answer(x):
    while True:
        try:
            time.sleep(0.01)
        except:  # noqa: E722 - what the test is about
            pass
"""

BARE_EXCEPT_PURE_PYTHON = """
def answer(x):
    while True:
        try:
            total = 0
            for i in range(1000):
                total += i
        except:  # noqa: E722
            pass
"""

SWALLOWS_BASE_EXCEPTION_IN_A_HELPER = """
def spin():
    while True:
        try:
            torch.ones(3) * 2
        except BaseException:
            continue

def answer(x):
    spin()
"""

LOOP = """
def answer(x):
    while True:
        pass
"""

ONE_LONG_C_CALL = """
def answer(x):
    time.sleep(30)
"""

IN_MAIN_THREAD = "result = ex.check(answer)"
IN_ANOTHER_THREAD = """
box = []
worker = threading.Thread(target=lambda: box.append(ex.check(answer)))
worker.start()
worker.join(30)
result = box[0]
"""
WITHOUT_SETITIMER = """
import signal
for name in ("setitimer", "getitimer", "alarm", "SIGALRM", "ITIMER_REAL"):
    if hasattr(signal, name):
        delattr(signal, name)
"""


def run_program(answer: str, call: str = IN_MAIN_THREAD, setup: str = "") -> dict[str, str]:
    program = PROGRAM.format(setup=setup, limit=LIMIT, answer=textwrap.dedent(answer), call=textwrap.dedent(call))
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(line.split(" ", 1) for line in done.stdout.splitlines() if " " in line)


@pytest.mark.parametrize("answer", [BARE_EXCEPT_SLEEP, BARE_EXCEPT_PURE_PYTHON, SWALLOWS_BASE_EXCEPTION_IN_A_HELPER,
                                    LOOP], ids=["bare except around sleep", "bare except around a Python loop",
                                                "except BaseException in a helper", "while True: pass"])
@pytest.mark.parametrize("call, setup", [(IN_MAIN_THREAD, ""), (IN_ANOTHER_THREAD, ""),
                                         (IN_MAIN_THREAD, WITHOUT_SETITIMER)],
                         ids=["main thread", "another thread", "no signal.setitimer"])
def test_an_answer_that_never_returns_is_stopped_in_time(answer, call, setup):
    out = run_program(answer, call, setup)
    assert out["status"] == "timeout"
    assert out["message"] == (f"✗ double: no answer within {LIMIT:g} s on the case 'three numbers'. "
                              "Look for a loop that never ends.")
    assert float(out["elapsed"]) < LIMIT + SLACK
    assert out["usable"] == "True"  # the kernel still checks the next answer
    expected_threads = "2" if call == IN_ANOTHER_THREAD else "1"  # the finished worker of the test itself is gone
    assert out["threads"] in {"1", expected_threads}, "the runaway answer is still running"


def test_an_answer_stuck_in_one_long_call_still_gets_its_message_in_time():
    out = run_program(ONE_LONG_C_CALL)
    assert out["status"] == "timeout" and float(out["elapsed"]) < LIMIT + SLACK
    assert out["message"].startswith(f"✗ double: no answer within {LIMIT:g} s on the case 'three numbers'.")
    assert "still running in the background" in out["message"]
    assert out["usable"] == "True"


def test_a_slow_but_finite_answer_within_the_limit_passes():
    out = run_program("def answer(x):\n    time.sleep(0.1)\n    return 2 * x\n")
    assert out["status"] == "passed" and out["threads"] == "1"
