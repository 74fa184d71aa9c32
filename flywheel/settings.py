"""One typed configuration object for every part of the flywheel.

Loaded once, from (highest priority first) explicit keyword arguments, ``FLYWHEEL_*``
environment variables (nested with ``__``, e.g. ``FLYWHEEL_KAFKA__BOOTSTRAP_SERVERS``),
an optional TOML or YAML file named by ``FLYWHEEL_CONFIG_FILE``, and the defaults below,
which describe the embedded local stack (bundled broker, SQLite catalog, local warehouse).
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
    YamlConfigSettingsSource,
)

from flywheel.config import (
    CatalogSettings,
    KafkaSettings,
    MaintenanceSettings,
    MetricsSettings,
    RecoverySettings,
    Section,
    SinkSettings,
    SourceSettings,
    TopicSettings,
    ValidationSettings,
    merge_sections,
)
from flywheel.flows.config import FlowConfig
from flywheel.gateway.config import GatewayConfig, GatewaySettings
from flywheel.operators.config import CurationSettings
from flywheel.review.config import ReviewConfig, ReviewSettings
from flywheel.serving.config import ServingConfig, ServingSettings
from flywheel.trainer.config import TrainerConfig, TrainerSettings

ENV_PREFIX = "FLYWHEEL_"
CONFIG_FILE_ENV = "FLYWHEEL_CONFIG_FILE"
SectionT = TypeVar("SectionT", bound=Section)


class Settings(BaseSettings):
    """Everything the flywheel needs, defaulting to the embedded local stack."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
        frozen=True,
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
    maintenance: MaintenanceSettings = Field(default_factory=MaintenanceSettings)
    review: ReviewSettings = Field(default_factory=ReviewSettings)
    serving: ServingSettings = Field(default_factory=ServingSettings)
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

    def flow_config(self) -> FlowConfig:
        """The sections the curation flow reads."""
        return _section_of(self, FlowConfig)

    def trainer_config(self) -> TrainerConfig:
        """The sections the tracker and the trainer read."""
        return _section_of(self, TrainerConfig)

    def gateway_config(self) -> GatewayConfig:
        """The sections the gateway reads."""
        return _section_of(self, GatewayConfig)

    def review_config(self) -> ReviewConfig:
        """The sections the review queue and app read."""
        return _section_of(self, ReviewConfig)

    def serving_config(self) -> ServingConfig:
        """The sections the model server reads; registry and base model are the trainer's."""
        registry = self.trainer.registry_url or str((self.state_dir / "registry").resolve())
        return ServingConfig(
            kafka=self.kafka,
            topics=self.topics,
            catalog=self.catalog,
            serving=self.serving,
            registry_url=registry,
            base_model=self.serving.base_model or self.trainer.base_model,
            lora_rank=self.trainer.lora.r,
            state_dir=self.state_dir,
        )

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


def _section_of(settings: Settings, config: type[SectionT]) -> SectionT:
    """A component's config built from the same-named fields of the root settings."""
    return config(**{name: getattr(settings, name) for name in config.model_fields})


def load_settings(**overrides: Any) -> Settings:
    """Load the settings once; callers pass the result down instead of reading globals.

    Raises :class:`UnknownVariable` for a ``FLYWHEEL_*`` variable directly under the root that
    names no setting (pydantic-settings reads only the variables of known fields, so a typo such
    as ``FLYWHEEL_STATE_DIRECTORY`` would otherwise leave the default in place without a word).
    """
    settings = Settings(**overrides)
    unknown = unknown_root_variables(os.environ, settings)
    if unknown:
        # The same line as an unknown key of a section, with the root as the section.
        raise UnknownVariable(
            "; ".join(_unknown_setting(Settings, [name[len(ENV_PREFIX) :].lower()]) for name in unknown)
        )
    return settings


class UnknownVariable(ValueError):
    """A ``FLYWHEEL_*`` environment variable that names no setting."""


def unknown_root_variables(environ: Mapping[str, str], settings: Settings) -> list[str]:
    """The ``FLYWHEEL_*`` variables without ``__`` that name no root setting, sorted.

    Known besides the settings: ``FLYWHEEL_CONFIG_FILE`` and the variable the judge's
    ``api_key_env`` names (a secret read from the environment, not a setting).
    """
    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    known |= {CONFIG_FILE_ENV, settings.curation.judge.api_key_env}
    return sorted(
        name
        for name in environ
        if name.upper().startswith(ENV_PREFIX) and "__" not in name and name.upper() not in known
    )


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
    return Settings(**merge_sections(sections, overrides))


