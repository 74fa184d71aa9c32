"""The PII scan as it was before the one-pass scan (issue 16), kept as a reference.

``tests/operators/test_pii_one_pass.py`` checks that :func:`flywheel.operators.pii.scan` gives
exactly what :func:`reference_scan` gives (masked text and counts, any detector subset), and
``benchmarks/pii_stage.py`` measures both on the same events in the same run. The detector
table, validators and library-backed matchers below are copies of the previous code, so a
later change to ``operators/pii.py`` or ``operators/pii_detectors.py`` is compared with what the
product did before it. Detectors
added since (passwords in URLs and given for a password, IBANs in any case) are here in the
same plain form with the product's patterns and validators: what is compared is how the scan
runs them.
Nothing in the flow imports this module.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from flywheel.operators.pii import revealed
from flywheel.operators.pii_matchers import phone_after_word_ok, phone_spans, secret_spans
from flywheel.operators.pii_secrets import (
    BASIC_AUTH,
    CLI_PASSWORD,
    KEYWORD_SECRET,
    PROVIDER_KEY,
    STATED_PASSWORD,
    URL_PASSWORD,
    basic_auth_ok,
    cli_password_ok,
    secret_ok,
    stated_password_ok,
    url_password_ok,
)
from flywheel.operators.pii_validators import (
    ADDRESS_WORDS,
    DATE_OF_BIRTH,
    DOTTED_CARD,
    EMAIL_AT_WORD,
    FOREIGN_STREET,
    FOREIGN_STREET_WORDS,
    IBAN,
    LOWER_STREET,
    NAMED_EMAIL_AT_WORD,
    NIR,
    NIR_AFTER_WORD,
    NIR_WORDS,
    PASSPORT,
    PASSPORT_WORDS,
    PERCENT_EMAIL,
    PHONE_AFTER_WORD,
    PHONE_WORDS,
    PHONE_WORDS_CJK,
    QUOTED_EMAIL,
    SSN_AFTER_WORD,
    STREET,
    UNICODE_EMAIL,
    WEBMAIL_WORDS,
    email_at_word_ok,
    email_ok,
    iban_ok,
    named_email_at_word_ok,
    nir_ok,
    passport_ok,
    percent_email_ok,
)


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
    # International numbers (+CC, or 00CC as dialled outside North America) carry up to 15
    # digits (E.164) after the prefix; national ones 10 or 11.
    limit = 17 if text.startswith("00") else 15 if text.startswith("+") else 11
    if re.fullmatch(r"0\d{2,4}[ .\-]\d{5,8}", text):
        limit = 12  # a trunk 0 and its own area/mobile block (0151 23456789): the product's rule since round 4
    if not 10 <= len(digits) <= limit:
        return False
    # Dotted quads are IP addresses, not phone numbers.
    return not re.fullmatch(r"\d{1,3}(\.\d{1,3}){3}", text)


def _ip_ok(match: re.Match[str]) -> bool:
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


_DIGIT = re.compile(r"\d")


DETECTORS: tuple[Scrubber, ...] = (
    # The provider keys (PEM blocks whole, Hugging Face tokens) and the secret-named values as the
    # product has them since the second PII audit, with its validator: the patterns are shared.
    Detector(
        "api_key",
        PROVIDER_KEY,
        "[API_KEY]",
        hint=re.compile(r"sk-|AKIA|ASIA|gh[pousr]_|github_pat_|hf_|xox[abprs]-|AIza|eyJ|-----BEGIN"),
    ),
    Detector(
        "api_key",
        KEYWORD_SECRET,
        "[API_KEY]",
        secret_ok,
        group="secret",
        words=("bearer", "token", "key", "secret", "passw"),
    ),
    SpanDetector(
        "api_key",
        secret_spans,
        "[API_KEY]",
        # Every provider key is a run of 20+ non-space characters, or a PEM header.
        hint=re.compile(r"[\w\-+/=.:]{20,}|BEGIN"),
    ),
    # Added after the one-pass scan, with the product's validators: passwords in URLs and given
    # for a password, and IBANs in any case.
    Detector(
        "api_key",
        URL_PASSWORD,
        "[API_KEY]",
        url_password_ok,
        group="secret",
        hint=re.compile("://"),
    ),
    Detector(
        "api_key",
        STATED_PASSWORD,
        "[API_KEY]",
        stated_password_ok,
        group="secret",
        words=("passw", "passphrase", "pwd", "secret"),
    ),
    Detector("api_key", BASIC_AUTH, "[API_KEY]", basic_auth_ok, group="secret", words=("basic",)),
    Detector("api_key", CLI_PASSWORD, "[API_KEY]", cli_password_ok, group="secret", words=("curl", "mysql")),
    Detector(
        "iban",
        IBAN,
        "[IBAN]",
        iban_ok,
        min_digits=4,
        hint=re.compile(r"[A-Za-z]{2}\d{2}"),
    ),
    Detector("national_id", NIR, "[NATIONAL_ID]", nir_ok, min_digits=14),
    Detector("national_id", NIR_AFTER_WORD, "[NATIONAL_ID]", group="number", min_digits=14, words=NIR_WORDS),
    Detector(
        "payment_card",
        re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-])"),
        "[CARD]",
        _card_ok,
        min_digits=13,
    ),
    Detector("payment_card", DOTTED_CARD, "[CARD]", _card_ok, min_digits=13),
    Detector(
        "national_id",
        re.compile(
            r"\b(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}\b"  # US SSN
            r"|\b(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b"
        ),
        "[NATIONAL_ID]",
        min_digits=6,
        hint=re.compile(r"\d{3}-\d{2}-|[A-Z]{2} ?\d{2}"),
    ),
    Detector("national_id", SSN_AFTER_WORD, "[NATIONAL_ID]", group="number", min_digits=9, words=("ssn", "social")),
    Detector("national_id", PASSPORT, "[NATIONAL_ID]", passport_ok, "number", min_digits=5, words=PASSPORT_WORDS),
    Detector(
        "email",
        re.compile(r"\b[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}\b"),
        "[EMAIL]",
        # git@github.com (ssh -T, clone URLs) is a git host's SSH login, nobody's address.
        lambda m: not m.group(0).startswith("git@"),
        hint=re.compile("@"),
    ),
    Detector("email", UNICODE_EMAIL, "[EMAIL]", email_ok, hint=re.compile("@")),
    Detector(  # jane(at)example(dot)com, bob [at] mail [dot] org, kim at corp dot net
        "email",
        re.compile(
            r"(?i)\b[a-z0-9._%+\-]+\s*(?:\(at\)|\[at\]|\{at\}|<at>|\sat\s)\s*[a-z0-9\-]+"
            r"(?:\s*(?:\(dot\)|\[dot\]|\{dot\}|<dot>|\[\.\]|\(\.\)|\sdot\s|\.)\s*[a-z0-9\-]+)*"
            r"(?:\s*(?:\(dot\)|\[dot\]|\{dot\}|<dot>|\[\.\]|\(\.\))\s*[a-z]{2,24}"
            r"|\s*\sdot\s\s*(?:com|org|net|edu|gov|io|co|uk|de|fr|nl|eu|info|biz|me|dev|ai))\b"
        ),
        "[EMAIL]",
        words=("dot", "[.]", "(.)"),
    ),
    Detector(  # jane(at)example.com, bob [at] mail.org: a bracketed "at" is never prose
        "email",
        re.compile(
            r"(?i)\b[a-z0-9._%+\-]+\s*(?:\(at\)|\[at\]|\{at\}|<at>)\s*[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.[a-z]{2,}\b"
        ),
        "[EMAIL]",
        words=("at)", "at]", "at}", "at>"),
    ),
    Detector("email", EMAIL_AT_WORD, "[EMAIL]", email_at_word_ok, words=WEBMAIL_WORDS),
    Detector("email", NAMED_EMAIL_AT_WORD, "[EMAIL]", named_email_at_word_ok, words=(" at ",)),
    Detector("email", PERCENT_EMAIL, "[EMAIL]", percent_email_ok, words=("%40",)),
    Detector("email", QUOTED_EMAIL, "[EMAIL]", words=('"@',)),
    Detector(
        "ip_address",
        re.compile(
            r"(?<![\w.:])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?!\w|\.\d)"
            r"|(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){1,7}(?::|(?::?[0-9A-Fa-f]{1,4}){1,7})(?![\w:])"
        ),
        "[IP]",
        _ip_ok,
        hint=re.compile(r"\d\.\d|[0-9A-Fa-f]:[0-9A-Fa-f:]*:"),
    ),
    Detector(
        "date_of_birth",
        DATE_OF_BIRTH,
        "[DATE_OF_BIRTH]",
        group="date",
        min_digits=4,
        words=("born", "dob", "d.o.b", "birth"),
    ),
    SpanDetector("phone", phone_spans, "[PHONE]", min_digits=7),
    Detector(  # a local number (555-0134) is a phone number only next to a word that says so
        "phone",
        re.compile(
            r"(?i)\b(?:call|phone|tel|mobile|cell|text|sms|whatsapp|fax|reach)\b[^\n\d]{0,20}"
            r"(?P<number>(?<!\d)\d{3}[ .\-]\d{4}(?!\d))"
        ),
        "[PHONE]",
        group="number",
        min_digits=7,
        words=("call", "phone", "tel", "mobile", "cell", "text", "sms", "whatsapp", "fax", "reach"),
    ),
    Detector(  # added after the one-pass scan, with the product's validator
        "phone",
        PHONE_AFTER_WORD,
        "[PHONE]",
        phone_after_word_ok,
        group="number",
        words=PHONE_WORDS + PHONE_WORDS_CJK,
        min_digits=8,
    ),
    Detector(
        "phone",
        re.compile(
            r"(?<![\w+])(?:(?:\+|00)\d{1,3}[ .\-]?)?(?:\(\d{1,4}\)[ .\-]?)?\d{2,5}(?:[ .\-]\d{2,4}){1,4}(?!\w)"
            # a national number: trunk 0, area code, subscriber number in one block (07700 900461)
            r"|(?<![\w+])0\d{2,4}[ .\-]\d{5,8}(?!\w)"
        ),
        "[PHONE]",
        _phone_ok,
        min_digits=7,
    ),
    Detector(
        "street_address",
        STREET,
        "[ADDRESS]",
        min_digits=1,
        hint=re.compile(r"\d[A-Z]? [A-Z]|(?:straße|strasse|weg|gasse|platz|allee) \d"),
    ),
    Detector("street_address", FOREIGN_STREET, "[ADDRESS]", min_digits=1, words=FOREIGN_STREET_WORDS),
    Detector("street_address", LOWER_STREET, "[ADDRESS]", group="address", min_digits=1, words=ADDRESS_WORDS),
)

DETECTOR_NAMES: tuple[str, ...] = tuple(dict.fromkeys(d.name for d in DETECTORS))


def reference_scan(text: str, names: frozenset[str] | set[str] | None = None) -> tuple[str, Counter[str]]:
    """Mask every match of the named detectors (all when None); return text and counts by name.

    As the product does since the second PII audit, the text's compatibility view is scanned
    too where it differs (``operators/pii.revealed``): what is compared is how each scan runs.
    """
    return revealed(text, names, _plain_scan)


def _plain_scan(text: str, names: frozenset[str] | set[str] | None) -> tuple[str, Counter[str]]:
    counts: Counter[str] = Counter()
    # Counted once: most detectors need digits, and most texts have few (cheap skip).
    digits = len(_DIGIT.findall(text))
    for detector in DETECTORS:
        if names is not None and detector.name not in names:
            continue
        if digits < detector.min_digits:
            continue
        text, found = detector.scrub(text)
        if found:
            counts[detector.name] += found
    return text, counts
