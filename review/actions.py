"""A reviewer's decision as a ``review`` interaction event, posted through the gateway.

The event goes the normal way (gateway -> interactions topic -> curation flow), so it gets the
flow's dedup, PII scrubbing and audit trail. Its ``event_id`` is derived from the item: one
item has one review outcome, and a repeated post (a retry after a timeout) is the same event.

===========  ==================================  ===========================================
action       ``final_user_edit``                 what the flow does
===========  ==================================  ===========================================
correct      the reviewer's answer               trusted DPO pair: chosen = reviewer's answer
approve      the held-back user edit             trusted DPO pair: chosen = the user's edit
reject       the held-back user edit             audit row (rejections, stage ``review``)
dismiss      none                                audit row (rejections, stage ``review``)
===========  ==================================  ===========================================

``metadata.review`` carries the reviewer id, the action, the item, the queue reason and the
source of the original event, ``metadata.conversation`` the item's earlier turns when it has
them; ``comment`` carries the reviewer's reason or note.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import msgspec

from flywheel.errors import ReviewDeliveryError, ReviewError
from flywheel.review.config import ReviewSettings
from flywheel.review.items import ReviewItem
from flywheel.schemas.conversation import CONVERSATION_KEY
from flywheel.schemas.events import Signal
from flywheel.schemas.review import REVIEW_EVENT_ID_PREFIX, REVIEW_METADATA_KEY, ReviewAction, ReviewMetadata
from flywheel.schemas.webhook import sign

Action = ReviewAction


@dataclass(frozen=True)
class Decision:
    """One reviewer's answer to one item."""

    action: Action
    reviewer_id: str
    answer: str | None = None  # the corrected answer (correct)
    note: str | None = None  # the reason (dismiss, reject) or a remark


def review_event_id(item: ReviewItem) -> str:
    """The event id of an item's review outcome: the same for every post of it."""
    return f"{REVIEW_EVENT_ID_PREFIX}{item.item_id}"


def review_event(item: ReviewItem, decision: Decision, now: datetime | None = None) -> dict[str, Any]:
    """The canonical event (gateway ``POST /v1/events`` body) for ``decision`` on ``item``."""
    final = _final_answer(item, decision)
    reviewer = decision.reviewer_id
    review = ReviewMetadata(decision.action, reviewer, item.item_id, item.event_id, item.reason, item.source)
    return {
        "event_id": review_event_id(item),
        "signal": Signal.REVIEW.value,
        "occurred_at": (now or datetime.now(UTC)).isoformat(),
        "thread_id": item.thread_id,
        "request_id": item.request_id,
        "user_id": item.user_id,
        "segment": item.segment,
        "model_id": item.model_id,
        "model_version": item.model_version,
        "prompt": item.prompt,
        "response": item.response,
        "final_user_edit": final,
        "comment": decision.note or None,
        # The earlier turns travel on, so the trusted pair is trained with its conversation.
        "metadata": {REVIEW_METADATA_KEY: msgspec.to_builtins(review), **_conversation(item)},
    }


def review_event_text(event: dict[str, Any]) -> str:
    """The JSON text posted (and kept by the store at hold time) for ``event``."""
    return json.dumps(event)


def same_decision(sent: dict[str, Any], event: dict[str, Any]) -> bool:
    """True when ``event`` says what ``sent`` said: equal but for the time it was made at."""
    return {**sent, "occurred_at": None} == {**event, "occurred_at": None}


def _conversation(item: ReviewItem) -> dict[str, Any]:
    turns = item.metadata.get(CONVERSATION_KEY)
    return {} if turns is None else {CONVERSATION_KEY: turns}


