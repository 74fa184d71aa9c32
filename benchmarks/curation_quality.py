"""Curation quality on labelled streams: precision/recall of accepted pairs per category.

``make bench`` runs two labelled sets through the real curation dataflow in memory (Bytewax
with a partitioned list source, the default chain and policy, no broker): our own
``tests/data/curation_set.jsonl`` (built by ``tests/data/build_curation_set.py``) and the
held-out ``tests/data/curation_holdout.jsonl`` (``tests/data/build_curation_holdout.py``,
written apart from the first: other domains, edit styles, insults, injections, PII formats) and
the probe set ``tests/data/curation_probes.jsonl`` (``tests/data/build_curation_probes.py``: insults
and injections in free wording written after the rules were frozen, and hard-negative good edits;
round 4 adds whole edit events on its own answers in every category of the labelled set, written
blind before ``default-v8``; round 5 the same in six more languages, written blind before
``default-v9``; round 6 by a new author after ``default-v9``, measured blind; ``default-v10``'s
Russian rules and ``default-v11``'s classes came after reading its misses, so its figures since are
not blind; round 7 likewise, blind up to ``default-v11``, not since ``default-v12``).
``python -m flywheel.benchmarks.curation_quality`` runs only this part. For each set it reports:

* per category: items, expected pairs, accepted pairs, precision and recall of acceptance;
* overall precision of accepted pairs and recall of good edits (targets 0.99 and 0.95);
* the safety gate (toxicity model and blocked-content rules) precision/recall on the insults;
* the injection catch rate: injections dropped by an ``injection:`` policy rule;
* leaks: labelled secrets (PII, control and bidi characters) found in any stored text or
  review message (must be 0);
* order independence: the same stream read with other partition counts, batch sizes and
  worker counts must give the same decision for every event.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from bytewax.testing import TestingSink, cluster_main
from rich.console import Console
from rich.table import Table

from flywheel.flows.chain import CurationChain
from flywheel.flows.config import FlowConfig
from flywheel.flows.curation import build_flow
from flywheel.flows.decisions import SourceItem
from flywheel.operators.dedup import bucket_of
from flywheel.schemas.events import InteractionEvent
from flywheel.schemas.records import (
    OutboundMessage,
    SinkItem,
    SourceCoordinates,
    SourceMessage,
    SourceProgress,
    sink_entries,
)
from flywheel.schemas.tables import DPO_PAIRS, contracts

LABELLED_SET = Path("tests/data/curation_set.jsonl")
HOLDOUT_SET = Path("tests/data/curation_holdout.jsonl")
PROBE_SET = Path("tests/data/curation_probes.jsonl")
LABELLED_SETS = {"our labelled set": LABELLED_SET, "held-out set": HOLDOUT_SET, "probe set": PROBE_SET}
TOPIC = "flywheel.interactions.v1"
Placement = tuple[str, str | None, str | None]  # table, stage, reason


@dataclass(frozen=True)
class Labelled:
    """One labelled event: category, expected outcome (accept / reject / feedback), raw PII strings."""

    category: str
    expect: str
    event: InteractionEvent
    secrets: tuple[str, ...]


def probe_kinds(path: Path = PROBE_SET) -> dict[str, str]:
    """Each probe's kind by its event id (``insult:round8``, ...): the suffix names the round that wrote it."""
    return {raw["event"]["event_id"]: raw["kind"] for raw in map(json.loads, path.read_text().splitlines())}


def load_labelled(path: Path = LABELLED_SET) -> list[Labelled]:
    """Read the labelled set (one JSON object a line)."""
    items = []
    for line in path.read_text(encoding="utf-8").splitlines():
        raw = json.loads(line)
        event = msgspec.json.decode(json.dumps(raw["event"]).encode(), type=InteractionEvent)
        items.append(Labelled(raw["category"], raw["expect"], event, tuple(raw["secrets"])))
    return items


