"""Built-in PII and secret detectors used by the policy engine.

Each detector is a regex plus an optional validator (Luhn for cards, mod-97 for IBANs,
Shannon entropy for generic secrets) that weeds out look-alikes. Detectors run in a fixed
order and each masks its matches before the next runs, so a card number is never also
counted as a phone number.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field


def luhn_valid(digits: str) -> bool:
    """True when the digit string passes the Luhn checksum (payment card numbers)."""
    if not digits.isdigit():
        return False
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def iban_valid(candidate: str) -> bool:
    """True when the text (spaces allowed) is an IBAN with a valid ISO 13616 mod-97 check."""
    iban = candidate.replace(" ", "").upper()
    if not 15 <= len(iban) <= 34 or not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]+", iban):
        return False
    rearranged = iban[4:] + iban[:4]
    number = "".join(str(int(char, 36)) for char in rearranged)
    return int(number) % 97 == 1


def shannon_entropy(text: str) -> float:
    """Bits per character of the text's character distribution."""
    if not text:
        return 0.0
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def _card_ok(match: re.Match[str]) -> bool:
    digits = re.sub(r"\D", "", match.group(0))
    return 13 <= len(digits) <= 19 and digits[0] in "23456" and luhn_valid(digits)


def _phone_ok(match: re.Match[str]) -> bool:
    text = match.group(0)
    digits = re.sub(r"\D", "", text)
    # International numbers (+CC) carry up to 15 digits (E.164); national ones 10 or 11.
    if not 10 <= len(digits) <= (15 if text.startswith("+") else 11):
        return False
    # Dotted quads are IP addresses, not phone numbers.
    return not re.fullmatch(r"\d{1,3}(\.\d{1,3}){3}", text)


def _secret_ok(match: re.Match[str]) -> bool:
    value = match.group("secret")
    has_letter = any(c.isalpha() for c in value)
    has_digit = any(c.isdigit() for c in value)
    return has_letter and has_digit and shannon_entropy(value) >= 3.5


@dataclass(frozen=True)
class Detector:
    """One PII or secret pattern: ``name`` is the policy key, ``mask`` replaces matches."""

    name: str
    pattern: re.Pattern[str]
    mask: str
    validate: Callable[[re.Match[str]], bool] = field(default=lambda _m: True)
    group: str | None = None  # mask only this named group (keeps e.g. "Bearer ")
    # A cheap pattern every match must contain: texts without it skip the costly pattern.
    hint: re.Pattern[str] | None = None

    def scrub(self, text: str) -> tuple[str, int]:
        """The text with valid matches masked, and how many there were."""
        if self.hint is not None and self.hint.search(text) is None:
            return text, 0
        count = 0

        def replace(match: re.Match[str]) -> str:
            nonlocal count
            if not self.validate(match):
                return match.group(0)
            count += 1
            if self.group is None:
                return self.mask
            start, end = match.span(self.group)
            whole_start = match.start()
            whole = match.group(0)
            return whole[: start - whole_start] + self.mask + whole[end - whole_start :]

        return self.pattern.sub(replace, text), count


DETECTORS: tuple[Detector, ...] = (
    Detector(
        "api_key",
        re.compile(
            r"\bsk-(?:proj-|ant-)?[A-Za-z0-9_\-]{20,}"
            r"|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"
            r"|\bgh[pousr]_[A-Za-z0-9]{36,}\b"
            r"|\bgithub_pat_[A-Za-z0-9_]{22,}\b"
            r"|\bxox[abprs]-[A-Za-z0-9\-]{10,}"
            r"|\bAIza[0-9A-Za-z_\-]{35}\b"
            r"|\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"
            r"|-----BEGIN (?:RSA |EC |DSA |OPENSSH )?PRIVATE KEY-----"
        ),
        "[API_KEY]",
        # The alternation above costs ~10x this literal scan on ordinary text.
        hint=re.compile(r"sk-|AKIA|ASIA|gh[pousr]_|github_pat_|xox[abprs]-|AIza|eyJ|-----BEGIN"),
    ),
    Detector(
        "api_key",
        re.compile(
            r"(?i)\b(?:bearer|token|api[_-]?key|secret|password|passwd|access[_-]?key)"
            r"[\"']?\s*[:=]?\s*[\"']?(?P<secret>[A-Za-z0-9._~+/=\-]{16,})"
        ),
        "[API_KEY]",
        _secret_ok,
        group="secret",
    ),
    Detector(
        "iban",
        re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b"),
        "[IBAN]",
        lambda m: iban_valid(m.group(0)),
    ),
    Detector("payment_card", re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-])"), "[CARD]", _card_ok),
    Detector(
        "national_id",
        re.compile(
            r"\b(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}\b"  # US SSN
            r"|\b(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b"
        ),
        "[NATIONAL_ID]",
    ),
    Detector(
        "email",
        re.compile(r"\b[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}\b"),
        "[EMAIL]",
    ),
    Detector(
        "phone",
        re.compile(r"(?<![\w+])(?:\+\d{1,3}[ .\-]?)?(?:\(\d{1,4}\)[ .\-]?)?\d{2,4}(?:[ .\-]\d{2,4}){1,4}(?!\w)"),
        "[PHONE]",
        _phone_ok,
    ),
)

DETECTOR_NAMES: tuple[str, ...] = tuple(dict.fromkeys(d.name for d in DETECTORS))


def scan(text: str, names: frozenset[str] | set[str] | None = None) -> tuple[str, Counter[str]]:
    """Mask every match of the named detectors (all when None); return text and counts by name."""
    counts: Counter[str] = Counter()
    for detector in DETECTORS:
        if names is not None and detector.name not in names:
            continue
        text, found = detector.scrub(text)
        if found:
            counts[detector.name] += found
    return text, counts
