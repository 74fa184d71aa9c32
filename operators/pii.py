"""The PII scan used by the policy engine and by every stored row: masks what the detectors find.

The detectors (:mod:`flywheel.operators.pii_detectors`) run in a fixed order and each masks its
matches before the next runs, so a card number is never also counted as a phone number.

A scan is one pass per text: a Hyperscan prefilter (``operators/pii_prefilter.py``) says which
detectors can match an ASCII text, and cheap gates (``operators/pii_gates.py``) decide for the
rest, so a detector's pattern runs only where it can match; a text with nothing found comes back
as the same object, and each text's full scan is remembered (:func:`scan_all`) so the policy
gate, the rows and the review message built from one event share it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

from flywheel.operators.normalize import compatibility_view
from flywheel.operators.pii_detectors import DETECTORS, MASKS, Detector, Scrubber
from flywheel.operators.pii_gates import Clues, ScanMemo, TextScan
from flywheel.operators.pii_prefilter import Prefilter


def placeholders(text: str, allowed: str = "") -> list[str]:
    """The masks ``text`` holds that ``allowed`` does not (a prompt asking for "[EMAIL]" allows it)."""
    return [mask for mask in MASKS if mask in text and mask not in allowed]


def prefilter_expressions(detector: Scrubber) -> list[str]:
    """Regex sources one of which every match of ``detector`` matches (empty: none known).

    A pattern detector: its pattern. A library-backed one: per hint, its pattern (or its needles):
    what the hint's gate requires; with no hints, its ``min_digits`` digits. A hint requiring
    nothing leaves the detector uncovered.
    """
    if isinstance(detector, Detector):
        return [detector.pattern.pattern]
    if not detector.hints and detector.min_digits:
        # Only the digits are known: that many ASCII digits anywhere (the engine reads ASCII only).
        return [f"[0-9](?:[^0-9]*[0-9]){{{detector.min_digits - 1}}}"]
    sources: list[str] = []
    for hint in detector.hints:
        if hint.pattern is not None:
            sources.append(hint.pattern.pattern)
        elif hint.needles:
            sources.append("|".join(re.escape(needle) for needle in hint.needles))
        else:
            return []
    return sources


_PREFILTER = Prefilter([prefilter_expressions(detector) for detector in DETECTORS])


# About two source batches of the realistic mix's scanned texts (~8 MB of ASCII).
_MEMO = ScanMemo(max_chars=8_000_000)


def clear_scan_memo() -> None:
    """Forget every remembered scan (benchmarks start cold; results never depend on it)."""
    _MEMO.clear()


def scan_all(text: str) -> TextScan:
    """The text scanned by every detector, from the memo when it was scanned lately."""
    result = _MEMO.get(text)
    if result is None:
        scrubbed, counts = revealed(text, None, _masked)
        result = TextScan(scrubbed, tuple(counts.items()))
        _MEMO.put(text, result)
    return result


def scan(text: str, names: frozenset[str] | set[str] | None = None) -> tuple[str, Counter[str]]:
    """Mask every match of the named detectors (all when None); return text and counts by name.

    A subset of detectors gives what the full scan gives whenever the full scan found only
    detectors of that subset (the others masked nothing, so every detector saw the same text):
    then, and for a clean text, the full scan's result is used; otherwise the subset runs.
    """
    full = scan_all(text)
    if names is None or all(name in names for name, _ in full.counts):
        return full.scrubbed, Counter(dict(full.counts))
    return revealed(text, names, _masked)


Scanner = Callable[[str, "frozenset[str] | set[str] | None"], tuple[str, Counter[str]]]


def revealed(text: str, names: frozenset[str] | set[str] | None, scanner: Scanner) -> tuple[str, Counter[str]]:
    """``scanner``'s result on ``text``, or on its compatibility view where that finds more.

    Full-width digits, no-break or narrow spaces and zero-width characters hide a card number, an
    IBAN or an e-mail address from patterns written for ASCII (``4111\u00a01111...``). The view
    (``normalize.compatibility_view``) undoes them; where it holds PII, and no less than the text,
    the view's scrubbed form is what is stored (``jane\u200b.doe@example.com`` is one address, not
    ``jane`` and an address): its compatibility forms are undone too (the text's meaning is the
    same, its invisible characters are gone).
    """
    found = scanner(text, names)
    view = compatibility_view(text)
    if view is text:
        return found
    shown = scanner(view, names)
    return shown if shown[1].total() >= max(1, found[1].total()) else found


def _masked(text: str, names: frozenset[str] | set[str] | None) -> tuple[str, Counter[str]]:
    """Run the detectors in order, each on the text the earlier ones masked."""
    counts: Counter[str] = Counter()
    # The detectors that may match, in one pass (None: the gates decide, detector by detector).
    candidates = _PREFILTER.candidates(text)
    covered = _PREFILTER.covered
    clues: Clues | None = None  # read only for a detector the prefilter does not decide
    for index, detector in enumerate(DETECTORS):
        if names is not None and detector.name not in names:
            continue
        if candidates is not None and index in covered:
            if index not in candidates:
                continue
        else:
            if clues is None:
                clues = Clues(text)
            if clues.digits < detector.min_digits or not detector.may_match(clues):
                continue
        text, found = detector.scrub(text)
        if found:
            counts[detector.name] += found
            # Later detectors look at the masked text, as their patterns do.
            clues = None
            candidates = _PREFILTER.candidates(text)
    return text, counts