class _ListPartition(StatefulSourcePartition[SourceItem, int]):
    def __init__(self, items: list[SourceMessage], batch_size: int, resume: int | None) -> None:
        self._items = items
        self._batch_size = batch_size
        self._next = resume or 0

    def next_batch(self) -> list[SourceItem]:
        if self._next >= len(self._items):
            raise StopIteration
        batch: list[SourceItem] = list(self._items[self._next : self._next + self._batch_size])
        self._next += len(batch)
        last = self._items[self._next - 1].coordinates
        # Like the Kafka source: a progress marker after every non-empty batch.
        batch.append(SourceProgress(last.topic, last.partition, last.offset))
        return batch

    def snapshot(self) -> int:
        return self._next


class PartitionedListSource(FixedPartitionedSource[SourceItem, int]):
    """Events spread over ``partitions`` by thread (as Kafka keys them), read in ``batch_size`` batches."""

    def __init__(self, events: Iterable[InteractionEvent], partitions: int, batch_size: int) -> None:
        self._parts: dict[str, list[SourceMessage]] = {str(p): [] for p in range(partitions)}
        for event in events:
            part = bucket_of(event.thread_id, partitions)
            messages = self._parts[part]
            where = SourceCoordinates(TOPIC, int(part), len(messages), 0)
            messages.append(SourceMessage(where, event.thread_id.encode(), msgspec.json.encode(event)))
        self._batch_size = batch_size

    def list_parts(self) -> list[str]:
        """One source partition per simulated Kafka partition."""
        return list(self._parts)

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> _ListPartition:
        """Read one partition from its resume position."""
        return _ListPartition(self._parts[for_part], self._batch_size, resume_state)


@dataclass
class LabelledRun:
    """Where each event ended (by event id) and every text the run stored or sent."""

    placed: dict[str, list[Placement]]
    texts: list[str]


def run_labelled(
    items: list[Labelled], config: FlowConfig, partitions: int = 1, batch_size: int = 100, workers: int = 1
) -> LabelledRun:
    """Run the labelled events through the curation dataflow in memory and collect the outcome."""
    chain = CurationChain.build(config.curation, config.validation, config.topics)
    table_items: list[tuple[str, SinkItem]] = []
    messages: list[OutboundMessage] = []
    source = PartitionedListSource((item.event for item in items), partitions, batch_size)
    flow = build_flow(chain, source, TestingSink(table_items), TestingSink(messages), sorted(contracts()))
    cluster_main(flow, [], 0, worker_count_per_proc=workers)
    placed: dict[str, list[Placement]] = {}
    texts: list[str] = [message.value.decode("utf-8", "replace") for message in messages if message.value]
    for table, batch in table_items:
        for item in sink_entries([batch]):
            if isinstance(item, SourceProgress):
                continue
            values = item.values
            placed.setdefault(values["event_id"], []).append((table, values.get("stage"), values.get("reason")))
            texts.extend(value for value in values.values() if isinstance(value, str))
    return LabelledRun(placed, texts)


