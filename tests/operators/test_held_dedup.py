"""Order-independent dedup: the same events in any arrival order give the same decisions."""

from __future__ import annotations

import pickle
import random
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from flywheel.operators.dedup import bucket_of, dedup_key
from flywheel.operators.held_dedup import _INNER_PADDING, HeldDedup, is_canonical, untidiness
from flywheel.operators.outcome import Drop
from flywheel.operators.winners import MemoryJournal
from flywheel.schemas.events import InteractionEvent, Signal
from flywheel.schemas.records import SourceProgress
from tests.support.curation_events import T0, make_event

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


def test_indented_code_is_canonical_and_beats_an_earlier_shouted_or_padded_copy() -> None:
    code = "Retry it:\n\n```python\nfor attempt in range(3):\n    fetch()  # once more\n```"
    assert is_canonical("Retry it:\n\n```python\nfor attempt in range(3):\n    fetch()\n```")
    for other in (code.upper(), "\n  " + code + "  \n", code.replace(" ", "  ")):
        copy = edit("a-copy", 0, other)
        plain = edit("b-plain", 20, code)
        for order in ([copy, plain], [plain, copy]):
            decided = run(HeldDedup(WINDOW, HOLD), [(e, ("t", 0, i)) for i, e in enumerate(order)])
            assert {k.split("@")[0]: v for k, v in decided.items()} == {
                "b-plain": "kept",
                "a-copy": "duplicate_content",
            }, other


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


def test_events_wait_for_every_partition_to_pass_the_slot_and_are_decided_once() -> None:
    dedup: HeldDedup[str] = HeldDedup(WINDOW, HOLD, partitions=[0, 1])
    assert dedup.observe(edit("a", 0, TEXTS[0]), "a", ("t", 0, 0)) == []
    assert dedup.observe(edit("a", 0, TEXTS[0]), "a", ("t", 0, 0)) == []  # replayed: still one
    assert dedup.mark("t", 0, 0, T0.timestamp() + 500) == []  # partition 1 unheard: no watermark
    assert dedup.watermark() is None
    assert dedup.mark("t", 1, 4, T0.timestamp() + 100) == []  # 100 s: not yet 2 * hold past slot 0
    assert dedup.watermark() == T0.timestamp() + 100
    decided = dedup.mark("t", 1, 9, T0.timestamp() + 400)
    assert [item for item, _ in decided] == ["a"] and len(dedup) == 0


def test_an_idle_partition_holds_nothing_back() -> None:
    dedup: HeldDedup[str] = HeldDedup(WINDOW, HOLD, partitions=[0, 1])
    dedup.observe(edit("a", 0, TEXTS[0]), "a", ("t", 0, 0))
    dedup.mark("t", 0, 0, T0.timestamp())
    assert dedup.mark("t", 1, -1, None) == []  # an empty partition's heartbeat: idle; partition 0 is at 0 s
    assert [item for item, _ in dedup.mark("t", 0, 0, T0.timestamp())] == ["a"]  # heartbeat: all idle
    dedup.observe(edit("b", 10, TEXTS[1]), "b", ("t", 0, 1))
    assert dedup.mark("t", 0, 1, T0.timestamp() + 10) == []  # partition 0 active again, at 10 s
    assert [item for item, _ in dedup.mark("t", 0, 1, T0.timestamp() + 10)] == ["b"]  # heartbeat: idle


def test_progress_markers_wait_for_held_events_of_their_partition() -> None:
    dedup: HeldDedup[str] = HeldDedup(WINDOW, HOLD, partitions=[0, 1])
    dedup.observe(edit("a", 0, TEXTS[0]), "a", ("t", 0, 5))
    dedup.mark("t", 0, 7, T0.timestamp())
    dedup.mark("t", 1, 3, T0.timestamp())
    # Partition 0 still holds offset 5: its progress goes as far as 4, everything below is decided.
    assert dedup.markers() == [("t", 0, 4), ("t", 1, 3)]
    dedup.observe(edit("b", 1, TEXTS[1]), "b", ("t", 0, 6))
    dedup.mark("t", 0, 9, T0.timestamp() + 1)
    assert dedup.markers() == []  # offset 5 is still the lowest held: nothing new is safe
    dedup.release()
    assert dedup.markers() == [("t", 0, 9)]
    assert dedup.markers() == []


