"""The curation flow's configuration: the sections of the root settings it reads, nothing else."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from flywheel.config import (
    CatalogSettings,
    KafkaSettings,
    MetricsSettings,
    RecoverySettings,
    Section,
    SinkSettings,
    SourceSettings,
    TopicSettings,
    ValidationSettings,
)
from flywheel.operators.config import CurationSettings


class FlowConfig(Section):
    """Kafka in, Iceberg out, recovery, validation limits and the curation chain's rules."""

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    topics: TopicSettings = Field(default_factory=TopicSettings)
    catalog: CatalogSettings = Field(default_factory=CatalogSettings)
    sink: SinkSettings = Field(default_factory=SinkSettings)
    recovery: RecoverySettings = Field(default_factory=RecoverySettings)
    validation: ValidationSettings = Field(default_factory=ValidationSettings)
    source: SourceSettings = Field(default_factory=SourceSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    curation: CurationSettings = Field(default_factory=CurationSettings)
    workers_per_process: int = Field(default=1, ge=1)
    state_dir: Path = Path(".flywheel")
