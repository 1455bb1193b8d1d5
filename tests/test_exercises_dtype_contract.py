"""Where an exercise's text promises a dtype ("keep the input's dtype"), its checker tries float32 and float64."""
import importlib
import pkgutil
import re
from pathlib import Path

import nbformat
import pytest
import torch

import nbutils.exercises
from nbutils.exercises import Exercise
from nbutils.exercises.recording import tensors_in

ROOT = Path(__file__).resolve().parent.parent
DTYPE_PROMISE = re.compile(r"dtype", re.IGNORECASE)


def exercises_by_function() -> dict[str, Exercise]:
    found = {}
    for module_info in pkgutil.iter_modules(nbutils.exercises.__path__):
        if re.match(r"ch\d\d_", module_info.name):
            module = importlib.import_module(f"nbutils.exercises.{module_info.name}")
            found.update({v.name: v for v in vars(module).values() if isinstance(v, Exercise)})
    return found


def exercise_texts_that_promise_a_dtype() -> list[tuple[str, str]]:
    """(chapter, function name) for every exercise block whose text mentions a dtype and names a checked function."""
    checked = exercises_by_function()
    promises = []
    for path in sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "markdown":
                continue
            for block in re.findall(r":::\{exercise\}(.*?):::", cell.source, flags=re.DOTALL):
                names = [n for n in re.findall(r"`(\w+)\(", block) if n in checked]
                if names and DTYPE_PROMISE.search(block):
                    promises.append((path.stem, names[0]))
    return promises


PROMISES = exercise_texts_that_promise_a_dtype()


def test_some_exercise_texts_promise_a_dtype():
    assert len(PROMISES) >= 3, PROMISES  # the chapters do; a parser that finds none would make the test vacuous


@pytest.mark.parametrize("chapter, name", PROMISES)
def test_cases_include_float32_and_float64(chapter, name):
    exercise = exercises_by_function()[name]
    dtypes = {a.dtype for case in exercise.cases for a in tensors_in(case.args)}
    assert {torch.float32, torch.float64} <= dtypes, f"{chapter}: {name}'s cases use only {dtypes}"
