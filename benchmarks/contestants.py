"""The contestants of ``make bench``, each run in a fresh child process of its own.

A fresh (spawned) process per contestant gives each its own peak RSS and CPU seconds, and no
contestant warms a cache for another. Every contestant reads the whole topic from the start to
the end of every partition and records progress marks the same way (see ``measure.py``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import msgspec
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Message, TopicPartition

from flywheel.benchmarks.measure import Mark, Measured, ResourceSampler, peak_rss_mib
from flywheel.benchmarks.seed_baseline import FlywheelLogger, seed_handler
from flywheel.config import KafkaSettings
from flywheel.errors import BrokerError
from flywheel.flows.config import FlowConfig
from flywheel.flows.kafka_source import list_partitions
from flywheel.flows.runner import run_flow
from flywheel.schemas.events import InteractionEvent

# The bare consumer and the seed read batches of this size, as the flow's source does by default.
CONSUME_BATCH = 1000


def in_children(target: Callable[..., Measured], argument_lists: list[tuple[Any, ...]]) -> list[Measured]:
    """Run ``target(*arguments)`` once per argument tuple, each in its own spawned process, at once."""
    with ProcessPoolExecutor(max_workers=len(argument_lists), mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(target, *arguments) for arguments in argument_lists]
        return [future.result() for future in futures]


def consume_topic(kafka: KafkaSettings, topic: str, handle: Callable[[list[Message]], None]) -> list[Mark]:
    """Read ``topic`` from the start to the end of every partition in ``consume(CONSUME_BATCH)`` calls."""
    consumer = Consumer(
        kafka.client(
            **{
                "group.id": f"flywheel-bench-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
                "enable.partition.eof": True,
                "auto.offset.reset": "earliest",
            }
        )
    )
    partitions = list_partitions(kafka, topic)
    consumer.assign([TopicPartition(topic, partition, OFFSET_BEGINNING) for partition in partitions])
    pending = set(partitions)
    progress: list[Mark] = []
    count = 0
    try:
        while pending:
            batch: list[Message] = []
            for message in consumer.consume(CONSUME_BATCH, 0.05):
                error = message.error()
                if error is None:
                    batch.append(message)
                elif error.code() == KafkaError._PARTITION_EOF:
                    pending.discard(message.partition())
                else:
                    raise BrokerError(f"bench consumer on {topic}: {error}")
            if batch:
                handle(batch)
                count += len(batch)
                progress.append((count, time.monotonic(), time.process_time()))
    finally:
        consumer.close()
    return progress


def bare_consumer(kafka: KafkaSettings, topic: str) -> Measured:
    """``consume(1000)`` and a typed msgspec decode per message; nothing else."""
    decoder = msgspec.json.Decoder(InteractionEvent)
    undecodable = 0

    def handle(batch: list[Message]) -> None:
        nonlocal undecodable
        for message in batch:
            try:
                decoder.decode(message.value() or b"")
            except (msgspec.DecodeError, UnicodeDecodeError):
                undecodable += 1

    with ResourceSampler() as sampler:
        progress = consume_topic(kafka, topic, handle)
    return _measured(progress, sampler, {"undecodable": undecodable})


def seed_logger(kafka: KafkaSettings, topic: str, output: Path) -> Measured:
    """The seeds' per-event logger (Levenshtein + word list + JSONL append) over the same topic."""
    output.unlink(missing_ok=True)
    handle_one = seed_handler(FlywheelLogger(output))

    def handle(batch: list[Message]) -> None:
        for message in batch:
            handle_one(message.value())

    with ResourceSampler() as sampler:
        progress = consume_topic(kafka, topic, handle)
    return _measured(progress, sampler, {})


def flow_process(flow: FlowConfig, process_id: int | None, addresses: list[str] | None) -> Measured:
    """One process of the curation flow (exactly-once into Iceberg), drained to the end of the topic."""
    with ResourceSampler() as sampler:
        summary = run_flow(flow, stop_at_end=True, process_id=process_id, addresses=addresses)
    details = {
        "rows_written": summary.rows_written(),
        "dead_letters": summary.dead_letters,
        "by_signal": summary.events_by_signal,
        "toxicity_items": summary.toxicity_items,
        "toxicity_seconds": summary.toxicity_seconds,
        "first_event_to_drained_seconds": summary.processing_seconds or 0.0,
    }
    return Measured(summary.events_read, summary.progress, sampler.samples, peak_rss_mib(), details)


def _measured(progress: list[Mark], sampler: ResourceSampler, details: dict[str, Any]) -> Measured:
    events = progress[-1][0] if progress else 0
    return Measured(events, progress, sampler.samples, peak_rss_mib(), details)
