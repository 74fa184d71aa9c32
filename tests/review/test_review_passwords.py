"""Reviewer password hashes: scrypt round trip, what a stored hash may be, and the CLI that makes one."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from flywheel.cli import app
from flywheel.errors import ConfigError
from flywheel.review.passwords import DEFAULT_N, dummy_hash, hash_password, parse_password_hash


def test_a_hash_verifies_its_password_only_and_salts_every_time() -> None:
    stored = hash_password("correct horse", n=2**10)
    parsed = parse_password_hash(stored)
    assert stored.startswith("scrypt:1024:8:1$") and "correct horse" not in stored
    assert parsed.verify("correct horse")
    assert not parsed.verify("correct horse ") and not parsed.verify("")
    assert hash_password("correct horse", n=2**10) != stored  # a fresh salt each time
    assert not dummy_hash(parsed).verify("correct horse") and dummy_hash(parsed).n == parsed.n


@pytest.mark.parametrize(
    ("stored", "message"),
    [
        ("correct horse", "not a password hash"),
        ("scrypt:16384:8:1", "not a password hash"),
        ("bcrypt:16384:8:1$00ff00ff00ff00ff$" + "00" * 32, "not a password hash"),
        ("scrypt:lots:8:1$00ff00ff00ff00ff$" + "00" * 32, "malformed"),
        ("scrypt:16384:8:1$zz$" + "00" * 32, "malformed"),
        ("scrypt:1000:8:1$00ff00ff00ff00ff$" + "00" * 32, "power of two"),
        ("scrypt:" + str(2**30) + ":8:1$00ff00ff00ff00ff$" + "00" * 32, "power of two"),
        ("scrypt:16384:64:1$00ff00ff00ff00ff$" + "00" * 32, "r must be"),
        ("scrypt:16384:8:1$00ff$" + "00" * 32, "salt of at least"),
    ],
)
def test_what_is_not_a_usable_hash_is_refused(stored: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as refused:
        parse_password_hash(stored)
    assert "correct horse" not in str(refused.value)  # the value is never echoed


def test_the_cli_prints_a_hash_of_the_password_read_from_stdin() -> None:
    result = CliRunner().invoke(app, ["review", "hash-password"], input="a long pass phrase\n")
    assert result.exit_code == 0, result.output
    stored = result.output.strip()
    parsed = parse_password_hash(stored)
    assert parsed.n == DEFAULT_N and parsed.verify("a long pass phrase")
    empty = CliRunner().invoke(app, ["review", "hash-password"], input="\n")
    # The CLI's entry point prints a ConfigError as one line and exits 2.
    assert isinstance(empty.exception, ConfigError) and "no password" in str(empty.exception)