def stream(seed: int, count: int) -> list[InteractionEvent]:
    """Edits in roughly event-time order: each at most half a hold behind the one before."""
    rng = random.Random(seed)
    events = []
    for index in range(count):
        text = rng.choice(TEXTS)
        if rng.random() < 0.3:
            text = "  " + text.upper()
        jitter = rng.uniform(0, HOLD.total_seconds() / 2)
        events.append(edit(f"e{index:03d}", index * 7 + jitter, text, thread=f"th{rng.randrange(9)}"))
    return events


def decide(
    events: list[InteractionEvent], partitions: int, buckets: int, seed: int, batch: int, restart_at: int
) -> dict[str, str]:
    """Spread events over partitions by thread, read partitions in random turns and batch sizes
    (a partition may run far ahead of another), route events to bucket states and every marker to
    all of them, snapshot every state after each turn (an epoch; winners sealed into a journal
    every two), restore every state once from its latest snapshot (a restart), end with EOF."""
    rng = random.Random(seed)
    parts: dict[int, list[InteractionEvent]] = {p: [] for p in range(partitions)}
    for event in events:
        parts[int(bucket_of(event.thread_id, partitions))].append(event)
    states = {str(b): HeldDedup[str](WINDOW, HOLD, partitions=list(parts)) for b in range(buckets)}
    cursor = dict.fromkeys(parts, 0)
    journal = MemoryJournal()
    newest: dict[int, float] = {}
    decided: dict[str, str] = {}

    def record(pairs: list[tuple[str, Drop | None]]) -> None:
        for item, drop in pairs:
            decided[item] = drop.reason if drop else "kept"

    turn = 0
    while any(cursor[p] < len(parts[p]) for p in parts):
        p = rng.choice(sorted(parts))
        take = parts[p][cursor[p] : cursor[p] + rng.randint(1, batch)]
        for event in take:
            state = states[bucket_of(dedup_key(event), buckets)]
            record(state.observe(event, event.event_id, ("t", p, cursor[p])))
            newest[p] = max(newest.get(p, 0.0), event.occurred_at.timestamp())
            cursor[p] += 1
        for state in states.values():  # the batch's marker (a heartbeat when the partition is done)
            record(state.mark("t", p, cursor[p] - 1, newest.get(p)))
        turn += 1
        snapshots = {key: pickle.dumps(state.snapshot(journal, seal_at=2)) for key, state in states.items()}
        if turn == restart_at:
            states = {key: HeldDedup.restore(pickle.loads(snapshot), journal) for key, snapshot in snapshots.items()}
            newest = {}  # the flow's event clock is not recovery state
    for state in states.values():
        record(state.release())
    return decided


@settings(max_examples=40, deadline=None)
@given(
    st.integers(0, 10_000),
    st.integers(1, 8),
    st.sampled_from([1, 4, 64]),
    st.integers(0, 10_000),
    st.sampled_from([1, 5, 50]),
    st.integers(0, 60),
)
def test_decisions_do_not_depend_on_partitions_buckets_batches_order_or_restarts(
    seed: int, partitions: int, buckets: int, order_seed: int, batch: int, restart_at: int
) -> None:
    events = stream(seed, 120)
    reference = decide(events, partitions=1, buckets=1, seed=0, batch=1000, restart_at=-1)
    assert decide(events, partitions, buckets, order_seed, batch, restart_at) == reference
    assert len(reference) == len(events)


def test_signal_other_than_edit_dedups_by_event_id() -> None:
    up = make_event(Signal.THUMBS_UP, event_id="u1")
    decided = run(HeldDedup(WINDOW, HOLD), [(up, ("t", 0, 0)), (up, ("t", 0, 1))])
    assert decided == {"u1@0": "kept", "u1@1": "duplicate_event_id"}


