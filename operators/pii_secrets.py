"""Secrets a text may hold, and what a match must be to count as one.

Provider keys by their prefix (and a PEM private key's whole block), long values named by a
secret's name, HTTP ``Basic`` credentials, passwords on a command line, in a URL or given for a
password: the patterns, shared by the product's scan (:mod:`flywheel.operators.pii_detectors`) and
the benchmarks' reference scan, and their validators, which weed out look-alikes (a low-entropy
value, a placeholder such as ``<password>`` or ``****``, or the name of the variable holding it).
"""

from __future__ import annotations

import math
import re
from collections import Counter

# Provider keys by their prefix, and a PEM private key's whole block (its base64 body is the key:
# masking the header alone stored the key); a block cut off before its END line runs to the end.
PROVIDER_KEY = re.compile(
    r"\bsk-(?:proj-|ant-)?[A-Za-z0-9_\-]{20,}"
    r"|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"
    r"|\bgh[pousr]_[A-Za-z0-9]{36,}\b"
    r"|\bgithub_pat_[A-Za-z0-9_]{22,}\b"
    r"|\bhf_[A-Za-z0-9]{34,}\b"
    r"|\bxox[abprs]-[A-Za-z0-9\-]{10,}"
    r"|\bAIza[0-9A-Za-z_\-]{35}\b"
    r"|\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"
    r"|-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----"
    r"(?:[\s\S]*?-----END [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----|[\s\S]*)"
)
# A long value named by a secret's name. Either the name stands alone (``token: X``, ``Bearer X``,
# after ``_`` too: ``MY_API_KEY X``), or it ends a longer name (``SessionToken``,
# ``AWS_SECRET_ACCESS_KEY``) and then a ``:`` or ``=`` must follow. The value starts with a letter
# or digit, so ``token_type=...`` is read as the name ``token_type``, not the value ``_type=...``.
_SECRET_NAMES = r"(?:bearer|token|api[_-]?key|secret|password|passwd|access[_-]?key)"
KEYWORD_SECRET = re.compile(
    rf"(?i)(?:(?<![a-z0-9]){_SECRET_NAMES}[\"']?\s*[:=]?\s*|{_SECRET_NAMES}[a-z0-9_]*[\"']?\s*[:=]\s*)"
    r"[\"']?(?P<secret>[A-Za-z0-9+/~][A-Za-z0-9._~+/=\-]{15,})"
)
# HTTP Basic credentials: base64 of "user:password".
BASIC_AUTH = re.compile(r"(?i)\bbasic\s+(?P<secret>[A-Za-z0-9+/]{8,}={0,2})(?![A-Za-z0-9+/=])")
# A password on a command line: curl -u user:pw, curl --user=user:pw, mysql -pS3cret.
CLI_PASSWORD = re.compile(
    r"\b(?:curl\b[^\n]*?\s(?:-u\s*|--user[ =])[\"']?[^\s:\"']+:|mysql\b[^\n]*?\s-p)(?P<secret>[^\s\"']+)"
)
# Credentials in a URL: postgres://admin:S3cr3t@db/shop (not user@host).
URL_PASSWORD = re.compile(r"\b[A-Za-z][A-Za-z0-9+.\-]*://(?P<user>[^\s:/@]*):(?P<secret>[^\s/]+)@[\w\[]")
# A password given: "password: X", "DB_PASSWORD=X", "the admin password is X".
STATED_PASSWORD = re.compile(
    # The name may go on with what kind of secret it is: SECRET_KEY, SecretAccessKey, secret_token.
    r"(?i)(?<![a-z0-9])(?:password|passwd|passphrase|pwd|secret)(?:[_-]?(?:access[_-]?)?(?:key|token|value))?s?[\"']?"
    r"(?:\s*[:=]\s*|\s+(?:is|was)\s*:?\s+)[\"'`]?(?P<secret>[^\s\"'`]*[^\s\"'`.,;:!?)])"
)


