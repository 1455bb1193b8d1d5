"""Self-checking exercises: the framework (:mod:`.core`) and one module of exercises per chapter."""
from nbutils.exercises.core import Case, CheckResult, Exercise, LoopFree, Mistake, is_stub

__all__ = ["Case", "CheckResult", "Exercise", "LoopFree", "Mistake", "is_stub"]
