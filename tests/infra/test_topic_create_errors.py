"""A topic the broker refuses to create is one line naming the topic, the broker's reason and the fix.

Tansu creates whatever it is asked, so the refusals a locked-down cluster gives (ACLs, a
replication factor above its brokers, a create-topic policy) are built as the errors
confluent-kafka hands back and read by the same function :func:`ensure_topics` raises through.
"""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError

from flywheel.config import TopicSettings
from flywheel.errors import BrokerError
from flywheel.infra.broker import topic_not_created


@pytest.mark.parametrize(
    ("code", "reason", "hint"),
    [
        (KafkaError.TOPIC_AUTHORIZATION_FAILED, "Topic authorization failed", "grant CREATE on the topic"),
        (KafkaError.CLUSTER_AUTHORIZATION_FAILED, "Cluster authorization failed", "may not create topics"),
        (
            KafkaError.INVALID_REPLICATION_FACTOR,
            "Replication factor: 3 larger than available brokers: 1.",
            "topics.replication_factor (3) is more than the cluster's brokers",
        ),
        (KafkaError.POLICY_VIOLATION, "Topic name must start with team-", "create-topic policy refused it"),
        (KafkaError.UNKNOWN, "something else", "create it yourself"),
    ],
)
def test_a_refused_create_names_the_topic_the_reason_and_the_partitions_to_use(
    code: int, reason: str, hint: str
) -> None:
    topics = TopicSettings(partitions=6, replication_factor=3)
    error = topic_not_created("flywheel.interactions.v1", KafkaError(code, reason), topics)

    assert isinstance(error, BrokerError)  # the CLI prints it as one line and exits 2
    message = str(error)
    assert message.startswith(f"cannot create topic flywheel.interactions.v1: {KafkaError(code).name()} ({reason})")
    assert hint in message and "with 6 partitions" in message and "\n" not in message
