"""Topic retention on the real broker: set when a topic is created, reported (never altered) when it differs.

The DLQ keeps raw bytes, PII included, so it gets a retention of its own (7 days by default);
the others keep the broker's default unless configured. Read back with ``describe_configs``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from confluent_kafka.admin import ConfigResource, ResourceType
from typer.testing import CliRunner

from flywheel.cli import app
from flywheel.config import DAY_MS, revised
from flywheel.infra.broker import RETENTION, RetentionMismatch, ensure_topics
from flywheel.infra.kafka import admin_client
from flywheel.settings import Settings
from tests.support.flow_helpers import write_config

pytestmark = pytest.mark.integration


def retention_on_broker(settings: Settings, topic: str) -> str | None:
    """The topic's ``retention.ms`` as the broker describes it (None: the topic sets none)."""
    admin = admin_client(settings.kafka)  # held until the answer: a collected client cancels it
    [future] = admin.describe_configs([ConfigResource(ResourceType.TOPIC, topic)]).values()
    entry = future.result(timeout=30).get(RETENTION)
    return None if entry is None else entry.value


def test_topics_are_created_with_their_retention(settings: Settings) -> None:
    # The fixture created this test's topics with the default settings.
    assert retention_on_broker(settings, settings.topics.dlq) == str(7 * DAY_MS)
    # No retention configured: the topic sets none and the broker's default applies (Tansu reports
    # nothing then; Kafka would report its default).
    assert retention_on_broker(settings, settings.topics.interactions) is None
    custom = revised(
        settings,
        topics={"interactions": settings.topics.interactions + "-kept", "retention_ms": {"interactions": 3 * DAY_MS}},
    )

    setup = ensure_topics(custom.kafka, custom.topics)

    assert setup.created == [custom.topics.interactions]
    assert retention_on_broker(custom, custom.topics.interactions) == str(3 * DAY_MS)
    assert setup.retention_differs == []  # the DLQ and the rest existed with what they want


def test_an_existing_topics_other_retention_is_reported_not_altered(settings: Settings, tmp_path: Path) -> None:
    wanted = {"dlq": DAY_MS, "review": 2 * DAY_MS}
    shorter = revised(settings, topics={"retention_ms": wanted})

    setup = ensure_topics(shorter.kafka, shorter.topics)

    assert setup.created == []
    assert setup.retention_differs == sorted(
        [
            RetentionMismatch(settings.topics.dlq, str(7 * DAY_MS), DAY_MS),
            RetentionMismatch(settings.topics.review, None, 2 * DAY_MS),  # created with the broker's default
        ],
        key=lambda mismatch: mismatch.topic,
    )
    assert retention_on_broker(settings, settings.topics.dlq) == str(7 * DAY_MS)  # left as it was
    assert retention_on_broker(settings, settings.topics.review) is None
    # The operator's command says so, one line a topic.
    config = write_config(settings, tmp_path / "flywheel.yaml")
    env = {"FLYWHEEL_CONFIG_FILE": str(config), "FLYWHEEL_TOPICS__RETENTION_MS__DLQ": str(DAY_MS)}
    result = CliRunner().invoke(app, ["stack", "topics"], env=env)
    assert result.exit_code == 0, result.output
    assert "created now: none" in result.output
    assert (
        f"warning: topic {settings.topics.dlq}: retention.ms is {7 * DAY_MS} on the broker, {DAY_MS} in the "
        "settings (topics.retention_ms); left as it is"
    ) in result.output
    assert settings.topics.review not in result.output  # configured from the file: the broker's default wanted
