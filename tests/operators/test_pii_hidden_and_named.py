"""PII and secrets that the scan missed, found by an audit that ran the flow's own steps.

A PEM key's body stored under a masked header; secrets named by longer names (SessionToken,
AWS_SECRET_ACCESS_KEY, SECRET_KEY = '...'), HTTP Basic credentials, Hugging Face tokens and
passwords on a command line; card numbers, phones and addresses hidden by no-break spaces,
full-width digits or zero-width characters; addresses in other scripts; and a reviewer's
correction of a scrubbed answer that kept its placeholders. Names in code are not secrets.
"""

from __future__ import annotations

import pytest

from flywheel.operators.config import DEFAULT_POLICY_FILE
from flywheel.operators.pii import scan_all
from flywheel.operators.policy import PolicyEngine

PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7bq9Lr0sZ1kR5xQ\nk2v8Hc9Tq4Wm3Zp0Ld7Ys6Xn1Ub\n"
    "-----END RSA PRIVATE KEY-----"
)


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        (f"my key:\n{PEM}\nthanks", "my key:\n[API_KEY]\nthanks"),
        ("-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHzBJBgkqhkiG9w0BBQ0wPDAbBgkq", "[API_KEY]"),
        ("-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQOYBF3x\n-----END PGP PRIVATE KEY BLOCK-----", "[API_KEY]"),
        ("AWS_SECRET_ACCESS_KEY=Zq8rT5vW2xY7bN4mK9pL3sD6fG1hJ0aQ2wE5rT8y", "AWS_SECRET_ACCESS_KEY=[API_KEY]"),
        ('{"SessionToken": "FwoGZXIvYXdzEJr8h3k2LmN5pQ7"}', '{"SessionToken": "[API_KEY]"}'),
        ("MY_API_KEY=a8Fk29dLq03mZx71Pw5N", "MY_API_KEY=[API_KEY]"),
        ("SECRET_KEY = 'x9$k2#pL8q!zR4m@v7wT'", "SECRET_KEY = '[API_KEY]'"),
        ("Authorization: Basic YWRtaW46czNjcjN0UGFzczk=", "Authorization: Basic [API_KEY]"),
        ("HF_TOKEN is hf_abcdefghijklmnopqrstuvwxyzABCDEFGH12", "HF_TOKEN is [API_KEY]"),
        ("curl -u admin:S3cretPw9x https://api.example.org", "curl -u admin:[API_KEY] https://api.example.org"),
        ("mysql -u root -pS3cretPw9x shop", "mysql -u root -p[API_KEY] shop"),
    ],
)
def test_secrets_are_masked_whole(text: str, kept: str) -> None:
    found = scan_all(text)
    assert found.scrubbed == kept
    assert dict(found.counts) == {"api_key": 1}


@pytest.mark.parametrize(
    "text",
    [
        "token_type=bearer_token_v2",
        "session.login(username=name, password=user_input)",
        "password: min_length=12",
        "password: !vault db/creds",
        "git push -u origin main:main",
        "tokenizer = AutoTokenizer.from_pretrained('bert-base-uncased')",
        "token_ids_batch_2024_v1 = encode(batch)",
        "Basic configuration is enough for most users.",
        "password: $DB_PASSWORD",
        "git clone git@github.com:acme/shop.git",
    ],
)
def test_names_in_code_are_not_secrets(text: str) -> None:
    assert scan_all(text).counts == ()


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("card 4111\u00a01111\u00a01111\u00a01111 please", "payment_card"),
        ("card \uff14\uff11\uff11\uff11 1111 1111 1111", "payment_card"),
        ("card 4111\u200b1111\u200b1111\u200b1111", "payment_card"),
        ("call +44\u202f20\u202f7946\u202f0958", "phone"),
        ("write to jane\u200b.doe@example.com", "email"),
        ("write to user@b\u00fccher.de", "email"),
        ("пишите: иван@почта.рф", "email"),
    ],
)
def test_pii_hidden_by_unicode_forms_is_masked(text: str, kind: str) -> None:
    found = scan_all(text)
    assert dict(found.counts) == {kind: 1}
    # Nothing of it is left: no digit of the number, no part of the address's local name.
    assert not any(char.isdigit() for char in found.scrubbed)
    assert "jane" not in found.scrubbed and "@" not in found.scrubbed


def test_text_without_pii_keeps_its_unicode_forms() -> None:
    text = "na\u00efve caf\u00e9\u00a0au lait, \uff21\uff22\uff23"
    assert scan_all(text).scrubbed is text


@pytest.fixture(scope="module")
def engine() -> PolicyEngine:
    return PolicyEngine.from_file(DEFAULT_POLICY_FILE)


def test_a_correction_that_keeps_placeholders_is_dropped(engine: PolicyEngine) -> None:
    # A reviewer corrected the scrubbed answer they were shown and left its placeholders in.
    shown = "Email support at [EMAIL] or call [PHONE]."
    drop = engine.evaluate("How do I reach support?", shown + " Lines are open 9-5.", shown).drop
    assert drop is not None and drop.reason == "pii_in_chosen:placeholder"
    assert "[EMAIL]" in drop.detail and "[PHONE]" in drop.detail


def test_a_placeholder_the_prompt_asks_for_is_kept(engine: PolicyEngine) -> None:
    prompt = "Write a signup email template with [EMAIL] where the address goes."
    chosen = "Hello! We registered [EMAIL] for your account. Welcome aboard, and see you soon."
    rejected = "Hello! We registered your address. Welcome."
    assert engine.evaluate(prompt, chosen, rejected).drop is None


@pytest.mark.parametrize(
    ("text", "kind", "kept"),
    [
        ("card 4111.1111.1111.1111 ok", "payment_card", "card [CARD] ok"),
        ("SSN: 123456789", "national_id", "SSN: [NATIONAL_ID]"),
        ("my social security number is 123 45 6789.", "national_id", "my social security number is [NATIONAL_ID]."),
    ],
)
def test_numbers_in_other_shapes_are_masked(text: str, kind: str, kept: str) -> None:
    found = scan_all(text)
    assert found.scrubbed == kept and dict(found.counts) == {kind: 1}


@pytest.mark.parametrize("text", ["order 123456789 shipped", "Chrome 120.0.6099.109", "build 2024.1111.1111.1"])
def test_numbers_without_a_word_or_checksum_are_kept(text: str) -> None:
    assert scan_all(text).counts == ()


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("Berliner Straße 12, 10115 Berlin", "[ADDRESS], 10115 Berlin"),
        ("12 rue de Rivoli, 75001 Paris", "[ADDRESS], 75001 Paris"),
        ("Calle Mayor 5, Madrid", "[ADDRESS], Madrid"),
        ("I live at 3 place Bellecour.", "I live at [ADDRESS]."),
    ],
)
def test_street_addresses_as_other_languages_write_them_are_masked(text: str, kept: str) -> None:
    found = scan_all(text)
    assert found.scrubbed == kept and dict(found.counts) == {"street_address": 1}


@pytest.mark.parametrize("text", ["Via Python 3 you can do it", "call the Weg 12 helper", "the ring 3 buffer"])
def test_street_words_in_prose_are_not_addresses(text: str) -> None:
    assert scan_all(text).counts == ()
