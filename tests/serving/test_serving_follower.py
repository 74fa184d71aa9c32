"""The promotion follower over the real local broker: it survives results it cannot apply.

A result whose run can never be served (damaged card, rejected card, a run id naming a path) or
that cannot be decoded is logged, counted and committed, and the next promotion is applied. A
result the registry failed to apply (an ``OSError``) stays uncommitted and is read again after a
back-off until it is applied. Before, either kind ended the follower's thread without a word.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition
from prometheus_client import REGISTRY

from flywheel.infra.kafka import CheckedProducer
from flywheel.serving.follower import Backoff, PromotionFollower
from flywheel.serving.registry import RegistryView
from flywheel.settings import Settings
from flywheel.trainer.events import TrainingResult
from tests.conftest import wait_for

pytestmark = pytest.mark.integration


def _result(run_id: str, status: str = "promoted") -> bytes:
    return (
        TrainingResult(
            trigger_id=f"trigger-{run_id}",
            run_id=run_id,
            status=status,
            snapshot_id=1,
            snapshot_tag=f"train-{run_id}",
            base_model="tiny",
            adapter_uri=None,
            model_card_uri=None,
            train_pairs=1,
            eval_pairs=1,
            before=None,
            after=None,
            forgetting_pct=None,
            duration_s=1.0,
            finished_at=datetime.now(UTC),
        )
        .model_dump_json()
        .encode()
    )


def _run(root: Path, run_id: str, card: str) -> None:
    (root / "runs" / run_id / "adapter").mkdir(parents=True)
    (root / "runs" / run_id / "adapter" / "adapter_config.json").write_text("{}")
    (root / "runs" / run_id / "model_card.json").write_text(card)


def _outcomes(outcome: str) -> float:
    value = REGISTRY.get_sample_value("flywheel_serving_promotion_results_total", {"outcome": outcome})
    return value or 0.0


def _committed(settings: Settings, group: str) -> int:
    """How many messages of the results topic the group has committed (offsets summed over partitions)."""
    consumer = Consumer(settings.kafka.client(**{"group.id": group, "enable.auto.commit": False}))
    try:
        topic = settings.topics.training_results
        partitions = [TopicPartition(topic, p) for p in range(settings.topics.partitions)]
        return sum(max(tp.offset, 0) for tp in consumer.committed(partitions, timeout=10))
    finally:
        consumer.close()


def test_results_that_can_never_apply_are_skipped_and_the_next_promotion_applies(
    settings: Settings, tmp_path: Path
) -> None:
    root = tmp_path / "registry"
    _run(root, "rDamaged", '{"run_id": "rDamaged", "status": "prom')  # a card cut short
    _run(root, "rRejected", json.dumps({"run_id": "rRejected", "status": "rejected"}))
    _run(root, "rGood", json.dumps({"run_id": "rGood", "status": "promoted"}))
    outside = tmp_path / "outside"
    outside.mkdir()
    registry = RegistryView(str(root))
    group = f"{settings.kafka.consumer_group}-serving"
    follower = PromotionFollower(settings.kafka, settings.topics.training_results, group, registry)
    producer = CheckedProducer(settings.kafka)
    topic = settings.topics.training_results
    skipped_before = _outcomes("skipped")
    follower.start()
    try:
        producer.send(topic, _result("rDamaged"), key=b"trigger-rDamaged")
        producer.send(topic, _result("rRejected"), key=b"trigger-rRejected")  # notice and card disagree
        producer.send(topic, _result("../../outside"), key=b"trigger-traversal")
        producer.send(topic, b"not a training result", key=b"garbage")
        producer.flush()
        wait_for(lambda: _outcomes("skipped") - skipped_before >= 4, what="the four bad results to be skipped")
        producer.send(topic, _result("rGood"), key=b"trigger-rGood")
        producer.flush()
        wait_for(lambda: registry.read_alias().current == "rGood", what="the next promotion to be applied")
        # skipped results are committed as handled: a restarted follower does not read them again
        wait_for(lambda: _committed(settings, group) == 5, what="all five results to be committed")
    finally:
        follower.stop()
    history = registry.read_alias().history
    assert [(c.action, c.current, c.trigger_id) for c in history] == [("promote", "rGood", "trigger-rGood")]
    assert list(outside.iterdir()) == []


def test_a_result_the_registry_failed_to_apply_is_retried_until_it_applies(settings: Settings, tmp_path: Path) -> None:
    root = tmp_path / "registry"
    _run(root, "rA", json.dumps({"run_id": "rA", "status": "promoted"}))
    # current.json is a folder: reading the alias fails with IsADirectoryError, an OSError like an
    # unreachable or read-only mount gives.
    (root / "current.json").mkdir()
    registry = RegistryView(str(root))
    group = f"{settings.kafka.consumer_group}-serving"
    follower = PromotionFollower(
        settings.kafka,
        settings.topics.training_results,
        group,
        registry,
        retry_initial_s=0.05,
        retry_max_s=0.2,
    )
    producer = CheckedProducer(settings.kafka)
    retried_before, consumer_failed_before = _outcomes("retried"), _outcomes("consumer_failed")
    follower.start()
    try:
        producer.send(settings.topics.training_results, _result("rA"), key=b"trigger-rA")
        producer.flush()
        wait_for(lambda: _outcomes("retried") - retried_before >= 3, what="the result to be retried")
        assert _committed(settings, group) == 0  # not applied, so not committed
        shutil.rmtree(root / "current.json")  # the fault is repaired
        wait_for(lambda: registry.read_alias().current == "rA", what="the retried promotion to be applied")
        wait_for(lambda: _committed(settings, group) == 1, what="the applied result to be committed")
    finally:
        follower.stop()
    assert _outcomes("consumer_failed") == consumer_failed_before  # retried by seeking back, same consumer
    assert [(c.action, c.current) for c in registry.read_alias().history] == [("promote", "rA")]


def test_backoff_doubles_up_to_its_cap_and_resets() -> None:
    backoff = Backoff(0.5, 3.0)
    assert [backoff.next() for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    backoff.reset()
    assert backoff.next() == 0.5
