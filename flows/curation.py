"""The curation dataflow, top to bottom as DESIGN.md says it:

    decode+validate -> windowed dedup (event ids, edit content) -> route by signal
      edit -> distance band -> safety gate (policy, toxicity, judge)
           -> per-user quota -> DPO pair
      thumbs_up / rating>=4, unedited -> stratified sample -> positive example
      thumbs_down / regenerate / copy / abandon / follow_up / escalation
           -> feedback row (+ review topic for thumbs_down, escalation)
      view -> counted, not stored
      anything dropped -> rejections row with stage + reason;  undecodable -> DLQ topic

Cheap steps run before expensive ones: the toxicity model and the judge only ever see
edits that passed dedup, the distance band and the policy engine. Every Iceberg table is
written exactly once per source message (see ``flows/iceberg_sink.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import bytewax.operators as op
from bytewax.dataflow import Dataflow, Stream
from pyiceberg.table import Table

from flywheel.flows.config import FlowConfig
from flywheel.flows.iceberg_sink import IcebergSink, TableCommitter
from flywheel.flows.kafka_sink import CheckedKafkaSink
from flywheel.flows.kafka_source import InteractionSource
from flywheel.flows.steps import CurationSteps, Decision
from flywheel.schemas.tables import contracts


def _gate(
    step_id: str, decisions: Stream[Decision], gate: Callable[[Decision], Decision], steps: CurationSteps
) -> op.BranchOut[Decision, Decision]:
    """Apply one gate; ``.trues`` are the candidates it kept, ``.falses`` what it dropped."""
    decided = op.map(step_id, decisions, gate)
    return op.branch(f"{step_id}_kept", decided, steps.is_candidate)


def build_flow(
    settings: FlowConfig,
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

    # decode + validate; undecodable -> DLQ
    decoded = op.map("decode_validate", split.falses, steps.decode)
    validity = op.branch("split_invalid", decoded, steps.is_valid)
    dead_letters = op.map("to_dead_letter", validity.falses, steps.to_dead_letter)

    # windowed dedup of event ids and edit content (keyed by hash bucket: memory bounded by the window)
    by_bucket = op.key_on("key_by_dedup_bucket", validity.trues, steps.dedup_bucket)
    unique = op.key_rm("unkey_dedup", op.stateful_map("dedup", by_bucket, steps.dedup))
    fresh = op.branch("dedup_kept", unique, steps.is_candidate)

    # route by signal
    op.inspect("count_views", fresh.trues, lambda _step, decision: steps.count_view(decision))
    feedback = op.filter("route_feedback", fresh.trues, steps.is_feedback)
    positives = op.filter("route_positives", fresh.trues, steps.is_positive_candidate)
    edits = op.filter("route_edits", fresh.trues, steps.is_pair_candidate)

    # feedback -> analytics row; thumbs_down / escalation also -> review topic
    feedback_rows = op.map("to_feedback_row", feedback, steps.to_feedback_row)
    review = op.flat_map("to_review_message", feedback, steps.to_review_messages)

    # positives -> stratified 1% sample, decided by a hash of event_id
    positive_rows = op.flat_map("sample_positives", positives, steps.to_positive_rows)

    # edit -> [near-duplicate] -> distance band -> policy -> toxicity -> judge -> quota -> pair
    near_dropped: list[Stream[Decision]] = []
    if settings.curation.dedup.near_duplicate:
        by_prompt = op.key_on("key_by_prompt_bucket", edits, steps.near_duplicate_bucket)
        checked = op.key_rm("unkey_prompt", op.stateful_map("near_duplicate", by_prompt, steps.near_duplicate))
        distinct = op.branch("near_duplicate_kept", checked, steps.is_candidate)
        edits, near_dropped = distinct.trues, [distinct.falses]
    in_band = _gate("distance_band", edits, steps.distance_band, steps)
    allowed = _gate("policy_gate", in_band.trues, steps.policy_gate, steps)
    scored = op.flat_map_batch("toxicity_gate", allowed.trues, steps.toxicity_gate_batch)
    non_toxic = op.branch("toxicity_gate_kept", scored, steps.is_candidate)
    judged = op.flat_map_batch("judge_gate", non_toxic.trues, steps.judge_gate_batch)
    approved = op.branch("judge_gate_kept", judged, steps.is_candidate)
    by_segment = op.key_on("key_by_segment", approved.trues, steps.quota_segment)
    within_quota = op.key_rm("unkey_segment", op.stateful_map("quota", by_segment, steps.quota))
    admitted = op.branch("quota_kept", within_quota, steps.is_candidate)
    pair_rows = op.map("to_dpo_pair", admitted.trues, steps.to_pair_row)

    # anything dropped -> audit row in the rejections table
    dropped = op.merge(
        "all_drops",
        fresh.falses,
        *near_dropped,
        in_band.falses,
        allowed.falses,
        non_toxic.falses,
        approved.falses,
        admitted.falses,
    )
    rejection_rows = op.map("to_rejection_row", dropped, steps.to_rejection_row)

    # outputs: Kafka topics (DLQ, review) and Iceberg tables (exactly-once)
    op.output("write_topics", op.merge("outbound", dead_letters, review), CheckedKafkaSink(settings.kafka))
    rows = op.merge("all_rows", pair_rows, positive_rows, feedback_rows, rejection_rows)
    sink_items = op.merge("rows_and_progress", op.map("key_by_table", rows, steps.key_by_table), progress)
    sink = IcebergSink(load_table, contracts(), settings.catalog.branch, settings.sink, on_build=on_committer)
    op.output("write_iceberg", sink_items, sink)
    return flow