def score(items: list[Labelled], run: LabelledRun) -> dict[str, Any]:
    """Precision/recall of accepted pairs per category and overall, safety gate figures, PII leaks."""
    by_category: dict[str, dict[str, int]] = {}
    seen: dict[str, int] = {}
    for item in items:
        # Duplicates share nothing but content: count each event id's placements once per item.
        index = seen.get(item.event.event_id, 0)
        seen[item.event.event_id] = index + 1
        places = run.placed.get(item.event.event_id, [])
        accepted = index < len(places) and places[index][0] == DPO_PAIRS
        counts = by_category.setdefault(item.category, {"items": 0, "expected": 0, "accepted": 0, "correct": 0})
        counts["items"] += 1
        counts["expected"] += item.expect == "accept"
        counts["accepted"] += accepted
        counts["correct"] += accepted and item.expect == "accept"
    total = {key: sum(c[key] for c in by_category.values()) for key in ("items", "expected", "accepted", "correct")}
    insults = [item for item in items if item.category == "insult"]
    # The safety gate: the toxicity model and the policy's blocked-content rules (insults without profanity).
    safety_drops = {
        event_id
        for event_id, places in run.placed.items()
        if any(stage == "toxicity" or (reason or "").startswith("blocked:") for _, stage, reason in places)
    }
    caught = sum(item.event.event_id in safety_drops for item in insults)
    injections = [item for item in items if item.category == "injection"]
    injection_drops = {
        event_id
        for event_id, places in run.placed.items()
        if any((reason or "").startswith("injection:") for _, _, reason in places)
    }
    injections_caught = sum(item.event.event_id in injection_drops for item in injections)
    insult_ids = {item.event.event_id for item in insults}
    secrets = {secret for item in items for secret in item.secrets}
    leaks = sorted(secret for secret in secrets if any(secret in text for text in run.texts))
    good = by_category.get("good_edit", {"expected": 0, "correct": 0})
    return {
        "categories": by_category,
        "precision": _ratio(total["correct"], total["accepted"]),
        "recall": _ratio(total["correct"], total["expected"]),
        "good_edit_recall": _ratio(good["correct"], good["expected"]),
        "safety_precision": _ratio(len(safety_drops & insult_ids), len(safety_drops)),
        "safety_recall": _ratio(caught, len(insults)),
        "injection_recall": _ratio(injections_caught, len(injections)),
        "pii_leaks": leaks,
    }


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def run_curation_quality(
    sets: Mapping[str, Path] = LABELLED_SETS, console: Console | None = None
) -> dict[str, dict[str, Any]]:
    """Score each labelled set that exists, print its table and return the figures by set name."""
    console = console or Console()
    results: dict[str, dict[str, Any]] = {}
    for name, path in sets.items():
        if not path.is_file():
            console.print(f"[yellow]{name} skipped: {path} not found (run from the repo root)[/yellow]")
            continue
        results[name] = score_set(path, console, name)
    return results


def score_set(path: Path, console: Console, name: str = "labelled set") -> dict[str, Any]:
    """Score one labelled set, check order independence, print the table and return the figures."""
    items = load_labelled(path)
    config = FlowConfig()
    reference = run_labelled(items, config, partitions=1, batch_size=1000, workers=1)
    results = score(items, reference)
    variants = [(4, 7, 2), (7, 1, 3)]
    differing: dict[str, int] = {}
    for partitions, batch, workers in variants:
        other = run_labelled(items, config, partitions, batch, workers)
        label = f"{partitions} partitions, batch {batch}, {workers} workers"
        differing[label] = sum(sorted(other.placed.get(k, [])) != sorted(v) for k, v in reference.placed.items())
    results["order_independence"] = differing
    results["items"] = len(items)
    results["path"] = str(path)
    _print(console, results, name)
    return results


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _print(console: Console, results: dict[str, Any], name: str) -> None:
    title = f"curation quality: {name} ({results['path']}, {results['items']} events)"
    table = Table("category", "items", "expected pairs", "accepted", "precision", "recall", title=title)
    for category, c in sorted(results["categories"].items()):
        precision = _fmt(_ratio(c["correct"], c["accepted"])) if c["accepted"] else "n/a (none accepted)"
        table.add_row(
            category,
            str(c["items"]),
            str(c["expected"]),
            str(c["accepted"]),
            precision,
            _fmt(_ratio(c["correct"], c["expected"])),
        )
    console.print(table)
    console.print(
        f"accepted pairs: precision {_fmt(results['precision'])} (target >= 0.99), recall {_fmt(results['recall'])}; "
        f"good edits recall {_fmt(results['good_edit_recall'])} (target >= 0.95)"
    )
    console.print(
        f"safety gate on insults in long edits: precision {_fmt(results['safety_precision'])}, "
        f"recall {_fmt(results['safety_recall'])}; injections caught by the injection rules: "
        f"{_fmt(results['injection_recall'])}"
    )
    leaks = results["pii_leaks"]
    console.print(f"labelled secrets (PII, control/bidi characters) in stored or sent texts: {len(leaks)} {leaks[:5]}")
    for label, count in results["order_independence"].items():
        console.print(f"order independence vs 1 partition, batch 1000, 1 worker: {label}: {count} decisions differ")


if __name__ == "__main__":
    run_curation_quality()
