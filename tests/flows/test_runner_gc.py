"""The flow's garbage-collector setting is scoped to the run."""

from __future__ import annotations

import gc

from flywheel.flows.runner import quiet_garbage_collector


def test_quiet_garbage_collector_freezes_raises_and_restores() -> None:
    before = gc.get_threshold()
    with quiet_garbage_collector(young_threshold=12_345):
        assert gc.get_threshold()[0] == 12_345
        assert gc.get_freeze_count() > 0  # start-up objects are out of the collector's scans
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_the_records_every_event_travels_in_are_not_walked_by_the_collector() -> None:
    """Held events (dedup hold, sink buffers) number in the hundreds of thousands: untracked, a
    collection does not walk them. Their dicts are still tracked, so nothing they hold leaks."""
    import pickle
    from datetime import UTC, datetime

    import msgspec

    from flywheel.flows.decisions import Candidate, Dropped, NotSampled, Sampled
    from flywheel.operators.outcome import Drop, Stage
    from flywheel.schemas.events import InteractionEvent, Signal
    from flywheel.schemas.records import SourceCoordinates, SourcedEvent, SourceMessage, SourceProgress

    raw = msgspec.json.encode(
        InteractionEvent(
            event_id="e1",
            signal=Signal.EDIT,
            occurred_at=datetime(2026, 12, 1, tzinfo=UTC),
            thread_id="t",
            user_id="u",
            prompt="p",
            response="r",
            final_user_edit="f",
            metadata={"conversation": [{"role": "user", "content": "hi"}]},
        )
    )
    event = msgspec.json.decode(raw, type=InteractionEvent)
    where = SourceCoordinates("t", 0, 1, 0)
    sourced = SourcedEvent(where, event, raw)
    records = [
        event,
        where,
        SourceMessage(where, b"k", raw),
        SourceProgress("t", 0, 1),
        sourced,
        Candidate(sourced, "f", scores={"toxicity": 0.1}),
        Dropped(sourced, Drop(Stage.DEDUP, "duplicate_event_id", "")),
        Sampled(sourced, "default", 0.01),
        NotSampled(sourced),
    ]
    assert [type(record).__name__ for record in records if gc.is_tracked(record)] == []
    assert gc.is_tracked(event.metadata)  # what a record holds is still collected as usual
    assert pickle.loads(pickle.dumps(sourced)).event == event
