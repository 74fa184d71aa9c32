"""Plain substrings a regex cannot match without: a cheap test before the regex runs.

A policy rule's pattern such as ``\\byou should (die|kys)\\b`` is searched in every normalised
text, and Python's regex engine tries it at every position (a leading ``\\b`` defeats its own
literal-prefix scan). Every match of that pattern contains ``"you should "``, so a text without
that substring (found at memchr speed) cannot match and the search is skipped. The needles come
from the parsed pattern: a run of literal characters in its top-level sequence, or a group
(or choice) every alternative of which holds a literal run of its own. Nothing is derived for
a case-insensitive pattern or from inside a group with its own flags, so a needle is always a
true requirement.

:class:`NeedleIndex` finds which of many needles a text holds in one pass: the policy's rules
look their needles up in that set instead of each searching the text for its own. The pass is
Hyperscan's (``operators/multi_pattern.py``: every needle a literal of its UTF-8 bytes, about
2 microseconds for a 1 KB prompt), or where that engine has no wheel an Aho-Corasick automaton
(``pyahocorasick``, about 20).
"""

from __future__ import annotations

import re
import re._constants as sre  # the parser's node names (Python 3.11)
import re._parser as sre_parse
from collections.abc import Iterable
from typing import Any

import ahocorasick

from flywheel.operators.multi_pattern import compile_set, literal


def required_needles(pattern: str) -> tuple[str, ...]:
    """Substrings one of which every match of ``pattern`` contains; empty when none is certain."""
    try:
        parsed = sre_parse.parse(pattern)
    except re.error:
        return ()
    if parsed.state.flags & re.IGNORECASE:
        return ()
    return _sequence_needles(list(parsed)) or ()


def _sequence_needles(items: list[tuple[Any, Any]]) -> tuple[str, ...] | None:
    """Needles of a sequence of nodes, every one of which a match passes through (None: none found)."""
    candidates: list[tuple[str, ...]] = []
    run: list[str] = []
    for op, arg in items:
        if op == sre.LITERAL:
            run.append(chr(arg))
            continue
        if run:
            candidates.append(("".join(run),))
            run = []
        needles = None
        if op == sre.SUBPATTERN:
            _group, add_flags, del_flags, body = arg
            needles = None if add_flags or del_flags else _sequence_needles(list(body))
        elif op == sre.BRANCH:
            needles = _branch_needles(arg[1])
        if needles:
            candidates.append(needles)
    if run:
        candidates.append(("".join(run),))
    if not candidates:
        return None
    # The most selective: the longest shortest needle.
    return max(candidates, key=lambda needles: min(len(needle) for needle in needles))


def _branch_needles(branches: list[Any]) -> tuple[str, ...] | None:
    """A match of a choice is a match of one alternative: the union of theirs (None if one has none)."""
    union: list[str] = []
    for branch in branches:
        needles = _sequence_needles(list(branch))
        if not needles:
            return None
        union.extend(needle for needle in needles if needle not in union)
    return tuple(union)


class NeedleIndex:
    """The needles (of any number of rules) a text contains, found in one pass over the text."""

    def __init__(self, needles: Iterable[str], engine: bool = True) -> None:
        self.needles = frozenset(needle for needle in needles if needle)
        # A needle occurs in a text exactly when its UTF-8 bytes occur in the text's (UTF-8 is
        # self-synchronising), so literal byte patterns decide for any text, not only ASCII.
        self._ordered = sorted(self.needles)
        self._patterns = compile_set([literal(needle) for needle in self._ordered], prefilter=False) if engine else None
        self._automaton = ahocorasick.Automaton(ahocorasick.STORE_ANY, ahocorasick.KEY_STRING)
        if self._patterns is None:
            for needle in self.needles:
                self._automaton.add_word(needle, needle)
            if self.needles:
                self._automaton.make_automaton()

    def found(self, text: str) -> frozenset[str]:
        """Every needle that occurs in ``text`` (overlapping occurrences included)."""
        if not self.needles:
            return frozenset()
        if self._patterns is not None:
            ordered = self._ordered
            return frozenset(ordered[index] for index in self._patterns.matching(text.encode("utf-8", "surrogatepass")))
        return frozenset(needle for _end, needle in self._automaton.iter(text))
