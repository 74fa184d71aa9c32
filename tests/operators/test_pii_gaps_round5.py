"""The fifth PII audit's gaps: each shape now masked, and the ordinary text and code beside it left alone."""

from __future__ import annotations

import pytest

from flywheel.operators.pii import scan
from flywheel.operators.pii_validators import iban_valid


def _clean(text: str) -> None:
    assert scan(text) == (text, {}), text


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        ("my iban is DE89-3704-0044-0532-0130-00 thanks", "my iban is [IBAN] thanks"),
        ("iban gb29-nwbk-6016-1331-9268-19", "iban [IBAN]"),
        ("IBAN: De89 3704 0044 0532 0130 00.", "IBAN: [IBAN]."),
        ("Gb82 West 1234 5698 7654 32", "[IBAN]"),
        ("es91-2100-0418-4502-0005-1332 then", "[IBAN] then"),
    ],
)
def test_an_iban_in_dashed_groups_or_mixed_case_is_masked(text: str, scrubbed: str) -> None:
    assert scan(text) == (scrubbed, {"iban": 1})


@pytest.mark.parametrize(
    "text",
    [
        "DE89-3704-0044-0532-0130-01",  # fails mod-97
        "De89 3704 0044 0532 0130",  # Germany's IBANs are 22 characters long
        "request de305d54-75b4-431b-adb2-eb6b9e546014 failed",  # a UUID
        "licence ABCD-1234-EFGH-5678-IJKL",
        "sku AB12-3456-7890-1234-5678-90",  # mod-97 may pass, the length of no country
        "see RFC-2119 and ISO-8601, build v1.2.3-rc1",
        "md5 Ab12cd34ef56ab78cd90ef12ab34cd56",
    ],
)
def test_look_alikes_of_a_dashed_or_mixed_case_iban_are_left(text: str) -> None:
    _clean(text)


def test_iban_validation_reads_dashes() -> None:
    assert iban_valid("DE89-3704-0044-0532-0130-00")
    assert not iban_valid("DE89-3704-0044-0532-0130-01")


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        ("born, as my passport says, on 3 March 1985", "born, as my passport says, on [DATE_OF_BIRTH]"),
        ("DOB (day/month/year) for the form: 03/03/1985", "DOB (day/month/year) for the form: [DATE_OF_BIRTH]"),
        ("born (in Leeds, as it happens) on 3 March 1985.", "born (in Leeds, as it happens) on [DATE_OF_BIRTH]."),
        ("Date of birth, written as dd/mm/yyyy: 03/03/1985", "Date of birth, written as dd/mm/yyyy: [DATE_OF_BIRTH]"),
    ],
)
def test_a_date_of_birth_after_an_aside_is_masked(text: str, scrubbed: str) -> None:
    assert scan(text) == (scrubbed, {"date_of_birth": 1})


@pytest.mark.parametrize(
    "text",
    [
        "The idea was born in 2019 and released: 2021-03-04",  # digits in the gap: another clause
        "the project was born out of a hackathon; released on 2021-03-04",
        "a born leader, hired later, promoted on 2020-01-15",  # no aside right after the word
        "The DOB column, a string, was added on 2024-01-15",  # "was added": no date after "was"
        "Python was born at CWI. Version 1.0 came out on 26.01.1994",
        '@born(since="x")\ndef f():\n    released = "2021-03-04"',
    ],
)
def test_dates_far_from_a_birth_word_in_prose_and_code_are_left(text: str) -> None:
    _clean(text)


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        ("Telefon: 030 901820", "Telefon: [PHONE]"),
        ("Tel.: 030/901820, Fax 030/901821", "Tel.: [PHONE], Fax [PHONE]"),
        ("Telefon 089 123456 (Büro)", "Telefon [PHONE] (Büro)"),
        ("Tél : 01 23 45 67 89", "Tél : [PHONE]"),  # masked before this audit too
        ("Teléfono 612 345 678", "Teléfono [PHONE]"),
        # a verb of calling, and a trunk 0 with a dash (round 7 stored a Dutch mobile so)
        ("of bellen naar 06-41827395.", "of bellen naar [PHONE]."),
        ("Bel me op 06 41827395", "Bel me op [PHONE]"),
        ("Bitte anrufen: 030-901820", "Bitte anrufen: [PHONE]"),
        ("Llámame al 612 345 678", "Llámame al [PHONE]"),
        ("Tel. 089-123456", "Tel. [PHONE]"),
    ],
)
def test_a_national_number_after_a_phone_word_in_another_language_is_masked(text: str, scrubbed: str) -> None:
    found = scan(text)
    assert found[0] == scrubbed and set(found[1]) == {"phone"}


@pytest.mark.parametrize(
    "text",
    [
        "tel: 0 12345678 is no number of any plan",  # no area code phonenumbers accepts
        "phone 01/15/2024 and tel 2024/01/15",  # dates
        "Telefon-Modul v2 030 901820",  # no phone word right before: "Modul v2" holds a digit
        "order 030 901820 shipped",  # no phone word
        "order 06-41827395 shipped",  # no phone word, dashed
        "bel 0-1234567 is no number",  # no plan has it
        "call stack 1024 2048 4096",  # English "call" and "ring" name other things: not phone words
        "ring buffer 4096 8192 16384",
    ],
)
def test_numbers_not_given_as_a_phone_number_are_left(text: str) -> None:
    _clean(text)


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        # Masked before this audit (pii_validators.SSN_AFTER_WORD): kept so.
        ("SSN 123456789", "SSN [NATIONAL_ID]"),
        ("social security number: 123456789", "social security number: [NATIONAL_ID]"),
        # Passport numbers after a word for a passport.
        ("passport no. X1234567", "passport no. [NATIONAL_ID]"),
        ("Reisepass-Nr. C01X00T47", "Reisepass-Nr. [NATIONAL_ID]"),
        ("my passport number is X1234567.", "my passport number is [NATIONAL_ID]."),
        ("Passport No: 123456789", "Passport No: [NATIONAL_ID]"),
        ("Reisepassnummer C01X00T47", "Reisepassnummer [NATIONAL_ID]"),
        ("numéro de passeport : 12AB34567", "numéro de passeport : [NATIONAL_ID]"),
    ],
)
def test_an_ssn_or_passport_number_after_its_word_is_masked(text: str, scrubbed: str) -> None:
    assert scan(text) == (scrubbed, {"national_id": 1})


