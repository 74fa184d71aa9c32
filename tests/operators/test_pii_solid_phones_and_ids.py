"""Gaps found after the eighth audit: a national phone number written solid or as a mobile code and
one long block right after a phone word (Italian mobiles carry no trunk 0), Canadian SINs,
Australian TFNs and Argentine DNIs after their words, and an Italian codice fiscale whose digits are
written as letters (omocodia). Each is masked by the product scan and its reference alike; the
look-alikes (a code after "sms", a version after "mobile app", a wrong check digit) are left."""

from __future__ import annotations

import pytest
from stdnum.it import codicefiscale

from tests.support.pii_scans import assert_clean, assert_masked


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        ("Il mio cellulare: 3471234567", "Il mio cellulare: [PHONE]"),
        ("cellulare 347 1234567, chiamami", "cellulare [PHONE], chiamami"),
        ("Handy: 01701234567", "Handy: [PHONE]"),
        ("Handy-Nr. 01701234567", "Handy-Nr. [PHONE]"),
        ("my mobile is 07700900123", "my mobile is [PHONE]"),
        ("Mi móvil es 612345678", "Mi móvil es [PHONE]"),
    ],
)
def test_a_solid_national_number_right_after_a_phone_word_is_masked(text: str, scrubbed: str) -> None:
    assert_masked(text, scrubbed, "phone")


@pytest.mark.parametrize(
    "text",
    [
        "sms code 123456789",  # a word between that is no "is my number": a code
        "mobile app version 1234567890",
        "the phone model 9999999999 sold out",  # no region's numbering plan holds it
        "order 3471234567 shipped",  # no phone word
    ],
)
def test_a_solid_run_after_other_words_or_invalid_is_left(text: str) -> None:
    assert_clean(text)


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        ("SIN: 130-692-544", "SIN: [NATIONAL_ID]"),
        ("my social insurance number is 130 692 544", "my social insurance number is [NATIONAL_ID]"),
        ("numéro d'assurance sociale : 130 692 544", "numéro d'assurance sociale : [NATIONAL_ID]"),
        ("NAS 130 692 544", "NAS [NATIONAL_ID]"),
        ("TFN 123 456 782", "TFN [NATIONAL_ID]"),
        ("tax file number 123456782 on the form", "tax file number [NATIONAL_ID] on the form"),
        ("Mi DNI es 30.123.456 y vivo en Rosario.", "Mi DNI es [NATIONAL_ID] y vivo en Rosario."),
        ("DNI argentino 30123456", "DNI argentino [NATIONAL_ID]"),
        ("DNI 12345678Z", "DNI [NATIONAL_ID]"),  # still the Spanish one, letter and all
    ],
)
def test_sin_tfn_and_argentine_dni_after_their_words_are_masked(text: str, scrubbed: str) -> None:
    assert_masked(text, scrubbed, "national_id")


@pytest.mark.parametrize(
    "text",
    [
        "SIN: 130-692-545",  # Luhn fails
        "SIN 046 454 286",  # no SIN starts with 0
        "TFN 123 456 789",  # its weighted sum fails
        "Vivo sin 12345678 problemas",  # Spanish "without", and no nine digits
        "using 130692544 rows",  # "sin" inside a word; SIN and NAS count in capitals only
        "DNI 123456",  # six digits are no DNI
        "30.123.456 rows",  # no word: a count
    ],
)
def test_look_alikes_of_sin_tfn_and_dni_are_left(text: str) -> None:
    assert_clean(text)


def test_an_omocodic_codice_fiscale_is_masked_alone_and_a_wrong_check_letter_is_left() -> None:
    for base in ("RSSMRA85T10A56N", "RSSMRA85T1LA56N", "BNCLRA70A41H5QV"):
        code = base + codicefiscale.calc_check_digit(base)
        assert codicefiscale.is_valid(code), code
        assert_masked(f"Codice fiscale: {code}.", "Codice fiscale: [NATIONAL_ID].", "national_id")
        wrong = base + ("A" if code[-1] != "A" else "B")
        assert_clean(f"Codice fiscale: {wrong}.")
