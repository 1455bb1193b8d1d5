"""Self-checking exercises: the framework (:mod:`.core`) and one module of exercises per chapter."""
from nbutils.exercises.core import Case, CheckResult, Exercise, LoopFree, Mistake, is_stub
from nbutils.exercises.recording import ChapterFunction

__all__ = ["Case", "ChapterFunction", "CheckResult", "Exercise", "LoopFree", "Mistake", "is_stub"]
