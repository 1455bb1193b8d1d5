"""One figure style for the whole book.

Call :func:`use_book_style` once at the top of a chapter. Colours come from
the Okabe-Ito palette, which stays distinguishable for colour-blind readers.
"""
from __future__ import annotations

from collections.abc import Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np

#: Okabe & Ito's colour-blind-safe palette, in the order lines are drawn.
PALETTE: tuple[str, ...] = (
    "#0072B2",  # blue
    "#D55E00",  # vermilion
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#000000",  # black
)

_STYLE = {
    "figure.figsize": (6.4, 4.0),
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    # 11 pt at 100 dpi is 15 px: figure text stays at least as large as the
    # website's smallest text (14 px code) when a figure up to 8 in wide is
    # scaled into the 1280 px text column (tests/test_site_browser.py).
    "legend.fontsize": 11,
    "xtick.labelsize": 11,
    "ytick.labelsize": 11,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": mpl.cycler(color=list(PALETTE)),
    "lines.linewidth": 2.0,
    "image.cmap": "viridis",
    "svg.hashsalt": "book",  # stable ids in SVG output
}


def use_book_style() -> None:
    """Apply the book's matplotlib style (palette, font sizes, grid)."""
    mpl.rcParams.update(_STYLE)


def figure(ncols: int = 1, nrows: int = 1, width: float | None = None, height: float | None = None):
    """A figure with ``nrows x ncols`` axes sized for the page; returns ``(fig, axes)``.

    ``axes`` is a single Axes for one panel, otherwise a flat array of Axes.
    """
    # 8 inches at most: the text column shows 8.2 inches (at 100 dpi) without shrinking 11 pt text.
    width = width or (6.4 if ncols == 1 else min(4.0 * ncols, 8.0))
    height = height or 3.6 * nrows
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), layout="constrained", squeeze=False)
    flat = axes.ravel()
    return fig, (flat[0] if flat.size == 1 else flat)


def label(ax, xlabel: str, ylabel: str, title: str | None = None) -> None:
    """Label both axes (with units where there are any) and optionally title the panel."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)


def plot_curves(ax, x: Sequence[float], curves: dict[str, Sequence[float]], xlabel: str, ylabel: str,
                title: str | None = None, logy: bool = False, styles: dict[str, str] | None = None):
    """Draw one line per entry of ``curves`` (label -> y values) against ``x`` and add a legend."""
    for name, y in curves.items():
        ax.plot(x, y, (styles or {}).get(name, "-"), label=name)
    if logy:
        ax.set_yscale("log")
    label(ax, xlabel, ylabel, title)
    ax.legend()
    return ax


def plot_history(history: dict[str, Sequence[float]], keys: Sequence[str] | None = None,
                 title: str | None = None, ax=None, logy: bool = False):
    """Plot per-epoch values from a training history (e.g. ``{'train_loss': [...], 'val_loss': [...]}``)."""
    keys = list(keys) if keys is not None else [k for k, v in history.items() if isinstance(v, (list, tuple))]
    if ax is None:
        _, ax = figure()
    epochs = np.arange(1, len(history[keys[0]]) + 1)
    return plot_curves(ax, epochs, {k: history[k] for k in keys}, "epoch", "value", title, logy=logy)
