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


def _conversation(item: ReviewItem) -> dict[str, Any]:
    turns = item.metadata.get(CONVERSATION_KEY)
    return {} if turns is None else {CONVERSATION_KEY: turns}


def _final_answer(item: ReviewItem, decision: Decision) -> str | None:
    if decision.action is Action.CORRECT:
        answer = (decision.answer or "").strip()
        if not answer:
            raise ReviewError("write the corrected answer before submitting it")
        if answer == item.response.strip():
            raise ReviewError("the corrected answer is the model's answer unchanged; dismiss the item instead")
        return answer
    if decision.action in (Action.APPROVE, Action.REJECT):
        if not item.user_edit:
            raise ReviewError("this item has no user edit to approve or reject")
        return item.user_edit
    if not (decision.note or "").strip():
        raise ReviewError("give a reason for dismissing the item")
    return None


class ReviewPoster:
    """Posts review events to the gateway (``POST /v1/events``) with the review app's API key."""

    def __init__(self, settings: ReviewSettings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._settings = settings
        self._transport = transport  # None: the network; tests may serve the gateway app in-process
        self._client: httpx.AsyncClient | None = None

    async def post(self, event: dict[str, Any]) -> None:
        """Post one event; return once the gateway answered 202, else raise :class:`ReviewDeliveryError`."""
        if self._client is None:
            settings = self._settings
            self._client = httpx.AsyncClient(
                base_url=settings.gateway_url, timeout=settings.gateway_timeout_s, transport=self._transport
            )
        settings = self._settings
        body = json.dumps(event).encode("utf-8")
        headers = {settings.gateway_api_key_header: settings.gateway_api_key.get_secret_value()}
        headers["Content-Type"] = "application/json"
        secret = settings.gateway_hmac_secret.get_secret_value()
        if secret:  # signed over the very bytes sent, as the gateway checks them
            stamp = str(int(time.time()))
            headers[settings.gateway_timestamp_header] = stamp
            headers[settings.gateway_signature_header] = sign(secret, stamp, body)
        try:
            response = await self._client.post("/v1/events", content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise ReviewDeliveryError(f"the gateway at {self._settings.gateway_url} did not answer: {exc}") from exc
        if response.status_code != 202:
            detail = response.text[:300]
            raise ReviewDeliveryError(f"the gateway refused the review event ({response.status_code}): {detail}")

    async def close(self) -> None:
        """Close the HTTP client."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None
