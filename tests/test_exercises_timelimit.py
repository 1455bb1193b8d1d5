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

{answers}

for name, answer in list(globals().items()):
    if not name.startswith("answer_"):
        continue
    start = time.monotonic()
{call}
    print(name, "elapsed", time.monotonic() - start)
    print(name, "status", result.status)
    print(name, "message", result.message)
    print(name, "usable", ex.check(lambda x: 2 * x).passed)
    time.sleep(0.5)
    print(name, "threads", threading.active_count())
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

IN_MAIN_THREAD = "result = ex.check(answer)\n"
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


def run_program(answers: dict[str, str], call: str = IN_MAIN_THREAD, setup: str = "") -> dict[str, dict[str, str]]:
    """Check each answer (name -> source defining ``answer``) in one fresh interpreter; what each printed."""
    sources = "\n".join(textwrap.dedent(source).replace("def answer(", f"def answer_{name}(")
                        for name, source in answers.items())
    program = PROGRAM.format(setup=setup, limit=LIMIT, answers=sources,
                             call=textwrap.indent(textwrap.dedent(call), "    "))
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    out: dict[str, dict[str, str]] = {}
    for line in done.stdout.splitlines():
        name, key, value = line.split(" ", 2)
        out.setdefault(name.removeprefix("answer_"), {})[key] = value
    assert set(out) == set(answers), done.stdout
    return out


HANGS = {"bare_except_around_sleep": BARE_EXCEPT_SLEEP, "bare_except_around_a_python_loop": BARE_EXCEPT_PURE_PYTHON,
         "except_base_exception_in_a_helper": SWALLOWS_BASE_EXCEPTION_IN_A_HELPER, "while_true_pass": LOOP}


@pytest.mark.parametrize("call, setup", [(IN_MAIN_THREAD, ""), (IN_ANOTHER_THREAD, ""),
                                         (IN_MAIN_THREAD, WITHOUT_SETITIMER)],
                         ids=["main thread", "another thread", "no signal.setitimer"])
def test_an_answer_that_never_returns_is_stopped_in_time(call, setup):
    for name, out in run_program(HANGS, call, setup).items():
        assert out["status"] == "timeout", name
        assert out["message"] == (f"✗ double: no answer within {LIMIT:g} s on the case 'three numbers'. "
                                  "Look for a loop that never ends."), name
        assert float(out["elapsed"]) < LIMIT + SLACK, name
        assert out["usable"] == "True", name  # the kernel still checks the next answer
        assert out["threads"] == "1", f"{name}: the runaway answer is still running"


def test_an_answer_stuck_in_one_long_call_still_gets_its_message_in_time():
    out = run_program({"long_call": ONE_LONG_C_CALL})["long_call"]
    assert out["status"] == "timeout" and float(out["elapsed"]) < LIMIT + SLACK
    assert out["message"].startswith(f"✗ double: no answer within {LIMIT:g} s on the case 'three numbers'.")
    assert "still running in the background" in out["message"]
    assert out["usable"] == "True"


def test_a_slow_but_finite_answer_within_the_limit_passes():
    out = run_program({"slow": "def answer(x):\n    time.sleep(0.1)\n    return 2 * x\n"})["slow"]
    assert out["status"] == "passed" and out["threads"] == "1"


INTERRUPTED = """
import _thread
threading.Timer(0.3, _thread.interrupt_main).start()  # the reader presses "interrupt the kernel"
try:
    result = ex.check(answer)
except KeyboardInterrupt:
    result = type("Interrupted", (), {"status": "interrupted", "message": "-"})()
"""


def test_interrupting_the_kernel_during_a_check_stops_the_answer_too():
    out = run_program({"interrupted": BARE_EXCEPT_SLEEP}, INTERRUPTED)["interrupted"]
    assert out["status"] == "interrupted" and float(out["elapsed"]) < 0.3 + SLACK
    assert out["usable"] == "True" and out["threads"] == "1"
