"""Revert to a training tag and quarantine a window, with the stream still running on top."""

from __future__ import annotations

import shutil
from datetime import timedelta

import pytest
from prometheus_client import REGISTRY
from typer.testing import CliRunner

from flywheel.cli import app
from flywheel.flows.runner import run_until_drained
from flywheel.infra.catalog import open_catalog, table_identifier
from flywheel.infra.dataset import (
    DatasetError,
    lift_quarantine,
    quarantine,
    quarantine_rules,
    revert_all_to_tag,
    revert_to_tag,
)
from flywheel.schemas.events import encode_event
from flywheel.schemas.tables import DPO_PAIRS, POSITIVE_EXAMPLES, REJECTIONS
from flywheel.settings import Settings
from tests.flows.test_curation_paths import GOOD_EDIT, T0, edit
from tests.support.flow_helpers import produce_raw, read_table, write_config

pytestmark = pytest.mark.integration


def produce_edits(settings: Settings, ids: list[str], user_id: str = "user-a", hours: int = 0) -> None:
    events = [
        edit(event_id, GOOD_EDIT + f" ({event_id})", user_id=user_id, occurred_at=T0 + timedelta(hours=hours))
        for event_id in ids
    ]
    produce_raw(settings, [(e.thread_id.encode(), encode_event(e)) for e in events])


def pairs(settings: Settings) -> list[str]:
    return sorted(r["event_id"] for r in read_table(settings, DPO_PAIRS).to_pylist())


def test_revert_to_a_tag_removes_later_rows_and_the_stream_does_not_bring_them_back(settings: Settings) -> None:
    produce_edits(settings, ["a-1", "a-2"])
    run_until_drained(settings.flow_config())
    table = open_catalog(settings.catalog).load_table(table_identifier(settings.catalog, DPO_PAIRS))
    head = table.current_snapshot()
    assert head is not None
    table.manage_snapshots().create_tag(head.snapshot_id, "train-r1").commit()
    produce_edits(settings, ["b-1", "b-2"])
    run_until_drained(settings.flow_config())
    assert pairs(settings) == ["a-1", "a-2", "b-1", "b-2"]

    positives = open_catalog(settings.catalog).load_table(table_identifier(settings.catalog, POSITIVE_EXAMPLES))
    # A training tag is on dpo_pairs only: naming both tables reverts neither (no half-applied rollback).
    with pytest.raises(DatasetError, match="positive_examples; nothing reverted"):
        revert_all_to_tag([table, positives], "train-r1")
    assert pairs(settings) == ["a-1", "a-2", "b-1", "b-2"]

    (removal,) = revert_all_to_tag([table, positives], "train-r1", skip_untagged=True)

    assert removal.table == DPO_PAIRS and removal.rows == 2
    assert pairs(settings) == ["a-1", "a-2"]
    # The flow resumes after the reverted rows: nothing comes back, new input still lands.
    produce_edits(settings, ["c-1"])
    run_until_drained(settings.flow_config())
    assert pairs(settings) == ["a-1", "a-2", "c-1"]
    with pytest.raises(DatasetError, match="no tag"):
        revert_to_tag(table, "train-missing")


def test_quarantine_removes_one_users_window_only(settings: Settings) -> None:
    produce_edits(settings, ["ok-1"], user_id="user-ok", hours=1)
    produce_edits(settings, ["bad-1", "bad-2"], user_id="user-attacker", hours=1)
    produce_edits(settings, ["bad-later"], user_id="user-attacker", hours=30)
    run_until_drained(settings.flow_config())
    table = open_catalog(settings.catalog).load_table(table_identifier(settings.catalog, DPO_PAIRS))

    removal = quarantine(table, T0, T0 + timedelta(hours=2), "poisoning attack", user_id="user-attacker")

    assert removal.rows == 2
    assert pairs(settings) == ["bad-later", "ok-1"]
    snapshot = table.current_snapshot()
    assert snapshot is not None and snapshot.summary is not None
    assert "poisoning attack" in snapshot.summary.additional_properties["flywheel.quarantine"]
    with pytest.raises(DatasetError, match="reason"):
        quarantine(table, T0, T0 + timedelta(hours=1), " ")


def test_a_restart_that_reads_again_does_not_bring_back_quarantined_rows(settings: Settings) -> None:
    produce_edits(settings, ["early-1"], hours=1)
    run_until_drained(settings.flow_config())
    catalog = open_catalog(settings.catalog)
    rejections = catalog.load_table(table_identifier(settings.catalog, REJECTIONS))
    behind = rejections.current_snapshot()
    assert behind is not None
    produce_edits(settings, ["bad-1"], user_id="user-attacker", hours=5)
    produce_edits(settings, ["ok-2"], hours=5)
    run_until_drained(settings.flow_config())
    assert pairs(settings) == ["bad-1", "early-1", "ok-2"]
    table = catalog.load_table(table_identifier(settings.catalog, DPO_PAIRS))
    assert quarantine(table, T0, T0 + timedelta(hours=6), "poisoning attack", user_id="user-attacker").rows == 1

    # A crash left one table behind the others (its last commit before bad-1 and ok-2) and no
    # recovery state: the restart reads both messages again, in the window only some tables
    # had committed. bad-1's row is in no table any more, but it was decided: it stays out.
    rejections.refresh()
    rejections.manage_snapshots().rollback_to_snapshot(behind.snapshot_id).commit()
    shutil.rmtree(settings.recovery.directory, ignore_errors=True)
    run_until_drained(settings.flow_config())

    assert pairs(settings) == ["early-1", "ok-2"]
    assert [r["event_id"] for r in read_table(settings, REJECTIONS).to_pylist()] == []


