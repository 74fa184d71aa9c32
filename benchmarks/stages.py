"""Cost of the curation stages per edit, in CPU microseconds, outside the dataflow.

The same chain the flow builds (``CurationChain.build``) runs over sample edits stage by
stage, each stage fed what the previous one kept, as in the flow: decode, distance
band, policy (rules and PII), toxicity (in the configured batch size), rows. The toxicity
model's items/s is also measured at several batch sizes, to choose ``batch_size`` by
measurement.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from flywheel.benchmarks.scenarios import EDITS_ONLY, PAD_TO_BYTES
from flywheel.benchmarks.toxicity_standalone import measure_batched_items_per_s, sample_texts
from flywheel.flows.chain import CurationChain
from flywheel.flows.decisions import Candidate, Decision
from flywheel.operators.toxicity import batch_size_of
from flywheel.sample import sample_events
from flywheel.schemas.records import SourceCoordinates, SourcedEvent, SourceMessage
from flywheel.settings import Settings

TOXICITY_BATCH_SIZES = (1, 16, 64, 256, 1024)
In = TypeVar("In")
Out = TypeVar("Out")


def stage_costs(settings: Settings, edits: int = 5000, pad_to_bytes: int = PAD_TO_BYTES) -> dict[str, Any]:
    """Microseconds per edit of each curation stage, and toxicity items/s by batch size."""
    chain = CurationChain.build(settings.curation, settings.validation, settings.topics)
    messages = [
        SourceMessage(SourceCoordinates("bench", 0, offset, 0), key.encode(), value)
        for offset, (key, value) in enumerate(sample_events(edits, seed=5, mix=EDITS_ONLY, pad_to_bytes=pad_to_bytes))
    ]
    decoded_us, decoded = _timed(messages, chain.intake.decode)
    sourced = [item for item in decoded if isinstance(item, SourcedEvent)]
    # The held dedup is a stateful operator over event time (flows/dedup.py): measured inside the
    # flow, not here; every edit here is distinct.
    fresh = [Candidate(item, item.event.final_user_edit or "") for item in sourced]
    distance_us, in_band = _timed(_kept(fresh), chain.distance.check)
    policy_us, allowed = _timed(_kept(in_band), chain.policy.check)
    batch = batch_size_of(settings.curation.toxicity)
    toxicity_us, scored = _timed_batches(_kept(allowed), chain.toxicity.check_batch, batch)
    rows_us, _ = _timed(_kept(scored), chain.rows.pair)
    texts = sample_texts(2048)
    return {
        "edits": len(messages),
        "us_per_edit": {
            "decode": decoded_us,
            "distance": distance_us,
            "policy_pii": policy_us,
            "toxicity": toxicity_us,
            "pair_row": rows_us,
        },
        "kept": {"distance": len(_kept(in_band)), "policy": len(_kept(allowed)), "toxicity": len(_kept(scored))},
        "toxicity_backend": chain.toxicity.backend.name,
        "toxicity_batch_size": batch,
        "toxicity_items_per_s_by_batch": {
            str(size): measure_batched_items_per_s(chain.toxicity.backend, texts, size) for size in TOXICITY_BATCH_SIZES
        },
    }


def _kept(decisions: Sequence[Decision]) -> list[Candidate]:
    return [decision for decision in decisions if isinstance(decision, Candidate)]


def _timed(items: Sequence[In], step: Callable[[In], Out]) -> tuple[float, list[Out]]:
    """CPU microseconds per item of ``step`` over ``items`` (CPU, so other load does not inflate it)."""
    started = time.process_time()
    outputs = [step(item) for item in items]
    return _per_item_us(started, len(items)), outputs


def _timed_batches(
    items: list[Candidate], step: Callable[[list[Candidate]], list[Decision]], size: int
) -> tuple[float, list[Decision]]:
    """CPU microseconds per item of a batched step fed ``size`` items at a time."""
    started = time.process_time()
    outputs: list[Decision] = []
    for offset in range(0, len(items), size):
        outputs.extend(step(items[offset : offset + size]))
    return _per_item_us(started, len(items)), outputs


def _per_item_us(started: float, count: int) -> float:
    return (time.process_time() - started) * 1e6 / count if count else 0.0
