"""Event ids for events that come without one: time-ordered UUIDv7, or derived from a signature.

UUIDv7 (RFC 9562), monotonic within one process, for an unsigned request. A signed request's
ids are derived from its signature (:func:`ids_for_request`): the same signed bytes sent again
after an unclear 503 (the broker may have the first copy) get the same ids, and the flow's
dedup keeps one.

Python 3.11's ``uuid`` module has no ``uuid7``; this is the RFC's layout: 48 bits of Unix
milliseconds, version 7, a 12-bit counter (``rand_a``, method 1 of section 6.2) seeded
randomly each millisecond, variant ``10``, 62 random bits. Ids sort by creation time.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
import uuid
from collections.abc import Callable

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


# Namespace of the ids derived from a request's signature (uuid5 of "<signature token>/<index>").
SIGNED_NAMESPACE = uuid.UUID("5b0d6c1e-3c55-4d4e-9a51-0f1f6a3c2b7d")


def ids_for_request(replay_token: str | None) -> Callable[[], str]:
    """Ids for the events of one request that lack one, in body order.

    Unsigned (``replay_token`` None): a new UUIDv7 each. Signed: uuid5 of the signature token and
    the event's place among those without an id, the same on every resend of the same bytes.
    """
    if replay_token is None:
        return new_event_id
    places = itertools.count()
    return lambda: str(uuid.uuid5(SIGNED_NAMESPACE, f"{replay_token}/{next(places)}"))