@pytest.mark.parametrize(
    "text",
    [
        "order 123456789 shipped at 1733390000",  # bare digits: order ids, timestamps
        "ssn_check(123456789) returns False",  # "ssn_check" is no word for an SSN
        "passport OAUTH2 strategy",  # fewer than 5 digits
        'const passport = require("passport");\npassport.use(new JwtStrategy(opts, verify));',
        "passport-jwt 4.0.1 and passport 0.6.0",
        "Passport photo 35x45 mm, valid until 20310501",  # a date
        "passport app ID ab12345cd7 released",  # lower case, too long
    ],
)
def test_numbers_near_an_ssn_or_passport_word_that_are_none_are_left(text: str) -> None:
    _clean(text)


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        ("write to john.smith at gmail.com", "write to [EMAIL]"),
        ("jane_doe at yahoo.co.uk, j.smith2 at web.de", "[EMAIL], [EMAIL]"),
        ("john.smith [at] gmail [dot] com", "[EMAIL]"),  # masked before this audit too
        ("mailto:john%40gmail.com", "mailto:[EMAIL]"),
        ("GET /signup?email=jane.doe%40example.org&x=1", "GET /signup?email=[EMAIL]&x=1"),
        ('"john smith"@example.com', "[EMAIL]"),
        ('From: "Jane Q. Doe"@corp.io wrote', "From: [EMAIL] wrote"),
    ],
)
def test_an_obfuscated_or_quoted_email_address_is_masked(text: str, scrubbed: str) -> None:
    assert scan(text) == (scrubbed, {"email": scrubbed.count("[EMAIL]")})


@pytest.mark.parametrize(
    "text",
    [
        "log in at gmail.com and check the spam folder",  # "at" in prose
        "sign-in at outlook.com, then I work at mail.ru",
        "we met at 5 at gmail.com HQ",
        "see os.path at docs.python.org",  # not a webmail host
        "look at example.com for details",
        "https://www.npmjs.com/package/%40types%2Fnode and https://unpkg.com/%40babel/core",  # %40 in docs' URLs
        "pip download pkg%40latest.tgz; see https://a.b/repo%40v1.2.3",
        'ssh "$USER"@host.example.com',  # a shell variable, a login
        '"user"@localhost',
        'x = "a"\n@app.route("/")\ndef index():\n    return "ok"\n',  # Python decorators
        "@dataclass(frozen=True)\nclass A:\n    name: str = '@'\n",
    ],
)
def test_at_in_prose_decorators_and_percent_40_in_urls_are_left(text: str) -> None:
    _clean(text)


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        ("i live at 42 baker street", "i live at [ADDRESS]"),
        ("ship to 1600 pennsylvania avenue nw", "ship to [ADDRESS]"),
        ("my address is 42 baker street, london", "my address is [ADDRESS], london"),
        ("we moved to 7 old kent road last year", "we moved to [ADDRESS] last year"),
        ("my house is at 4 privet drive.", "my house is at [ADDRESS]"),
        ("office: 221b baker street", "office: [ADDRESS]"),
    ],
)
def test_a_street_address_in_lower_case_after_an_address_word_is_masked(text: str, scrubbed: str) -> None:
    assert scan(text) == (scrubbed, {"street_address": 1})


@pytest.mark.parametrize(
    "text",
    [
        "the street was busy and i live near it",  # "street" in prose, no number
        "i live on a 2 way street; move 5 miles down the road",
        "send 3 files to the drive, then send it to 2 backup drive images",
        "we stayed 2 nights on the square, located 3 blocks from the main street",
        "home 4 bed terrace for sale; stay on 3 lane road",
        "send 2 backup drive images",  # no at/to/is/on/in or colon before the number
        "def send(x):\n    return x + 2  # fast lane\n",
        "mov eax, 1 ; address: 4 byte aligned way",
        "send version 1.2.3 release notes, post 10 new way",
    ],
)
def test_street_words_and_numbers_in_prose_and_code_are_left(text: str) -> None:
    _clean(text)


@pytest.mark.parametrize(
    ("text", "kind", "mask"),
    [
        ("4242 4242 4242 4242", "payment_card", "[CARD]"),  # Stripe's test cards
        ("4000 0566 5566 5556", "payment_card", "[CARD]"),
        ("GB82 WEST 1234 5698 7654 32", "iban", "[IBAN]"),  # the IBAN registry's examples
        ("DE89 3704 0044 0532 0130 00", "iban", "[IBAN]"),
    ],
)
def test_well_known_test_values_are_masked_as_the_real_ones_they_stand_for(text: str, kind: str, mask: str) -> None:
    # Deliberate (test_policy rejects DE89/GB82, the held-out set labels 4242... a card, and
    # ip_ok masks documentation ranges): examples and test data hold these where a user's own
    # number would be, and the scan cannot tell a copied example from a typed one.
    assert scan(f"use {text} here") == (f"use {mask} here", {kind: 1})
