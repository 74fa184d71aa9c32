"""Keep serving in step with the registry: watch the alias, and move it on every promotion.

* ``AliasWatcher`` reads ``current.json`` every ``watch_interval_s`` and applies a change to the
  engine (load, then swap). ``flywheel model rollback`` and a promotion both reach a running
  server this way, and so does any other replica reading the same registry. A change a replica
  cannot load is reported by that replica (its ``alias_state``), never written to the alias: the
  alias says what was asked for, and another replica may have loaded it.
* ``PromotionFollower`` consumes the training results topic (consumer group
  ``serving.consumer_group``, so one replica handles each result) and, for a ``promoted`` result,
  moves the alias to its run. Only promotions the trainer's gates made move it; rejected and
  failed runs are ignored. A redelivered result is recognised by its ``trigger_id`` in the
  alias history and applied once; the offset is committed after the alias is written.

Neither thread ends on an error. The follower tells two kinds apart (see :meth:`PromotionFollower.handle`):
a result that can never be applied (undecodable, or its run is not servable: a malformed run id,
a damaged or missing card, no adapter, a card that does not say ``promoted``) is logged, counted
and committed, since reading it again gives the same answer; anything else (the registry
unreachable or unwritable, a damaged alias file an operator can repair) leaves the result
uncommitted and reads it again after a capped exponential back-off, so no promotion is lost to a
passing fault. A failed commit or a failed consumer is logged and retried the same way.
"""

from __future__ import annotations

import logging
import threading
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition
from pydantic import BaseModel, ValidationError

from flywheel.config import KafkaSettings
from flywheel.errors import FlywheelError
from flywheel.serving import metrics
from flywheel.serving.engine import Engine, one_line
from flywheel.serving.registry import NotServable, RegistryView
from flywheel.serving.rollout import Routes

log = logging.getLogger(__name__)


class PromotionNotice(BaseModel):
    """The fields of a training result (``trainer/events.py`` ``TrainingResult``) the server acts on."""

    trigger_id: str
    run_id: str
    status: str