def _final_answer(item: ReviewItem, decision: Decision) -> str | None:
    if decision.action is Action.CORRECT:
        # Published as typed (a code answer's first-line indentation is part of it); browsers send a
        # textarea's line breaks as CRLF, so they become "\n". Stripped only to judge it.
        answer = (decision.answer or "").replace("\r\n", "\n")
        if not answer.strip():
            raise ReviewError("write the corrected answer before submitting it")
        if answer.strip() == item.response.strip():
            raise ReviewError("the corrected answer is the model's answer unchanged; dismiss the item instead")
        return answer
    if decision.action in (Action.APPROVE, Action.REJECT):
        if not item.user_edit:
            raise ReviewError("this item has no user edit to approve or reject")
        return item.user_edit
    if not (decision.note or "").strip():
        raise ReviewError("give a reason for dismissing the item")
    return None


def event_to_send(item: ReviewItem, kept: str | None, decision: Decision | None) -> str:
    """The event text to post for ``decision`` on ``item`` (None: send the ``kept`` event again).

    The same decision as a kept event (an earlier post the gateway did not confirm) posts that
    kept text, byte for byte; a different one is built anew and refused by the store's hold.
    """
    if decision is None:
        if kept is None:
            raise ReviewError(f"item {item.item_id} has no earlier answer to send again")
        return kept
    event = review_event(item, decision, datetime.now(UTC))
    if kept is not None and same_decision(json.loads(kept), event):
        return kept
    return review_event_text(event)


def undelivered(exc: ReviewDeliveryError) -> str:
    """What the reviewer is told about a post the gateway did not accept."""
    if not exc.maybe_delivered:
        return f"{exc}. Nothing was sent; change the answer or send it again."
    return (
        f"{exc}. The answer may still have been published, so this item keeps it: "
        "send it again unchanged (no other answer can be sent for this item)."
    )


def sent_decision(kept: str | None) -> dict[str, Any] | None:
    """The decision in a ``kept`` event, from a post that may have reached the topic (the item page shows it)."""
    if kept is None:
        return None
    event = json.loads(kept)
    review = event["metadata"][REVIEW_METADATA_KEY]
    return {
        "action": review["action"],
        "reviewer": review["reviewer_id"],
        "answer": event["final_user_edit"],
        "note": event["comment"],
    }


class ReviewPoster:
    """Posts review events to the gateway (``POST /v1/events``) with the review app's API key."""

    def __init__(self, settings: ReviewSettings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._settings = settings
        self._transport = transport  # None: the network; tests may serve the gateway app in-process
        self._client: httpx.AsyncClient | None = None

    async def post(self, body: str) -> None:
        """Post one event (its JSON text); return once the gateway answered 202, else raise ReviewDeliveryError.

        The text is posted as given, so a resend after an unconfirmed post is byte for byte the
        event that may already be on the topic.
        """
        if self._client is None:
            settings = self._settings
            self._client = httpx.AsyncClient(
                base_url=settings.gateway_url, timeout=settings.gateway_timeout_s, transport=self._transport
            )
        settings = self._settings
        encoded = body.encode("utf-8")
        headers = {settings.gateway_api_key_header: settings.gateway_api_key.get_secret_value()}
        headers["Content-Type"] = "application/json"
        secret = settings.gateway_hmac_secret.get_secret_value()
        if secret:  # signed over the very bytes sent, as the gateway checks them
            stamp = str(int(time.time()))
            headers[settings.gateway_timestamp_header] = stamp
            headers[settings.gateway_signature_header] = sign(secret, stamp, encoded)
        try:
            response = await self._client.post("/v1/events", content=encoded, headers=headers)
        except httpx.HTTPError as exc:
            # The request may have reached the gateway and the event the topic before the answer was lost.
            message = f"the gateway at {self._settings.gateway_url} did not answer: {exc}"
            raise ReviewDeliveryError(message, maybe_delivered=True) from exc
        if response.status_code != 202:
            detail = response.text[:300]
            # A 4xx is refused before anything is published; a 5xx (a delivery report that timed
            # out, a crash mid-request) may still let the event arrive.
            maybe_delivered = response.status_code >= 500
            message = f"the gateway refused the review event ({response.status_code}): {detail}"
            raise ReviewDeliveryError(message, maybe_delivered=maybe_delivered)

    async def close(self) -> None:
        """Close the HTTP client."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None
