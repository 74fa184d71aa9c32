"""Configuration sections shared by the components: Kafka, topics, catalog, sink, recovery, ...

Every section is a frozen pydantic model: settings are built once at an entry point and never
mutated; a variant is :func:`revised` (a validated copy). Reading a section has no side
effects (no directories are created here; whoever writes to a path creates it).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr

ModelT = TypeVar("ModelT", bound=BaseModel)


class Section(BaseModel):
    """Base of every settings section: immutable once built."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def revised(model: ModelT, /, **changes: Any) -> ModelT:
    """A validated copy of ``model`` with ``changes`` applied.

    A dict given for a nested section revises that section field by field; any other value
    (a mapping-valued setting included) replaces the field as a whole.
    """
    updates: dict[str, Any] = {}
    for key, value in changes.items():
        current = getattr(model, key)
        nested = isinstance(current, BaseModel) and isinstance(value, dict)
        updates[key] = revised(current, **value) if nested else value
    return type(model).model_validate({**dict(model), **updates})


def merge_sections(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``changes`` merged in: dicts are merged recursively, anything else replaces."""
    merged = dict(base)
    for key, value in changes.items():
        if isinstance(value, BaseModel):
            value = value.model_dump()
        current = merged.get(key)
        merged[key] = merge_sections(current, value) if isinstance(value, dict) and isinstance(current, dict) else value
    return merged


class KafkaSettings(Section):
    """Where the broker is and how to talk to it."""

    bootstrap_servers: str = "127.0.0.1:9092"
    # Passed verbatim to librdkafka: security.protocol, sasl.mechanism, sasl.username,
    # sasl.password, ssl.ca.location, ... Never hard-code secrets; set them by env or file.
    client_config: dict[str, str] = Field(default_factory=dict)
    consumer_group: str = "flywheel-curation"
    # How long a command waits for the broker to answer at start before it gives up in one line.
    connect_timeout_s: float = Field(default=10.0, gt=0)
    # How long the flow keeps trying, with backoff, when the broker does not answer at start (a
    # deployment that comes up before its Kafka); 0 gives up after the first connect_timeout_s.
    startup_wait_s: float = Field(default=0.0, ge=0)

    def client(self, **overrides: Any) -> dict[str, Any]:
        """librdkafka config for a client: bootstrap servers, security passthrough, overrides."""
        return {"bootstrap.servers": self.bootstrap_servers, **self.client_config, **overrides}


DAY_MS = 24 * 3600 * 1000


class TopicRetention(Section):
    """``retention.ms`` of each topic, set when the flywheel creates it; None leaves the broker's default.

    An existing topic is never altered: one whose retention differs is reported (``ensure_topics``).
    -1 keeps messages forever.
    """

    # Raw events, PII included; how far back a replay from offsets can reach. The broker's default
    # (Kafka: 7 days) unless an operator sizes it for replays.
    interactions: int | None = Field(default=None, ge=-1)
    # Raw bytes, untouched: the PII the flow would have scrubbed, in events it could not read.
    # Long enough to notice the DLQ alert and replay or inspect the messages over a holiday;
    # short enough that undecodable personal data does not outlive the scrubbed tables.
    dlq: int | None = Field(default=7 * DAY_MS, ge=-1)
    # Scrubbed events the review queue reads into its own store as they arrive.
    review: int | None = Field(default=None, ge=-1)
    training_triggers: int | None = Field(default=None, ge=-1)
    training_results: int | None = Field(default=None, ge=-1)


# topics.dlq_max_message_bytes's default: under librdkafka's message.max.bytes (1,000,000).
DLQ_MAX_MESSAGE_BYTES = 900_000


class TopicSettings(Section):
    """Topic names and how they are created."""

    interactions: str = "flywheel.interactions.v1"
    dlq: str = "flywheel.interactions.dlq.v1"
    review: str = "flywheel.review.v1"
    training_triggers: str = "flywheel.training.triggers.v1"
    training_results: str = "flywheel.training.results.v1"
    partitions: int = Field(default=3, ge=1)
    replication_factor: int = Field(default=1, ge=1)
    retention_ms: TopicRetention = Field(default_factory=TopicRetention)
    # A DLQ message (raw value, key, headers) larger than this has its value cut to fit, with its
    # size and sha256 in headers: the source topic holds it whole at the offset the headers name.
    # Below librdkafka's message.max.bytes (1,000,000) and Kafka's default topic limit (1,048,588):
    # a source message near those limits would otherwise be refused on the DLQ, failing the epoch
    # at every restart. Lower it to a DLQ topic's smaller max.message.bytes.
    dlq_max_message_bytes: int = Field(default=DLQ_MAX_MESSAGE_BYTES, ge=16 * 1024)

    def all(self) -> list[str]:
        """Every topic the flywheel reads or writes."""
        return [self.interactions, self.dlq, self.review, self.training_triggers, self.training_results]

    def retention_of(self) -> dict[str, int | None]:
        """Each topic's wanted ``retention.ms`` by topic name (None: the broker's default)."""
        wanted = self.retention_ms
        return {
            self.interactions: wanted.interactions,
            self.dlq: wanted.dlq,
            self.review: wanted.review,
            self.training_triggers: wanted.training_triggers,
            self.training_results: wanted.training_results,
        }


class CatalogSettings(Section):
    """The Iceberg catalog and warehouse. SQLite ``SqlCatalog`` by default; REST or SQL by config."""

    name: str = "flywheel"
    type: Literal["sql", "rest"] = "sql"
    uri: str = "sqlite:///.flywheel/catalog.db"
    warehouse: str = ".flywheel/warehouse"
    namespace: str = "flywheel"
    # Extra catalog properties passed through (credential, token, s3.endpoint, ...).
    properties: dict[str, str] = Field(default_factory=dict)
    branch: str = "main"
    # How long a command waits for the catalog to answer at start before it gives up in one line.
    connect_timeout_s: float = Field(default=10.0, gt=0)
    # How long the flow keeps trying, with backoff, when the catalog does not answer at start; 0
    # gives up after the first connect_timeout_s.
    startup_wait_s: float = Field(default=0.0, ge=0)

    @property
    def shown_uri(self) -> str:
        """The URI with any password replaced by ``***``: what messages, logs and error bodies show."""
        return _without_password(self.uri)

    def catalog_properties(self) -> dict[str, str]:
        """Properties for ``pyiceberg.catalog.load_catalog``; local paths become absolute URIs."""
        props = {"type": self.type, "uri": self.uri, **self.properties}
        if self.type == "sql" and self.uri.startswith("sqlite:///") and not self.uri.startswith("sqlite:////"):
            props["uri"] = f"sqlite:///{Path(self.uri.removeprefix('sqlite:///')).resolve()}"
        if self.warehouse:
            props["warehouse"] = _as_uri(self.warehouse)
        return props


class SinkSettings(Section):
    """How the Iceberg sink batches commits."""

    # Commits happen at a Bytewax epoch boundary once this much time has passed since the
    # last one (rows in between are kept in the recovery snapshot), never per event.
    commit_interval_s: float = Field(default=5.0, gt=0)
    max_rows_per_commit: int = Field(default=50_000, ge=1)
    # A table that receives no rows still records source progress, at most this often,
    # so a cold start does not re-read history for a quiet table.
    progress_commit_interval_s: float = Field(default=60.0, gt=0)
    commit_attempts: int = Field(default=5, ge=1)
    # A busy or unreachable catalog is retried with backoff (0.5 s doubling to 10 s) this long;
    # then the flow stops with one line (its recovery state resumes it).
    catalog_outage_s: float = Field(default=300.0, gt=0)


class RecoverySettings(Section):
    """Bytewax recovery: state snapshots that make restarts resume where they stopped."""

    directory: Path = Path(".flywheel/recovery")
    partitions: int = Field(default=1, ge=1)
    # Also the Bytewax epoch: every epoch snapshots state and lets the sink decide to commit.
    snapshot_interval_s: float = Field(default=1.0, gt=0)
    backup_interval_s: float = Field(default=0.0, ge=0)


class ValidationSettings(Section):
    """Limits applied when decoding interaction events."""

    max_event_bytes: int = Field(default=256 * 1024, ge=1024)
    max_text_bytes: int = Field(default=64 * 1024, ge=64)
    max_metadata_bytes: int = Field(default=16 * 1024, ge=64)
    # An event cannot have happened after its message was received. One claiming a later time
    # would sit in a future dedup slot holding its partition's progress, and would move the
    # quota's and the dedup window's newest day ahead of every real event (poisoning both).
    max_future_s: float = Field(
        default=300.0,
        ge=0,
        description="how far occurred_at may lie after the Kafka message's timestamp (client clock skew)",
    )


class SourceSettings(Section):
    """How the flow reads Kafka."""

    # Messages per consume() call, the unit that moves through the dataflow: each batch pays
    # Bytewax's per-activation cost once. 5000 gave ~25% more events per CPU-second than 1000
    # on the realistic mix (make bench); a batch waits at most poll_timeout_s to fill.
    batch_size: int = Field(default=5000, ge=1)
    poll_timeout_s: float = Field(default=0.05, gt=0)
    # While the topic is quiet, re-announce the position this often so pending rows commit.
    heartbeat_s: float = Field(default=1.0, gt=0)


class MetricsSettings(Section):
    """Prometheus endpoints of the long-running processes: one default port each, so they share a host.

    The gateway serves ``/metrics`` on its own HTTP port (``gateway.port``).
    """

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=9464, ge=0, le=65535, description="the curation flow's /metrics")
    trainer_port: int = Field(default=9465, ge=0, le=65535, description="`flywheel trainer run --forever`")
    tracker_port: int = Field(default=9466, ge=0, le=65535, description="`flywheel trainer track --loop`")


class FailedAuthSettings(Section):
    """Throttle on failed authentications (in-process, per replica), per client address or per name.

    Each failure (a wrong key, signature or password) takes a token; a caller with none left
    is answered 429 before its credentials are even looked at, so guessing keys or passwords
    stays slow and a correct guess cannot be told apart while throttled. Behind a proxy, let
    uvicorn trust its ``X-Forwarded-For`` (``FORWARDED_ALLOW_IPS``), or every client shares
    the proxy's address. The gateway and the review app's logins both use it.
    """

    enabled: bool = True
    # Failures one address (or name) may make at once, then one more every 1 / refill_per_s seconds.
    burst: int = Field(default=20, ge=1)
    refill_per_s: float = Field(default=0.2, gt=0)


class MaintenanceSettings(Section):
    """Snapshot expiry and small-file compaction (``flywheel data maintain``, a CronJob in Kubernetes)."""

    # Expire snapshots older than this; tags (train-*, trigger-*), branch heads and the offsets
    # ledger's chain are always kept, and so are the newest ``retain_last`` snapshots.
    snapshot_max_age_h: float = Field(default=168.0, gt=0)
    retain_last: int = Field(default=100, ge=1)
    # Delete the data files, manifests and manifest lists only expired snapshots referenced.
    delete_expired_files: bool = True
    # Compact a partition once it holds this many files smaller than the target size.
    compact_min_files: int = Field(default=8, ge=2)
    target_file_size_mb: int = Field(default=128, ge=1)
    commit_attempts: int = Field(default=5, ge=1)


# A key names a secret when it contains one of these words (librdkafka's sasl.password,
# pyiceberg's credential / token / s3.secret-access-key / adls.account-key, gateway keys).
_SECRET_KEY = re.compile(
    r"password|passwd|secret|token|credential|private|access[._-]?key|account[._-]?key|api[._-]?keys?$|jaas"
)
# Keys that say where a secret is kept, not the secret itself.
_SECRET_POINTER = re.compile(r"(_file|_env|_header|\.location)$")
# user:password@ in a URI (a SQL catalog's database URL, a REST endpoint).
_URI_PASSWORD = re.compile(r"(?P<head>://[^:/@\s]+):[^@/\s]+@")
MASK = "***"


def masked(value: Any, *, within_secret: bool = False) -> Any:
    """A copy of dumped settings with every secret-looking string replaced by ``***``.

    A string is secret when its key, or the key of a mapping holding it, names a secret
    (numbers and flags never are); a password inside a URI is masked wherever it appears.
    """
    if isinstance(value, dict):
        return {k: masked(v, within_secret=within_secret or _names_secret(str(k))) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v, within_secret=within_secret) for v in value]
    if isinstance(value, str):
        return MASK if within_secret and value else _URI_PASSWORD.sub(rf"\g<head>:{MASK}@", value)
    return value


def _names_secret(key: str) -> bool:
    lowered = key.lower()
    return bool(_SECRET_KEY.search(lowered)) and not _SECRET_POINTER.search(lowered)


def _as_uri(location: str) -> str:
    """A warehouse location as a URI; bare local paths become absolute ``file://`` URIs."""
    if "://" in location:
        return location
    return Path(location).resolve().as_uri()


