"""The trainer consumer: one training run per trigger, exactly one result per trigger.

For each trigger (consumer group ``trainer.consumer_group``, manual commits):

1. a result for ``trigger_id`` already on the results topic -> skip, commit;
2. a model card for the run already in the registry -> re-emit its result (no retraining), commit;
3. otherwise tag the snapshot ``train-<run_id>``, train on exactly that snapshot, evaluate,
   gate, write adapter + card, emit the result, and only then commit the offset.

A run that died midway has a status file but no card, so the redelivered trigger retrains it.

Redelivery, step by step (``tests/trainer/test_trainer_redelivery.py`` kills a trainer at
each): dead before data is read or during training -> no card, retrained; dead after the card
-> the card's result is re-emitted; dead after the result or before the offset commit -> the
result is on the topic, skipped. Two members of the group (one evicted after
``max_poll_interval_ms`` mid-run, its trigger redelivered to the other): the results topic is
read again before training and before producing, so whoever finishes second sees the first
one's result and publishes nothing; an offset commit refused after such a rebalance is logged,
not fatal. What is left is two members finishing the same trigger within the same moment; a
broker that fences transactional producers would close that too (the embedded one does not).

``TrainerConsumer(checkpoint=...)`` is called with each :data:`RunStep` as a run passes it:
a fault-injection hook for those tests (nothing in production sets it).
"""

from __future__ import annotations

import functools
import logging
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from confluent_kafka import Consumer, KafkaError, KafkaException, Message
from pyiceberg.catalog import Catalog

from flywheel.errors import BrokerError
from flywheel.infra.catalog import ensure_tag, open_catalog
from flywheel.infra.kafka import CheckedProducer, consumer_config
from flywheel.trainer import metrics
from flywheel.trainer.card import model_card
from flywheel.trainer.config import TrainerConfig
from flywheel.trainer.dataset import read_pairs, read_positives, still_held
from flywheel.trainer.events import TrainingResult, TrainingTrigger, run_id_for
from flywheel.trainer.io import trigger_ids_on
from flywheel.trainer.registry import Registry, ServedRun
from flywheel.trainer.split_rebuild import sticky_split

log = logging.getLogger(__name__)

# Where a run is, for the checkpoint hook: before the data is read (nothing done yet), after the
# model card (or a failure result) exists, after the result is acknowledged, before the offset
# commit.
RunStep = Literal["before-data", "after-card", "after-result", "before-commit"]
RUN_STEPS: tuple[RunStep, ...] = ("before-data", "after-card", "after-result", "before-commit")


def snapshot_tag(run_id: str) -> str:
    """The tag a run puts on the snapshot it trains on."""
    return f"train-{run_id}"


@dataclass
class ConsumerReport:
    """What one consumer session did."""

    results: list[TrainingResult] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    reemitted: list[str] = field(default_factory=list)


def published_result_ids(settings: TrainerConfig) -> set[str]:
    """Trigger ids that already have a result on the results topic."""
    return trigger_ids_on(settings.kafka, settings.topics.training_results, TrainingResult)


def positives_snapshot_for_run(
    catalog: Catalog, trigger: TrainingTrigger, registry: Registry, run_id: str
) -> int | None:
    """The positives snapshot a run checks forgetting on: the latest one at or before training starts.

    The trigger's own (current at the pairs' commit) can miss positives committed a moment later by
    the same flow checkpoint, so the run takes the latest one, tags it and records it in its status
    file; a retrained run (after a crash) reuses the recorded one, or the tagged one.
    """
    status = registry.read_status(run_id)
    if status and "positives_snapshot_id" in status:
        recorded: int | None = status["positives_snapshot_id"]
        return recorded
    try:
        table = catalog.load_table(trigger.positives_table)
    except Exception:  # a deployment without positives still trains; the card and the gates say so
        log.warning("positives table unavailable; forgetting has no evidence", exc_info=True)
        return None
    # A run that died after tagging, before its status said so: the tag names its choice.
    tagged = table.metadata.refs.get(snapshot_tag(run_id))
    if tagged is not None:
        return tagged.snapshot_id
    current = table.current_snapshot()
    return current.snapshot_id if current else trigger.positives_snapshot_id


