"""Build Iceberg rows from curated events, following the contracts in ``schemas/tables.py``.

Lineage (source topic/partition/offset) is added by the sink from the row's coordinates, so
it is written in exactly one place.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from flywheel.operators.distance import EditMeasure
from flywheel.operators.outcome import Drop
from flywheel.schemas.events import InteractionEvent
from flywheel.schemas.records import SourcedEvent, TableRow
from flywheel.schemas.tables import DPO_PAIRS, FEEDBACK_SIGNALS, POSITIVE_EXAMPLES, REJECTIONS


def stable_id(namespace: str, event_id: str) -> str:
    """A deterministic id derived from an event id: identical across replays."""
    return hashlib.blake2b(f"{namespace}:{event_id}".encode(), digest_size=16).hexdigest()


def _identity(event: InteractionEvent) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "thread_id": event.thread_id,
        "request_id": event.request_id,
        "user_id": event.user_id,
        "segment": event.segment,
        "model_id": event.model_id,
        "model_version": event.model_version,
    }


def pair_row(
    sourced: SourcedEvent,
    chosen: str,
    measure: EditMeasure,
    safety_scores: dict[str, float],
    policy_version: str,
    curated_at: datetime,
) -> TableRow:
    """A DPO pair: ``chosen`` is the (possibly scrubbed) user edit, ``rejected`` the model answer."""
    event = sourced.event
    values = {
        "pair_id": stable_id("pair", event.event_id),
        **_identity(event),
        "prompt": event.prompt,
        "chosen": chosen,
        "rejected": event.response,
        "similarity": measure.similarity,
        "edit_distance": measure.distance,
        "edit_inserts": measure.inserts,
        "edit_deletes": measure.deletes,
        "edit_replaces": measure.replaces,
        "safety_scores": list(safety_scores.items()),
        "policy_version": policy_version,
        "occurred_at": event.occurred_at,
        "curated_at": curated_at,
    }
    return TableRow(DPO_PAIRS, sourced.coordinates, values)


def positive_row(
    sourced: SourcedEvent, stratum: str, sampling_rate: float, policy_version: str, curated_at: datetime
) -> TableRow:
    """A sampled positive example, with the stratum and rate needed to reweight it."""
    event = sourced.event
    values = {
        "example_id": stable_id("positive", event.event_id),
        **_identity(event),
        "signal": event.signal.value,
        "rating": event.rating,
        "prompt": event.prompt,
        "response": event.response,
        "stratum": stratum,
        "sampling_rate": sampling_rate,
        "policy_version": policy_version,
        "occurred_at": event.occurred_at,
        "curated_at": curated_at,
    }
    return TableRow(POSITIVE_EXAMPLES, sourced.coordinates, values)


def feedback_row(sourced: SourcedEvent, review_topic: str | None, curated_at: datetime) -> TableRow:
    """A feedback signal for analytics (thumbs down, regenerate, copy, ...)."""
    event = sourced.event
    values = {
        **_identity(event),
        "signal": event.signal.value,
        "rating": event.rating,
        "comment": event.comment,
        "prompt": event.prompt,
        "response": event.response,
        "routed_to_review": review_topic,
        "occurred_at": event.occurred_at,
        "curated_at": curated_at,
    }
    return TableRow(FEEDBACK_SIGNALS, sourced.coordinates, values)


def rejection_row(
    sourced: SourcedEvent,
    drop: Drop,
    policy_version: str,
    scrubbed: dict[str, str | None],
    curated_at: datetime,
) -> TableRow:
    """An audit row: which stage dropped the event and why; texts already PII-scrubbed."""
    event = sourced.event
    values = {
        **_identity(event),
        "signal": event.signal.value,
        "stage": drop.stage,
        "reason": drop.reason,
        "detail": drop.detail,
        "scores": list(drop.scores.items()),
        "policy_version": policy_version,
        "prompt": scrubbed.get("prompt"),
        "chosen": scrubbed.get("chosen"),
        "rejected": scrubbed.get("rejected"),
        "occurred_at": event.occurred_at,
        "curated_at": curated_at,
    }
    return TableRow(REJECTIONS, sourced.coordinates, values)
