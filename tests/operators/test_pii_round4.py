"""PII that probe round 4 found stored in dpo_pairs, and the look-alikes that must stay.

A German mobile number with its trunk 0 (12 digits), an SSN after "my social is", a passport
number after the word, and a URL password that holds a placeholder word ("Hunter2Secret!").
"""

from __future__ import annotations

import pytest

from flywheel.operators.pii import scan


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        ("Meine Telefonnummer ist 0151 23456789, ruf gern an.", "Meine Telefonnummer ist [PHONE], ruf gern an."),
        ("My social is 219 09 9999 if the form needs it.", "My social is [NATIONAL_ID] if the form needs it."),
        ("Social: 123 45 6789", "Social: [NATIONAL_ID]"),
        ("My passport number is X12345678 in case.", "My passport number is [NATIONAL_ID] in case."),
        ("Número de pasaporte AB1234567.", "Número de pasaporte [NATIONAL_ID]."),
        (
            "postgres://admin:Hunter2Secret!@db.internal.acme.io:5432/prod",
            "postgres://admin:[API_KEY]@db.internal.acme.io:5432/prod",
        ),
        ("password: Tr0ub4dorToken", "password: [API_KEY]"),
    ],
)
def test_round4_pii_is_masked(text: str, scrubbed: str) -> None:
    assert scan(text)[0] == scrubbed


@pytest.mark.parametrize(
    "text",
    [
        "Our social media budget is 120 000 000 a year.",
        "The social security tax rate is 6.2 percent.",
        "Renew your passport 6 months before it expires.",
        "Passport photos are 35 x 45 mm.",
        "postgres://user:password@localhost/db",
        "postgres://app:${DB_PASSWORD}@db/shop",
        "DB_PASSWORD=my_secret_1",
        "password: changeme123",
        "Build 0123 4567890123 finished.",
    ],
)
def test_round4_look_alikes_stay(text: str) -> None:
    assert scan(text)[1] == {}, scan(text)
