"""The seventh PII audit's gaps: e-mail addresses with a spelled-out or spaced "at" (a webmail host,
a mailbox-shaped local part or a word asking for an address), addresses after "address" as a label,
medical record numbers, and dates near "birthday" that are no birth date. Each shape is masked (by
the product scan and its reference alike) and the prose and code of the same shape left alone."""

from __future__ import annotations

import pytest

from flywheel.operators.pii import scan
from tests.support.pii_scans import assert_clean, assert_masked


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        # A webmail host: any local part but prose, a given name in scikit-learn's stop list too.
        ("bill at gmail.com", "[EMAIL]"),
        ("write to will at outlook.com", "write to [EMAIL]"),
        *((f"mail bob at {host}", "mail [EMAIL]") for host in ("live.com", "msn.com", "me.com", "icloud.com")),
        *((f"mail bob at {host}", "mail [EMAIL]") for host in ("proton.me", "gmx.de", "web.de", "mail.ru")),
        *((f"mail bob at {host}", "mail [EMAIL]") for host in ("yandex.ru", "qq.com", "163.com", "pm.me")),
        ("ask kim at live.co.uk or lee at free.fr", "ask [EMAIL] or [EMAIL]"),
        # A local part shaped like a mailbox, at any domain.
        ("jane_doe at acme.com", "[EMAIL]"),
        ("cc mary_ann_smith at corp.de and j_smith42 at acme.org", "cc [EMAIL] and [EMAIL]"),
        # A word asking for an address, and a word linking it.
        ("email me at bill at acme.com", "email me at [EMAIL]"),
        ("contact: jsmith at acme.io", "contact: [EMAIL]"),
        ("my e-mail address is jdoe42 at acme.co.uk.", "my e-mail address is [EMAIL]."),
        ("drop me a line at sam at studio.dev", "drop me a line at [EMAIL]"),
        ("reach him at jsmith at acme.com", "reach him at [EMAIL]"),
        # Bracketed or spaced signs; spelled-out dots in the local part masked with it.
        ("reach me: jane.doe [at] acme [dot] com", "reach me: [EMAIL]"),
        ("john(at)example(dot)org", "[EMAIL]"),
        ("jane[@]acme.com or jane (@) acme.com", "[EMAIL] or [EMAIL]"),
        ("write to jane @ acme.com", "write to [EMAIL]"),
        ("jane dot doe at acme dot com", "[EMAIL]"),
        ("jane(dot)doe(at)acme(dot)com", "[EMAIL]"),
    ],
)
def test_an_address_with_its_at_spelled_out_or_spaced_is_masked(text: str, scrubbed: str) -> None:
    assert_masked(text, scrubbed, "email")


@pytest.mark.parametrize(
    "text",
    [
        "look at example.com",
        "meet at 5 pm",
        "arrived at google.com's login page",
        "the file at config.yaml",
        "at least",
        "good at python.org tutorials",
        "good at gmail.com and better at outlook.com",
        "we met at live.com",
        "go live at live.com tomorrow",
        "contact us at acme.com",
        "contact me at acme.com",
        "Contact support at acme.com for help",
        "contact bill at acme.com today",  # a name after "contact" alone: no word links an address
        "email the team at acme.com",
        "I emailed my boss at acme.com yesterday",
        "e-mail marketing at hubspot.com works",
        "contact form at example.com",
        "write to the folks at python.org",
        "set max_tokens at openai.com",
        "the user_id at example.com",
        "I use snake_case at work.com",
        "os.path at docs.python.org",
        "e.g. at example.com",
        "y = x @ self.weight",
        "out = attn @ v.to(device)",
        "z = a @ b.T",
        "follow us @ twitter.com",
        "git clone git@github.com:org/repo.git",
    ],
)
def test_prose_and_code_with_at_before_a_site_are_left(text: str) -> None:
    assert_clean(text)


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        ("Address 12 oak lane", "Address [ADDRESS]"),
        ("address - 12 oak lane, Springfield", "address - [ADDRESS], Springfield"),
        ("ADDRESS 12 OAK LANE", "ADDRESS [ADDRESS]"),
        ("Address 7 elm rd. Call first", "Address [ADDRESS] Call first"),
        ("I live at 45 elm st", "I live at [ADDRESS]"),
        ("I LIVE AT 45 ELM ST", "I LIVE AT [ADDRESS]"),
        ("ship to 221b baker street", "ship to [ADDRESS]"),
        ("deliver to: 9 maple drive", "deliver to: [ADDRESS]"),
        ("my house is 17 birch road", "my house is [ADDRESS]"),
    ],
)
def test_a_street_address_after_a_word_for_one_is_masked_in_any_case(text: str, scrubbed: str) -> None:
    assert_masked(text, scrubbed, "street_address")


