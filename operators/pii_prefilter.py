"""Which PII detectors can match a text, found in one pass by a multi-pattern engine (Hyperscan).

Every detector's pattern (for a library-backed detector, its hints' patterns and needles) is
compiled once into one Hyperscan database in *prefilter* mode: the engine reads the text once
and reports each pattern that may match it. Prefilter mode never misses a match (constructs it
cannot run, such as lookbehinds, are widened, never narrowed), so a detector it does not report
cannot match and is skipped; one it reports still runs its own Python pattern, which decides.
So the prefilter changes what a scan costs (a 500-character text: about 23 microseconds of gates
and patterns before, a few now), never what it finds (``tests/operators/test_pii_one_pass.py``
compares every scan, with and without it, with the previous implementation).

Only ASCII text is scanned: there Python's ``\\w``, ``\\d``, ``\\s``, ``\\b``, ``.`` and
case-insensitive matching mean what the engine's do, except that Python's ``\\s`` also matches the
separators U+001C-U+001F, so a text holding one is left to the gates too (checked character by
character against the engine for all of ASCII). Other text, a platform without the engine, or a
pattern it cannot compile falls back to the cheap gates (``operators/pii_gates.py``) for the
detectors concerned.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from flywheel.operators.multi_pattern import PatternError, PatternSet, compile_set, compiles

# Whitespace to Python's \s, not to the engine's.
_SEPARATORS = ("\x1c", "\x1d", "\x1e", "\x1f")


class Prefilter:
    """One compiled database of every detector's expressions; :meth:`candidates` scans a text once.

    ``expressions``: per detector (by index), the regex sources one of which every match of the
    detector matches; an empty list leaves the detector uncovered (always a candidate). Compiled
    on first use, not in the constructor; thread-safe (a scratch space per thread).
    """

    def __init__(self, expressions: Sequence[Sequence[str]]) -> None:
        self._expressions = [list(sources) for sources in expressions]
        self._lock = threading.Lock()
        self._patterns: PatternSet | None = None
        self._owners: list[int] = []  # expression id -> detector index
        self.covered: frozenset[int] = frozenset()
        self._built = False

    def candidates(self, text: str) -> frozenset[int] | None:
        """Indices of the covered detectors that may match ``text``; None when the engine cannot say.

        A covered detector not in the set cannot match the text; an uncovered one is for its gates.
        """
        if not text.isascii() or _holds_separator(text):
            return None
        patterns = self._compiled()
        if patterns is None:
            return None
        owners = self._owners
        return frozenset(owners[found] for found in patterns.matching(text.encode("ascii")))

    def _compiled(self) -> PatternSet | None:
        if self._built:
            return self._patterns
        with self._lock:
            if not self._built:
                self._build()
                self._built = True
        return self._patterns

    def _build(self) -> None:
        usable: list[tuple[int, bytes]] = []
        for index, sources in enumerate(self._expressions):
            encoded = [source.encode("utf-8") for source in sources if _same_on_ascii(source)]
            if encoded and len(encoded) == len(sources):
                usable.extend((index, source) for source in encoded)
        try:
            self._patterns = compile_set([source for _, source in usable], prefilter=True)
        except PatternError:
            # Some expression is refused (rare: every built-in one compiles). Compiled one by one
            # only then; a detector is covered only when every one of its expressions compiles.
            refused = {index for index, source in usable if not compiles(source, prefilter=True)}
            usable = [(index, source) for index, source in usable if index not in refused]
            self._patterns = compile_set([source for _, source in usable], prefilter=True)
        if self._patterns is not None:
            self._owners = [index for index, _ in usable]
            self.covered = frozenset(self._owners)


def _holds_separator(text: str) -> bool:
    for separator in _SEPARATORS:  # noqa: SIM110 - any() would build a generator per text
        if separator in text:
            return True
    return False


def _same_on_ascii(source: str) -> bool:
    """True when the pattern, as UTF-8 bytes, matches ASCII text where Python's ``re`` does.

    A non-ASCII character of a pattern never matches ASCII text (as bytes neither), unless
    case-insensitive matching pairs it with an ASCII letter (the long s U+017F with ``s``, the
    Kelvin sign with ``k``): such a pattern is left to the gates. So is one using ``{,n}``, which
    Python reads as ``{0,n}`` and the engine as plain characters. Other syntax Python has and the
    engine lacks (``\\u`` escapes, ``(?a)``) fails to compile: left to the gates too.
    """
    if "{," in source:
        return False
    for char in source:
        if not char.isascii():
            for other in (char.lower(), char.upper()):
                if len(other) == 1 and other.isascii():
                    return False
    return True
