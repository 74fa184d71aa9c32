"""Reviewer passwords as scrypt hashes (stdlib ``hashlib.scrypt``), never stored in plain.

A stored hash reads ``scrypt:<n>:<r>:<p>$<salt, hex>$<key, hex>`` (the layout Werkzeug uses, so
the cost travels with the hash and can be raised later without breaking older hashes).
``flywheel review hash-password`` prints one; settings hold only such hashes. Verification
recomputes the key with the hash's own parameters and compares in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

SCHEME = "scrypt"
# n = 2^15, r = 8, p = 1: 32 MiB and 0.13-0.23 s a check on the shared 2-core development machine (OWASP's scrypt floor
# is n = 2^17 with r = 8 at p = 1 for new systems that can afford 128 MiB; raise n here to follow it).
DEFAULT_N, DEFAULT_R, DEFAULT_P = 2**15, 8, 1
KEY_BYTES = 32
SALT_BYTES = 16
# Bounds on what a configured hash may ask for: a typo must not make one login cost gigabytes.
MAX_N, MAX_R, MAX_P = 2**20, 32, 16


@dataclass(frozen=True)
class PasswordHash:
    """A parsed scrypt hash: cost parameters, salt and derived key."""

    n: int
    r: int
    p: int
    salt: bytes
    key: bytes

    def encode(self) -> str:
        """The stored form, ``scrypt:n:r:p$salt$key``."""
        return f"{SCHEME}:{self.n}:{self.r}:{self.p}${self.salt.hex()}${self.key.hex()}"

    def verify(self, password: str) -> bool:
        """Whether ``password`` derives this key (constant-time comparison)."""
        derived = _derive(password, self.salt, self.n, self.r, self.p, len(self.key))
        return hmac.compare_digest(derived, self.key)


def hash_password(password: str, n: int = DEFAULT_N, r: int = DEFAULT_R, p: int = DEFAULT_P) -> str:
    """The stored form of ``password`` with a fresh random salt."""
    if not password:
        raise ValueError("an empty password cannot be hashed")
    _check_cost(n, r, p)
    salt = secrets.token_bytes(SALT_BYTES)
    return PasswordHash(n, r, p, salt, _derive(password, salt, n, r, p, KEY_BYTES)).encode()


def parse_password_hash(stored: str) -> PasswordHash:
    """Parse a stored hash; ``ValueError`` saying what is wrong (never echoing the value)."""
    head, _, rest = stored.partition("$")
    salt_hex, _, key_hex = rest.partition("$")
    parts = head.split(":")
    if len(parts) != 4 or parts[0] != SCHEME or not salt_hex or not key_hex:
        raise ValueError(
            "not a password hash (expected scrypt:<n>:<r>:<p>$<salt>$<key>, as `flywheel review hash-password` "
            "prints); plain passwords are refused"
        )
    try:
        n, r, p = (int(part) for part in parts[1:])
        salt, key = bytes.fromhex(salt_hex), bytes.fromhex(key_hex)
    except ValueError:
        raise ValueError("a malformed scrypt hash: the cost must be integers and the salt and key hex") from None
    _check_cost(n, r, p)
    if len(salt) < 8 or len(key) < 16:
        raise ValueError("a scrypt hash needs a salt of at least 8 bytes and a key of at least 16")
    return PasswordHash(n, r, p, salt, key)


def dummy_hash(like: PasswordHash | None = None) -> PasswordHash:
    """A hash no password matches, as costly to check as ``like``: unknown ids take as long as known ones."""
    n, r, p = (like.n, like.r, like.p) if like else (DEFAULT_N, DEFAULT_R, DEFAULT_P)
    return PasswordHash(n, r, p, secrets.token_bytes(SALT_BYTES), secrets.token_bytes(KEY_BYTES))


def _check_cost(n: int, r: int, p: int) -> None:
    if n < 2 or n > MAX_N or n & (n - 1):
        raise ValueError(f"scrypt n must be a power of two from 2 to {MAX_N}, not {n}")
    if not 1 <= r <= MAX_R or not 1 <= p <= MAX_P:
        raise ValueError(f"scrypt r must be 1-{MAX_R} and p 1-{MAX_P}, not r={r}, p={p}")


def _derive(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    # OpenSSL refuses by default above 32 MiB; allow what the parameters need (128 * n * r * p) plus slack.
    maxmem = 128 * n * r * p + 1024 * 1024
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=maxmem, dklen=length)
