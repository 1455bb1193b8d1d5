"""Make every kernel the book build starts draw explorers as static figures.

``nbutils.widgets.explore`` shows sliders in a live kernel and the figure alone
when ``NBUTILS_STATIC=1``. The Makefile sets it; this extension sets it too, so a
build started by hand (``jupyter-book build .``) cannot store sliders without a
figure in the execution cache.
"""
import os


def setup(app):
    os.environ.setdefault("NBUTILS_STATIC", "1")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
