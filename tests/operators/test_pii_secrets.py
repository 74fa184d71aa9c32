"""Secrets the api_key detector rejects: passwords in a URL or given for a password; IBANs in lower case.

Each shape comes with the look-alikes it must leave: placeholders (``user:password@``,
``<password>``, ``****``, ``${DB_PASS}``), names in code (``settings.DB_PASSWORD``,
``getpass.getpass()``), a URL with a user and no password, prose about passwords.
"""

from __future__ import annotations

import pytest

from flywheel.operators.config import DEFAULT_POLICY_FILE
from flywheel.operators.pii import scan
from flywheel.operators.pii_validators import iban_valid
from flywheel.operators.policy import PolicyEngine


@pytest.fixture(scope="module")
def engine() -> PolicyEngine:
    return PolicyEngine.from_file(DEFAULT_POLICY_FILE)


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        (
            "postgres://admin:S3cr3tP4ss!@db.prod.internal:5432/shop",
            "postgres://admin:[API_KEY]@db.prod.internal:5432/shop",
        ),
        ("mysql://root:hunter2@10.0.0.5/db", "mysql://root:[API_KEY]@10.0.0.5/db"),
        ("redis://:p4ssw0rd@cache:6379/0", "redis://:[API_KEY]@cache:6379/0"),  # no user name
        (
            "mongodb+srv://app:Xk9#pL2q@cluster0.example.net/test",
            "mongodb+srv://app:[API_KEY]@cluster0.example.net/test",
        ),
        ("amqp://svc:pa@ss9word@mq.local/vhost", "amqp://svc:[API_KEY]@mq.local/vhost"),  # an @ in the password
    ],
)
def test_a_password_in_a_url_is_masked(text: str, scrubbed: str) -> None:
    assert scan(text) == (scrubbed, {"api_key": 1})


@pytest.mark.parametrize(
    "text",
    [
        "postgres://user:password@localhost:5432/app",
        "postgres://<user>:<password>@db.example.com/app",
        "postgres://${DB_USER}:${DB_PASS}@db/app",
        "postgres://postgres:postgres@localhost:5432/postgres",  # an example's default account
        "amqp://guest:guest@localhost:5672/",
        "https://api.example.com:8443/v1/items",  # a port, no credentials
        "ssh://git@github.com:22/org/repo.git",  # a user, no password
        "postgres://app:****@db/app",
    ],
)
def test_urls_without_a_real_password_are_left(text: str) -> None:
    assert scan(text, frozenset({"api_key"})) == (text, {})


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        ("password: Tr0ub4dor&3xQ", "password: [API_KEY]"),
        ("PASSWORD=Tr0ub4dor&3xQ", "PASSWORD=[API_KEY]"),
        ("DB_PASSWORD = 'hunter2'", "DB_PASSWORD = '[API_KEY]'"),
        ("The admin password is Tr0ub4dor&3xQ, change it later.", "The admin password is [API_KEY], change it later."),
        ("my wifi passwd was Summer2024!", "my wifi passwd was [API_KEY]!"),
        ("client_secret: 8f3k2p9x", "client_secret: [API_KEY]"),
        ("pwd=Xq7#mZ2v", "pwd=[API_KEY]"),
    ],
)
def test_a_password_given_for_a_password_is_masked(text: str, scrubbed: str) -> None:
    assert scan(text) == (scrubbed, {"api_key": 1})


@pytest.mark.parametrize(
    "text",
    [
        "password: ****",
        "password: <your password>",
        "Password is required.",
        "The password is at least 8 characters long.",
        "password = getpass.getpass()",
        "password = settings.DB_PASSWORD",
        "password=${DB_PASSWORD}",
        "password: %s",
        "POSTGRES_PASSWORD: example",
        "MYSQL_ROOT_PASSWORD: secret",
        "password: str = Field(min_length=8)",
        "secret = os.urandom(32)",
        "pwd: /home/alice/project2",  # the shell's working directory
        "Your password is incorrect.",
        "password = self.pw2.strip",  # a name in code
    ],
)
def test_placeholders_names_in_code_and_prose_about_passwords_are_left(text: str) -> None:
    assert scan(text, frozenset({"api_key"})) == (text, {})


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        ("iban: de89370400440532013000", "iban: [IBAN]"),
        ("send it to de89 3704 0044 0532 0130 00 today", "send it to [IBAN] today"),
        ("gb82 west 1234 5698 7654 32", "[IBAN]"),  # a bank code of letters
        ("es91 2100 0418 4502 0005 1332 then", "[IBAN] then"),  # the next word is not its last group
        ("ES91 2100 0418 4502 0005 1332 then", "[IBAN] then"),
    ],
)
def test_an_iban_in_lower_case_is_masked_as_in_capitals(text: str, scrubbed: str) -> None:
    assert scan(text) == (scrubbed, {"iban": 1})


@pytest.mark.parametrize(
    "text",
    [
        "de89370400440532013001",  # fails mod-97
        "md5 ab12cd34ef56ab78cd90ef12ab34cd56",  # a digest of IBAN shape
        "xx12 3456 7890 1234 5678",  # no such country
        "de89 3704 0044 0532 0130",  # Germany's IBANs are 22 characters long
    ],
)
def test_lower_case_look_alikes_of_an_iban_are_left(text: str) -> None:
    assert scan(text, frozenset({"iban"})) == (text, {})


def test_iban_validation_reads_any_case() -> None:
    assert iban_valid("de89 3704 0044 0532 0130 00")
    assert not iban_valid("de89 3704 0044 0532 0130 01")


@pytest.mark.parametrize(
    "chosen",
    [
        "Connect with postgres://admin:S3cr3tP4ss!@db.prod.internal:5432/shop",
        "The admin password is Tr0ub4dor&3xQ, change it later.",
        "iban: de89370400440532013000",
    ],
)
def test_the_default_policy_rejects_such_secrets(engine: PolicyEngine, chosen: str) -> None:
    drop = engine.evaluate("How do I connect?", chosen, "Use the connection string from your settings.").drop
    assert drop is not None and drop.reason in {"pii:api_key", "pii:iban"}
