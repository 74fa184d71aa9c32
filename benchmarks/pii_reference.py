"""The PII scan as it was before the one-pass scan (issue 16), kept as a reference.

``tests/operators/test_pii_one_pass.py`` checks that :func:`flywheel.operators.pii.scan` gives
exactly what :func:`reference_scan` gives (masked text and counts, any detector subset), and
``benchmarks/pii_stage.py`` measures both on the same events in the same run. The detector
table below and the plain detectors and validators of ``benchmarks/pii_reference_scrubbers.py``
are copies of the previous code, so a later change to ``operators/pii.py`` or
``operators/pii_detectors.py`` is compared with what the product did before it. Detectors added
since (passwords in URLs and given for a password, IBANs in any case, e-mail addresses with a
spelled-out or spaced "at", medical record numbers) are here in the same plain form with the
product's patterns and validators: what is compared is how the scan runs them.
Nothing in the flow imports this module.
"""

from __future__ import annotations

import re
from collections import Counter

from flywheel.benchmarks.pii_reference_scrubbers import Detector, Scrubber, SpanDetector, card_ok, ip_ok, phone_ok
from flywheel.operators.pii import revealed
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
from flywheel.operators.pii_matchers import phone_after_word_ok, phone_spans, secret_spans
from flywheel.operators.pii_national_ids import NATIONAL_IDS
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
    iban_ok,
    medical_record_ok,
    nir_ok,
    passport_ok,
)

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
    *(Detector("national_id", p, "[NATIONAL_ID]", ok, g, min_digits=4, words=w) for p, ok, g, w in NATIONAL_IDS),
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
        hint=re.compile(r"\d{3}-\d{2}-|[A-Z]{2} ?\d{2}"),
    ),
    Detector("national_id", SSN_AFTER_WORD, "[NATIONAL_ID]", group="number", min_digits=9, words=("ssn", "social")),
    Detector("national_id", PASSPORT, "[NATIONAL_ID]", passport_ok, "number", min_digits=5, words=PASSPORT_WORDS),
    Detector(
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
        # git@github.com (ssh -T, clone URLs) is a git host's SSH login, nobody's address.
        lambda m: not m.group(0).startswith("git@"),
        hint=re.compile("@"),
    ),
    Detector("email", UNICODE_EMAIL, "[EMAIL]", email_ok, hint=re.compile("@")),
    Detector("email", SPELLED_EMAIL, "[EMAIL]", words=SPELLED_EMAIL_WORDS),
    Detector("email", BRACKETED_EMAIL, "[EMAIL]", bracketed_email_ok, words=BRACKETED_EMAIL_WORDS),
    Detector("email", EMAIL_AT_WORD, "[EMAIL]", email_at_word_ok, words=WEBMAIL_WORDS),
    Detector("email", NAMED_EMAIL_AT_WORD, "[EMAIL]", named_email_at_word_ok, words=(" at ",)),
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
        phone_ok,
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
