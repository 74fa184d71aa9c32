"""Order-independent dedup: the same events in any arrival order give the same decisions."""

from __future__ import annotations

import pickle
import random
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from flywheel.operators.dedup import bucket_of, dedup_key
from flywheel.operators.held_dedup import HeldDedup, is_canonical
from flywheel.schemas.events import InteractionEvent, Signal
from tests.unit.curation_events import T0, make_event

WINDOW, HOLD = timedelta(hours=1), timedelta(seconds=60)
TEXTS = ["Use a token bucket per client.", "Return 429 with Retry-After.", "Cache the counters in Redis."]


def edit(event_id: str, seconds: float, text: str, thread: str = "t") -> InteractionEvent:
    return make_event(
        event_id=event_id,
        occurred_at=T0 + timedelta(seconds=seconds),
        thread_id=thread,
        prompt="How do I rate limit?",
        response="Add rate limiting.",
        final_user_edit=text,
    )


def run(dedup: HeldDedup[str], events: list[tuple[InteractionEvent, tuple[str, int, int]]]) -> dict[str, str]:
    decided: dict[str, str] = {}
    for event, position in events:
        for item, drop in dedup.observe(event, f"{event.event_id}@{position[2]}", position):
            decided[item] = drop.reason if drop else "kept"
    for item, drop in dedup.release():
        decided[item] = drop.reason if drop else "kept"
    return decided


def test_canonical_text_wins_over_an_earlier_shouted_padded_copy() -> None:
    shouted = edit("a-shout", 0, "  " + TEXTS[0].upper() + "  ")
    plain = edit("b-plain", 20, TEXTS[0])
    for order in ([shouted, plain], [plain, shouted]):
        dedup: HeldDedup[str] = HeldDedup(WINDOW, HOLD)
        decided = run(dedup, [(e, ("t", 0, i)) for i, e in enumerate(order)])
        assert {k.split("@")[0]: v for k, v in decided.items()} == {"b-plain": "kept", "a-shout": "duplicate_content"}
    assert not is_canonical("  padded") and not is_canonical("SHOUTED TEXT HERE") and is_canonical("Fine, OK.")


def test_earliest_then_smallest_id_wins_and_retries_are_event_id_duplicates() -> None:
    events = [edit("z", 5, TEXTS[1]), edit("y", 5, TEXTS[1]), edit("x", 9, TEXTS[1]), edit("y", 5, TEXTS[1])]
    decided = run(HeldDedup(WINDOW, HOLD), [(e, ("t", 0, i)) for i, e in enumerate(events)])
    assert decided == {
        "y@1": "kept",
        "y@3": "duplicate_event_id",
        "z@0": "duplicate_content",
        "x@2": "duplicate_content",
    }


def test_a_later_group_loses_to_the_remembered_winner() -> None:
    dedup: HeldDedup[str] = HeldDedup(WINDOW, HOLD)
    first = run(dedup, [(edit("a", 0, TEXTS[2]), ("t", 0, 0))])
    later = run(dedup, [(edit("b", 600, TEXTS[2]), ("t", 0, 1))])
    assert first == {"a@0": "kept"} and later == {"b@1": "duplicate_content"}


def test_events_wait_for_the_hold_and_the_same_message_is_decided_once() -> None:
    dedup: HeldDedup[str] = HeldDedup(WINDOW, HOLD)
    assert dedup.observe(edit("a", 0, TEXTS[0]), "a", ("t", 0, 0)) == []
    assert dedup.observe(edit("a", 0, TEXTS[0]), "a", ("t", 0, 0)) == []  # replayed: still one
    assert dedup.observe(edit("b", 100, TEXTS[1]), "b", ("t", 0, 1)) == []  # 100 s < 2 * hold
    assert [item for item, _ in dedup.observe(edit("c", 121, TEXTS[2]), "c", ("t", 0, 2))] == ["a"]
    assert len(dedup) == 2


def test_progress_markers_wait_for_held_events_of_their_partition() -> None:
    dedup: HeldDedup[str] = HeldDedup(WINDOW, HOLD)
    dedup.observe(edit("a", 0, TEXTS[0]), "a", ("t", 0, 5))
    dedup.mark("t", 0, 7)
    dedup.mark("t", 1, 3)
    assert dedup.markers() == [("t", 1, 3)]  # partition 0 still holds offset 5
    dedup.release()
    assert dedup.markers() == [("t", 0, 7)]
    assert dedup.markers() == []


def stream(seed: int, count: int) -> list[InteractionEvent]:
    rng = random.Random(seed)
    events = []
    for index in range(count):
        text = rng.choice(TEXTS)
        if rng.random() < 0.3:
            text = "  " + text.upper()
        events.append(edit(f"e{index:03d}", index * 7 + rng.random(), text, thread=f"th{rng.randrange(9)}"))
    return events


def decide(events: list[InteractionEvent], partitions: int, buckets: int, seed: int, restart_at: int) -> dict[str, str]:
    """Route events to partitions by thread, read them in a jittered order (lateness < hold), split
    them over bucket states, and snapshot/restore every state once mid-stream (a restart)."""
    rng = random.Random(seed)
    placed = [(e, ("t", int(bucket_of(e.thread_id, partitions)), i)) for i, e in enumerate(events)]
    order = sorted(placed, key=lambda p: p[0].occurred_at.timestamp() + rng.uniform(0, HOLD.total_seconds()))
    states: dict[str, HeldDedup[str]] = {}
    decided: dict[str, str] = {}
    for index, (event, position) in enumerate(order):
        if index == restart_at:
            states = {key: pickle.loads(pickle.dumps(state)) for key, state in states.items()}
        bucket = bucket_of(dedup_key(event), buckets)
        state = states.setdefault(bucket, HeldDedup(WINDOW, HOLD))
        for item, drop in state.observe(event, event.event_id, position):
            decided[item] = drop.reason if drop else "kept"
    for state in states.values():
        for item, drop in state.release():
            decided[item] = drop.reason if drop else "kept"
    return decided


@settings(max_examples=40, deadline=None)
@given(
    st.integers(0, 10_000),
    st.integers(1, 8),
    st.sampled_from([1, 4, 64]),
    st.integers(0, 10_000),
    st.integers(0, 120),
)
def test_decisions_do_not_depend_on_partitions_buckets_order_or_restarts(
    seed: int, partitions: int, buckets: int, order_seed: int, restart_at: int
) -> None:
    events = stream(seed, 120)
    reference = decide(events, partitions=1, buckets=1, seed=0, restart_at=-1)
    assert decide(events, partitions, buckets, order_seed, restart_at) == reference
    assert len(reference) == len(events)


def test_signal_other_than_edit_dedups_by_event_id() -> None:
    up = make_event(Signal.THUMBS_UP, event_id="u1")
    decided = run(HeldDedup(WINDOW, HOLD), [(up, ("t", 0, 0)), (up, ("t", 0, 1))])
    assert decided == {"u1@0": "kept", "u1@1": "duplicate_event_id"}
