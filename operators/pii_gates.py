"""What keeps the PII scan cheap: gates in front of each detector, and a memo of recent scans.

The gates say what a text must contain before a detector's pattern can match.

A text's :class:`Clues` are read once per text (not once per detector): the digit count, the
lower-cased text and, for ASCII text (nearly all of it), two *shapes* built by one C-level
``bytes.translate`` each. In the shape every digit reads ``9`` and every capital ``A``, so a
hint such as ``[A-Z]{2}\\d{2}`` is the plain substring test ``b"AA99" in shape`` (memchr
speed, not a regex walk of the text). In the run shape every character of a key-like run
(``[A-Za-z0-9_+/=.:-]``) reads ``w``, so "a run of 20" is ``b"w" * 20 in runs``.

Each :class:`Hint` is *exact*: on ASCII text its shape test finds what its regex would find,
and otherwise the regex itself runs. A gate only skips a detector whose pattern cannot match,
so the gates change the cost of a scan, never its result (``tests/operators/test_pii_one_pass.py``
compares every scan with the previous implementation). The memo (:class:`ScanMemo`) keeps
each text's full scan, so the policy gate, the rows and the review message built from one event
share one scan per text.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

_DIGIT = re.compile(r"\d")
_UPPER = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_SHAPE = bytes.maketrans(b"0123456789" + _UPPER, b"9" * 10 + b"A" * 26)
_RUN_CHARS = b"0123456789" + _UPPER + _UPPER.lower() + b"_-+/=.:"
_RUNS = bytes(ord("w") if byte in _RUN_CHARS else ord(" ") for byte in range(256))


class Clues:
    """What the gates read from one text, each worked out at most once."""

    __slots__ = ("_lower", "_runs", "digits", "shape", "text")

    def __init__(self, text: str, digits: int | None = None) -> None:
        self.text = text
        # None for non-ASCII text: there, every hint runs its regex.
        self.shape: bytes | None = text.encode("ascii").translate(_SHAPE) if text.isascii() else None
        if digits is not None:
            self.digits = digits
        elif self.shape is not None:
            self.digits = self.shape.count(b"9")
        else:
            self.digits = len(_DIGIT.findall(text))
        self._lower: str | None = None
        self._runs: bytes | None = None

    @property
    def lower(self) -> str:
        """The text lower-cased (for ``words`` gates)."""
        if self._lower is None:
            self._lower = self.text.lower()
        return self._lower

    @property
    def runs(self) -> bytes:
        """The ASCII text with every key-like character as ``w`` and every other as a space."""
        if self._runs is None:
            self._runs = self.text.encode("ascii").translate(_RUNS)
        return self._runs


NeedleGroups = tuple[tuple[str, tuple[str, ...]], ...]


def needle_groups(needles: tuple[str, ...]) -> NeedleGroups:
    """The needles grouped under one character each of them contains.

    The character is the needle's rarest in English prose (capitals, digits and signs before
    lower-case letters, ``z`` before ``e``), so one C-level ``memchr`` rules out a whole group
    at once.
    """
    groups: dict[str, list[str]] = {}
    for needle in needles:
        key = max(needle, key=_rarity)
        groups.setdefault(key, []).append(needle)
    return tuple((key, tuple(group)) for key, group in groups.items())


# Lower-case letters and the space, most common in English text first.
_COMMON = " etaoinshrdlcumwfgypbvkjxqz"


def _rarity(char: str) -> int:
    return _COMMON.index(char) if char in _COMMON else len(_COMMON)


def has_needle(text: str, groups: NeedleGroups, count: int = 1) -> bool:
    """True when one of the grouped needles is in the text (``count`` times at least)."""
    for char, needles in groups:
        if char in text:
            for needle in needles:
                if needle in text and (count == 1 or text.count(needle) >= count):
                    return True
    return False


@dataclass(frozen=True)
class Hint:
    """One thing every match of a detector (or of one branch of its pattern) contains.

    Tested in order: one of ``needles`` (plain substrings) must be in the text, ``needle_count``
    times at least; then, for ASCII text, one of ``shapes`` must be in its shape (or a key-like
    run of ``run`` characters must exist), which is exactly where ``pattern`` would match; for
    other text, ``pattern`` itself (no pattern: the needles decide).
    """

    pattern: re.Pattern[str] | None = None
    needles: tuple[str, ...] = ()
    needle_count: int = 1
    shapes: tuple[bytes, ...] = ()
    run: int = 0
    groups: NeedleGroups = field(init=False, repr=False, compare=False)
    run_needle: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "groups", needle_groups(self.needles))
        object.__setattr__(self, "run_needle", b"w" * self.run)

    def found(self, clues: Clues) -> bool:
        """True when the text may hold a match (exactly when ``pattern`` would find one)."""
        # Plain loops, no generators: this runs for every detector on every text.
        text = clues.text
        if self.groups and not has_needle(text, self.groups, self.needle_count):
            return False
        shape = clues.shape
        if shape is not None:
            if self.run:
                return self.run_needle in clues.runs
            if self.shapes:
                for part in self.shapes:  # noqa: SIM110 - any() would build a generator per text
                    if part in shape:
                        return True
                return False
        return self.pattern is None or self.pattern.search(text) is not None


def gates_pass(hints: tuple[Hint, ...], words: NeedleGroups, clues: Clues) -> bool:
    """True when a detector with these hints and (grouped) words may match the text (none: always)."""
    if hints:
        for hint in hints:
            if hint.found(clues):
                break
        else:
            return False
    return not words or has_needle(clues.lower, words)


@dataclass(frozen=True)
class TextScan:
    """One text scanned by every detector: its masked copy and the matches of each kind.

    ``counts`` is in detector order; empty means nothing matched, and ``scrubbed`` is then the
    text object itself (nothing rebuilt).
    """

    scrubbed: str
    counts: tuple[tuple[str, int], ...]


class ScanMemo:
    """The latest scans by text, up to a budget of characters (oldest out first); thread-safe.

    An event's texts are scanned by the policy gate and scrubbed again by every row and review
    message built from it, steps apart in the dataflow: the memo makes that one scan per text.
    """

    def __init__(self, max_chars: int) -> None:
        self._max_chars = max_chars
        self._chars = 0
        self._scans: OrderedDict[str, TextScan] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, text: str) -> TextScan | None:
        """The remembered scan of the text, if any."""
        with self._lock:
            return self._scans.get(text)

    def put(self, text: str, result: TextScan) -> None:
        """Remember a scan, forgetting the oldest ones beyond the budget."""
        with self._lock:
            if text in self._scans:
                return
            self._scans[text] = result
            self._chars += len(text)
            while self._chars > self._max_chars and self._scans:
                oldest, _ = self._scans.popitem(last=False)
                self._chars -= len(oldest)

    def clear(self) -> None:
        """Forget every scan."""
        with self._lock:
            self._scans.clear()
            self._chars = 0
