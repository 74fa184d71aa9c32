"""The curation dataflow, top to bottom as DESIGN.md says it:

read interactions -> decode + validate (invalid -> DLQ) -> route by signal
-> edit -> DPO pair -> Iceberg (exactly-once, offsets in each snapshot summary).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from pyiceberg.table import Table

from flows.iceberg_sink import IcebergSink, TableCommitter
from flows.kafka_sink import CheckedKafkaSink
from flows.kafka_source import InteractionSource
from flows.steps import CurationSteps
from flywheel.settings import Settings
from schemas.tables import contracts


def build_flow(
    settings: Settings,
    steps: CurationSteps,
    start_offsets: Mapping[int, int],
    load_table: Callable[[str], Table],
    stop_at_end: bool = False,
    on_committer: Callable[[TableCommitter], None] | None = None,
) -> Dataflow:
    """Build the curation dataflow; ``stop_at_end`` drains the topic and exits."""
    flow = Dataflow("flywheel_curation")
    source = InteractionSource(
        settings.kafka, settings.topics.interactions, start_offsets, settings.source, stop_at_end=stop_at_end
    )
    read = op.input("read_interactions", flow, source)
    split = op.branch("split_progress", read, steps.is_progress)
    progress = op.flat_map("progress_for_every_table", split.trues, steps.progress_for_every_table)

    decoded = op.map("decode_validate", split.falses, steps.decode)
    validity = op.branch("split_invalid", decoded, steps.is_valid)
    dead_letters = op.map("to_dead_letter", validity.falses, steps.to_dead_letter)
    op.output("write_dead_letters", dead_letters, CheckedKafkaSink(settings.kafka))
    events = validity.trues

    edits = op.filter("route_edits", events, steps.is_edit)
    pairs = op.map("to_dpo_pair", edits, steps.to_pair)

    rows = op.map("key_by_table", pairs, steps.key_by_table)
    sink_items = op.merge("rows_and_progress", rows, progress)
    sink = IcebergSink(load_table, contracts(), settings.catalog.branch, settings.sink, on_build=on_committer)
    op.output("write_iceberg", sink_items, sink)
    return flow
