"""Helpers for the book's notebooks.

Modules (one concern each): ``verify`` (checks against a reference),
``plot`` (the figure style), ``widgets`` (explorers), ``exercises``
(self-checking exercises), ``data``, ``train``, ``timing``, ``notebook``
(a chapter's definitions for tests and benchmarks) and ``colab`` (running on
Colab). The version is kept once, in ``pyproject.toml``.
"""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version(__name__)
except PackageNotFoundError:  # a source tree that was never installed (`make install` installs it)
    __version__ = "0+unknown"