def test_progress_passes_the_barrier_once_every_bucket_released_it() -> None:
    from flywheel.flows.dedup import BucketMarker, ProgressBarrier

    barrier = ProgressBarrier(buckets=3)
    assert barrier.advance("0", BucketMarker("t", 0, 9)) == []
    assert barrier.advance("1", BucketMarker("t", 0, 4)) == []  # bucket 1 still holds offset 5
    assert barrier.advance("2", BucketMarker("t", 0, 9)) == [SourceProgress("t", 0, 4)]
    # Bucket 1 releases the rest while 0 and 2 have nothing more to send (the end of input):
    # the rise passes at once, without waiting for a round that would never complete.
    assert barrier.advance("1", BucketMarker("t", 0, 9)) == [SourceProgress("t", 0, 9)]
    # A heartbeat round at unchanged offsets passes again (the sink commits on it).
    heartbeat = [barrier.advance(bucket, BucketMarker("t", 0, 9)) for bucket in "012"]
    assert heartbeat == [[], [], [SourceProgress("t", 0, 9)]]


def test_a_forged_future_event_time_does_not_drag_the_partition_clock() -> None:
    from flywheel.flows.dedup import EventClock, PartitionClock
    from flywheel.schemas.records import SourceCoordinates, SourcedEvent

    clock = EventClock(allowance_s=60)
    received_ms = int(T0.timestamp() * 1000)
    forged = edit("f", 10 * 365 * 86400, TEXTS[0])  # ten years ahead of its arrival
    clock.stamp(SourcedEvent(SourceCoordinates("t", 0, 0, received_ms), forged))
    stamped = clock.stamp(SourceProgress("t", 0, 0))
    assert stamped == PartitionClock("t", 0, 0, T0.timestamp() + 60)


def test_a_remembered_winner_drops_later_copies_but_keeps_its_own_replay() -> None:
    stored = edit("a", 0, TEXTS[2])
    dedup: HeldDedup[str] = HeldDedup(WINDOW, HOLD)
    dedup.remember(dedup.key_of(stored), stored.occurred_at, ("t", 0, 3))
    later = [(edit("b", 600, TEXTS[2]), ("t", 0, 9)), (stored, ("t", 0, 3)), (edit("c", 30, TEXTS[0]), ("t", 0, 10))]
    decided = run(dedup, later)
    assert decided == {"b@9": "duplicate_content", "a@3": "kept", "c@10": "kept"}


def test_a_busy_partition_releases_progress_below_its_held_events_as_it_goes() -> None:
    """A partition that never pauses always holds its newest slot: its progress must still rise,
    never past an event still held (the sink would count that event decided)."""
    dedup: HeldDedup[str] = HeldDedup(WINDOW, HOLD, partitions=[0])
    released: list[int] = []
    for batch in range(30):
        for index in range(batch * 20, batch * 20 + 20):
            dedup.observe(edit(f"e{index}", index * 10, f"{TEXTS[index % 3]} {index}"), str(index), ("t", 0, index))
        dedup.mark("t", 0, batch * 20 + 19, T0.timestamp() + (batch * 20 + 19) * 10)
        held = [offset for _, _, offset in dedup._held]
        for _, _, offset in dedup.markers():
            assert not held or offset < min(held)  # nothing at or below it is held
            released.append(offset)
    assert released == sorted(released) and len(released) >= 20
    assert released[-1] >= 30 * 20 - 1 - 3 * HOLD.total_seconds() // 10  # behind by about the hold only


def _untidiness_reference(text: str) -> int:
    """The character-by-character definition the fast path must reproduce."""
    letters = [c for c in text if c.isalpha() and (c.isupper() or c.islower())]
    upper = sum(1 for c in letters if c.isupper())
    shouted = len(letters) >= 8 and upper > 0.6 * len(letters)
    inner = len(_INNER_PADDING.findall(text))
    return (1 << 32 if shouted else 0) + (1 << 31 if text != text.strip() else 0) + inner


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from("aZ9 \t\r\n.é\u00c9\u0130_"), max_size=40) | st.text(max_size=40))
def test_untidiness_fast_paths_give_the_reference_figure(text: str) -> None:
    assert untidiness(text) == _untidiness_reference(text)
