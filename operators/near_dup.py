"""Near-duplicate detection of edits with MinHash over character shingles (optional, off by default).

Scope: edits of the same prompt. The flow keys the step by
``dedup.bucket_of(near_dup_group(event), buckets)`` (the normalised prompt's hash), so
near-duplicates of one prompt meet in one state object. Within a group, an edit whose
MinHash-estimated Jaccard similarity to an earlier edit (within the event-time window)
reaches ``threshold`` is dropped with reason ``near_duplicate``; the first is kept.
Expiry works like :class:`operators.dedup.WindowedDedup` (watermark = max event time
minus window). Deterministic (fixed hash seeds, blake2b shingles) and picklable.
"""

from __future__ import annotations

import hashlib
import heapq
from datetime import datetime, timedelta

import numpy as np

from flywheel.operators.normalize import content_key, normalize_text
from flywheel.operators.outcome import Drop, Stage
from flywheel.schemas.events import InteractionEvent, Signal
from flywheel.schemas.records import Position

NEAR_DUPLICATE = "near_duplicate"
_PRIME = np.uint64(4294967311)  # smallest prime above 2**32


def near_dup_group(event: InteractionEvent) -> str | None:
    """The group near-duplicates are searched in: the normalised prompt's key; None for non-edits."""
    if event.signal is not Signal.EDIT or event.final_user_edit is None:
        return None
    return content_key(event.prompt, "", "")


def _permutations(num_perm: int) -> tuple[np.ndarray, np.ndarray]:
    seed = hashlib.blake2b(f"minhash-{num_perm}".encode(), digest_size=8).digest()
    rng = np.random.default_rng(int.from_bytes(seed, "big"))
    a = rng.integers(1, 2**32, size=num_perm, dtype=np.uint64)
    b = rng.integers(0, 2**32, size=num_perm, dtype=np.uint64)
    return a, b


def minhash(text: str, num_perm: int = 64, shingle_size: int = 5) -> np.ndarray:
    """MinHash signature (``num_perm`` uint64 values) of the normalised text's character shingles."""
    norm = normalize_text(text)
    if len(norm) <= shingle_size:
        shingles = {norm}
    else:
        shingles = {norm[i : i + shingle_size] for i in range(len(norm) - shingle_size + 1)}
    hashes = np.fromiter(
        (int.from_bytes(hashlib.blake2b(s.encode("utf-8"), digest_size=4).digest(), "big") for s in sorted(shingles)),
        dtype=np.uint64,
        count=len(shingles),
    )
    a, b = _permutations(num_perm)
    permuted = (a[:, None] * hashes[None, :] + b[:, None]) % _PRIME
    signature: np.ndarray = permuted.min(axis=1)
    return signature


def estimated_jaccard(left: np.ndarray, right: np.ndarray) -> float:
    """Fraction of equal MinHash slots: an unbiased estimate of the shingle sets' Jaccard index."""
    return float(np.mean(left == right))


class NearDuplicateDetector:
    """Per-bucket state: MinHash signatures of kept edits by group, within an event-time window."""

    def __init__(self, window: timedelta, threshold: float = 0.9, num_perm: int = 64, shingle_size: int = 5) -> None:
        if window <= timedelta(0):
            raise ValueError(f"near-duplicate window must be positive, got {window}")
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"near-duplicate threshold must be in (0, 1], got {threshold}")
        self.window_s = window.total_seconds()
        self.threshold = threshold
        self.num_perm = num_perm
        self.shingle_size = shingle_size
        self._groups: dict[str, list[tuple[float, int, np.ndarray]]] = {}
        # Source position of each remembered edit: a replayed message never matches itself.
        self._positions: dict[int, Position] = {}
        self._expiry: list[tuple[float, int, str]] = []
        self._max_seen: float | None = None
        self._counter = 0

    def __len__(self) -> int:
        """Signatures currently held."""
        return sum(len(entries) for entries in self._groups.values())

    def observe(self, group: str, text: str, occurred_at: datetime, position: Position | None = None) -> Drop | None:
        """Check ``text`` against the group's recent texts; remember it when kept.

        With ``position`` (source topic, partition, offset) a replayed message keeps its
        first decision instead of matching its own earlier signature.
        """
        if occurred_at.tzinfo is None:
            raise ValueError("occurred_at must be timezone-aware")
        ts = occurred_at.timestamp()
        if self._max_seen is None or ts > self._max_seen:
            self._max_seen = ts
            self._evict(ts - self.window_s)
        signature = minhash(text, self.num_perm, self.shingle_size)
        for first_ts, ident, other in self._groups.get(group, ()):
            if position is not None and self._positions.get(ident) == position:
                return None
            if abs(ts - first_ts) > self.window_s:
                continue
            similarity = estimated_jaccard(signature, other)
            if similarity >= self.threshold:
                detail = f"estimated Jaccard {similarity:.3f} >= {self.threshold} with an earlier edit"
                return Drop(Stage.DEDUP, NEAR_DUPLICATE, detail, {"near_duplicate_jaccard": similarity})
        if ts >= self._max_seen - self.window_s:
            self._counter += 1
            self._groups.setdefault(group, []).append((ts, self._counter, signature))
            if position is not None:
                self._positions[self._counter] = position
            heapq.heappush(self._expiry, (ts, self._counter, group))
        return None

    def _evict(self, watermark: float) -> None:
        while self._expiry and self._expiry[0][0] < watermark:
            _, ident, group = heapq.heappop(self._expiry)
            self._positions.pop(ident, None)
            kept = [entry for entry in self._groups.get(group, []) if entry[1] != ident]
            if kept:
                self._groups[group] = kept
            else:
                self._groups.pop(group, None)
