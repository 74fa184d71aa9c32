"""One typed configuration object for every part of the flywheel.

Loaded once, from (highest priority first) explicit keyword arguments, ``FLYWHEEL_*``
environment variables (nested with ``__``, e.g. ``FLYWHEEL_KAFKA__BOOTSTRAP_SERVERS``),
an optional TOML or YAML file named by ``FLYWHEEL_CONFIG_FILE``, and the defaults below,
which describe the embedded local stack (bundled broker, SQLite catalog, local warehouse).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
    YamlConfigSettingsSource,
)

from gateway.config import GatewaySettings
from operators.config import CurationSettings
from trainer.config import TrainerSettings

CONFIG_FILE_ENV = "FLYWHEEL_CONFIG_FILE"


class KafkaSettings(BaseModel):
    """Where the broker is and how to talk to it."""

    bootstrap_servers: str = "127.0.0.1:9092"
    # Passed verbatim to librdkafka: security.protocol, sasl.mechanism, sasl.username,
    # sasl.password, ssl.ca.location, ... Never hard-code secrets; set them by env or file.
    client_config: dict[str, str] = Field(default_factory=dict)
    consumer_group: str = "flywheel-curation"

    def client(self, **overrides: Any) -> dict[str, Any]:
        """librdkafka config for a client: bootstrap servers, security passthrough, overrides."""
        return {"bootstrap.servers": self.bootstrap_servers, **self.client_config, **overrides}


class TopicSettings(BaseModel):
    """Topic names and how they are created."""

    interactions: str = "flywheel.interactions.v1"
    dlq: str = "flywheel.interactions.dlq.v1"
    review: str = "flywheel.review.v1"
    training_triggers: str = "flywheel.training.triggers.v1"
    training_results: str = "flywheel.training.results.v1"
    partitions: int = Field(default=3, ge=1)
    replication_factor: int = Field(default=1, ge=1)

    def all(self) -> list[str]:
        """Every topic the flywheel reads or writes."""
        return [self.interactions, self.dlq, self.review, self.training_triggers, self.training_results]


class CatalogSettings(BaseModel):
    """The Iceberg catalog and warehouse. SQLite ``SqlCatalog`` by default; REST or SQL by config."""

    name: str = "flywheel"
    type: Literal["sql", "rest"] = "sql"
    uri: str = "sqlite:///.flywheel/catalog.db"
    warehouse: str = ".flywheel/warehouse"
    namespace: str = "flywheel"
    # Extra catalog properties passed through (credential, token, s3.endpoint, ...).
    properties: dict[str, str] = Field(default_factory=dict)
    branch: str = "main"

    def catalog_properties(self) -> dict[str, str]:
        """Properties for ``pyiceberg.catalog.load_catalog``; local paths become absolute URIs."""
        props = {"type": self.type, "uri": self.uri, **self.properties}
        if self.type == "sql" and self.uri.startswith("sqlite:///") and not self.uri.startswith("sqlite:////"):
            db_path = Path(self.uri.removeprefix("sqlite:///")).resolve()
            db_path.parent.mkdir(parents=True, exist_ok=True)
            props["uri"] = f"sqlite:///{db_path}"
        if self.warehouse:
            props["warehouse"] = _as_uri(self.warehouse)
        return props


class SinkSettings(BaseModel):
    """How the Iceberg sink batches commits."""

    # Commits happen at a Bytewax epoch boundary once this much time has passed since the
    # last one (rows in between are kept in the recovery snapshot), never per event.
    commit_interval_s: float = Field(default=5.0, gt=0)
    max_rows_per_commit: int = Field(default=50_000, ge=1)
    # A table that receives no rows still records source progress, at most this often,
    # so a cold start does not re-read history for a quiet table.
    progress_commit_interval_s: float = Field(default=60.0, gt=0)
    commit_attempts: int = Field(default=5, ge=1)


class RecoverySettings(BaseModel):
    """Bytewax recovery: state snapshots that make restarts resume where they stopped."""

    directory: Path = Path(".flywheel/recovery")
    partitions: int = Field(default=1, ge=1)
    # Also the Bytewax epoch: every epoch snapshots state and lets the sink decide to commit.
    snapshot_interval_s: float = Field(default=1.0, gt=0)
    backup_interval_s: float = Field(default=0.0, ge=0)


class ValidationSettings(BaseModel):
    """Limits applied when decoding interaction events."""

    max_event_bytes: int = Field(default=256 * 1024, ge=1024)
    max_text_bytes: int = Field(default=64 * 1024, ge=64)
    max_metadata_bytes: int = Field(default=16 * 1024, ge=64)


class SourceSettings(BaseModel):
    """How the flow reads Kafka."""

    batch_size: int = Field(default=1000, ge=1)
    poll_timeout_s: float = Field(default=0.05, gt=0)
    # While the topic is quiet, re-announce the position this often so pending rows commit.
    heartbeat_s: float = Field(default=1.0, gt=0)


class MetricsSettings(BaseModel):
    """Prometheus endpoint for the flow process."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 9464


