"""The curation dataflow, top to bottom as DESIGN.md says it:

    decode+validate -> held, order-independent dedup (event ids, edit content) -> route by signal
      edit -> distance band -> safety gate (policy, toxicity, judge)
           -> per-user quota -> DPO pair
      thumbs_up / rating>=4, unedited -> stratified sample -> no PII in the response -> positive example
      thumbs_down / regenerate / copy / abandon / follow_up / escalation
           -> feedback row (+ review topic for thumbs_down, escalation)
      view -> counted, not stored
      review (a reviewer's correction or approval) -> policy (PII scrub) -> trusted DPO pair (no quota)
      edits a model-based gate dropped (curation.hold_for_review) -> also the review topic
      anything dropped -> rejections row with stage + reason;  undecodable -> DLQ topic

Cheap steps run before expensive ones: the toxicity model and the judge only ever see
edits that passed dedup, the distance band and the policy engine. The source and both
sinks are parameters: ``flows/runner.py`` passes Kafka and the exactly-once Iceberg sink
(``flows/iceberg_sink.py``); tests pass Bytewax's testing source and sinks.
"""

from __future__ import annotations

from collections.abc import Sequence

import bytewax.operators as op
from bytewax.dataflow import Dataflow, Stream
from bytewax.inputs import FixedPartitionedSource, Source
from bytewax.outputs import Sink

from flywheel.flows.chain import CurationChain
from flywheel.flows.decisions import (
    Dropped,
    SourceItem,
    is_clean_positive,
    is_dropped_positive,
    is_event_or_progress,
    is_invalid,
    is_not_sampled,
    is_sampled,
)
from flywheel.flows.dedup import held_dedup
from flywheel.flows.gates import batched_gate, gate, keyed_gate, split
from flywheel.flows.routing import route_by_signal
from flywheel.flows.rows import for_tables
from flywheel.flows.tally import RunStats, Tally, count_outcomes
from flywheel.schemas.records import OutboundMessage, SinkItem

# A stateful step's id keys its recovery state: keep "read_interactions" and "write_iceberg"
# (source positions, rows not yet committed) as they are, or a restart would lose that state.
FLOW_ID = "flywheel_curation"


