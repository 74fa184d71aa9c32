"""Which PII detectors can match a text, found in one pass by a multi-pattern engine (Hyperscan).

Every detector's pattern (for a library-backed detector, its hints' patterns and needles) is
compiled once into one Hyperscan database in *prefilter* mode: the engine reads the text once
and reports each pattern that may match it. Prefilter mode never misses a match (constructs it
cannot run, such as lookbehinds, are widened, never narrowed), so a detector it does not report
cannot match and is skipped; one it reports still runs its own Python pattern, which decides.
So the prefilter changes what a scan costs (a 500-character text: about 23 microseconds of gates
and patterns before, a few now), never what it finds (``tests/operators/test_pii_one_pass.py``
compares every scan, with and without it, with the previous implementation).

Only ASCII text is scanned: there Python's ``\\w``, ``\\d``, ``\\b`` and case-insensitive matching
mean what the engine's do. Python's ``\\s`` also matches the separators U+001C-U+001F, so the
engine is shown them as spaces (at worst a pattern reports where Python's would not: it runs and
finds nothing). Other text, a platform without the engine, or a pattern it cannot compile falls
back to the cheap gates (``operators/pii_gates.py``) for the detectors concerned.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from types import ModuleType
from typing import Any

try:  # no wheel for every platform (Linux on ARM): the gates alone decide there
    import hyperscan
except ImportError:  # pragma: no cover - exercised on platforms without the wheel
    hyperscan = None  # type: ignore[assignment]

_SEPARATORS_AS_SPACES = bytes.maketrans(b"\x1c\x1d\x1e\x1f", b"    ")


def engine() -> ModuleType | None:
    """The Hyperscan module, or None where it is not installed."""
    return hyperscan


class Prefilter:
    """One compiled database of every detector's expressions; :meth:`candidates` scans a text once.

    ``expressions``: per detector (by index), the regex sources one of which every match of the
    detector matches; an empty list leaves the detector uncovered (always a candidate). Compiled
    on first use, not in the constructor; thread-safe (a scratch space per thread).
    """

    def __init__(self, expressions: Sequence[Sequence[str]]) -> None:
        self._expressions = [list(sources) for sources in expressions]
        self._lock = threading.Lock()
        self._local = threading.local()
        self._database: hyperscan.Database | None = None
        self._owners: list[int] = []  # expression id -> detector index
        self.covered: frozenset[int] = frozenset()
        self._built = False

    def candidates(self, text: str) -> frozenset[int] | None:
        """Indices of the covered detectors that may match ``text``; None when the engine cannot say.

        A covered detector not in the set cannot match the text; an uncovered one is for its gates.
        """
        if not text.isascii():
            return None
        database = self._compiled()
        if database is None:
            return None
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = hyperscan.Scratch(database)
        found: set[int] = set()
        database.scan(
            text.encode("ascii").translate(_SEPARATORS_AS_SPACES),
            match_event_handler=_collect,
            context=(found, self._owners),
            scratch=scratch,
        )
        return frozenset(found)

    def _compiled(self) -> hyperscan.Database | None:
        if self._built:
            return self._database
        with self._lock:
            if not self._built:
                self._build()
                self._built = True
        return self._database

    def _build(self) -> None:
        if hyperscan is None:
            return
        usable: list[tuple[int, bytes]] = []
        for index, sources in enumerate(self._expressions):
            encoded = [source.encode("utf-8") for source in sources if _same_on_ascii(source)]
            # A detector is covered only when every one of its expressions compiles.
            if encoded and len(encoded) == len(sources) and all(_compiles(source) for source in encoded):
                usable.extend((index, source) for source in encoded)
        if not usable:
            return
        database = hyperscan.Database()
        flags = _flags()
        database.compile(
            expressions=[source for _, source in usable],
            ids=list(range(len(usable))),
            elements=len(usable),
            flags=[flags] * len(usable),
        )
        self._owners = [index for index, _ in usable]
        self.covered = frozenset(self._owners)
        self._database = database


def _same_on_ascii(source: str) -> bool:
    """True when the pattern, as UTF-8 bytes, matches ASCII text where Python's ``re`` does.

    A non-ASCII character of a pattern never matches ASCII text (as bytes neither), unless
    case-insensitive matching pairs it with an ASCII letter (the long s U+017F with ``s``, the Kelvin sign
    with ``k``): such a pattern is left to the gates.
    """
    for char in source:
        if not char.isascii():
            for other in (char.lower(), char.upper()):
                if len(other) == 1 and other.isascii():
                    return False
    return True


def _flags() -> int:
    return int(hyperscan.HS_FLAG_PREFILTER | hyperscan.HS_FLAG_SINGLEMATCH | hyperscan.HS_FLAG_ALLOWEMPTY)


def _compiles(source: bytes) -> bool:
    try:
        hyperscan.Database().compile(expressions=[source], ids=[0], elements=1, flags=[_flags()])
    except hyperscan.error:
        return False
    return True


def _collect(expression: int, _start: int, _end: int, _flags: int, context: Any) -> None:
    found, owners = context  # (detectors found, owner of each expression)
    found.add(owners[expression])
