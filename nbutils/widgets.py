"""The explorer pattern: a pure plotting function, a widget front end, a static figure.

How explorers appear on the website (decided here, once for the book): the
website shows the *static figure alone*. A chapter calls :func:`explore`.
When the book builds or the tests run (``NBUTILS_STATIC=1``, from
:data:`BUILD_ENVIRONMENT`) it draws the figure for the default parameters, which is what the
built page stores. In a reader's Jupyter or Colab kernel it shows the sliders
with the same figure under them, redrawn when a slider is released. Saved widget state is not embedded: a page built
from it would show sliders that cannot move without a kernel. The widget cell
is tagged ``nbval-ignore-output`` in the notebooks, and the page never shows
an empty box or an ``Output()`` repr because the figure is always drawn.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import matplotlib.pyplot as plt

# The one place the build environment is set: the tests (tests/conftest.py), the benchmark's chapter runs and
# the book build (_ext/static_explorers.py) apply it, so every kernel they start draws static figures.
BUILD_ENVIRONMENT = {"NBUTILS_STATIC": "1", "PYDEVD_DISABLE_FILE_VALIDATION": "1"}


def use_build_environment() -> None:
    """Set :data:`BUILD_ENVIRONMENT` in ``os.environ``, keeping any value set already (``NBUTILS_STATIC=0``)."""
    for name, value in BUILD_ENVIRONMENT.items():
        os.environ.setdefault(name, value)


def _live_kernel() -> bool:
    """True inside an interactive Jupyter kernel; False during the book build and tests."""
    if os.environ.get("NBUTILS_STATIC") == "1":
        return False
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def explore(plot: Callable[..., Any], **controls: Any) -> None:
    """Show ``plot(**defaults)``: a static figure on the website, with sliders in a live kernel.

    ``plot`` is a pure function of its keyword arguments that draws one
    figure. Each control is an ipywidgets widget (e.g.
    ``FloatSlider(value=1.0, min=0.1, max=5)``) whose ``value`` is the default
    shown on the static page. Sliders are made non-continuous so a 2-core
    laptop redraws only when the mouse is released.
    """
    if not callable(plot):
        raise TypeError(f"plot must be a function that draws a figure, got {type(plot).__name__}.")
    if not controls:
        raise ValueError("explore needs at least one control, e.g. temperature=FloatSlider(value=1.0).")
    defaults = {}
    for name, widget in controls.items():
        if not hasattr(widget, "value"):
            raise TypeError(f"control '{name}' must be an ipywidgets widget with a .value, "
                            f"got {type(widget).__name__}.")
        if hasattr(widget, "continuous_update"):
            widget.continuous_update = False
        defaults[name] = widget.value
    if not _live_kernel():
        plot(**defaults)
        plt.show()
        return
    import ipywidgets
    from IPython.display import display

    output = ipywidgets.Output()

    def redraw(change=None):
        with output:
            output.clear_output(wait=True)
            plot(**{name: w.value for name, w in controls.items()})
            plt.show()

    for widget in controls.values():
        widget.observe(redraw, names="value")
    display(ipywidgets.VBox([*controls.values(), output]))
    redraw()
