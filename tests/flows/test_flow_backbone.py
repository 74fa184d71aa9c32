"""The backbone end to end: real broker, real Iceberg catalog, the real flow."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from flywheel.config import revised
from flywheel.flows.runner import RecoveryStateExists, StartRequest, run_until_drained
from flywheel.infra.catalog import OFFSETS_PROPERTY, decode_offsets, open_catalog, table_identifier
from flywheel.operators.dead_letter import DETAIL_HEADER, OFFSET_HEADER, PARTITION_HEADER, REASON_HEADER, TOPIC_HEADER
from flywheel.schemas.events import InteractionEvent, Reason, Signal, encode_event
from flywheel.schemas.tables import DPO_PAIRS
from flywheel.settings import Settings
from tests.conftest import wait_for
from tests.support.flow_helpers import (
    produce_raw,
    read_table,
    read_topic,
    snapshot_count,
    start_flow_process,
    total_records,
    write_config,
)

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def edit_event(index: int, **overrides: object) -> InteractionEvent:
    fields: dict[str, object] = {
        "event_id": f"edit-{index}",
        "signal": Signal.EDIT,
        "occurred_at": T0 + timedelta(minutes=index),
        "thread_id": f"thread-{index % 5}",
        "user_id": f"user-{index % 7}",
        "prompt": f"Question number {index}: how do I rotate my API credentials safely?",
        "response": f"Answer {index}: open the console, find credentials, and press rotate now.",
        "final_user_edit": f"Answer {index}: open the admin console, find credentials, and rotate them gracefully.",
        "segment": "pro",
        "model_id": "assistant",
        "model_version": "2026.11",
    }
    fields.update(overrides)
    return InteractionEvent(**fields)  # type: ignore[arg-type]


def as_message(event: InteractionEvent) -> tuple[bytes, bytes]:
    return event.thread_id.encode(), encode_event(event)


def test_edits_become_dpo_pairs_with_lineage(settings: Settings) -> None:
    edits = [edit_event(i) for i in range(12)]
    view = edit_event(100, event_id="view-1", signal=Signal.VIEW, final_user_edit=None)
    produce_raw(settings, [as_message(e) for e in [*edits, view]])

    summary = run_until_drained(settings.flow_config())

    assert summary.events_read == 13
    pairs = read_table(settings, DPO_PAIRS).to_pylist()
    assert sorted(p["event_id"] for p in pairs) == sorted(e.event_id for e in edits)
    by_id = {e.event_id: e for e in edits}
    for pair in pairs:
        event = by_id[pair["event_id"]]
        assert pair["prompt"] == event.prompt
        assert pair["chosen"] == event.final_user_edit
        assert pair["rejected"] == event.response
        assert 0.0 < pair["similarity"] < 1.0
        assert pair["edit_distance"] == pair["edit_inserts"] + pair["edit_deletes"] + pair["edit_replaces"] > 0
        assert pair["source_topic"] == settings.topics.interactions
        assert pair["occurred_at"] == event.occurred_at
    # The snapshot summary holds the last offset of every partition the rows came from.
    table = open_catalog(settings.catalog).load_table(table_identifier(settings.catalog, DPO_PAIRS))
    snapshot = table.current_snapshot()
    assert snapshot is not None and snapshot.summary is not None
    stored = decode_offsets(snapshot.summary.additional_properties[OFFSETS_PROPERTY])
    for pair in pairs:
        assert stored[(pair["source_topic"], pair["source_partition"])] >= pair["source_offset"]
    assert sum(offset + 1 for offset in stored.values()) == 13  # every message accounted for
    # Partitioned by day of occurred_at.
    assert [field.name for field in table.spec().fields] == ["occurred_day"]


def test_bad_input_goes_to_dlq_with_reason_and_good_events_keep_flowing(settings: Settings) -> None:
    settings = revised(settings, validation={"max_text_bytes": 1024})
    good = [edit_event(i) for i in range(5)]
    valid = json.loads(encode_event(edit_event(50)))
    bad: dict[str, bytes] = {
        Reason.MALFORMED_JSON: b'{"event_id": "x", "signal": ',
        Reason.INVALID_UTF8: b'{"event_id": "\xff\xfe", "signal": "edit"}',
        Reason.WRONG_TYPE: json.dumps({**valid, "prompt": 42}).encode(),
        Reason.MISSING_FIELD: json.dumps({k: v for k, v in valid.items() if k != "user_id"}).encode(),
        Reason.UNKNOWN_SIGNAL: json.dumps({**valid, "signal": "teleport"}).encode(),
        Reason.FIELD_TOO_LARGE: json.dumps({**valid, "final_user_edit": "x" * 5000}).encode(),
        Reason.NOT_AN_OBJECT: b"[1, 2, 3]",
        Reason.EMPTY_MESSAGE: b"",
    }
    messages = [
        as_message(good[0]),
        *((b"k", value) for value in bad.values()),
        *(as_message(e) for e in good[1:]),
    ]
    produce_raw(settings, messages)

    summary = run_until_drained(settings.flow_config())

    assert summary.dead_letters == len(bad)
    assert sorted(p["event_id"] for p in read_table(settings, DPO_PAIRS).to_pylist()) == sorted(
        e.event_id for e in good
    )
    dead = read_topic(settings, settings.topics.dlq)
    assert len(dead) == len(bad)
    by_reason = {dict(m.headers())[REASON_HEADER].decode(): m for m in dead}
    assert set(by_reason) == set(bad)
    for reason, message in by_reason.items():
        headers = dict(message.headers())
        assert (message.value() or b"") == bad[reason], "DLQ keeps the raw bytes untouched"
        assert headers[DETAIL_HEADER], f"{reason} has a human-readable detail"
        assert headers[TOPIC_HEADER].decode() == settings.topics.interactions
        assert int(headers[PARTITION_HEADER]) >= 0 and int(headers[OFFSET_HEADER]) >= 0


def test_restart_with_no_new_input_commits_nothing(settings: Settings) -> None:
    produce_raw(settings, [as_message(edit_event(i)) for i in range(6)])
    first = run_until_drained(settings.flow_config())
    assert first.rows_written(DPO_PAIRS) == 6
    snapshots_before = {name: snapshot_count(settings, name) for name in first.table_snapshots}

    second = run_until_drained(settings.flow_config())

    assert second.commits == []
    assert {name: snapshot_count(settings, name) for name in first.table_snapshots} == snapshots_before
    assert len(read_table(settings, DPO_PAIRS)) == 6


def test_a_changed_bucket_count_is_refused_on_the_recovery_state_it_does_not_fit(settings: Settings) -> None:
    # Keyed state is laid out by dedup.buckets: resumed with another count, the progress barrier
    # passes offsets a new bucket still holds events below (lost after a crash), or waits for
    # buckets that no longer exist (progress stops). The store records its count.
    produce_raw(settings, [as_message(edit_event(i)) for i in range(4)])
    run_until_drained(settings.flow_config())
    produce_raw(settings, [as_message(edit_event(i)) for i in range(4, 6)])
    more = revised(settings, curation={"dedup": {"buckets": settings.curation.dedup.buckets * 2}})

    with pytest.raises(RecoveryStateExists, match=r"dedup.buckets=\d+ \(the settings say \d+\).*--reset-recovery"):
        run_until_drained(more.flow_config())
    resumed = run_until_drained(more.flow_config(), StartRequest(reset_recovery=True))

    assert resumed.events_read == 2
    assert len(read_table(settings, DPO_PAIRS)) == 6
    again = run_until_drained(more.flow_config())  # the new store recorded the new count
    assert again.commits == []


def test_cold_start_resumes_from_offsets_stored_in_iceberg(settings: Settings) -> None:
    produce_raw(settings, [as_message(edit_event(i)) for i in range(4)])
    run_until_drained(settings.flow_config())
    produce_raw(settings, [as_message(edit_event(i)) for i in range(4, 9)])

    # Without recovery state the only memory left is the tables' snapshot summaries.
    resumed = run_until_drained(settings.flow_config(), StartRequest(reset_recovery=True))

    assert resumed.events_read == 5
    assert sorted(p["event_id"] for p in read_table(settings, DPO_PAIRS).to_pylist()) == sorted(
        f"edit-{i}" for i in range(9)
    )


def test_from_offsets_replays_into_a_fresh_catalog(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> None:
    produce_raw(settings, [(b"one-key", encode_event(edit_event(i))) for i in range(10)])
    run_until_drained(settings.flow_config())
    partition = read_table(settings, DPO_PAIRS).to_pylist()[0]["source_partition"]
    other = tmp_path_factory.mktemp("replay")
    fresh = revised(
        settings, catalog={"uri": f"sqlite:///{other / 'catalog.db'}", "warehouse": str(other / "warehouse")}
    )

    with pytest.raises(RecoveryStateExists):
        run_until_drained(fresh.flow_config(), StartRequest(from_offsets=f"{partition}:6"))
    replay = run_until_drained(fresh.flow_config(), StartRequest(from_offsets=f"{partition}:6", reset_recovery=True))

    assert replay.start_offsets[partition] == 6
    assert sorted(p["source_offset"] for p in read_table(fresh, DPO_PAIRS).to_pylist()) == [6, 7, 8, 9]


def test_from_timestamp_lands_on_the_right_offset_on_the_local_broker(settings: Settings) -> None:
    base_ms = int(T0.timestamp() * 1000)
    events = [edit_event(i) for i in range(20)]
    # One key: one partition, offsets 0..19, timestamps a minute apart.
    produce_raw(
        settings,
        [(b"same", encode_event(e)) for e in events],
        timestamps=[base_ms + i * 60_000 for i in range(20)],
    )

    summary = run_until_drained(
        settings.flow_config(), StartRequest(from_timestamp=T0 + timedelta(minutes=12, seconds=30))
    )

    pairs = read_table(settings, DPO_PAIRS).to_pylist()
    assert sorted(p["event_id"] for p in pairs) == sorted(f"edit-{i}" for i in range(13, 20))
    used = pairs[0]["source_partition"]
    assert summary.start_offsets[used] == 13
    assert all(offset == 0 for partition, offset in summary.start_offsets.items() if partition != used)


def test_long_running_flow_commits_the_tail_of_a_quiet_stream(settings: Settings, tmp_path: Path) -> None:
    # longer than an epoch: rows wait in the recovery snapshot
    settings = revised(settings, sink={"commit_interval_s": 2.0})
    config = write_config(settings, tmp_path / "flow.yaml")
    process = start_flow_process(config, log_path=tmp_path / "flow.log")
    try:
        produce_raw(settings, [as_message(edit_event(i)) for i in range(3)])
        # No more input after this: the commit must still happen, driven by source heartbeats.
        wait_for(lambda: total_records(settings, DPO_PAIRS) == 3, timeout_s=60, what="the quiet tail committed")
    finally:
        process.kill()
        process.wait(timeout=30)
