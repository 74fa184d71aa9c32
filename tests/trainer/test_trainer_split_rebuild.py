"""Runs trained before split records get one rebuilt from their tagged snapshot, against a real catalog.

Such a run (users' served model after an upgrade) had no ``split.json``: later runs did not keep its
sides and the comparison with it ran on every held-out prompt. Its split is rebuilt from the
snapshot its card names, checked against the card's figures, and written once; a run whose
snapshot expired stays unrecorded, and the card says why.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from pyiceberg.catalog import Catalog
from pyiceberg.expressions import EqualTo
from pyiceberg.table import Table

from flywheel.infra.catalog import ensure_tables, open_catalog, table_identifier
from flywheel.schemas.registry import ALIAS_FILE
from flywheel.schemas.tables import DPO_PAIRS, contracts
from flywheel.settings import Settings
from flywheel.trainer.card import split_line
from flywheel.trainer.consumer import snapshot_tag
from flywheel.trainer.dataset import read_pairs, still_held
from flywheel.trainer.registry import LATEST_SPLIT_FILE, Registry
from flywheel.trainer.split import SPLIT_RULE, PairSplit, pair_prompt_key, split_pairs
from flywheel.trainer.split_rebuild import PRE_STICKY_SPLIT_RULE, Rebuilds, rebuild_missing_splits
from tests.support.cards import card_for, plain_result
from tests.support.synthetic import append_rows, pair_rows

pytestmark = pytest.mark.integration

FRACTION = 0.25


def _pairs(count: int, start: int = 0) -> pa.Table:
    """Pairs each answered its own way: one group a prompt (the synthetic answers are one per topic)."""
    rows = [{**row, "chosen": f"{row['chosen']} ({row['event_id']})"} for row in pair_rows(count, start).to_pylist()]
    return pa.Table.from_pylist(rows, contracts()[DPO_PAIRS].arrow_schema)


def _table(settings: Settings) -> tuple[Catalog, Table]:
    catalog = open_catalog(settings.catalog)
    return catalog, ensure_tables(catalog, settings.catalog)[DPO_PAIRS]


def _old_run(settings: Settings, table: Table, run_id: str, delete: str | None = None) -> PairSplit:
    """A run as one before split records made it: tag, pairs still held, split, card; no split.json."""
    head = table.refresh().current_snapshot()
    assert head is not None
    table.manage_snapshots().create_tag(head.snapshot_id, snapshot_tag(run_id)).commit()
    if delete is not None:  # quarantined while the trigger waited: the run leaves it out
        table.delete(EqualTo("pair_id", delete))
    held = still_held(table, read_pairs(table, head.snapshot_id), head.snapshot_id)
    split = split_pairs(held.rows, FRACTION)
    card: dict[str, Any] = {
        "run_id": run_id,
        "dataset": {
            "table": table_identifier(settings.catalog, DPO_PAIRS),
            "snapshot_id": head.snapshot_id,
            "snapshot_tag": snapshot_tag(run_id),
            "removed_since_trigger": {"pairs": held.removed, "checked_snapshot_id": held.checked_snapshot_id},
            "degenerate_pairs": {"pairs": split.degenerate},
            "eval_pairs": len(split.eval),
        },
        "split": {"rule": PRE_STICKY_SPLIT_RULE, "eval_fraction": FRACTION, **_hash(split)},
    }
    _registry(settings).write_card(run_id, card)
    return split


def _hash(split: PairSplit) -> dict[str, str]:
    return {"eval_prompt_set_hash": split.eval_prompt_set_hash}


def _registry(settings: Settings) -> Registry:
    return Registry.from_settings("", settings.state_dir)


def _serve(settings: Settings, run_id: str) -> None:
    root = settings.state_dir / "registry"
    root.mkdir(parents=True, exist_ok=True)
    (root / ALIAS_FILE).write_text(json.dumps({"current": run_id}))


def _split_file(settings: Settings, run_id: str) -> Path:
    return settings.state_dir / "registry" / "runs" / run_id / "split.json"


def test_an_old_runs_split_is_rebuilt_exactly_once_and_kept_by_the_next(settings: Settings) -> None:
    catalog, table = _table(settings)
    append_rows(table, _pairs(48))
    original = _old_run(settings, table, "r-old")
    registry = _registry(settings)
    _serve(settings, "r-old")
    assert registry.previous_splits(exclude="r-new").unrecorded == ("r-old",)  # today's fallback, before
    append_rows(table, _pairs(24, start=48))  # the table moved on since

    rebuilds = rebuild_missing_splits(catalog, registry, registry.kept_runs(exclude="r-new"))

    assert rebuilds == Rebuilds(rebuilt=("r-old",))
    assert registry.read_split("r-old") == original.record("r-old")  # exactly its sides
    stored = json.loads(_split_file(settings, "r-old").read_text())
    assert stored["rule"] == PRE_STICKY_SPLIT_RULE != SPLIT_RULE
    source = stored["rebuilt_from"]
    assert source["snapshot_tag"] == "train-r-old" and source["eval_fraction"] == FRACTION
    assert source["eval_prompt_set_hash"] == original.eval_prompt_set_hash
    assert not (settings.state_dir / "registry" / LATEST_SPLIT_FILE).exists()  # the old run is not the latest
    # Done once: the next run finds the record and writes nothing.
    written = _split_file(settings, "r-old").stat().st_mtime_ns
    assert rebuild_missing_splits(catalog, registry, registry.kept_runs(exclude="r-new")) == Rebuilds()
    assert _split_file(settings, "r-old").stat().st_mtime_ns == written

    # The next run keeps its sides, and a new pair linking one of its trained prompts to a held-out
    # one (the held-out pair's long correction) is held out and named as one the served run trained on.
    previous = registry.previous_splits(exclude="r-new")
    assert [record.run_id for record in previous.records] == ["r-old"] and previous.unrecorded == ()
    held_row, trained_row = original.eval[0], original.train[0]
    linking = {**trained_row, "pair_id": "link", "chosen": held_row["chosen"]}
    rows = [*read_pairs(table.refresh(), table.current_snapshot().snapshot_id), linking]  # type: ignore[union-attr]
    later = split_pairs(rows, FRACTION, previous)
    held_after = {pair_prompt_key(row) for row in later.eval}
    trained_after = {pair_prompt_key(row) for row in later.train}
    assert {pair_prompt_key(row) for row in original.eval} <= held_after
    assert {pair_prompt_key(row) for row in original.train} - {pair_prompt_key(trained_row)} <= trained_after
    assert later.trained_by["r-old"] == {pair_prompt_key(held_row), pair_prompt_key(trained_row)}
    card = card_for(plain_result(["x"], ["y"]), later, rebuilds=rebuilds)
    assert card["split"]["previous"]["rebuilt_runs"] == ["r-old"] and card["split"]["previous"]["not_rebuilt"] == {}
    assert "split record rebuilt from the tagged snapshot: r-old" in str(split_line(card))


def test_pairs_removed_before_the_old_run_are_left_out_of_the_rebuild(settings: Settings) -> None:
    catalog, table = _table(settings)
    append_rows(table, _pairs(48))
    removed = read_pairs(table.refresh(), table.current_snapshot().snapshot_id)[5]["pair_id"]  # type: ignore[union-attr]
    original = _old_run(settings, table, "r-old", delete=removed)
    assert sum(len(side) for side in (original.train, original.eval)) == 47

    rebuilds = rebuild_missing_splits(catalog, _registry(settings), ["r-old"])

    assert rebuilds.rebuilt == ("r-old",) and _registry(settings).read_split("r-old") == original.record("r-old")


def test_an_expired_snapshot_or_another_rule_keeps_the_fallback_and_says_why(settings: Settings) -> None:
    catalog, table = _table(settings)
    append_rows(table, _pairs(48))
    _old_run(settings, table, "r-old")
    snapshot_id = table.refresh().snapshot_by_name("train-r-old").snapshot_id  # type: ignore[union-attr]
    append_rows(table, _pairs(8, start=48))
    table.refresh().manage_snapshots().remove_tag("train-r-old").commit()
    table.maintenance.expire_snapshots().by_ids([snapshot_id]).commit()
    assert table.refresh().snapshot_by_id(snapshot_id) is None
    registry = _registry(settings)
    _serve(settings, "r-old")

    rebuilds = rebuild_missing_splits(catalog, registry, registry.kept_runs(exclude="r-new"))

    assert rebuilds.rebuilt == () and "is gone (expired" in rebuilds.not_rebuilt["r-old"]
    assert not _split_file(settings, "r-old").exists()
    previous = registry.previous_splits(exclude="r-new")
    assert previous.unrecorded == ("r-old",) and previous.records == ()
    later = split_pairs(read_pairs(table, table.current_snapshot().snapshot_id), FRACTION, previous)  # type: ignore[union-attr]
    assert "r-old" not in later.trained_by  # the served comparison falls back to every prompt
    card = card_for(plain_result(["x"], ["y"]), later, rebuilds=rebuilds)
    assert card["split"]["previous"]["unrecorded_runs"] == ["r-old"]
    assert "expired" in card["split"]["previous"]["not_rebuilt"]["r-old"]
    assert "not kept (no split record): r-old (its pairs snapshot" in str(split_line(card))

    # A card naming another rule (written by the sticky split, its record lost) is not rebuilt by this one.
    append_rows(table, _pairs(8, start=56))
    _old_run(settings, table, "r-other")
    card_path = settings.state_dir / "registry" / "runs" / "r-other" / "model_card.json"
    other = json.loads(card_path.read_text())
    card_path.write_text(json.dumps({**other, "split": {**other["split"], "rule": SPLIT_RULE}}))
    assert "another split rule" in rebuild_missing_splits(catalog, registry, ["r-other"]).not_rebuilt["r-other"]
    # Nor one whose figures the rebuild does not reproduce (here: another eval_fraction on the card).
    card_path.write_text(json.dumps({**other, "split": {**other["split"], "eval_fraction": 0.5}}))
    assert "differs from the card" in rebuild_missing_splits(catalog, registry, ["r-other"]).not_rebuilt["r-other"]
    assert not _split_file(settings, "r-other").exists()
