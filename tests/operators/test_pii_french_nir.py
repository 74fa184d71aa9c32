"""French social security numbers (NIR): masked when their key checks out, or after a word naming them.

The key is 97 minus the first 13 digits mod 97 (Corsica's 2A and 2B read as 19 and 18). The product
scan and its reference (``benchmarks/pii_reference.py``) must agree on every text; phone numbers,
order numbers and NIR-shaped numbers with a wrong key and no naming word stay as written.
"""

from __future__ import annotations

import pytest

from flywheel.benchmarks.pii_reference import reference_scan
from flywheel.operators.pii import scan
from tests.support.pii_scans import assert_clean


def _key(body: str) -> str:
    digits = body.replace(" ", "").replace("2A", "19").replace("2B", "18")
    return f"{97 - int(digits) % 97:02d}"


def test_the_key_is_97_minus_the_number_mod_97() -> None:
    # the example INSEE's documentation gives (2 55 08 14 168 025 38)
    assert _key("2 55 08 14 168 025") == "38"


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        ("Numéro : 2 55 08 14 168 025 38, merci.", "Numéro : [NATIONAL_ID], merci."),
        ("255081416802538", "[NATIONAL_ID]"),
        ("Assuré 2550814168025 38 (régime général)", "Assuré [NATIONAL_ID] (régime général)"),
        ("n° 2.55.08.14.168.025.38", "n° [NATIONAL_ID]"),
        (f"1 85 05 78 006 084 {_key('1 85 05 78 006 084')}", "[NATIONAL_ID]"),
        (f"né en Corse : 1 78 11 2A 004 012 {_key('1 78 11 2A 004 012')}", "né en Corse : [NATIONAL_ID]"),
        (f"2 91 03 2B 115 042 {_key('2 91 03 2B 115 042')}.", "[NATIONAL_ID]."),
        # a wrong key, but the sentence says what the number is
        ("Mon numéro de sécurité sociale : 1 92 07 13 055 218 11", "Mon numéro de sécurité sociale : [NATIONAL_ID]"),
        ("NIR 2 61 12 69 383 027 02", "NIR [NATIONAL_ID]"),
        ("n° de sécu 1 70 02 33 063 481 50", "n° de sécu [NATIONAL_ID]"),
    ],
)
def test_a_nir_is_masked(text: str, scrubbed: str) -> None:
    found = scan(text)
    assert found == (scrubbed, {"national_id": 1}), text
    assert reference_scan(text) == found, text


@pytest.mark.parametrize(
    "text",
    [
        # a wrong key and nothing naming the number: an order or a ticket number
        "Commande n° 2 55 08 14 168 025 37 expédiée hier.",
        "Référence client 185057800608436",
        "Ticket 1 92 07 13 055 218 11 clos.",
        # not a NIR's shape: sex digit 5, month 13, 14 or 16 digits
        "Lot 5 55 08 14 168 025 38",
        "Série 2 55 13 14 168 025 38",
        "Code 2 55 08 14 168 025 3",
        "Colis 2550814168025381",
        "la sécurité sociale rembourse 70 % depuis 2015",
    ],
)
def test_look_alikes_stay(text: str) -> None:
    assert_clean(text)


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        ("Appelez le 01 23 45 67 89.", "Appelez le [PHONE]."),
        ("Portable : +33 6 12 34 56 78", "Portable : [PHONE]"),
    ],
)
def test_french_phone_numbers_stay_phone_numbers(text: str, scrubbed: str) -> None:
    found = scan(text)
    assert found == (scrubbed, {"phone": 1}), text
    assert reference_scan(text) == found, text
