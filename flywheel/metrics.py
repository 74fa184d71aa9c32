"""Prometheus metrics of the curation flow (prometheus-client, default registry).

Names follow Prometheus conventions (``_total`` counters, base units, bounded label sets:
labels are signal, stage, reason, table, topic and partition, never user or event ids).
Bytewax's dataflow API serves this registry on ``/metrics`` when
``BYTEWAX_DATAFLOW_API_ENABLED=true``; the flow also serves it on the configured port.
"""

from __future__ import annotations

import errno
from collections.abc import Mapping

from prometheus_client import Counter, Gauge, Histogram, start_http_server

from flywheel.errors import PortInUse

EVENTS_CONSUMED = Counter(
    "flywheel_events_consumed_total",
    "Interaction events decoded from the source topic, by signal.",
    ["signal"],
)
DLQ_MESSAGES = Counter(
    "flywheel_dlq_messages_total",
    "Messages sent to the dead-letter topic, by reason.",
    ["reason"],
)
DLQ_TRUNCATED = Counter(
    "flywheel_dlq_values_truncated_total",
    "DLQ messages whose value was cut to topics.dlq_max_message_bytes (whole in the source topic), by reason.",
    ["reason"],
)
DECISIONS = Counter(
    "flywheel_curation_decisions_total",
    "Curation decisions by stage and outcome reason (reason=accepted for rows kept).",
    ["stage", "reason"],
)
ROWS_QUARANTINED = Counter(
    "flywheel_iceberg_rows_quarantined_total",
    "Rows the sink left out because a quarantine rule of their table holds their event time (and user).",
    ["table"],
)
ROWS_WRITTEN = Counter(
    "flywheel_iceberg_rows_written_total",
    "Rows committed to Iceberg, by table.",
    ["table"],
)
ROWS_SKIPPED = Counter(
    "flywheel_iceberg_rows_skipped_total",
    "Rows dropped by the sink because their source offset was already committed (replays).",
    ["table"],
)
COMMITS = Counter(
    "flywheel_iceberg_commits_total",
    "Iceberg commits, by table and outcome (ok, conflict, failed).",
    ["table", "outcome"],
)
CATALOG_RETRIES = Counter(
    "flywheel_catalog_retries_total",
    "Catalog operations that failed with an outage (busy, unreachable) and were retried, by table and operation.",
    ["table", "operation"],
)
STARTUP_RETRIES = Counter(
    "flywheel_startup_retries_total",
    "Checks at start of a dependency (kafka, catalog) that did not answer and were tried again "
    "(kafka.startup_wait_s, catalog.startup_wait_s).",
    ["dependency"],
)
BROKER_OUTAGES = Counter(
    "flywheel_broker_outages_total",
    "Kafka outages seen by a client of this process (each is waited out): kind=down (no broker "
    "reachable) or unresponsive (requests unanswered, e.g. a hung broker).",
    ["kind"],
)
COMMIT_DURATION = Histogram(
    "flywheel_iceberg_commit_duration_seconds",
    "Wall time of one Iceberg commit, including retries.",
    ["table"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
COMMIT_ROWS = Histogram(
    "flywheel_iceberg_commit_rows",
    "Rows per Iceberg commit.",
    ["table"],
    buckets=(0, 1, 10, 100, 1_000, 10_000, 100_000),
)
SOURCE_LAG = Gauge(
    "flywheel_source_lag_messages",
    "Messages between the partition's high-water mark and the flow's position.",
    ["topic", "partition"],
)
SOURCE_POSITION = Gauge(
    "flywheel_source_position_offset",
    "Next offset the flow will read, per source partition.",
    ["topic", "partition"],
)
SOURCE_POLLS = Counter(
    "flywheel_source_polls_total",
    "Kafka consume() calls of the source partition (an idle one: about one per poll_timeout_s, "
    "fewer while the broker is down).",
    ["topic", "partition"],
)
SOURCE_POLL_BACKOFF = Gauge(
    "flywheel_source_poll_backoff_seconds",
    "While the broker is down: seconds between the source partition's polls, doubling to a cap "
    "(0 while the broker answers).",
    ["topic", "partition"],
)
SIMILARITY = Histogram(
    "flywheel_edit_similarity_ratio",
    "Normalized Levenshtein similarity of model answer vs user edit.",
    buckets=(0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0),
)
TOXICITY = Histogram(
    "flywheel_toxicity_score",
    "Highest toxicity label score of the user's edit, per scored item.",
    ["backend"],
    buckets=(0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 0.99, 1.0),
)
TEXT_HYGIENE = Counter(
    "flywheel_text_characters_removed_total",
    "Characters removed from event texts at decode: control characters (NUL, ...), bidi controls, zero-width spaces.",
    ["kind"],
)


def serve(host: str, port: int, setting: str = "metrics.port") -> None:
    """Expose the default registry over HTTP (no-op when port is 0); a taken port names ``setting``."""
    if not port:
        return
    try:
        start_http_server(port, addr=host)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        raise PortInUse.for_setting(setting, host, port) from exc


# -- Poisoning signal (bounded: one series per segment, never per user) ----------------------
# The quota step is keyed by segment, so one ledger sees every accepted pair of its segment
# and each segment's gauges are set by exactly one worker. After each admitted pair the flow
# calls ``observe_user_share(segment, counts)`` with the ledger's per-user counts for the
# newest event-time day. Alert FlywheelUserShareHigh reads these two gauges.
USER_SHARE_TOP = Gauge(
    "flywheel_accepted_pairs_top_user_share",
    "Share (0-1) of the segment's accepted pairs on the newest event-time day held by its top user.",
    ["segment"],
)
USER_SHARE_PAIRS = Gauge(
    "flywheel_accepted_pairs_current_day",
    "Accepted pairs of the segment on the newest event-time day (the share's denominator).",
    ["segment"],
)


def observe_user_share(segment: str, user_counts: Mapping[str, int]) -> None:
    """Set the top-user share gauges of one segment from its per-user counts for the day."""
    total = sum(user_counts.values())
    USER_SHARE_PAIRS.labels(segment).set(total)
    USER_SHARE_TOP.labels(segment).set(max(user_counts.values()) / total if total else 0.0)
