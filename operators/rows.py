"""Build Iceberg rows from curated events, following the contracts in ``schemas/tables.py``.

Lineage (source topic/partition/offset) is added by the sink from the row's coordinates, so
it is written in exactly one place. Every free-text column of every table (prompt, chosen,
rejected, response, comment, detail, each earlier turn in a pair's metadata) passes through
:func:`scrub_text` here, the one place rows are built, so no stored text can skip PII scrubbing
whatever path the event took.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, overload

import msgspec

from flywheel.operators.dedup import dedup_key
from flywheel.operators.distance import EditMeasure
from flywheel.operators.outcome import Drop
from flywheel.operators.pii import scan_all
from flywheel.schemas.conversation import CONVERSATION_KEY, conversation_of
from flywheel.schemas.events import InteractionEvent
from flywheel.schemas.records import SourcedEvent, TableRow
from flywheel.schemas.tables import DPO_PAIRS, FEEDBACK_SIGNALS, POSITIVE_EXAMPLES, REJECTIONS

_json = msgspec.json.Encoder()


def stable_id(namespace: str, event_id: str) -> str:
    """A deterministic id derived from an event id: identical across replays."""
    return hashlib.blake2b(f"{namespace}:{event_id}".encode(), digest_size=16).hexdigest()


def stored_user_id(user_id: str) -> str:
    """The user id as rows and messages carry it: itself, or a digest where it holds PII.

    The contract says pseudonymous, but a client may send an e-mail address or a phone number as
    the id. A digest keeps one user one id (quotas, impact by user) without storing the address;
    an unkeyed digest of a known address can be recomputed, so it hides the id, it does not
    anonymise it.
    """
    if not scan_all(user_id).counts:
        return user_id
    return "pii-" + hashlib.blake2b(user_id.encode(), digest_size=12).hexdigest()


@overload
def scrub_text(text: str) -> str: ...
@overload
def scrub_text(text: None) -> None: ...
def scrub_text(text: str | None) -> str | None:
    """The text with every built-in PII/secret detector masked (None stays None)."""
    return None if text is None else scan_all(text).scrubbed


# Numbers this long can be a phone, card or account number written without quotes.
_LONG_NUMBER = 10**6


def _scrub_value(value: Any) -> Any:
    """A metadata value with its texts scrubbed: strings, dict keys, and long numbers (as text)."""
    if isinstance(value, str):
        return scan_all(value).scrubbed
    if isinstance(value, list):
        return [_scrub_value(item) for item in value]
    if isinstance(value, dict):
        return {_scrub_value(key) if isinstance(key, str) else key: _scrub_value(item) for key, item in value.items()}
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= _LONG_NUMBER:
        # {"customer_phone": 4155552671}: masked as text where the number is PII, else kept as it is.
        found = scan_all(str(value))
        return found.scrubbed if found.counts else value
    return value


def scrub_event(event: InteractionEvent) -> InteractionEvent:
    """The event with its texts and metadata values scrubbed: what may leave the flow (review topic)."""
    return msgspec.structs.replace(
        event,
        prompt=scan_all(event.prompt).scrubbed,
        response=scan_all(event.response).scrubbed,
        final_user_edit=scrub_text(event.final_user_edit),
        comment=scrub_text(event.comment),
        metadata=_scrub_value(event.metadata),
        user_id=stored_user_id(event.user_id),
    )


def _identity(event: InteractionEvent) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "thread_id": event.thread_id,
        "request_id": event.request_id,
        "user_id": stored_user_id(event.user_id),
        "segment": event.segment,
        "model_id": event.model_id,
        "model_version": event.model_version,
        # a hash or the event id, never raw text: a restart rebuilds the dedup window from it
        "dedup_key": dedup_key(event),
    }


def pair_row(
    sourced: SourcedEvent,
    chosen: str,
    measure: EditMeasure,
    safety_scores: dict[str, float],
    policy_version: str,
    curated_at: datetime,
    reviewer_id: str | None = None,
) -> TableRow:
    """A DPO pair: ``chosen`` is the (possibly scrubbed) user edit, ``rejected`` the model answer.

    With ``reviewer_id``, ``chosen`` was written or approved by that reviewer (``source=reviewer``).
    """
    event = sourced.event
    values = {
        "pair_id": stable_id("pair", event.event_id),
        **_identity(event),
        "prompt": scrub_text(event.prompt),
        "chosen": scrub_text(chosen),
        "rejected": scrub_text(event.response),
        "similarity": measure.similarity,
        "edit_distance": measure.distance,
        "edit_inserts": measure.inserts,
        "edit_deletes": measure.deletes,
        "edit_replaces": measure.replaces,
        "safety_scores": list(safety_scores.items()),
        "policy_version": policy_version,
        "occurred_at": event.occurred_at,
        "curated_at": curated_at,
        "source": "user" if reviewer_id is None else "reviewer",
        "reviewer_id": reviewer_id,
        "metadata": stored_conversation(event),
    }
    return TableRow(DPO_PAIRS, sourced.coordinates, values)


def stored_conversation(event: InteractionEvent) -> str | None:
    """``dpo_pairs.metadata``: ``{"conversation": [...]}`` JSON, each turn's content scrubbed; None without turns.

    Only the conversation is stored, not the rest of the metadata. Raises
    :class:`MalformedConversation` for a malformed one: the policy gate rejects such a pair first.
    """
    turns = conversation_of(event.metadata)
    if not turns:
        return None
    scrubbed = [{"role": turn["role"], "content": scrub_text(turn["content"])} for turn in turns]
    return _json.encode({CONVERSATION_KEY: scrubbed}).decode()


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
        "prompt": scrub_text(event.prompt),
        "response": scrub_text(event.response),
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
        "comment": scrub_text(event.comment),
        "prompt": scrub_text(event.prompt),
        "response": scrub_text(event.response),
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
        "detail": scrub_text(drop.detail),
        "scores": list(drop.scores.items()),
        "policy_version": policy_version,
        "prompt": scrub_text(scrubbed.get("prompt")),
        "chosen": scrub_text(scrubbed.get("chosen")),
        "rejected": scrub_text(scrubbed.get("rejected")),
        "occurred_at": event.occurred_at,
        "curated_at": curated_at,
    }
    return TableRow(REJECTIONS, sourced.coordinates, values)
