"""Threshold tracker against the real broker and catalog: exactly one trigger per crossing."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from flywheel.config import revised
from flywheel.infra.catalog import ensure_tables, open_catalog, table_identifier
from flywheel.schemas.tables import DPO_PAIRS, POSITIVE_EXAMPLES
from flywheel.settings import Settings
from flywheel.trainer import tracker
from flywheel.trainer.config import TrainerSettings
from flywheel.trainer.events import TrainingTrigger
from flywheel.trainer.io import read_topic
from tests.support.synthetic import append_rows, pair_rows, positive_rows

pytestmark = pytest.mark.integration


def _triggers(settings: Settings) -> list[TrainingTrigger]:
    return [
        TrainingTrigger.model_validate_json(value)
        for value in read_topic(settings.kafka, settings.topics.training_triggers)
    ]


def test_one_trigger_per_crossing_across_restarts(settings: Settings) -> None:
    settings = revised(settings, trainer=TrainerSettings(threshold=10))
    catalog = open_catalog(settings.catalog)
    tables = ensure_tables(catalog, settings.catalog)
    append_rows(tables[POSITIVE_EXAMPLES], positive_rows(4))
    pairs = tables[DPO_PAIRS]

    append_rows(pairs, pair_rows(6, start=0))
    report = tracker.check(settings.trainer_config(), catalog)
    assert report.emitted == [] and report.pairs_since_trigger == 6
    assert REGISTRY.get_sample_value("flywheel_pairs_since_trigger") == 6
    triggers_before = REGISTRY.get_sample_value("flywheel_training_triggers_total") or 0.0

    append_rows(pairs, pair_rows(6, start=6))
    crossing = catalog.load_table(table_identifier(settings.catalog, DPO_PAIRS)).current_snapshot()
    report = tracker.check(settings.trainer_config(), catalog)
    assert [t.snapshot_id for t in report.emitted] == [crossing.snapshot_id]
    first = report.emitted[0]
    assert (first.new_pairs, first.total_pairs, first.sequence) == (12, 12, 1)
    assert first.previous_snapshot_id is None and first.positives_snapshot_id is not None
    assert report.pairs_since_trigger == 0
    assert REGISTRY.get_sample_value("flywheel_training_triggers_total") == triggers_before + 1

    # A restarted tracker (new call, same table and topic) emits nothing new.
    assert tracker.check(settings.trainer_config(), catalog).emitted == []
    # Crash after producing but before tagging: the id is found on the topic, only the tag is redone.
    table = catalog.load_table(table_identifier(settings.catalog, DPO_PAIRS))
    table.manage_snapshots().remove_tag(tracker.trigger_tag(1)).commit()
    repaired = tracker.check(settings.trainer_config(), catalog)
    assert repaired.emitted == [] and repaired.already_emitted == [first.trigger_id]
    assert tracker.trigger_tag(1) in catalog.load_table(table_identifier(settings.catalog, DPO_PAIRS)).refs()

    # The next crossing counts from the previous trigger, not from zero.
    pairs = catalog.load_table(table_identifier(settings.catalog, DPO_PAIRS))
    append_rows(pairs, pair_rows(9, start=12))
    assert tracker.check(settings.trainer_config(), catalog).pairs_since_trigger == 9
    pairs = catalog.load_table(table_identifier(settings.catalog, DPO_PAIRS))
    append_rows(pairs, pair_rows(3, start=21))
    second = tracker.check(settings.trainer_config(), catalog).emitted
    assert len(second) == 1 and second[0].sequence == 2 and second[0].new_pairs == 12
    assert second[0].previous_snapshot_id == first.snapshot_id

    # Keys spread triggers over partitions, and there is no order across partitions.
    on_topic = _triggers(settings)
    assert sorted(t.trigger_id for t in on_topic) == sorted([first.trigger_id, second[0].trigger_id])


def test_a_retried_run_takes_the_positives_its_tag_names(settings: Settings) -> None:
    # The run tagged the positives snapshot it chose, then died before its status said so; the flow
    # committed more positives meanwhile. The retry must take the tagged one (a newer one conflicted
    # with the tag on every retry, forever).
    from flywheel.trainer.consumer import positives_snapshot_for_run, snapshot_tag
    from flywheel.trainer.events import run_id_for
    from flywheel.trainer.registry import Registry

    settings = revised(settings, trainer=TrainerSettings(threshold=10))
    catalog = open_catalog(settings.catalog)
    tables = ensure_tables(catalog, settings.catalog)
    append_rows(tables[POSITIVE_EXAMPLES], positive_rows(4))
    append_rows(tables[DPO_PAIRS], pair_rows(10))
    (trigger,) = tracker.check(settings.trainer_config(), catalog).emitted
    run_id = run_id_for(trigger.trigger_id)
    positives = catalog.load_table(trigger.positives_table)
    chosen = positives.current_snapshot()
    assert chosen is not None
    positives.manage_snapshots().create_tag(chosen.snapshot_id, snapshot_tag(run_id)).commit()
    append_rows(catalog.load_table(trigger.positives_table), positive_rows(2, start=4))
    registry = Registry.from_settings("", settings.state_dir)

    assert positives_snapshot_for_run(catalog, trigger, registry, run_id) == chosen.snapshot_id