def shannon_entropy(text: str) -> float:
    """Bits per character of the text's character distribution."""
    if not text:
        return 0.0
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def secret_ok(match: re.Match[str]) -> bool:
    """A long key-like value (group ``secret``): letters and digits, high entropy.

    Not ``name=value`` (``token_type=bearer_v2`` names a setting; base64 padding at the end is fine).
    """
    value = match.group("secret")
    has_letter = any(c.isalpha() for c in value)
    has_digit = any(c.isdigit() for c in value)
    return has_letter and has_digit and "=" not in value.rstrip("=") and shannon_entropy(value) >= 3.5


def basic_auth_ok(match: re.Match[str]) -> bool:
    """``Basic X`` where X decodes to ``user:password`` (not a word such as "Basic configuration")."""
    import base64
    import binascii

    value = match.group("secret")
    try:
        decoded = base64.b64decode(value + "=" * (-len(value) % 4), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return False
    user, colon, password = decoded.partition(":")
    return bool(colon and user and password) and decoded.isprintable()


def cli_password_ok(match: re.Match[str]) -> bool:
    """A password on a command line (group ``secret``) that is not a placeholder."""
    return not _names_no_secret(match.group("secret"))


# Words a placeholder or a variable holding the password is made of ("<your_password>", "DB_PASS",
# "changeme", "xxxx"): a value containing one names a password rather than being one.
_NAMES_A_SECRET = re.compile(r"(?i)pass|pwd|secret|token|changeme|example|placeholder|redacted|hidden|xxx")
# Templates, shell and format variables, calls and masks: ${DB_PASS}, %s, <password>, getpass(), ****.
_NOT_A_VALUE = re.compile(r"[<>{}\[\]()]|^\$|\$\{|%[sdr(]|\*\*|\.\.\.|\u2026")
# A dotted name in code (settings.db_password, self.pw1): a reference, not a value.
_DOTTED_NAME = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")
# Also names, not values: a snake_case variable (password=user_input), a setting given a value
# (password: min_length=12) and a YAML tag (password: !vault db/creds).
_CODE_NAME = re.compile(r"[a-z]+(?:_[a-z]+)+|[A-Za-z_]\w*=.*|![A-Za-z]+")


def _names_no_secret(value: str) -> bool:
    """True when ``value`` is a placeholder, a mask, a template or a name in code, not a secret."""
    return (
        len(set(value)) == 1
        or _NOT_A_VALUE.search(value) is not None
        or _only_names_a_secret(value)
        or _DOTTED_NAME.fullmatch(value) is not None
        or _CODE_NAME.fullmatch(value) is not None
        or value[0] in "/~\\."  # a path (pwd: /home/me)
    )


def _only_names_a_secret(value: str) -> bool:
    """A value made of a placeholder word and little else ("DB_PASS", "my_secret_1", "changeme123").

    A real password can hold such a word too ("Hunter2Secret!"): what is left without the words
    and separators, six characters or more with upper- and lower-case letters and a digit, is one.
    """
    if _NAMES_A_SECRET.search(value) is None:
        return False
    rest = re.sub(r"[_\-.]", "", _NAMES_A_SECRET.sub("", value))
    mixed = any(c.isupper() for c in rest) and any(c.islower() for c in rest) and any(c.isdigit() for c in rest)
    return not (len(rest) >= 6 and mixed)


def url_password_ok(match: re.Match[str]) -> bool:
    """The password of ``scheme://user:password@host`` (groups ``user``, ``secret``) is a real one.

    Not a placeholder (``user:password@``, ``<password>``, ``${DB_PASS}``) and not the user name
    again (``postgres:postgres@``, ``guest:guest@``: a default account of an example).
    """
    value = match.group("secret")
    return value != match.group("user") and not _names_no_secret(value)


def stated_password_ok(match: re.Match[str]) -> bool:
    """A value given for a password (group ``secret``) looks like a real secret.

    Six characters or more with a letter and a digit or sign ("hunter2", "Tr0ub4dor&3xQ"), and
    not a placeholder or a name in code; a plain word ("password is required") is none.
    """
    value = match.group("secret")
    if len(value) < 6 or _names_no_secret(value):
        return False
    has_letter = any(c.isalpha() for c in value)
    return has_letter and any(not c.isalpha() for c in value)
