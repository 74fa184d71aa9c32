"""The sixth PII audit's gaps: e-mail addresses with a spelled-out "at", addresses after "address" alone,
and "born" as an adjective; each shape masked (by the product scan and its reference alike), and the
ordinary prose and code beside it left alone."""

from __future__ import annotations

import pytest

from tests.support.pii_scans import assert_clean, assert_masked


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        ("write to jsmith at gmail.com", "write to [EMAIL]"),
        ("my email is janedoe at yahoo.com", "my email is [EMAIL]"),
        ("contact mkowalski at outlook.com for the invoice", "contact [EMAIL] for the invoice"),
        ("you can reach me at bobross at hotmail.com.", "you can reach me at [EMAIL]."),
        ("send it to Kwilson at protonmail.com", "send it to [EMAIL]"),
        ("cc: annalee at icloud.com, tpratt at gmx.de", "cc: [EMAIL], [EMAIL]"),
        ("email john at gmail.com about it", "email [EMAIL] about it"),
        ("her address is LGarcia at Hotmail.co.uk", "her address is [EMAIL]"),
    ],
)
def test_any_local_part_spelled_out_before_a_webmail_host_is_masked(text: str, scrubbed: str) -> None:
    assert_masked(text, scrubbed, "email")


@pytest.mark.parametrize(
    "text",
    [
        "look at gmail.com's docs for the filter syntax",
        "meet him at home, then log in at gmail.com",
        "I work at mail.ru and sign up at outlook.com",
        "check your inbox at gmail.com before lunch",
        "my account at yahoo.com was hacked last week",
        "the filters are at outlook.com/mail/options",
        "we looked at gmail.com, then at outlook.com",
        "it is hosted at gmx.net and available at web.de",
        "You can find it at gmail.com under Settings",
        "our team at yahoo.com shipped it",
        "the check-in at yahoo.com failed",
    ],
)
def test_prose_words_before_at_and_a_webmail_host_are_left(text: str) -> None:
    assert_clean(text)


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        ("john.smith at acme.com", "[EMAIL]"),
        ("write to Jane.Doe at example.org please", "write to [EMAIL] please"),
        ("j.smith at contoso.co.uk owns the account", "[EMAIL] owns the account"),
        ("mail mary.ann.lee at bigcorp.io today", "mail [EMAIL] today"),
        ("reach out to peter.parker at dailybugle.com.", "reach out to [EMAIL]."),
    ],
)
def test_a_dotted_name_spelled_out_before_a_domain_is_masked(text: str, scrubbed: str) -> None:
    assert_masked(text, scrubbed, "email")


@pytest.mark.parametrize(
    "text",
    [
        "see os.path at docs.python.org",
        "np.array at numpy.org explains the dtype argument",
        "the README.md at github.com says so",
        "setup.py at pypi.org is the one to read",
        "e.g. at example.com, i.e. at acme.com",
        "Node.js at nodejs.org ships LTS builds",
        "config.yaml at example.com is stale",
        "<function foo.bar at 0x7f3a2c> is not callable",
        "torch.nn at pytorch.org and self.model at startup",
        "the user.name at localhost is root",
    ],
)
def test_dotted_code_names_and_abbreviations_before_at_are_left(text: str) -> None:
    assert_clean(text)


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        ("my address 42 baker street", "my address [ADDRESS]"),
        ("home address 7 elm road, springfield", "home address [ADDRESS], springfield"),
        ("shipping address 1600 pennsylvania avenue nw", "shipping address [ADDRESS]"),
        ("the address - 221b baker street", "the address - [ADDRESS]"),
        ("new address, 9 station road", "new address, [ADDRESS]"),
        ("Our Address 12 oak lane, Leeds", "Our Address [ADDRESS], Leeds"),
    ],
)
def test_a_lower_case_street_address_right_after_address_is_masked(text: str, scrubbed: str) -> None:
    assert_masked(text, scrubbed, "street_address")


@pytest.mark.parametrize(
    "text",
    [
        "we need to address 3 key drive failures",  # "address" the verb
        "address 2 open court cases first",
        "the address 4 bytes aligned way",
        "my address 42 is wrong",  # no street type
        "ip address 10 lanes road",
    ],
)
def test_address_the_verb_or_without_a_street_is_left(text: str) -> None:
    assert_clean(text)


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        ("born on 1990-03-04", "born on [DATE_OF_BIRTH]"),
        ("born 4 March 1990", "born [DATE_OF_BIRTH]"),
        ("DOB: 04/03/1990", "DOB: [DATE_OF_BIRTH]"),
        ("I was born in Leeds on 3 March 1985", "I was born in Leeds on [DATE_OF_BIRTH]"),
        ("Born: 1990-03-04, Leeds", "Born: [DATE_OF_BIRTH], Leeds"),
        ("she was born on the 4th of March 1990", "she was born on the [DATE_OF_BIRTH]"),
        ("he was born March 4, 1990 in Ohio", "he was born [DATE_OF_BIRTH] in Ohio"),
        ("born in the city of York, 12/05/1979", "born in the city of York, [DATE_OF_BIRTH]"),
        ("date of birth 1990-03-04", "date of birth [DATE_OF_BIRTH]"),
        ("He was born in Paris, France on 4 March 1990", "He was born in Paris, France on [DATE_OF_BIRTH]"),
        ("born in St. Louis on 4 March 1990", "born in St. Louis on [DATE_OF_BIRTH]"),
    ],
)
def test_a_date_of_birth_is_still_masked(text: str, scrubbed: str) -> None:
    assert_masked(text, scrubbed, "date_of_birth")


@pytest.mark.parametrize(
    "text",
    [
        "a born leader, hired on 2020-01-15",
        "She is a born storyteller who published on 12 May 2020",
        "first-born son, enrolled 2019-09-01",
        "newborn screening done on 2024-01-15",
        "born and raised in Ohio, moved on 2015-06-01",
        "born and raised in Texas; joined 2018-02-03",
        "born in Ohio and hired on 2020-01-15",
        "born in Ohio, hired on 2020-01-15",
        "born in Leeds. Hired on 2020-01-15",
        "born in 1990, hired on 2020-01-15",
        "a born-again fan since 2001-04-05",
        "stillborn project, cancelled 2021-05-06",
    ],
)
def test_born_as_an_adjective_does_not_make_the_next_date_a_birth_date(text: str) -> None:
    assert_clean(text)