class Settings(BaseSettings):
    """Everything the flywheel needs, defaulting to the embedded local stack."""

    model_config = SettingsConfigDict(
        env_prefix="FLYWHEEL_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    topics: TopicSettings = Field(default_factory=TopicSettings)
    catalog: CatalogSettings = Field(default_factory=CatalogSettings)
    sink: SinkSettings = Field(default_factory=SinkSettings)
    recovery: RecoverySettings = Field(default_factory=RecoverySettings)
    validation: ValidationSettings = Field(default_factory=ValidationSettings)
    source: SourceSettings = Field(default_factory=SourceSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    curation: CurationSettings = Field(default_factory=CurationSettings)
    trainer: TrainerSettings = Field(default_factory=TrainerSettings)
    gateway: GatewaySettings = Field(default_factory=GatewaySettings)
    workers_per_process: int = Field(default=1, ge=1)
    log_level: str = "INFO"
    state_dir: Path = Path(".flywheel")

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"unknown log level {value!r}")
        return level

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Init kwargs, then environment, then the optional config file, then defaults."""
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings, file_secret_settings]
        config_file = os.environ.get(CONFIG_FILE_ENV)
        if config_file:
            path = Path(config_file)
            if not path.is_file():
                raise FileNotFoundError(f"{CONFIG_FILE_ENV}={config_file} does not name a readable file")
            if path.suffix == ".toml":
                sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
            elif path.suffix in {".yaml", ".yml"}:
                sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=path))
            else:
                raise ValueError(f"{CONFIG_FILE_ENV} must end in .toml, .yaml or .yml, got {path.name}")
        return tuple(sources)


def _as_uri(location: str) -> str:
    """A warehouse location as a URI; bare local paths become absolute ``file://`` URIs."""
    if "://" in location:
        return location
    path = Path(location).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path.as_uri()


def load_settings(**overrides: Any) -> Settings:
    """Load the settings once; callers pass the result down instead of reading globals."""
    return Settings(**overrides)


def local_settings(bootstrap_servers: str, root: Path, **overrides: Any) -> Settings:
    """Settings for a broker at ``bootstrap_servers`` with catalog, warehouse and recovery under ``root``.

    Used by the demo, the benchmark and the tests; ``overrides`` are merged section by section.
    """
    root = root.resolve()
    sections: dict[str, Any] = {
        "kafka": {"bootstrap_servers": bootstrap_servers},
        "catalog": {"uri": f"sqlite:///{root / 'catalog.db'}", "warehouse": str(root / "warehouse")},
        "recovery": {"directory": root / "recovery"},
        "metrics": {"enabled": False},
        "state_dir": root,
    }
    for key, value in overrides.items():
        current = sections.get(key)
        sections[key] = {**current, **value} if isinstance(value, dict) and isinstance(current, dict) else value
    return Settings(**sections)
