"""Events and rows pickle compactly where that is exact, field by field otherwise: never a changed record.

Pickling is how events cross processes (Bytewax exchanges) and sit in recovery snapshots, so a
round trip that changed a type (a tuple become a list, ``nan`` become None) or a time zone would
change what a later step sees.
"""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from flywheel.config import ValidationSettings
from flywheel.flows.intake import Intake
from flywheel.operators.held_dedup import _Group
from flywheel.schemas.events import InteractionEvent, Signal, encode_event
from flywheel.schemas.records import Position, SourceCoordinates, SourcedEvent, SourceMessage, TableRow
from tests.support.curation_events import make_event

json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=5), inner, max_size=3)
        | st.tuples(inner, inner)  # not JSON: must fall back
        | st.dictionaries(st.integers(), inner, max_size=2)
    ),  # non-string keys: must fall back
    max_leaves=8,
)
zones = st.sampled_from(
    [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8)), ZoneInfo("Europe/Berlin")]
)


def _round_trip(value: Any) -> Any:
    return pickle.loads(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))


@settings(max_examples=300, deadline=None)
@given(
    metadata=st.dictionaries(st.text(max_size=8), json_like, max_size=4),
    zone=zones,
    text=st.text(),
    rating=st.none() | st.integers(1, 5),
)
def test_a_pickled_event_comes_back_identical(
    metadata: dict[str, Any], zone: Any, text: str, rating: int | None
) -> None:
    event = make_event(
        Signal.RATING,
        occurred_at=datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=zone),
        prompt=text,
        comment=text or None,
        rating=rating,
        metadata=metadata,
    )
    back = _round_trip(event)
    # repr, not ==: nan != nan, and repr also tells a tuple from a list and spells the time zone
    assert repr(back) == repr(event)
    assert back.occurred_at.tzinfo == event.occurred_at.tzinfo


def test_the_common_event_pickles_as_json_and_the_sourced_event_shares_it() -> None:
    event = make_event(Signal.EDIT, final_user_edit="Use a context manager.", metadata={"k": [1, 2.5, None]})
    assert event.__reduce__()[0].__name__ == "event_from_json"
    sourced = SourcedEvent(SourceCoordinates("t", 0, 7, 0), event)
    back = _round_trip((sourced, event))  # as held dedup snapshots hold them: the event twice
    assert back[0] == sourced and back[1] is back[0].event


def test_an_event_the_intake_decoded_from_clean_json_pickles_as_its_message_bytes() -> None:
    # Where an event crosses to another process or waits in a snapshot, its message's bytes
    # travel instead of a fresh encoding of the event; they decode to the very same event.
    event = make_event(Signal.EDIT, final_user_edit="Use a context manager.", metadata={"k": [1, 2.5, None]})
    raw = encode_event(event).replace(b'"prompt"', b' "prompt"')  # the producer's bytes, not a re-encoding
    where = SourceCoordinates("t", 3, 7, int(event.occurred_at.timestamp() * 1000))
    sourced = Intake(ValidationSettings(), "dlq").decode(SourceMessage(where, None, raw))
    assert isinstance(sourced, SourcedEvent) and sourced.raw is raw
    assert sourced.__reduce__()[0].__name__ == "_sourced_from_raw"
    pickled = pickle.dumps(sourced, protocol=pickle.HIGHEST_PROTOCOL)
    assert raw in pickled
    back = pickle.loads(pickled)
    assert back == sourced and repr(back.event) == repr(event) and back.coordinates == where and back.raw == raw

    # Text the intake cleans (a bidi control removed): the bytes no longer decode to the event.
    dirty = encode_event(make_event(prompt="Write a \u202epython function"))
    cleaned = Intake(ValidationSettings(), "dlq").decode(SourceMessage(where, None, dirty))
    assert isinstance(cleaned, SourcedEvent) and cleaned.raw is None
    assert cleaned.event.prompt == "Write a python function"
    assert repr(_round_trip(cleaned).event) == repr(cleaned.event)


