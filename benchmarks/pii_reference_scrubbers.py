"""The plain detectors of the reference PII scan (``benchmarks/pii_reference.py``) and its copied validators.

Copies of the code before the one-pass scan (issue 16): each detector tests its own hint or words,
then runs its pattern; nothing is shared across detectors. Nothing in the flow imports this module.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class SpanDetector:
    """A detector backed by a library: ``find`` yields (start, end) spans to mask."""

    name: str
    find: Callable[[str], Iterator[tuple[int, int]]]
    mask: str
    hint: re.Pattern[str] | None = None
    min_digits: int = 0

    def scrub(self, text: str) -> tuple[str, int]:
        """The text with every found span masked (overlaps merged), and how many there were."""
        if self.hint is not None and self.hint.search(text) is None:
            return text, 0
        spans: list[tuple[int, int]] = []
        for start, end in sorted(self.find(text)):
            if spans and start < spans[-1][1]:
                spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
            else:
                spans.append((start, end))
        for start, end in reversed(spans):
            text = text[:start] + self.mask + text[end:]
        return text, len(spans)


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


def card_ok(match: re.Match[str]) -> bool:
    """A card number: 13-19 digits, a card network's first digit, Luhn-valid."""
    digits = re.sub(r"\D", "", match.group(0))
    return 13 <= len(digits) <= 19 and digits[0] in "23456" and luhn_valid(digits)


def phone_ok(match: re.Match[str]) -> bool:
    """A phone number's digit count, and not a dotted quad."""
    text = match.group(0)
    digits = re.sub(r"\D", "", text)
    # International numbers (+CC, or 00CC as dialled outside North America) carry up to 15
    # digits (E.164) after the prefix; national ones 10 or 11.
    limit = 17 if text.startswith("00") else 15 if text.startswith("+") else 11
    if re.fullmatch(r"0\d{2,4}[ .\-]\d{5,8}", text):
        limit = 12  # a trunk 0 and its own area/mobile block (0151 23456789): the product's rule since round 4
    if not 10 <= len(digits) <= limit:
        return False
    # Dotted quads are IP addresses, not phone numbers.
    return not re.fullmatch(r"\d{1,3}(\.\d{1,3}){3}", text)


def ip_ok(match: re.Match[str]) -> bool:
    """A public IP address (not a version number, nor private, loopback, link-local or multicast)."""
    if re.search(r"(?i)(?:version|release|\bv)\s*$", match.string[max(0, match.start() - 12) : match.start()]):
        return False  # "version 1.2.3.4" is a version number
    try:
        ip = ipaddress.ip_address(match.group(0))
    except ValueError:
        return False
    if ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_unspecified:
        return False
    # Private networks identify nobody; documentation ranges (also "private" to ipaddress)
    # are what examples and test data use for somebody's address, so they are masked.
    private = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
    return not any(
        ip in ipaddress.ip_network(net) for net in private if ip.version == ipaddress.ip_network(net).version
    )


class Scrubber(Protocol):
    """Anything that masks one kind of PII: ``name`` is its policy key."""

    @property
    def name(self) -> str:
        """The policy key (``email``, ``phone``, ...)."""
        ...

    @property
    def min_digits(self) -> int:
        """Digits every match holds (0: none needed)."""
        ...

    def scrub(self, text: str) -> tuple[str, int]:
        """The text with matches masked, and how many there were."""
        ...


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
    # Lower-case substrings one of which every match contains: far cheaper than a (?i) hint.
    words: tuple[str, ...] = ()
    min_digits: int = 0  # digits every match holds: texts with fewer skip the detector

    def scrub(self, text: str) -> tuple[str, int]:
        """The text with valid matches masked, and how many there were."""
        if self.hint is not None and self.hint.search(text) is None:
            return text, 0
        if self.words and not any(word in text.lower() for word in self.words):
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