@pytest.mark.parametrize(
    "text",
    [
        "we need to address 3 key drive failures",
        "address 3 key drive failures first",  # the verb's object goes on after the street type
        "address 2 hard drive issues.",
        "stay on 3 lane road",
    ],
)
def test_address_the_verb_before_a_street_shape_is_left(text: str) -> None:
    assert_clean(text)


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        ("MRN 00482913", "MRN [NATIONAL_ID]"),
        ("MRN: 4829-1133", "MRN: [NATIONAL_ID]"),
        ("MRN A1234567", "MRN [NATIONAL_ID]"),
        ("medical record number 12345678", "medical record number [NATIONAL_ID]"),
        ("medical record no. 12345678", "medical record no. [NATIONAL_ID]"),
        ("patient ID 77812", "patient ID [NATIONAL_ID]"),
        ("the patient's ID: 77812.", "the patient's ID: [NATIONAL_ID]."),
        ("NHS number 943 476 5919", "NHS number [NATIONAL_ID]"),
    ],
)
def test_a_medical_record_number_is_masked(text: str, scrubbed: str) -> None:
    assert_masked(text, scrubbed, "national_id")


@pytest.mark.parametrize(
    "text",
    [
        "MRN field has 8 digits",
        "MRN lookup took 12345 ms",
        "patient ID 12",
        "patient IDs 1-5",
        "the patient ID column holds 77812 rows",
        "patient number 3 of 12345",
    ],
)
def test_numbers_near_medical_record_words_that_are_none_are_left(text: str) -> None:
    assert_clean(text)


def test_a_date_after_a_medical_record_word_is_no_record_number() -> None:
    # A date after "patient ID" is what the date is, not a record number (nor a date of birth).
    assert scan("patient ID 2024-05-01")[1] == {}


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        ("my birthday is 03/04/1990", "my birthday is [DATE_OF_BIRTH]"),
        ("her birthday is on the 4th of March 1990", "her birthday is on the [DATE_OF_BIRTH]"),
        ("my birthday's May 3, 1990", "my birthday's [DATE_OF_BIRTH]"),
        ("birthday, 03/04/1990", "birthday, [DATE_OF_BIRTH]"),
        ("D.O.B.: 03/04/1990", "D.O.B.: [DATE_OF_BIRTH]"),
        ("DOB for John: 03/04/1990", "DOB for John: [DATE_OF_BIRTH]"),
        ("date of birth of the patient: 1990-03-04", "date of birth of the patient: [DATE_OF_BIRTH]"),
        ("born on 03/04/1990", "born on [DATE_OF_BIRTH]"),
    ],
)
def test_a_date_right_after_a_birth_word_and_its_link_is_masked(text: str, scrubbed: str) -> None:
    assert_masked(text, scrubbed, "date_of_birth")


@pytest.mark.parametrize(
    "text",
    [
        "birthday party, hired on 03/04/2021",
        "birthday party on 03/04/2021",
        "For my birthday, I was hired on 03/04/2021",
        "birthday cake ordered 03/04/2021",
        "happy birthday! see you 03/04/2021",
        "the birthday was celebrated on 03/04/2021",
        "DOB field (optional), hired on 2021-03-04",
    ],
)
def test_another_date_in_a_sentence_about_a_birthday_is_left(text: str) -> None:
    assert_clean(text)
