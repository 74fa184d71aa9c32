"""Every free-text column of every row, and the review message, leave the flow scrubbed."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest

from flywheel.operators.distance import measure_edit
from flywheel.operators.outcome import Drop, Stage
from flywheel.operators.policy import response_pii
from flywheel.operators.rows import feedback_row, pair_row, positive_row, rejection_row, scrub_event
from flywheel.schemas.events import Signal
from flywheel.schemas.records import SourceCoordinates, SourcedEvent, TableRow
from tests.support.curation_events import make_event

NOW = datetime(2026, 1, 1, tzinfo=UTC)
WHERE = SourceCoordinates("interactions", 0, 7, 0)
PII = {
    "prompt": "Mail jane.doe@example.com about it",
    "response": "Call +1 415 555 0134 or visit 221B Baker Street",
    "final_user_edit": "My IP is 203.0.113.45, I was born on 14/03/1987",
    "comment": "ping kim(at)corp(dot)net with card 4111 1111 1111 1111",
}
RAW = ["jane.doe@example.com", "415 555 0134", "221B Baker Street", "203.0.113.45", "14/03/1987", "kim(at)corp"]


def texts_of(row: TableRow) -> str:
    return " ".join(str(v) for v in row.values.values() if isinstance(v, str))


@pytest.mark.parametrize("signal", [Signal.EDIT, Signal.THUMBS_DOWN, Signal.THUMBS_UP])
def test_every_row_kind_is_scrubbed(signal: Signal) -> None:
    sourced = SourcedEvent(WHERE, make_event(signal, **PII))
    event = sourced.event
    rows = [
        feedback_row(sourced, "review", NOW),
        positive_row(sourced, "pro|v3", 1.0, "p1", NOW),
        rejection_row(sourced, Drop(Stage.POLICY, "x", f"found {PII['prompt']}"), "p1", dict(PII), NOW),
    ]
    if event.final_user_edit is not None:
        rows.append(pair_row(sourced, event.final_user_edit, measure_edit(event.response, "x"), {}, "p1", NOW))
    for row in rows:
        stored = texts_of(row)
        assert not [raw for raw in RAW if raw in stored], row.table
        assert "[EMAIL]" in stored or row.table == "positive_examples"


def test_review_message_is_scrubbed_including_metadata() -> None:
    event = make_event(Signal.THUMBS_DOWN, metadata={"contact": {"mail": "jane.doe@example.com"}, "n": 3}, **PII)
    encoded = msgspec.json.encode(scrub_event(event)).decode()
    assert not [raw for raw in RAW if raw in encoded]
    assert '"n":3' in encoded and "[EMAIL]" in encoded


def test_positive_with_pii_in_its_response_is_dropped() -> None:
    drop = response_pii("Call +1 415 555 0134 for help.")
    assert drop is not None and drop.reason == "pii_in_response:phone"
    assert response_pii("Restart the service.") is None


def test_metadata_keys_and_long_numbers_are_scrubbed_too() -> None:
    metadata = {"customer_phone": 4155552671, "card": 4111111111111111, "jane.doe@example.com": "vip", "n": 1234567}
    scrubbed = scrub_event(make_event(Signal.THUMBS_DOWN, metadata=metadata, **PII)).metadata
    assert scrubbed == {"customer_phone": "[PHONE]", "card": "[CARD]", "[EMAIL]": "vip", "n": 1234567}


def test_a_user_id_that_is_an_address_is_stored_as_a_digest() -> None:
    sourced = SourcedEvent(WHERE, make_event(Signal.THUMBS_DOWN, user_id="jane.doe@example.com", **PII))
    row = feedback_row(sourced, "review", NOW)
    stored = row.values["user_id"]
    assert stored.startswith("pii-") and "jane" not in stored
    assert scrub_event(sourced.event).user_id == stored  # the same user, the same id, everywhere
    assert (
        feedback_row(SourcedEvent(WHERE, make_event(Signal.THUMBS_DOWN, user_id="u-42")), "review", NOW).values[
            "user_id"
        ]
        == "u-42"
    )