def read_secret_file(path: Path) -> dict[str, SecretStr]:
    """Read ``key-id=secret`` lines (``#`` comments allowed) or a JSON object of them."""
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("{"):
        loaded = json.loads(text)
        if not isinstance(loaded, dict):
            raise ValueError(f"{path} must hold a JSON object of key-id to secret")
        return {str(key): SecretStr(str(value)) for key, value in loaded.items()}
    secrets: dict[str, SecretStr] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key_id, sep, secret = stripped.partition("=")
        if not sep or not key_id.strip() or not secret.strip():
            raise ValueError(f"{path}:{number}: expected `key-id=secret`")
        secrets[key_id.strip()] = SecretStr(secret.strip())
    return secrets


def with_secret_files(data: Any, **files: str) -> Any:
    """A section's raw ``data`` with each ``field=file_field`` mapping merged with the secret file it names.

    For a ``mode="before"`` validator: keys from the file win over keys given by environment.
    """
    if not isinstance(data, dict):
        return data
    merged = dict(data)
    for field, file_field in files.items():
        if merged.get(file_field):
            merged[field] = {**(merged.get(field) or {}), **read_secret_file(Path(merged[file_field]))}
    return merged


_USERINFO_PASSWORD = re.compile(r"(?P<head>^[a-zA-Z][a-zA-Z0-9+.-]*://[^/@:]*):[^/@]*@")


def _without_password(uri: str) -> str:
    """``scheme://user:secret@host/...`` as ``scheme://user:***@host/...``; any other URI unchanged."""
    return _USERINFO_PASSWORD.sub(r"\g<head>:***@", uri, count=1)
