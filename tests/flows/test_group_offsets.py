"""The flow commits its consumer-group offsets after the Iceberg commits, for standard lag tooling."""

from __future__ import annotations

import pytest
from confluent_kafka import Consumer, TopicPartition

from flywheel.flows.runner import run_until_drained
from flywheel.infra.kafka import consumer_config
from flywheel.infra.kafka_reads import read_to_end
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
