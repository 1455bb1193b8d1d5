"""Helpers for the book's notebooks.

Modules (one concern each): ``verify`` (checks against a reference),
``plot`` (the figure style), ``widgets`` (explorers), ``exercises``
(self-checking exercises), ``data``, ``train``, ``notebook`` (a chapter's
definitions for tests and benchmarks) and ``colab`` (running on Colab).
"""
__version__ = "0.1.0"
