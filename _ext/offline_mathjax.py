"""Serve MathJax 3 from the built site so math renders with no network.

The MathJax files come from the ``django-static-mathjax`` wheel (pure static
files, no Django needed). They are copied to ``_build/html/mathjax/``, outside
``_static/``, because Jupyter Book adds every ``.js`` file under the book's
``_static/`` as a script tag on every page.
"""
from __future__ import annotations

import shutil
from pathlib import Path

BUNDLE = "tex-mml-chtml.js"


def _mathjax_dir() -> Path:
    try:
        import mathjax  # the django-static-mathjax wheel installs this package
    except ImportError as exc:
        raise RuntimeError(
            "MathJax for offline math is missing: run `make install` "
            "(it installs django-static-mathjax)."
        ) from exc
    return Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"


def _point_to_local_copy(app, config) -> None:
    # mathjax_path is relative to _static/; the copy sits beside it.
    config.mathjax_path = f"../mathjax/{BUNDLE}"


def _copy_mathjax(app, exception) -> None:
    if exception is None and app.builder.format == "html":
        shutil.copytree(_mathjax_dir(), Path(app.outdir) / "mathjax", dirs_exist_ok=True)


def setup(app):
    _mathjax_dir()  # fail early, with the fix, when the files are missing
    app.connect("config-inited", _point_to_local_copy)
    app.connect("build-finished", _copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
