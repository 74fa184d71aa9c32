"""Time-ordered event ids: UUIDv7 (RFC 9562), monotonic within one process.

Python 3.11's ``uuid`` module has no ``uuid7``; this is the RFC's layout: 48 bits of Unix
milliseconds, version 7, a 12-bit counter (``rand_a``, method 1 of section 6.2) seeded
randomly each millisecond, variant ``10``, 62 random bits. Ids sort by creation time.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

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