class AliasWatcher:
    """Polls the alias and applies every change to the engine.

    A change this replica cannot apply (an adapter its backend refuses: a PEFT size mismatch, a
    rank over vLLM's limit, a file that cannot be read) leaves the routes in force. It is logged
    once, on one line with the reason, per alias change, and tried again after a back-off
    (``interval_s`` doubling to :data:`RETRY_MAX_S`), since a passing fault (memory, a remote
    registry) heals and a broken adapter stays broken; the engine's ``alias_state`` (``/readyz``,
    ``/v1/flywheel/routes``, ``flywheel_serving_alias_applied``) says so meanwhile.
    """

    RETRY_MAX_S = 300.0

    def __init__(self, engine: Engine, registry: RegistryView, interval_s: float) -> None:
        self.engine = engine
        self.registry = registry
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._backoff = Backoff(interval_s, max(interval_s, self.RETRY_MAX_S))
        self._failed: Routes | None = None  # the routes whose swap failed last, until any swap succeeds
        self._retry_at = 0.0

    def check(self) -> bool:
        """Read the alias once and apply it; True if serving changed."""
        try:
            alias = self.registry.read_alias()
        except (FlywheelError, OSError) as exc:  # keep serving the old routes; try again next tick
            log.error("could not read the registry alias", extra={"error": str(exc)})
            return False
        wanted = Routes.of(alias)
        if wanted == self._failed and time.monotonic() < self._retry_at:
            return False
        try:
            changed = self.engine.apply(alias)
        except Exception as exc:  # whatever the backend raises for an adapter it refuses
            self._swap_failed(wanted, exc)
            return False
        if self._failed is not None:
            log.info("the registry alias is applied", extra={"current": wanted.current, "candidate": wanted.candidate})
            self._failed = None
            self._backoff.reset()
        return changed

    def _swap_failed(self, wanted: Routes, exc: Exception) -> None:
        """Log a failure once per alias change (a retry of the same routes logs at debug) and schedule a retry."""
        if wanted != self._failed:
            self._backoff.reset()
            log.error(
                "could not apply the registry alias; still serving the previous routes",
                extra={
                    "current": wanted.current,
                    "candidate": wanted.candidate,
                    "candidate_share": wanted.candidate_share,
                    "error": one_line(exc),
                },
            )
            log.debug("why the alias could not be applied", exc_info=exc)
        else:
            log.debug("the registry alias still cannot be applied", extra={"error": one_line(exc)})
        self._failed = wanted
        self._retry_at = time.monotonic() + self._backoff.next()

    def start(self) -> None:
        """Poll in a background thread until :meth:`stop`."""
        self._thread = threading.Thread(target=self._run, name="serving-alias-watcher", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.check()
            except Exception:  # not a refused swap (check handles those): a fault here, so its traceback
                log.exception("watching the registry alias failed unexpectedly")

    def stop(self) -> None:
        """Stop polling."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


class Backoff:
    """Capped exponential back-off: ``initial_s``, twice that, ... up to ``max_s``; :meth:`reset` on success."""

    def __init__(self, initial_s: float, max_s: float) -> None:
        self.initial_s = initial_s
        self.max_s = max_s
        self._failures = 0

    def next(self) -> float:
        """The wait before the next attempt (grows with every call until a reset)."""
        delay = min(self.max_s, self.initial_s * 2 ** min(self._failures, 32))
        self._failures += 1
        return delay

    def reset(self) -> None:
        """The last attempt succeeded: the next failure waits ``initial_s`` again."""
        self._failures = 0


class PromotionFollower:
    """Moves the alias when the trainer promotes a run."""

    def __init__(
        self,
        kafka: KafkaSettings,
        topic: str,
        group: str,
        registry: RegistryView,
        share: float = 0.0,
        retry_initial_s: float = 0.5,
        retry_max_s: float = 30.0,
    ) -> None:
        self.kafka = kafka
        self.topic = topic
        self.group = group
        self.registry = registry
        self.share = share
        self.backoff = Backoff(retry_initial_s, retry_max_s)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def handle(self, value: bytes) -> bool:
        """Apply one result message; True if it moved the alias.

        False, after logging, for a result to commit without applying it: not a promotion, already
        applied, undecodable, or a run that cannot be served (:class:`NotServable`: reading the same
        result again gives the same answer, so it is skipped rather than retried forever). Any
        other error (an :class:`OSError` reaching the registry, a damaged alias file) propagates:
        the result was not applied and may be once the fault is repaired, so it is not committed.
        """
        try:
            notice = PromotionNotice.model_validate_json(value)
        except ValidationError:
            log.error("undecodable training result; skipped", extra={"topic": self.topic})
            metrics.PROMOTIONS.labels("skipped").inc()
            return False
        if notice.status != "promoted":
            metrics.PROMOTIONS.labels("unchanged").inc()
            return False
        try:
            moved = self.registry.promote(notice.run_id, notice.trigger_id, self.share)
        except NotServable as exc:
            log.error(
                "promoted run is not servable; alias unchanged, result skipped",
                extra={"run_id": notice.run_id, "trigger_id": notice.trigger_id, "error": str(exc)},
            )
            metrics.PROMOTIONS.labels("skipped").inc()
            return False
        if moved is not None:
            log.info("alias moved to a promoted run", extra={"run_id": notice.run_id, "share": self.share})
        metrics.PROMOTIONS.labels("applied" if moved is not None else "unchanged").inc()
        return moved is not None

    def start(self) -> None:
        """Consume in a background thread until :meth:`stop`."""
        self._thread = threading.Thread(target=self._run, name="serving-promotions", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        """Consume until :meth:`stop`; a failed consumer is closed and a new one made after a back-off."""
        while not self._stop.is_set():
            consumer: Consumer | None = None
            try:
                consumer = Consumer(
                    self.kafka.client(
                        **{"group.id": self.group, "enable.auto.commit": False, "auto.offset.reset": "earliest"}
                    )
                )
                consumer.subscribe([self.topic])
                self._consume(consumer)
            except Exception as exc:  # KafkaException, or a seek that found its partition gone
                metrics.PROMOTIONS.labels("consumer_failed").inc()
                log.error(
                    "the training results consumer failed; starting a new one after a back-off",
                    exc_info=True,
                    extra={"topic": self.topic, "error": str(exc)},
                )
                self._stop.wait(self.backoff.next())
            finally:
                if consumer is not None:
                    try:
                        consumer.close()
                    except Exception:  # a broken consumer may not close cleanly; a new one replaces it
                        log.warning("closing the training results consumer failed", exc_info=True)

    def _consume(self, consumer: Consumer) -> None:
        while not self._stop.is_set():
            message = consumer.poll(0.5)
            if message is None or self._failed(message):
                continue
            where = {"topic": message.topic(), "partition": message.partition(), "offset": message.offset()}
            try:
                self.handle(message.value() or b"")
            except Exception as exc:  # not applied, and it may be: read it again after a back-off
                metrics.PROMOTIONS.labels("retried").inc()
                log.error(
                    "could not apply a training result; reading it again after a back-off",
                    exc_info=True,
                    extra={**where, "error": str(exc)},
                )
                if self._stop.wait(self.backoff.next()):
                    return
                self._rewind(consumer, message)
                continue
            try:
                consumer.commit(message=message, asynchronous=False)
            except KafkaException as exc:  # applied; a redelivery is recognised by its trigger_id
                metrics.PROMOTIONS.labels("commit_failed").inc()
                log.error("could not commit a handled training result", extra={**where, "error": str(exc)})
                self._stop.wait(self.backoff.next())
                continue
            self.backoff.reset()

    def _rewind(self, consumer: Consumer, message: Message) -> None:
        """Make ``message`` the next one its partition gives (it is uncommitted: a new consumer would too)."""
        partition, offset = message.partition(), message.offset()
        if partition is None or offset is None:  # not a fetched message; a new consumer reads from the commit
            raise KafkaException(KafkaError(KafkaError._STATE, "message without partition or offset"))
        consumer.seek(TopicPartition(message.topic() or self.topic, partition, offset))

    @staticmethod
    def _failed(message: Message) -> bool:
        error = message.error()
        if error is None:
            return False
        if error.code() != KafkaError._PARTITION_EOF:
            log.error("consuming training results failed", extra={"error": str(error)})
        return True

    def stop(self) -> None:
        """Stop consuming."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