def build_flow(
    chain: CurationChain,
    source: Source[SourceItem],
    tables: Sink[tuple[str, SinkItem]],
    topics: Sink[OutboundMessage],
    table_names: Sequence[str],
    stats: RunStats | None = None,
) -> Dataflow:
    """Build the curation dataflow from ``source`` into ``tables`` (rows) and ``topics`` (DLQ, review)."""
    flow = Dataflow(FLOW_ID)
    tally = Tally(stats if stats is not None else RunStats(), chain.toxicity.backend.name)
    # decode + validate on the source's own path: progress markers stay in place behind the
    # messages they cover (the held dedup relies on that order); undecodable -> DLQ. One branch,
    # not a filter per side: every message crosses as few steps as it can.
    read = op.map("decode_validate", op.input("read_interactions", flow, source), chain.intake.decode_in_place)
    valid = split("split_invalid", read, is_event_or_progress, is_invalid)
    dead_letters = op.map("to_dead_letter", valid.falses, chain.intake.to_dead_letter)

    # held, order-independent dedup of event ids and edit content (keyed by hash bucket: memory
    # bounded by the window); source progress is released behind the events it covers
    fresh = held_dedup(
        "dedup", valid.trues, chain.dedup.settings, partition_ids(source), chain.dedup.recalled, chain.dedup.journal
    )

    # route by signal (views are only counted)
    routes = route_by_signal("route", fresh.kept, chain.router)

    # feedback -> analytics row; thumbs_down / escalation also -> review topic
    feedback_rows = op.map("to_feedback_row", routes.feedback, chain.rows.feedback)
    review = op.flat_map("to_review_message", routes.feedback, chain.rows.review_messages)

    # positives -> stratified 1% sample, decided by a hash of event_id -> no PII in the response
    draws = op.map("sample_positives", routes.positives, chain.router.draw)
    sampled = split("split_sampled", draws, is_sampled, is_not_sampled)
    screened = op.map("positive_policy", sampled.trues, chain.policy.check_positive)
    clean = split("split_positive_policy", screened, is_clean_positive, is_dropped_positive)
    positive_rows = op.map("to_positive_example", clean.trues, chain.rows.positive)

    # edits and reviewer decisions -> the reviewed-answers ledger (keyed by the item, one stream so
    # order holds): a user edit never overrides a reviewer's answer to the same item
    answers = keyed_gate("reviewed_answers", routes.pairs, chain.review.item_bucket, chain.review.check_superseded)
    reviews = op.filter("route_reviews", answers.kept, chain.review.is_review)

    # review -> verdict (reject / dismiss -> audit row) -> policy (PII scrubbed) -> trusted pair: no band, no quota
    verdicts = gate("review_verdict", reviews, chain.review.verdict)
    reviewed = gate("reviewer_policy_gate", verdicts.kept, chain.policy.check)
    reviewer_pairs = op.map("to_reviewer_pair", reviewed.kept, chain.review.pair)

    # edit -> [near-duplicate] -> distance band -> policy -> toxicity -> judge -> quota -> pair
    edits = op.filter("route_edits", answers.kept, chain.review.is_user_edit)
    near_drops: list[Stream[Dropped]] = []
    if chain.dedup.near_duplicates:
        distinct = keyed_gate("near_duplicate", edits, chain.dedup.near_bucket, chain.dedup.check_near)
        edits, near_drops = distinct.kept, [distinct.dropped]
    in_band = gate("distance_band", edits, chain.distance.check)
    allowed = gate("policy_gate", in_band.kept, chain.policy.check)
    non_toxic = batched_gate("toxicity_gate", allowed.kept, tally.timed(chain.toxicity.check_batch))
    approved = batched_gate("judge_gate", non_toxic.kept, chain.judge.check_batch)
    admitted = keyed_gate("quota", approved.kept, chain.quota.segment, chain.quota.check)
    pair_rows = op.map("to_dpo_pair", admitted.kept, chain.rows.pair)

    # anything dropped -> audit row in the rejections table
    dropped = op.merge(
        "all_drops",
        fresh.dropped,
        clean.falses,
        *near_drops,
        in_band.dropped,
        allowed.dropped,
        non_toxic.dropped,
        approved.dropped,
        admitted.dropped,
        answers.dropped,
        verdicts.dropped,
        reviewed.dropped,
    )
    rejection_rows = op.map("to_rejection_row", dropped, chain.rows.rejection)
    held = op.flat_map("hold_for_review", dropped, chain.review.held_messages)

    # run summary and Prometheus, counted from the outcomes above
    count_outcomes(
        "count_outcomes",
        decoded=read,
        views=routes.views,
        feedback=routes.feedback,
        draws=draws,
        measured=in_band.decisions,
        scored=non_toxic.decisions,
        accepted=admitted.kept,
        reviewed=reviewed.kept,
        dropped=dropped,
        tally=tally,
    )

    # outputs: topics (DLQ, review) and tables (one committer per table, progress to all)
    op.output("write_topics", op.merge("outbound", dead_letters, review, held), topics)
    rows = op.merge("all_rows", pair_rows, reviewer_pairs, positive_rows, feedback_rows, rejection_rows)
    op.output("write_iceberg", for_tables("for_tables", rows, fresh.released, table_names), tables)
    return flow


def partition_ids(source: Source[SourceItem]) -> list[int] | None:
    """The source's partition ids when it lists numeric ones (Kafka does); None otherwise."""
    if not isinstance(source, FixedPartitionedSource):
        return None
    parts = source.list_parts()
    return [int(part) for part in parts] if parts and all(part.isdigit() for part in parts) else None
