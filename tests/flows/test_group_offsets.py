"""The flow commits its consumer-group offsets after the Iceberg commits, for standard lag tooling."""

from __future__ import annotations

import threading

import pytest
from confluent_kafka import Consumer, TopicPartition
from pyiceberg.table import Table

from flywheel.config import revised
from flywheel.flows.group_offsets import GroupOffsets
from flywheel.flows.runner import run_until_drained
from flywheel.infra.broker import free_port
from flywheel.infra.kafka import consumer_config
from flywheel.infra.kafka_reads import read_to_end
from flywheel.schemas.tables import DPO_PAIRS
from flywheel.settings import Settings
from tests.infra.test_dataset_versioning import pairs, produce_edits

pytestmark = pytest.mark.integration


def _group_view(settings: Settings) -> tuple[dict[int, int], dict[int, int]]:
    """(committed offset, next offset after the last message) per partition.

    The end comes from reading the partition (the local broker answers ListOffsets wrongly).
    """
    topic = settings.topics.interactions
    consumer = Consumer(consumer_config(settings.kafka, settings.kafka.consumer_group))
    try:
        partitions = [TopicPartition(topic, p) for p in range(settings.topics.partitions)]
        committed = {tp.partition: tp.offset for tp in consumer.committed(partitions, timeout=30)}
    finally:
        consumer.close()
    ends = {p: 0 for p in range(settings.topics.partitions)}
    for message in read_to_end(settings.kafka, topic):
        partition, offset = message.partition(), message.offset()
        assert partition is not None and offset is not None
        ends[partition] = max(ends[partition], offset + 1)
    return committed, ends


def test_drained_flow_leaves_zero_lag_in_its_consumer_group(settings: Settings) -> None:
    produce_edits(settings, [f"lag-{i}" for i in range(9)])
    run_until_drained(settings.flow_config())
    assert len(pairs(settings)) == 9
    committed, ends = _group_view(settings)
    with_data = {p for p, end in ends.items() if end > 0}
    assert sum(ends.values()) >= 9 and with_data
    assert {p: committed[p] for p in with_data} == {p: ends[p] for p in with_data}, "lag is zero once drained"


def test_closing_with_the_broker_down_does_not_hold_the_shutdown(settings: Settings) -> None:
    # The last floor is committed at close; with no broker a synchronous commit held the
    # flow's shutdown 45 s (librdkafka's default session timeout), past a pod's grace period.
    down = revised(settings, kafka={"bootstrap_servers": f"127.0.0.1:{free_port()}"})
    offsets = GroupOffsets(down.kafka, _no_catalog, [DPO_PAIRS], "main")
    offsets.report(DPO_PAIRS, {(down.topics.interactions, 0): 41})
    assert offsets.committed == {(down.topics.interactions, 0): 41}  # sent, asynchronously

    closing = threading.Thread(target=offsets.close)
    closing.start()
    closing.join(timeout=30)  # a bound on a hang, not a speed figure: the wait is 6 s + 2 s of polls
    assert not closing.is_alive(), "close() still waits for a broker that is not there"


def _no_catalog(name: str) -> Table:
    raise AssertionError(f"the report of the only table needs no catalog read ({name})")
