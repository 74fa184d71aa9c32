"""API keys as a caller presents them: which configured key id, if any, a presented key is.

Shared by the gateway (``X-API-Key``) and the model server (``Authorization: Bearer``).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from pydantic import SecretStr


def reveal(secret: SecretStr | str) -> str:
    """The secret's value; plain strings are accepted (settings changed without validation)."""
    return secret.get_secret_value() if isinstance(secret, SecretStr) else str(secret)


class KeyRing:
    """The configured API keys by key id; looked up in constant time per key."""

    def __init__(self, keys: Mapping[str, SecretStr | str]) -> None:
        self._keys = [(key_id, reveal(secret).encode()) for key_id, secret in keys.items()]

    def __bool__(self) -> bool:
        return bool(self._keys)

    def key_id(self, presented: str) -> str | None:
        """The key id whose key is ``presented``; None for an unknown key."""
        candidate = presented.encode()
        found: str | None = None
        for key_id, secret in self._keys:  # compare against every key: no early exit timing
            if hmac.compare_digest(candidate, secret):
                found = key_id
        return found
