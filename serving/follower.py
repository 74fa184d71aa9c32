"""Keep serving in step with the registry: watch the alias, and move it on every promotion.

* ``AliasWatcher`` reads ``current.json`` every ``watch_interval_s`` and applies a change to the
  engine (load, then swap). ``flywheel model rollback`` and a promotion both reach a running
  server this way, and so does any other replica reading the same registry.
* ``PromotionFollower`` consumes the training results topic (consumer group
  ``serving.consumer_group``, so one replica handles each result) and, for a ``promoted`` result,
  moves the alias to its run. Only promotions the trainer's gates made move it; rejected and
  failed runs are ignored. A redelivered result is recognised by its ``trigger_id`` in the
  alias history and applied once; the offset is committed after the alias is written.
"""

from __future__ import annotations

import logging
import threading

from confluent_kafka import Consumer, KafkaError, Message
from pydantic import BaseModel, ValidationError

from flywheel.config import KafkaSettings
from flywheel.errors import AliasError, FlywheelError
from flywheel.serving.engine import Engine
from flywheel.serving.registry import RegistryView

log = logging.getLogger(__name__)


class PromotionNotice(BaseModel):
    """The fields of a training result (``trainer/events.py`` ``TrainingResult``) the server acts on."""

    trigger_id: str
    run_id: str
    status: str


class AliasWatcher:
    """Polls the alias and applies every change to the engine."""

    def __init__(self, engine: Engine, registry: RegistryView, interval_s: float) -> None:
        self.engine = engine
        self.registry = registry
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def check(self) -> bool:
        """Read the alias once and apply it; True if serving changed."""
        try:
            return self.engine.apply(self.registry.read_alias())
        except (FlywheelError, OSError) as exc:  # keep serving the old routes; try again next tick
            log.error("could not apply the registry alias", extra={"error": str(exc)})
            return False

    def start(self) -> None:
        """Poll in a background thread until :meth:`stop`."""
        self._thread = threading.Thread(target=self._run, name="serving-alias-watcher", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.check()

    def stop(self) -> None:
        """Stop polling."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


class PromotionFollower:
    """Moves the alias when the trainer promotes a run."""

    def __init__(
        self, kafka: KafkaSettings, topic: str, group: str, registry: RegistryView, share: float = 0.0
    ) -> None:
        self.kafka = kafka
        self.topic = topic
        self.group = group
        self.registry = registry
        self.share = share
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def handle(self, value: bytes) -> bool:
        """Apply one result message; True if it moved the alias."""
        try:
            notice = PromotionNotice.model_validate_json(value)
        except ValidationError:
            log.error("undecodable training result; skipped", extra={"topic": self.topic})
            return False
        if notice.status != "promoted":
            return False
        try:
            moved = self.registry.promote(notice.run_id, notice.trigger_id, self.share)
        except AliasError as exc:
            log.error(
                "promoted run is not servable; alias unchanged", extra={"run_id": notice.run_id, "error": str(exc)}
            )
            return False
        if moved is not None:
            log.info("alias moved to a promoted run", extra={"run_id": notice.run_id, "share": self.share})
        return moved is not None

    def start(self) -> None:
        """Consume in a background thread until :meth:`stop`."""
        self._thread = threading.Thread(target=self._run, name="serving-promotions", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        consumer = Consumer(
            self.kafka.client(**{"group.id": self.group, "enable.auto.commit": False, "auto.offset.reset": "earliest"})
        )
        consumer.subscribe([self.topic])
        try:
            while not self._stop.is_set():
                message = consumer.poll(0.5)
                if message is None or self._failed(message):
                    continue
                self.handle(message.value() or b"")
                consumer.commit(message=message, asynchronous=False)
        finally:
            consumer.close()

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
