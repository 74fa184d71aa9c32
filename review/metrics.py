"""Prometheus metrics of the review queue (default registry, served on the app's ``/metrics``)."""

from __future__ import annotations

import time

from prometheus_client import Counter, Gauge

from flywheel.review.store import ReviewStore

QUEUE_DEPTH = Gauge(
    "flywheel_review_queue_depth",
    "Open (unanswered) review items, by why they are queued.",
    ["reason"],
)
QUEUE_OLDEST_AGE = Gauge(
    "flywheel_review_queue_oldest_age_seconds",
    "Seconds since the oldest open review item entered the queue (0 when the queue is empty).",
)
ITEMS_STORED = Counter(
    "flywheel_review_items_stored_total",
    "Review-topic messages stored as new queue items (replays not counted).",
)
ITEMS_INVALID = Counter(
    "flywheel_review_items_invalid_total",
    "Review-topic messages that are not valid interaction events (logged with their offset, skipped).",
)
ACTIONS = Counter(
    "flywheel_review_actions_total",
    "Reviewer actions posted as review events, by action.",
    ["action"],
)

LOGINS_REFUSED = Counter(
    "flywheel_review_logins_refused_total",
    "Reviewer logins refused: credentials (401) or throttled (429, too many failures from the address or for the id).",
    ["reason"],
)


def refresh_queue_gauges(store: ReviewStore, now: float | None = None) -> None:
    """Set the depth and oldest-age gauges from the store (reasons that emptied drop to 0)."""
    now = time.time() if now is None else now
    depth = store.depth_by_reason()
    for labels in list(QUEUE_DEPTH._metrics):  # reasons seen before and now empty go back to 0
        if labels[0] not in depth:
            QUEUE_DEPTH.labels(*labels).set(0)
    for reason, count in depth.items():
        QUEUE_DEPTH.labels(reason).set(count)
    oldest = store.oldest_open_enqueued_at()
    QUEUE_OLDEST_AGE.set(0.0 if oldest is None else max(now - oldest, 0.0))
