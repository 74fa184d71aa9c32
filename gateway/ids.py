"""Event ids for events that come without one.

In this order, the first that applies:

1. ``Idempotency-Key`` header (:meth:`RequestIds.new_id`): uuid5 of the API key id, the key, the
   event's position in the request's batch (0 for a single event) and a fingerprint of the event's
   fields (``occurred_at`` aside). A retry of the same request with the same key gets the same ids,
   however the client re-serialised the body, and the flow's dedup keeps one; the same key reused
   for other events gives them other ids, so a client's mistake never merges different events.
2. The client's own ``occurred_at``: uuid5 of the API key id, the position and a fingerprint of
   every field. An event the client stamped with its own time and sent twice, field for field, is
   one event sent twice (a timeout's retry): a second genuine click has a later ``occurred_at``.
   Without ``occurred_at`` the gateway stamps its receipt time, and two identical posts cannot be
   told from two identical clicks, so they stay two events.
3. A signed request: derived from its signature (the same signed bytes sent again after an
   unclear 503 get the same ids).
4. Otherwise a new UUIDv7 (RFC 9562), monotonic within one process.

Derived ids are scoped by the API key id: two clients' events never share one.

Python 3.11's ``uuid`` module has no ``uuid7``; this is the RFC's layout: 48 bits of Unix
milliseconds, version 7, a 12-bit counter (``rand_a``, method 1 of section 6.2) seeded
randomly each millisecond, variant ``10``, 62 random bits. Ids sort by creation time.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import threading
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import Enum
from typing import Any

_lock = threading.Lock()
_last_ms = 0
_counter = 0
_COUNTER_MAX = 0xFFF


def uuid7() -> uuid.UUID:
    """A new UUIDv7; strictly increasing within this process, even within one millisecond."""
    global _last_ms, _counter
    with _lock:
        now_ms = time.time_ns() // 1_000_000
        if now_ms > _last_ms:
            _last_ms = now_ms
            _counter = int.from_bytes(os.urandom(2), "big") & 0x7FF  # leave room to count up
        else:
            _counter += 1
            if _counter > _COUNTER_MAX:  # counter exhausted: borrow the next millisecond
                _last_ms += 1
                _counter = 0
        unix_ms, counter = _last_ms, _counter
    rand_b = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (unix_ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= counter << 64
    value |= 0b10 << 62
    value |= rand_b
    return uuid.UUID(int=value)


def new_event_id() -> str:
    """An event id as the topic carries it: the canonical UUID string."""
    return str(uuid7())


# Namespaces of derived ids: a request's signature (uuid5 of "<signature token>/<place>"), its
# Idempotency-Key, and the fields of an event the client stamped with its own occurred_at.
SIGNED_NAMESPACE = uuid.UUID("5b0d6c1e-3c55-4d4e-9a51-0f1f6a3c2b7d")
IDEMPOTENCY_NAMESPACE = uuid.UUID("0c8e6a2f-4d1b-4f57-b1f4-7a3e9d2c5b10")
CONTENT_NAMESPACE = uuid.UUID("9f2d7b4e-1a6c-4e38-8b05-3c6f1e9a7d42")
# RFC 9110 field value, as Stripe and the IETF idempotency-key draft use it: short, printable ASCII.
IDEMPOTENCY_KEY_MAX = 255


class RequestIds:
    """Ids for the events of one request that lack one (see the module docstring for the order)."""

    def __init__(self, key_id: str, idempotency_key: str | None = None, replay_token: str | None = None) -> None:
        self.key_id = key_id
        self.idempotency_key = idempotency_key
        self.replay_token = replay_token
        self._places = itertools.count()  # the signed scheme numbers the events without an id

    def new_id(self, position: int, sent: Mapping[str, Any]) -> str:
        """The id of the event at ``position`` of the request, whose fields as sent are ``sent``."""
        if self.idempotency_key is not None:
            fields = {name: value for name, value in sent.items() if name != "occurred_at"}
            name = f"{self.key_id}\n{self.idempotency_key}\n{position}\n{fingerprint(fields)}"
            return str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, name))
        if sent.get("occurred_at") is not None:
            return str(uuid.uuid5(CONTENT_NAMESPACE, f"{self.key_id}\n{position}\n{fingerprint(sent)}"))
        if self.replay_token is not None:
            return str(uuid.uuid5(SIGNED_NAMESPACE, f"{self.replay_token}/{next(self._places)}"))
        return new_event_id()


def idempotency_key_error(value: str) -> str | None:
    """Why ``value`` cannot be an ``Idempotency-Key``, or None when it can."""
    if not value or len(value) > IDEMPOTENCY_KEY_MAX:
        return f"must be 1 to {IDEMPOTENCY_KEY_MAX} characters"
    if not all(" " <= char <= "~" for char in value):
        return "must be printable ASCII"
    return None


def fingerprint(fields: Mapping[str, Any]) -> str:
    """A SHA-256 of ``fields`` that ignores key order and distinguishes types (``1``, ``"1"``, ``1.0``).

    Walked without recursion: ``metadata`` may nest as deep as the request's JSON parser allows.
    Lengths prefix every object and array, so no two different values share a stream.
    """
    digest = hashlib.sha256()
    stack: list[Any] = [dict(fields)]
    while stack:
        item = stack.pop()
        if isinstance(item, Mapping):
            digest.update(b"{%d" % len(item))
            for key in sorted(item, reverse=True):  # popped in sorted order: key, then its value
                stack.extend((item[key], str(key)))
        elif isinstance(item, list | tuple):
            digest.update(b"[%d" % len(item))
            stack.extend(reversed(item))
        else:
            digest.update(_scalar(item).encode("ascii") + b"\x00")
    return digest.hexdigest()


def _scalar(value: Any) -> str:
    if isinstance(value, datetime):
        return "t" + value.astimezone(UTC).isoformat()
    if isinstance(value, Enum):
        value = value.value
    return json.dumps(value)  # ASCII: a lone surrogate is escaped, not an encoding error
