"""Many patterns matched in one pass over a text by Hyperscan, a multi-pattern regex engine.

The PII prefilter (``operators/pii_prefilter.py``) and the policy's needle index
(``operators/regex_needles.py``) each compile their patterns into one :class:`PatternSet` and
ask, per text, which of them occur: one C-level pass instead of one search per pattern. Each
pattern is reported once (single-match mode). Where the engine has no wheel (Linux on ARM),
:func:`compile_set` gives None and the callers fall back to their own per-pattern tests.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

try:  # no wheel for every platform (Linux on ARM): the callers' fallbacks decide there
    import hyperscan
except ImportError:  # pragma: no cover - exercised on platforms without the wheel
    hyperscan = None  # type: ignore[assignment]


def available() -> bool:
    """True when the Hyperscan engine is installed."""
    return hyperscan is not None


def _flags(prefilter: bool) -> int:
    flags = hyperscan.HS_FLAG_SINGLEMATCH | hyperscan.HS_FLAG_ALLOWEMPTY
    return int(flags | hyperscan.HS_FLAG_PREFILTER) if prefilter else int(flags)


def compiles(expression: bytes, prefilter: bool) -> bool:
    """True when the engine is installed and compiles ``expression`` (``prefilter``: in prefilter mode)."""
    if hyperscan is None:
        return False
    try:
        hyperscan.Database().compile(expressions=[expression], ids=[0], elements=1, flags=[_flags(prefilter)])
    except hyperscan.error:
        return False
    return True


def literal(needle: str) -> bytes:
    """A pattern matching exactly the UTF-8 bytes of ``needle`` (every byte escaped)."""
    return b"".join(b"\\x%02x" % byte for byte in needle.encode("utf-8", "surrogatepass"))


class PatternSet:
    """Compiled expressions; :meth:`matching` gives the ids of those that occur in a text.

    Thread-safe: Bytewax workers are threads of one process, and each thread scans with its own
    scratch space (the engine's per-scan working memory).
    """

    def __init__(self, database: Any, count: int) -> None:
        self._database = database
        self.count = count
        self._local = threading.local()

    def matching(self, data: bytes) -> set[int]:
        """Ids (positions in the compiled list) of the expressions that match ``data``."""
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = hyperscan.Scratch(self._database)
        found: set[int] = set()
        self._database.scan(data, match_event_handler=_collect, context=found, scratch=scratch)
        return found


class PatternError(ValueError):
    """The engine refused an expression (syntax it lacks, or one that can never match)."""


def compile_set(expressions: Sequence[bytes], prefilter: bool) -> PatternSet | None:
    """One :class:`PatternSet` of ``expressions`` (ids in order); None without the engine or expressions.

    ``prefilter``: widen what the engine cannot run (lookarounds, ...) so it never misses a match
    and may report one that the exact pattern would not find. Raises :class:`PatternError` when
    the engine refuses one of them (:func:`compiles` tells which).
    """
    if hyperscan is None or not expressions:
        return None
    database = hyperscan.Database()
    try:
        database.compile(
            expressions=list(expressions),
            ids=list(range(len(expressions))),
            elements=len(expressions),
            flags=[_flags(prefilter)] * len(expressions),
        )
    except hyperscan.error as exc:
        raise PatternError(str(exc)) from exc
    return PatternSet(database, len(expressions))


def _collect(expression: int, _start: int, _end: int, _flags: int, found: Any) -> None:
    found.add(expression)