def test_rows_the_flow_commits_after_a_quarantine_stay_out_until_it_is_lifted(settings: Settings) -> None:
    produce_edits(settings, ["bad-1"], user_id="user-attacker", hours=1)
    run_until_drained(settings.flow_config())
    table = open_catalog(settings.catalog).load_table(table_identifier(settings.catalog, DPO_PAIRS))
    removal = quarantine(table, T0, T0 + timedelta(hours=2), "poisoning attack", user_id="user-attacker")
    assert removal.rows == 1 and removal.rule_id is not None
    assert (rule := quarantine_rules(table.properties)) and rule[0].reason == "poisoning attack"

    # The attack's rows still in flight (not read, buffered or held when the quarantine ran)
    # arrive afterwards: the sink leaves them out and counts them; other rows land.
    left_out = REGISTRY.get_sample_value("flywheel_iceberg_rows_quarantined_total", {"table": DPO_PAIRS}) or 0.0
    produce_edits(settings, ["bad-2", "bad-3"], user_id="user-attacker", hours=1)
    produce_edits(settings, ["ok-1"], user_id="user-ok", hours=1)
    produce_edits(settings, ["bad-later"], user_id="user-attacker", hours=30)
    run_until_drained(settings.flow_config())
    assert pairs(settings) == ["bad-later", "ok-1"]
    assert REGISTRY.get_sample_value("flywheel_iceberg_rows_quarantined_total", {"table": DPO_PAIRS}) == left_out + 2

    # Lifted, the window takes rows again; those removed stay removed.
    assert lift_quarantine(table, removal.rule_id) and not lift_quarantine(table, removal.rule_id)
    produce_edits(settings, ["late-4"], user_id="user-attacker", hours=1)
    run_until_drained(settings.flow_config())
    assert pairs(settings) == ["bad-later", "late-4", "ok-1"]


def test_cli_quarantines_and_lifts_on_the_training_tables(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    produce_edits(settings, ["bad-1"], user_id="user-attacker", hours=1)
    run_until_drained(settings.flow_config())
    monkeypatch.setenv("FLYWHEEL_CONFIG_FILE", str(write_config(settings, settings.state_dir / "data.yaml")))
    window = ["--from", T0.isoformat(), "--to", (T0 + timedelta(hours=2)).isoformat()]
    done = CliRunner().invoke(app, ["data", "quarantine", *window, "--reason", "attack", "--user", "user-attacker"])
    assert done.exit_code == 0, done.output
    said = " ".join(done.output.split())  # the console wraps long lines
    assert "dpo_pairs: quarantined 1 rows" in said and "positive_examples: quarantined 0 rows" in said
    table = open_catalog(settings.catalog).load_table(table_identifier(settings.catalog, DPO_PAIRS))
    (rule,) = quarantine_rules(table.properties)
    assert rule.user_id == "user-attacker" and f"rule {rule.rule_id} keeps later rows" in said
    rule_id = rule.rule_id

    lifted = CliRunner().invoke(app, ["data", "lift-quarantine", "--rule", rule_id])
    assert lifted.exit_code == 0, lifted.output
    assert f"dpo_pairs: rule {rule_id} lifted" in " ".join(lifted.output.split())
    table.refresh()
    assert quarantine_rules(table.properties) == ()


def test_a_quarantine_names_an_existing_branch_and_holds_only_that_branchs_writers(settings: Settings) -> None:
    from datetime import timezone

    from flywheel.flows.quarantined import left_out_quarantined
    from flywheel.infra.dataset import QuarantineRule
    from flywheel.schemas.records import SourceCoordinates, TableRow

    produce_edits(settings, ["ok-1"], user_id="user-a", hours=1)
    run_until_drained(settings.flow_config())
    table = open_catalog(settings.catalog).load_table(table_identifier(settings.catalog, DPO_PAIRS))
    window = (T0, T0 + timedelta(hours=2))
    # A misspelt branch was "quarantined 0 rows" and its rule stopped main's sink from taking the window.
    with pytest.raises(DatasetError, match="no branch 'trail'"):
        quarantine(table, *window, "attack", branch="trail")
    assert quarantine_rules(table.properties) == ()

    table.manage_snapshots().create_branch(table.current_snapshot().snapshot_id, "replay-x").commit()  # type: ignore[union-attr]
    removal = quarantine(table, *window, "attack on the replay", branch="replay-x")
    assert removal.rows == 1
    row = TableRow(DPO_PAIRS, SourceCoordinates("t", 0, 9, 0), {"occurred_at": T0 + timedelta(hours=1)})
    table.refresh()
    assert left_out_quarantined([row], table, DPO_PAIRS, "main") == [row]  # main's writers take the window
    assert left_out_quarantined([row], table, DPO_PAIRS, "replay-x") == []
    assert pairs(settings) == ["ok-1"]  # main untouched

    # The same window given at another UTC offset is the same rule (lifting its id lifts it).
    plus_two = timezone(timedelta(hours=2))
    shifted = QuarantineRule(window[0].astimezone(plus_two), window[1].astimezone(plus_two), None, "x", "replay-x")
    assert shifted.rule_id == QuarantineRule(*window, None, "y", "replay-x").rule_id == removal.rule_id
