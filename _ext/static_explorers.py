"""Make every kernel the book build starts draw explorers as static figures.

``nbutils.widgets.explore`` shows sliders in a live kernel and the figure alone
when ``NBUTILS_STATIC=1``. This extension applies the build environment that
``nbutils.widgets.BUILD_ENVIRONMENT`` defines, so any build (``make book`` or
``jupyter-book build .`` by hand) starts its kernels with it and cannot store
sliders without a figure in the execution cache.
"""
from nbutils.widgets import use_build_environment


def setup(app):
    use_build_environment()
    return {"parallel_read_safe": True, "parallel_write_safe": True}