def train_for_trigger(
    settings: TrainerConfig, trigger: TrainingTrigger, catalog: Catalog, registry: Registry, show_progress: bool = False
) -> TrainingResult:
    """Tag, read, train, evaluate, gate and write the registry for one trigger; returns the result."""
    from flywheel.infra.devices import pick_device
    from flywheel.trainer.candidate import train_candidate
    from flywheel.trainer.models import resolve_base_model

    config = settings.trainer
    run_id = run_id_for(trigger.trigger_id)
    tag = snapshot_tag(run_id)
    started = time.monotonic()
    table = ensure_tag(catalog, trigger.table, tag, trigger.snapshot_id)
    held = still_held(table, read_pairs(table, trigger.snapshot_id), trigger.snapshot_id)
    if held.removed:
        log.warning(
            "pairs removed from the table since the trigger are left out",
            extra={"run_id": run_id, "removed": held.removed, "checked_snapshot_id": held.checked_snapshot_id},
        )
    if not held.rows:
        reason = f"all {held.removed} pairs of snapshot {trigger.snapshot_id} were removed since"
        return _failed(trigger, reason, started)
    positives_snapshot = positives_snapshot_for_run(catalog, trigger, registry, run_id)
    if positives_snapshot is not None:
        # Tagged like the pairs: kept by snapshot expiry, so a retried run and the card's
        # forgetting figure can read the very positives again, and `data revert` finds the tag.
        ensure_tag(catalog, trigger.positives_table, tag, positives_snapshot)
    # The served run is read once, and its split is among those kept: the comparison with it then
    # knows which held-out prompts it trained on, even should the alias move meanwhile.
    alias = registry.served_run() if config.compare_with_served else ServedRun()
    served_run = alias.run
    also = (served_run,) if served_run else ()
    split, rebuilds = sticky_split(catalog, registry, held.rows, config.eval_fraction, run_id, also)
    if split.eval and not split.train:
        # Only groups earlier runs held out are left (the others removed since): training on them
        # would spend the held-out set. The run fails and says why; it is never retried.
        reason = f"every pair of snapshot {trigger.snapshot_id} is in a group an earlier run held out"
        return _failed(trigger, reason, started)
    if split.degenerate:
        log.warning(
            "pairs with an empty chosen answer, or one equal to the rejected one, are left out",
            extra={"run_id": run_id, "pairs": split.degenerate},
        )
    registry.write_status(
        run_id,
        {
            "state": "training",
            "trigger_id": trigger.trigger_id,
            "started_at": _now(),
            "snapshot_id": trigger.snapshot_id,
            "snapshot_tag": tag,
            "positives_snapshot_id": positives_snapshot,
            "pairs_removed_since_trigger": held.removed,
            "pairs_degenerate": split.degenerate,
        },
    )
    log.info("training run started", extra={"run_id": run_id, "snapshot_id": trigger.snapshot_id})

    positives = read_positives(catalog.load_table(trigger.positives_table), positives_snapshot, config.max_positives)
    reference = resolve_base_model(config)
    device = pick_device(config.device)
    with tempfile.TemporaryDirectory(prefix="flywheel-served-") as served_dir:
        served = None if served_run is None else (served_run, registry.fetch_adapter(served_run, Path(served_dir)))
        candidate = train_candidate(reference, device, split, positives, config, show_progress, served, alias.missing)
    status: Literal["promoted", "rejected"] = "promoted" if candidate.promoted else "rejected"
    adapter_uri = registry.write_adapter(run_id, candidate.model)
    result = TrainingResult(
        trigger_id=trigger.trigger_id,
        run_id=run_id,
        status=status,
        reasons=candidate.reasons,
        snapshot_id=trigger.snapshot_id,
        snapshot_tag=tag,
        base_model=config.base_model,
        adapter_uri=adapter_uri,
        model_card_uri=registry.run_uri(run_id, "model_card.json"),
        train_pairs=candidate.train_pairs,
        eval_pairs=len(split.eval),
        eval_prompts=candidate.eval_prompts,
        before=candidate.before,
        after=candidate.after,
        comparison=candidate.comparison,
        forgetting_pct=candidate.comparison.forgetting_pct,
        duration_s=time.monotonic() - started,
        finished_at=datetime.now(UTC),
    )
    policies = sorted({row["policy_version"] for row in split.train + split.eval})
    card = model_card(
        settings, trigger, result, candidate, split, held, positives_snapshot, reference, device, policies, rebuilds
    )
    registry.write_split(run_id, split.record(run_id))
    registry.write_card(run_id, card)
    registry.write_status(run_id, {**registry.read_status(run_id), "state": status, "finished_at": _now()})
    metrics.RUN_DURATION.observe(result.duration_s)
    metrics.EVAL_CLOSER_SHARE.set(candidate.comparison.closer_share.value)
    for phase, figures in (("before", candidate.before), ("after", candidate.after)):
        metrics.EVAL_PREFERENCE_ACCURACY.labels(phase=phase).set(figures.logprob_accuracy_normalised.value)
        metrics.EVAL_SIMILARITY_TO_USERS.labels(phase=phase).set(figures.similarity_to_users.value)
    metrics.EVAL_REWARD_MARGIN.labels(phase="before").set(0.0)
    metrics.EVAL_REWARD_MARGIN.labels(phase="after").set(candidate.comparison.dpo_reward_margin.value)
    return result


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _failed(trigger: TrainingTrigger, reason: str, started: float) -> TrainingResult:
    """A permanent failure (e.g. the snapshot was expired): reported, never retried."""
    run_id = run_id_for(trigger.trigger_id)
    return TrainingResult(
        trigger_id=trigger.trigger_id,
        run_id=run_id,
        status="failed",
        reasons=[reason],
        snapshot_id=trigger.snapshot_id,
        snapshot_tag=snapshot_tag(run_id),
        base_model="",
        adapter_uri=None,
        model_card_uri=None,
        train_pairs=0,
        eval_pairs=0,
        before=None,
        after=None,
        forgetting_pct=None,
        duration_s=time.monotonic() - started,
        finished_at=datetime.now(UTC),
    )