def test_a_held_group_pickles_a_member_event_once() -> None:
    # The held dedup keeps (rank, event, sourced): the event is the sourced event's own, so a
    # snapshot pickles it once (as the message bytes) and a restore shares it again.
    event = make_event(Signal.EDIT, final_user_edit="Use a context manager.")
    sourced = SourcedEvent(SourceCoordinates("t", 0, 7, 0), event, encode_event(event))
    other = make_event(Signal.EDIT, event_id="e-2", final_user_edit="Use a with block.")
    rank = (0, 0.0, "", Position("t", 0, 7))
    group = _Group(12.0, [(rank, event, sourced), (rank, other, "a payload without the event")])
    pickled = pickle.dumps(group, protocol=pickle.HIGHEST_PROTOCOL)
    assert pickled.count(b"Use a context manager.") == 1
    back = pickle.loads(pickled)
    assert back.start == 12.0
    (_, first, payload), (_, second, text) = back.members
    assert first is payload.event and repr(first) == repr(event)
    assert repr(second) == repr(other) and text == "a payload without the event"


def test_an_event_pickled_by_an_earlier_release_still_unpickles() -> None:
    # Recovery snapshots of earlier releases name the decoder ``_event_from_json``.
    event = make_event(Signal.EDIT, final_user_edit="Use a context manager.")
    pickled = pickle.dumps(event, protocol=0)
    assert b"\nevent_from_json\n" in pickled
    older = pickled.replace(b"\nevent_from_json\n", b"\n_event_from_json\n")
    assert repr(pickle.loads(older)) == repr(event)


def test_an_event_json_cannot_hold_exactly_falls_back_to_its_fields() -> None:
    for metadata in ({"x": float("nan")}, {"x": (1, 2)}, {1: "a"}, {"s": "\ud800"}):
        event = make_event(metadata=metadata)
        assert event.__reduce__()[0].__name__ != "event_from_json"
        assert repr(_round_trip(event)) == repr(event)
    # Fields a decode would validate or convert: an empty id, a rating out of range, a plain-str signal.
    for odd_field in ({"event_id": ""}, {"rating": 7}, {"signal": "edit"}, {"rating": True}):
        event = make_event(**odd_field)
        assert event.__reduce__()[0].__name__ != "event_from_json", odd_field
        assert repr(_round_trip(event)) == repr(event)
    folded = make_event(occurred_at=datetime(2026, 3, 1, fold=1, tzinfo=UTC))
    assert _round_trip(folded).occurred_at.fold == 1
    berlin = make_event(occurred_at=datetime(2026, 3, 1, tzinfo=ZoneInfo("Europe/Berlin")))
    assert _round_trip(berlin).occurred_at.tzinfo == ZoneInfo("Europe/Berlin")
    assert isinstance(_round_trip(make_event()), InteractionEvent)


row_values = st.dictionaries(
    st.text(max_size=8),
    json_like
    | st.binary(max_size=8)
    | st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=2)), ZoneInfo("Europe/Berlin")])),
    max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(values=row_values)
def test_a_pickled_table_row_comes_back_identical(values: dict[str, Any]) -> None:
    row = TableRow("feedback_signals", SourceCoordinates("t", 2, 9, 1), values)
    back = _round_trip(row)
    assert repr(back) == repr(row)  # types, nan, time zones, tuples and int keys included


def test_a_common_row_pickles_as_msgpack_and_others_fall_back() -> None:
    at = datetime(2026, 3, 1, 12, tzinfo=UTC)
    common = TableRow("dpo_pairs", SourceCoordinates("t", 0, 1, 0), {"chosen": "x", "at": at, "s": {"k": 0.5}})
    assert common.__reduce__()[0].__name__ == "_row_from_msgpack"
    for odd in ({"at": at.astimezone(timezone(timedelta(hours=2)))}, {"n": 2**70}, {"t": (1, 2)}):
        row = TableRow("dpo_pairs", SourceCoordinates("t", 0, 1, 0), odd)
        assert row.__reduce__()[0].__name__ != "_row_from_msgpack"
        assert repr(_round_trip(row)) == repr(row)
