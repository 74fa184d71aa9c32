"""The PII and secret detectors, in the order a scan runs them: the policy keys, patterns and masks.

Most detectors are a regex plus an optional validator (``operators/pii_validators.py``
and ``operators/pii_secrets.py``: Luhn for cards, mod-97 for IBANs, Shannon entropy for generic
secrets, :mod:`ipaddress` for IPs, a placeholder test for passwords) that weeds out look-alikes.
Maintained offline libraries sit beside them: ``detect-secrets``' provider plugins (AWS,
GitHub, GitLab, Slack, Stripe, OpenAI, JWT, private keys, ...) for keys, and Google's
``phonenumbers`` matcher for phone numbers in any format it can validate.

Beyond the plain formats: obfuscated e-mail addresses (``jane(at)example(dot)com``,
``jane @ acme.com``, ``bill at gmail.com``, ``jane_doe at acme.com``, ``email me at bill at acme.com``,
``john%40gmail.com``, ``"john smith"@example.com``; :mod:`flywheel.operators.pii_email`), IPv4 and
IPv6 addresses except private, loopback, link-local and shared ranges (an RFC 1918 address
identifies nobody), street addresses (house number, name, street type; in lower case after a word
for an address), dates right after "DOB", "date of birth", "birthday is" or "born" the verb (not "a
born leader", nor another date near "birthday"), passport and medical record numbers after their
word, passwords in a URL (``scheme://user:pw@host``) or given for a password (``password: X``,
``the password is X``; not ``<password>`` or ``****``), and IBANs in any case or dashed groups.

:mod:`flywheel.operators.pii` runs them (one pass per text); each detector's ``hints``, ``words``
and ``min_digits`` are the cheap gates it stands behind.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from flywheel.operators.pii_email import (
    BRACKETED_EMAIL,
    BRACKETED_EMAIL_WORDS,
    CUED_EMAIL_AT_WORD,
    EMAIL_AT_WORD,
    EMAIL_CUE_WORDS,
    NAMED_EMAIL_AT_WORD,
    PERCENT_EMAIL,
    QUOTED_EMAIL,
    SPELLED_EMAIL,
    SPELLED_EMAIL_WORDS,
    UNICODE_EMAIL,
    WEBMAIL_WORDS,
    bracketed_email_ok,
    cued_email_ok,
    email_at_word_ok,
    email_ok,
    named_email_at_word_ok,
    percent_email_ok,
)
from flywheel.operators.pii_gates import Clues, Hint, NeedleGroups, gates_pass, needle_groups
from flywheel.operators.pii_matchers import (
    SpanDetector,
    masked_matches,
    phone_after_word_ok,
    phone_spans,
    secret_spans,
)
from flywheel.operators.pii_national_ids import ID_AFTER_WORDS, ID_SHAPE, id_shape_ok
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
    FOREIGN_STREET,
    FOREIGN_STREET_WORDS,
    IBAN,
    LOWER_STREET,
    MEDICAL_RECORD,
    MEDICAL_RECORD_WORDS,
    NIR,
    NIR_AFTER_WORD,
    NIR_WORDS,
    PASSPORT,
    PASSPORT_WORDS,
    PHONE_AFTER_WORD,
    PHONE_WORDS,
    PHONE_WORDS_CJK,
    SSN_AFTER_WORD,
    STREET,
    card_ok,
    iban_ok,
    ip_ok,
    medical_record_ok,
    nir_ok,
    passport_ok,
    phone_ok,
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

    @property
    def hints(self) -> tuple[Hint, ...]:
        """Cheap tests one of which every match passes (none: no such test)."""
        ...

    def may_match(self, clues: Clues) -> bool:
        """False when the cheap gates rule out any match in the text."""
        ...

    def scrub(self, text: str) -> tuple[str, int]:
        """The text with matches masked, and how many there were (the same object when none)."""
        ...


@dataclass(frozen=True)
class Detector:
    """One PII or secret pattern: ``name`` is the policy key, ``mask`` replaces matches."""

    name: str
    pattern: re.Pattern[str]
    mask: str
    validate: Callable[[re.Match[str]], bool] = field(default=lambda _m: True)
    group: str | None = None  # mask only this named group (keeps e.g. "Bearer ")
    # Cheap tests one of which every match passes: texts passing none skip the costly pattern.
    hints: tuple[Hint, ...] = ()
    # Lower-case substrings one of which every match contains: far cheaper than a (?i) hint.
    words: tuple[str, ...] = ()
    min_digits: int = 0  # digits every match holds: texts with fewer skip the detector
    word_groups: NeedleGroups = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "word_groups", needle_groups(self.words))

    def may_match(self, clues: Clues) -> bool:
        """False when the hints or words rule out any match in the text."""
        return gates_pass(self.hints, self.word_groups, clues)

    def scrub(self, text: str) -> tuple[str, int]:
        """The text with valid matches masked, and how many there were (the same object when none)."""
        return masked_matches(self.pattern, self.validate, self.group, self.mask, text)


# What every match of the provider-key alternation starts with (gh[pousr]_ and xox[abprs]- spelled out).
_KEY_PREFIXES = (
    *("sk-", "AKIA", "ASIA", "github_pat_", "hf_", "AIza", "eyJ", "-----BEGIN"),
    *(f"gh{letter}_" for letter in "pousr"),
    *(f"xox{letter}-" for letter in "abprs"),
)


DETECTORS: tuple[Scrubber, ...] = (
    Detector(
        "api_key",
        PROVIDER_KEY,
        "[API_KEY]",
        # Every match starts with one of these literals: plain substring tests, no regex walk.
        hints=(Hint(needles=_KEY_PREFIXES),),
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
        hints=(Hint(re.compile(r"[\w\-+/=.:]{20,}"), run=20), Hint(needles=("BEGIN",))),
    ),
    Detector(  # credentials in a URL: postgres://admin:S3cr3t@db.internal/shop (not user@host)
        "api_key",
        URL_PASSWORD,
        "[API_KEY]",
        url_password_ok,
        group="secret",
        hints=(Hint(needles=("://",)),),
    ),
    Detector(  # a password given: "password: X", "DB_PASSWORD=X", "the admin password is X"
        "api_key",
        STATED_PASSWORD,
        "[API_KEY]",
        stated_password_ok,
        group="secret",
        words=("passw", "passphrase", "pwd", "secret"),
    ),
    # Authorization: Basic dXNlcjpwYXNz (base64 of user:password)
    Detector("api_key", BASIC_AUTH, "[API_KEY]", basic_auth_ok, group="secret", words=("basic",)),
    # curl -u admin:S3cret, mysql -pS3cret
    Detector("api_key", CLI_PASSWORD, "[API_KEY]", cli_password_ok, group="secret", words=("curl", "mysql")),
    Detector(
        "iban",
        IBAN,  # in capitals; in other cases or dashed groups with the country's length (pii_validators)
        "[IBAN]",
        iban_ok,
        min_digits=4,
        hints=(Hint(re.compile(r"[A-Za-z]{2}\d{2}")),),
    ),
    # A French NIR (1 85 05 78 006 084 91) with its key checked, before the cards: 15 digits, one in ten
    # passes Luhn. After "sécurité sociale", "NIR" ... any key.
    Detector("national_id", NIR, "[NATIONAL_ID]", nir_ok, min_digits=14),
    Detector("national_id", NIR_AFTER_WORD, "[NATIONAL_ID]", group="number", min_digits=14, words=NIR_WORDS),
    # Other countries' ids and tax numbers checked by python-stdnum (pii_national_ids), before the cards: a CPF, CNPJ,
    # RRN or Chinese id may pass Luhn too. A distinctive shape alone; any written shape after a word naming it.
    Detector("national_id", ID_SHAPE, "[NATIONAL_ID]", id_shape_ok, min_digits=4),
    *ID_AFTER_WORDS,
    Detector(
        "payment_card",
        re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-])"),
        "[CARD]",
        card_ok,
        min_digits=13,
    ),
    Detector("payment_card", DOTTED_CARD, "[CARD]", card_ok, min_digits=13),
    Detector(
        "national_id",
        re.compile(
            r"\b(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}\b"  # US SSN
            r"|\b(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b"
        ),
        "[NATIONAL_ID]",
        min_digits=6,
        hints=(
            Hint(re.compile(r"\d{3}-\d{2}-"), needles=("-",), shapes=(b"999-99-",)),
            Hint(re.compile(r"[A-Z]{2} ?\d{2}"), shapes=(b"AA99", b"AA 99")),
        ),
    ),
    Detector(  # SSN 123 45 6789: without its dashes only after a word that says so
        "national_id",
        SSN_AFTER_WORD,
        "[NATIONAL_ID]",
        group="number",
        min_digits=9,
        words=("ssn", "social"),
    ),
    Detector("national_id", PASSPORT, "[NATIONAL_ID]", passport_ok, "number", min_digits=5, words=PASSPORT_WORDS),
    Detector(  # MRN 00482913, medical record number 12345678, patient ID 77812: identifies a patient
        "national_id",
        MEDICAL_RECORD,
        "[NATIONAL_ID]",
        medical_record_ok,
        "number",
        min_digits=5,
        words=MEDICAL_RECORD_WORDS,
    ),
    Detector(
        "email",
        re.compile(r"\b[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}\b"),
        "[EMAIL]",
        email_ok,  # git@github.com (ssh -T, clone URLs) is a git host's SSH login, nobody's address
        hints=(Hint(needles=("@",)),),
    ),
    Detector("email", UNICODE_EMAIL, "[EMAIL]", email_ok, hints=(Hint(needles=("@",)),)),
    # jane(at)example(dot)com, bob [at] mail [dot] org, kim at corp dot net
    Detector("email", SPELLED_EMAIL, "[EMAIL]", words=SPELLED_EMAIL_WORDS),
    # jane(at)example.com, bob [at] mail.org, jane[@]acme.com, jane @ acme.com
    Detector("email", BRACKETED_EMAIL, "[EMAIL]", bracketed_email_ok, words=BRACKETED_EMAIL_WORDS),
    Detector("email", EMAIL_AT_WORD, "[EMAIL]", email_at_word_ok, words=WEBMAIL_WORDS),
    Detector("email", NAMED_EMAIL_AT_WORD, "[EMAIL]", named_email_at_word_ok, words=(" at ",)),
    # "email me at bill at acme.com", "contact: jsmith at acme.io"
    Detector("email", CUED_EMAIL_AT_WORD, "[EMAIL]", cued_email_ok, "address", words=EMAIL_CUE_WORDS),
    Detector("email", PERCENT_EMAIL, "[EMAIL]", percent_email_ok, words=("%40",)),
    Detector("email", QUOTED_EMAIL, "[EMAIL]", words=('"@',)),
    Detector(
        "ip_address",
        re.compile(
            r"(?<![\w.:])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?!\w|\.\d)"
            r"|(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){1,7}(?::|(?::?[0-9A-Fa-f]{1,4}){1,7})(?![\w:])"
        ),
        "[IP]",
        ip_ok,
        hints=(
            Hint(re.compile(r"\d\.\d"), needles=(".",), shapes=(b"9.9",)),
            Hint(re.compile(r"[0-9A-Fa-f]:[0-9A-Fa-f:]*:"), needles=(":",), needle_count=2),
        ),
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
    Detector(  # a national number without its prefix (612 345 678) right after a word that says so
        "phone",
        PHONE_AFTER_WORD,
        "[PHONE]",
        phone_after_word_ok,
        group="number",
        min_digits=8,
        words=PHONE_WORDS + PHONE_WORDS_CJK,
    ),
    Detector(
        "phone",
        re.compile(
            r"(?<![\w+])(?:(?:\+|00)\d{1,3}[ .\-]?)?(?:\(\d{1,4}\)[ .\-]?)?\d{2,5}(?:[ .\-]\d{2,4}){1,4}(?!\w)"
            # a national number: trunk 0, area code, subscriber number in one block (07700 900461)
            r"|(?<![\w+])0\d{2,4}[ .\-]\d{5,8}(?!\w)"
        ),
        "[PHONE]",
        phone_ok,
        min_digits=7,
    ),
    Detector(
        "street_address",
        STREET,
        "[ADDRESS]",
        min_digits=1,
        hints=(
            Hint(re.compile(r"\d[A-Z]? [A-Z]"), shapes=(b"9 A", b"9A A")),
            # ASCII text cannot hold "straße"; the shape keeps lower-case letters and spaces.
            Hint(
                re.compile(r"(?:straße|strasse|weg|gasse|platz|allee) \d"),
                shapes=(b"strasse 9", b"weg 9", b"gasse 9", b"platz 9", b"allee 9"),
            ),
        ),
    ),
    Detector("street_address", FOREIGN_STREET, "[ADDRESS]", min_digits=1, words=FOREIGN_STREET_WORDS),
    Detector("street_address", LOWER_STREET, "[ADDRESS]", group="address", min_digits=1, words=ADDRESS_WORDS),
)

DETECTOR_NAMES: tuple[str, ...] = tuple(dict.fromkeys(d.name for d in DETECTORS))
# What the detectors leave in a text: "[EMAIL]", "[PHONE]", ...
MASKS: tuple[str, ...] = tuple(dict.fromkeys(d.mask for d in DETECTORS if isinstance(d, (Detector, SpanDetector))))