class TrainerConsumer:
    """Consumes triggers and turns each into exactly one result event."""

    def __init__(
        self,
        settings: TrainerConfig,
        show_progress: bool = False,
        checkpoint: Callable[[RunStep], None] | None = None,
    ) -> None:
        # Nothing is opened here: the catalog, the registry and the results topic are reached when
        # ``run`` starts (or a property is first used), so building a consumer cannot fail on I/O.
        self.settings = settings
        self.show_progress = show_progress
        self._checkpoint = checkpoint or (lambda _step: None)
        self.producer = CheckedProducer(settings.kafka)

    @functools.cached_property
    def catalog(self) -> Catalog:
        """The Iceberg catalog, opened on first use."""
        return open_catalog(self.settings.catalog)

    @functools.cached_property
    def registry(self) -> Registry:
        """The adapter registry, checked writable on first use."""
        registry = Registry.from_settings(self.settings.trainer.registry_url, self.settings.state_dir)
        registry.check()
        return registry

    @functools.cached_property
    def published(self) -> set[str]:
        """Trigger ids that already have a result on the results topic (read once, then kept up to date)."""
        return published_result_ids(self.settings)

    def handle(self, trigger: TrainingTrigger, report: ConsumerReport) -> None:
        """Process one trigger; returns once its result is durable on the results topic."""
        if self._has_result(trigger.trigger_id):
            log.info("trigger already has a result; skipping", extra={"trigger_id": trigger.trigger_id})
            report.skipped.append(trigger.trigger_id)
            metrics.RUNS.labels(status="skipped").inc()
            return
        run_id = run_id_for(trigger.trigger_id)
        card = self.registry.read_card(run_id)
        if card is not None:
            result = TrainingResult.model_validate(card["result"])
            report.reemitted.append(trigger.trigger_id)
        else:
            self._checkpoint("before-data")
            started = time.monotonic()
            if self.catalog.load_table(trigger.table).snapshot_by_id(trigger.snapshot_id) is None:
                result = _failed(trigger, f"snapshot {trigger.snapshot_id} no longer exists", started)
            else:
                result = train_for_trigger(self.settings, trigger, self.catalog, self.registry, self.show_progress)
            report.results.append(result)
            metrics.RUNS.labels(status=result.status).inc()
        self._checkpoint("after-card")
        if self._has_result(trigger.trigger_id):
            # Another member got this trigger after a rebalance and published first.
            log.warning("another trainer published this trigger's result; not publishing", extra={"run_id": run_id})
            report.skipped.append(trigger.trigger_id)
            return
        self.producer.send_durably(
            self.settings.topics.training_results,
            trigger.trigger_id,
            result.model_dump_json().encode(),
        )
        self.published.add(trigger.trigger_id)
        log.info("training result emitted", extra={"run_id": result.run_id, "status": result.status})
        self._checkpoint("after-result")

    def _has_result(self, trigger_id: str) -> bool:
        """Whether the results topic holds ``trigger_id``'s result, read again unless already known."""
        # Re-read, not only the set loaded at start: another member of the group may have
        # published it since (a rebalance hands a trigger over while its first owner still runs).
        if trigger_id not in self.published:
            self.published |= published_result_ids(self.settings)
        return trigger_id in self.published

    def run(self, until_idle: bool = True, stop: threading.Event | None = None) -> ConsumerReport:
        """Consume until every assigned partition is drained (``until_idle``) or ``stop`` is set."""
        config = self.settings.trainer
        stop = stop or threading.Event()
        # Fail before joining the group when the catalog, registry or results topic is unreachable.
        _ = self.catalog, self.registry, self.published
        consumer = Consumer(
            consumer_config(
                self.settings.kafka,
                config.consumer_group,
                **{
                    "max.poll.interval.ms": config.max_poll_interval_ms,
                    "session.timeout.ms": config.session_timeout_ms,
                },
            )
        )
        assigned: set[int] = set()
        drained: set[int] = set()

        def on_assign(_consumer: Consumer, partitions: list[Any]) -> None:
            assigned.update(p.partition for p in partitions)
            log.info("trigger partitions assigned", extra={"partitions": sorted(assigned)})

        def on_revoke(_consumer: Consumer, partitions: list[Any]) -> None:
            assigned.difference_update(p.partition for p in partitions)

        topic = self.settings.topics.training_triggers
        # until-idle means every partition of the topic was drained here; with other members in
        # the group (or a dead one not yet expired) only the idle timeout ends the session.
        every_partition = set(consumer.list_topics(topic, timeout=30).topics[topic].partitions)
        consumer.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke)
        report = ConsumerReport()
        last_activity = time.monotonic()
        try:
            while not stop.is_set():
                message = consumer.poll(config.poll_timeout_s)
                if message is None:
                    # Without the whole topic, allow time for a dead member's session to expire.
                    complete = assigned == every_partition
                    patience = config.idle_timeout_s + (0 if complete else 2 * config.session_timeout_ms / 1000)
                    if until_idle and time.monotonic() - last_activity > patience:
                        break
                    continue
                last_activity = time.monotonic()
                if self._left_group(message):
                    continue
                if self._is_eof(message):
                    drained.add(message.partition() or 0)
                    log.debug("trigger partition drained", extra={"partition": message.partition()})
                    if until_idle and assigned == every_partition and assigned <= drained:
                        break
                    continue
                drained.discard(message.partition() or 0)
                self._process(consumer, message, report)
                last_activity = time.monotonic()
        finally:
            consumer.close()
        return report

    @staticmethod
    def _left_group(message: Message) -> bool:
        """Whether ``message`` reports that a run outlasted ``max_poll_interval_ms``."""
        error = message.error()
        if error is None or error.code() != KafkaError._MAX_POLL_EXCEEDED:
            return False
        # This member left the group and rejoins on the next poll; its trigger may have gone to
        # another member (see the module docstring), which is why this is not an error.
        log.warning("a run outlasted max_poll_interval_ms; rejoining the group", extra={"error": str(error)})
        return True

    @staticmethod
    def _is_eof(message: Message) -> bool:
        error = message.error()
        if error is None:
            return False
        if error.code() == KafkaError._PARTITION_EOF:
            return True
        raise BrokerError(f"consuming triggers: {error}")

    def _process(self, consumer: Consumer, message: Message, report: ConsumerReport) -> None:
        try:
            trigger = TrainingTrigger.model_validate_json(message.value() or b"")
        except ValueError:
            log.error("undecodable trigger; committing past it", extra={"offset": message.offset()})
        else:
            self.handle(trigger, report)
        self._checkpoint("before-commit")
        try:
            consumer.commit(message=message, asynchronous=False)
        except KafkaException as exc:
            # E.g. evicted past max_poll_interval_ms: the trigger went to another member, which
            # finds the result (or card) and commits it. Nothing is lost by not committing here.
            log.warning("trigger offset commit refused; left to the partition's owner", extra={"error": str(exc)})