def settings_error_message(exc: ValidationError) -> str:
    """One line per invalid setting of ``exc``, never its value (it may be a secret).

    An unknown key names its environment variable and the closest known key of its section,
    so ``FLYWHEEL_KAFKA__BOOTSTRAP_SERVER`` reads "did you mean kafka.bootstrap_servers?".
    """
    lines = []
    for error in exc.errors():
        path = ".".join(str(part) for part in error["loc"])
        if error["type"] == "extra_forbidden":
            lines.append(_unknown_setting(Settings, [str(part) for part in error["loc"]]))
        else:
            lines.append(f"{path}: {error['msg']}")
    return "; ".join(lines)


def settings_source_error_message(exc: Exception, environ: Mapping[str, str]) -> str:
    """One line for a value pydantic-settings could not parse, naming the ``FLYWHEEL_*`` variable.

    pydantic-settings names only the section (``error parsing value for field "kafka"``) when a
    JSON-valued variable such as ``FLYWHEEL_KAFKA__CLIENT_CONFIG`` is malformed; the variable is
    found again here and named with the JSON error's position, never its value (often a secret).
    """
    found = re.search(r'field "(\w+)"', str(exc))
    section = ENV_PREFIX + (found.group(1).upper() if found else "")
    lines = []
    for name in sorted(environ):
        upper, value = name.upper(), environ[name]
        if not (upper == section or upper.startswith(section + "__")) or value.lstrip()[:1] not in ("{", "["):
            continue
        try:
            json.loads(value)
        except json.JSONDecodeError as error:
            lines.append(f"{upper}: not valid JSON ({error.msg} at line {error.lineno} column {error.colno})")
    if lines:
        return "; ".join(lines)
    return f"{exc}: {exc.__cause__}" if exc.__cause__ else str(exc)


def _unknown_setting(model: type[BaseModel], path: list[str]) -> str:
    section: Any = model
    for part in path[:-1]:
        is_model = isinstance(section, type) and issubclass(section, BaseModel)
        field = section.model_fields.get(part) if is_model else None
        section = field.annotation if field is not None else None
    name = ".".join(path)
    variable = ENV_PREFIX + "__".join(path).upper()
    message = f"{name} ({variable}): unknown setting"
    if isinstance(section, type) and issubclass(section, BaseModel):
        known = list(section.model_fields)
        close = difflib.get_close_matches(path[-1], known, n=1)
        prefix = ".".join([*path[:-1], ""])
        message += f"; did you mean {prefix}{close[0]}?" if close else f"; known here: {', '.join(known)}"
    return message


def split_secrets(settings: Settings) -> tuple[dict[str, Any], dict[str, str]]:
    """``settings`` as a config file's content without its secrets, and the environment that carries them.

    A dumped ``SecretStr`` is masked (``**********``), so a child process configured from the
    dump alone would take the mask for a password. Each secret becomes one ``FLYWHEEL_*``
    variable instead (a mapping of secrets as JSON), which the child reads over the file.
    """
    config = settings.model_dump(mode="json")
    environment: dict[str, str] = {}
    _move_secrets(settings, config, ENV_PREFIX, environment)
    return config, environment


def _move_secrets(model: BaseModel, dumped: dict[str, Any], prefix: str, environment: dict[str, str]) -> None:
    for name in type(model).model_fields:
        value = getattr(model, name)
        variable = f"{prefix}{name.upper()}"
        if isinstance(value, BaseModel):
            _move_secrets(value, dumped[name], variable + "__", environment)
        elif isinstance(value, SecretStr):
            del dumped[name]
            environment[variable] = value.get_secret_value()
        elif isinstance(value, dict) and any(isinstance(secret, SecretStr) for secret in value.values()):
            del dumped[name]
            environment[variable] = json.dumps({key: _revealed(secret) for key, secret in value.items()})


def _revealed(value: Any) -> Any:
    return value.get_secret_value() if isinstance(value, SecretStr) else value
