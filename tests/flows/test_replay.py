"""Replay into a branch under a stricter policy, and the report of what changed against main."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from flywheel.config import revised
from flywheel.flows.replay import BranchExists, replay
from flywheel.flows.runner import StartRequest, run_until_drained
from flywheel.infra.broker import LocalBroker, ensure_topics
from flywheel.infra.catalog import open_catalog, table_identifier
from flywheel.operators.config import DEFAULT_POLICY_FILE
from flywheel.schemas.events import Signal, encode_event
from flywheel.schemas.tables import DPO_PAIRS, REJECTIONS
from flywheel.settings import Settings
from tests.conftest import make_settings
from tests.flows.test_curation_paths import ANSWER, GOOD_EDIT, T0, edit, event
from tests.support.flow_helpers import produce_raw, read_table, read_topic

pytestmark = pytest.mark.integration


def stricter_policy(path: Path) -> Path:
    """The default policy plus a blocked term that the good edits contain ("revoke")."""
    text = DEFAULT_POLICY_FILE.read_text().replace('version = "default-v12"', 'version = "strict-v2"')
    text += '\n[[blocked]]\nname = "no_revoke"\napplies_to = ["chosen"]\nterms = ["revoke"]\n'
    path.write_text(text)
    return path


def test_replay_into_a_branch_reports_what_a_new_policy_changes(settings: Settings, tmp_path: Path) -> None:
    events = [
        edit("keep-1", ANSWER + " Then check the audit log."),
        edit("revoke-1", GOOD_EDIT),
        edit("revoke-2", GOOD_EDIT + " Also rotate the backups.", thread="other"),
        event("down-1", Signal.THUMBS_DOWN),
    ]
    produce_raw(settings, [(e.thread_id.encode(), encode_event(e)) for e in events])
    run_until_drained(settings.flow_config())
    main_pairs = sorted(r["event_id"] for r in read_table(settings, DPO_PAIRS).to_pylist())
    assert main_pairs == ["keep-1", "revoke-1", "revoke-2"]
    assert len(read_topic(settings, settings.topics.review)) == 1  # main queued the thumbs-down

    report = replay(
        settings.flow_config(), "strict", StartRequest(from_offsets="0"), stricter_policy(tmp_path / "strict.toml")
    )

    assert report.compared == 4
    assert report.changed == {(DPO_PAIRS, f"{REJECTIONS}:policy:blocked:no_revoke"): 2}
    assert report.unchanged == 2
    # The replay's own review message is counted, not sent: reviewers see the thumbs-down once.
    assert report.held_messages == {settings.topics.review: 1}
    assert len(read_topic(settings, settings.topics.review)) == 1
    # Main is untouched; the branch holds the replay's rows, stamped with the new policy.
    assert sorted(r["event_id"] for r in read_table(settings, DPO_PAIRS).to_pylist()) == main_pairs
    rejections = open_catalog(settings.catalog).load_table(table_identifier(settings.catalog, REJECTIONS))
    branch_head = rejections.snapshot_by_name("strict")
    assert branch_head is not None
    replayed = rejections.scan(snapshot_id=branch_head.snapshot_id).to_arrow().to_pylist()
    assert sorted(r["event_id"] for r in replayed) == ["revoke-1", "revoke-2"]
    assert {r["policy_version"] for r in replayed} == {"strict-v2"}

    with pytest.raises(BranchExists):
        replay(settings.flow_config(), "strict", StartRequest(from_offsets="0"))


@pytest.fixture
def one_partition(broker: LocalBroker, tmp_path: Path) -> Settings:
    """Isolated settings whose interactions topic has one partition (offsets in production order)."""
    isolated = make_settings(
        broker.bootstrap_servers, tmp_path, topics={"partitions": 1}, curation={"quota": {"per_user_per_day": 2}}
    )
    ensure_topics(isolated.kafka, isolated.topics)
    return isolated


def test_a_replay_from_mid_stream_remembers_what_main_decided_before_its_start(one_partition: Settings) -> None:
    # 0 'dup' (user-y), 1 q-0, 2 'dup' again (a retry), 3 q-1, 4 q-2 (user-x, quota 2 a day). Main
    # keeps 0, 1, 3 and drops 2 (duplicate) and 4 (quota). Replayed from offset 2 with the same
    # settings, nothing may change: the replay must remember offsets 0 and 1 as main did.
    def at(index: int) -> datetime:
        return T0 + timedelta(minutes=5 * index)

    events = [
        edit("dup", GOOD_EDIT + " (dup)", user_id="user-y", thread="td", occurred_at=at(0)),
        edit("q-0", GOOD_EDIT + " (0)", user_id="user-x", thread="t0", occurred_at=at(1)),
        edit("dup", GOOD_EDIT + " (dup)", user_id="user-y", thread="td", occurred_at=at(2)),
        edit("q-1", GOOD_EDIT + " (1)", user_id="user-x", thread="t1", occurred_at=at(3)),
        edit("q-2", GOOD_EDIT + " (2)", user_id="user-x", thread="t2", occurred_at=at(4)),
    ]
    produce_raw(one_partition, [(e.thread_id.encode(), encode_event(e)) for e in events])
    run_until_drained(one_partition.flow_config())
    rejected = sorted((r["source_offset"], r["stage"]) for r in read_table(one_partition, REJECTIONS).to_pylist())
    assert rejected == [(2, "dedup"), (4, "quota")]

    report = replay(one_partition.flow_config(), "same-settings", StartRequest(from_offsets="2"))
    assert (report.compared, report.unchanged, dict(report.changed)) == (3, 3, {})


def test_the_report_compares_every_message_the_replay_read_stored_or_not(broker: LocalBroker, tmp_path: Path) -> None:
    # Main stores every thumbs-up (rate 1); the replay samples none (rate 0): the three it stored
    # nowhere come after its last stored row and were left out of the comparison.
    settings = make_settings(
        broker.bootstrap_servers, tmp_path, topics={"partitions": 1}, curation={"sampling": {"default_rate": 1.0}}
    )
    ensure_topics(settings.kafka, settings.topics)
    events = [edit("e-1", GOOD_EDIT), *(event(f"up-{n}", Signal.THUMBS_UP) for n in range(3))]
    produce_raw(settings, [(e.thread_id.encode(), encode_event(e)) for e in events])
    run_until_drained(settings.flow_config())

    unsampled = revised(settings.flow_config(), curation={"sampling": {"default_rate": 0.0}})
    report = replay(unsampled, "rate0", StartRequest(from_offsets="0"))
    assert (report.compared, dict(report.changed)) == (4, {("positive_examples", "(none)"): 3})
