"""The flow's start waits, with backoff, for a broker or catalog that comes up after it (real parts).

A deployment often starts the flow before its Kafka or its catalog answers: with
``kafka.startup_wait_s`` / ``catalog.startup_wait_s`` it keeps trying (each attempt logged and
counted) instead of exiting into a restart loop; without them it gives up in one line, as before.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from flywheel import metrics
from flywheel.errors import BrokerUnreachable, CatalogUnreachable
from flywheel.flows.runner import preflight
from flywheel.infra.broker import LocalBroker, ensure_topics, free_port, start_broker
from flywheel.infra.kafka import check_broker_reachable
from flywheel.infra.retry import wait_at_start
from flywheel.settings import Settings
from tests.conftest import make_settings, wait_for


def _retries(dependency: str) -> float:
    return metrics.STARTUP_RETRIES.labels(dependency)._value.get()


class Background:
    """Runs ``call`` in a thread; ``result()`` returns what it returned or raises what it raised."""

    def __init__(self, call: Any) -> None:
        self.outcome: list[Any] = []
        self.thread = threading.Thread(target=self._run, args=(call,), daemon=True)
        self.thread.start()

    def _run(self, call: Any) -> None:
        try:
            self.outcome.append(("ok", call()))
        except Exception as exc:
            self.outcome.append(("error", exc))

    def result(self, timeout_s: float = 60.0) -> Any:
        self.thread.join(timeout_s)
        assert self.outcome, f"still waiting after {timeout_s}s"
        kind, value = self.outcome[0]
        if kind == "error":
            raise value
        return value


def test_a_broker_that_comes_up_after_the_flow_is_waited_for(tmp_path: Path) -> None:
    port = free_port()
    settings = make_settings(f"127.0.0.1:{port}", tmp_path, kafka={"connect_timeout_s": 1, "startup_wait_s": 60})
    kafka = settings.kafka
    before = _retries("kafka")
    waiting = Background(
        lambda: wait_at_start(lambda: check_broker_reachable(kafka), BrokerUnreachable, "kafka", 60, "S")
    )
    wait_for(lambda: _retries("kafka") > before, what="a first failed attempt, counted")
    broker = start_broker(port=port, log_file=tmp_path / "late-broker.log")
    try:
        assert waiting.result() is None  # it answered: no error
    finally:
        broker.stop()


def test_a_catalog_that_comes_up_after_the_flow_is_waited_for(broker: LocalBroker, tmp_path: Path) -> None:
    # The catalog's folder is not usable yet (a file stands where it goes: a volume not mounted yet).
    late = tmp_path / "catalog-volume"
    late.write_text("not mounted")
    settings = _settings(broker, tmp_path, {"uri": f"sqlite:///{late / 'catalog.db'}", "startup_wait_s": 60})
    before = _retries("catalog")
    starting = Background(lambda: preflight(settings.flow_config()))
    wait_for(lambda: _retries("catalog") > before, what="a first failed catalog check, counted")
    late.unlink()

    assert starting.result() == [0, 1, 2]  # the interactions topic's partitions: preflight went through
    assert (late / "catalog.db").is_file()


def test_past_its_wait_an_unreachable_catalog_is_one_line_saying_how_long(broker: LocalBroker, tmp_path: Path) -> None:
    blocked = tmp_path / "catalog-volume"
    blocked.write_text("never mounted")
    settings = _settings(broker, tmp_path, {"uri": f"sqlite:///{blocked / 'catalog.db'}", "startup_wait_s": 2})

    with pytest.raises(CatalogUnreachable) as caught:
        preflight(settings.flow_config())
    message = str(caught.value)
    assert "\n" not in message and "FLYWHEEL_CATALOG__URI" in message
    assert "tried 2 times" in message and "FLYWHEEL_CATALOG__STARTUP_WAIT_S allows 2s" in message


def _settings(broker: LocalBroker, root: Path, catalog: dict[str, Any]) -> Settings:
    settings = make_settings(broker.bootstrap_servers, root, catalog={"connect_timeout_s": 5, **catalog})
    ensure_topics(settings.kafka, settings.topics)
    return settings
