"""Replay into a branch under a stricter policy, and the report of what changed against main."""

from __future__ import annotations

from pathlib import Path

import pytest

from flywheel.flows.replay import BranchExists, replay
from flywheel.flows.runner import StartRequest, run_until_drained
from flywheel.infra.catalog import open_catalog, table_identifier
from flywheel.operators.config import DEFAULT_POLICY_FILE
from flywheel.schemas.events import Signal, encode_event
from flywheel.schemas.tables import DPO_PAIRS, REJECTIONS
from flywheel.settings import Settings
from tests.flows.test_curation_paths import ANSWER, GOOD_EDIT, edit, event
from tests.support.flow_helpers import produce_raw, read_table, read_topic

pytestmark = pytest.mark.integration


def stricter_policy(path: Path) -> Path:
    """The default policy plus a blocked term that the good edits contain ("revoke")."""
    text = DEFAULT_POLICY_FILE.read_text().replace('version = "default-v7"', 'version = "strict-v2"')
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
