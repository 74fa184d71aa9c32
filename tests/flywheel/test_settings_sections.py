"""Every settings section refuses unknown keys, from code, a config file or the environment, in one clear line."""

from __future__ import annotations

import json
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError
from typer.testing import CliRunner

from flywheel.cli import app
from flywheel.config import CatalogSettings, KafkaSettings, Section
from flywheel.gateway.config import ReplayCacheSettings
from flywheel.settings import CONFIG_FILE_ENV, Settings, UnknownVariable, load_settings, settings_error_message

runner = CliRunner()


def sections(model: type[BaseModel]) -> set[type[BaseModel]]:
    """Every model class reachable from ``model``'s fields (inside optionals and mappings too)."""
    found: set[type[BaseModel]] = set()
    pending: list[object] = [field.annotation for field in model.model_fields.values()]
    while pending:
        annotation = pending.pop()
        pending.extend(typing.get_args(annotation))
        if isinstance(annotation, type) and issubclass(annotation, BaseModel) and annotation not in found:
            found.add(annotation)
            pending.extend(field.annotation for field in annotation.model_fields.values())
    return found


def test_the_settings_tree_has_nested_sections_below_the_root() -> None:
    found = sections(Settings)
    assert {KafkaSettings, ReplayCacheSettings} <= found and len(found) > 20
    assert all(issubclass(section, Section) for section in found)


SECTIONS = sorted(sections(Settings), key=lambda section: section.__name__)


@pytest.mark.parametrize("section", SECTIONS, ids=[section.__name__ for section in SECTIONS])
def test_every_section_refuses_an_unknown_key(section: type[BaseModel]) -> None:
    with pytest.raises(ValidationError) as raised:
        section.model_validate({"no_such_setting": 1})
    assert [(e["type"], e["loc"]) for e in raised.value.errors()] == [("extra_forbidden", ("no_such_setting",))]


def test_a_typo_in_a_nested_environment_variable_names_it_and_the_right_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLYWHEEL_GATEWAY__REPLAY_CACHE__PASWORD", "hunter2-secret")
    with pytest.raises(ValidationError) as raised:
        load_settings()
    message = settings_error_message(raised.value)
    assert message == (
        "gateway.replay_cache.pasword (FLYWHEEL_GATEWAY__REPLAY_CACHE__PASWORD): unknown setting; "
        "did you mean gateway.replay_cache.password?"
    )
    assert "hunter2" not in message  # the value of a mistyped key may be a secret


def test_nested_environment_variables_still_set_their_sections(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLYWHEEL_KAFKA__BOOTSTRAP_SERVERS", "broker-1:9092")
    monkeypatch.setenv("FLYWHEEL_GATEWAY__RATE_LIMIT__BURST", "7")
    monkeypatch.setenv("FLYWHEEL_GATEWAY__API_KEYS", json.dumps({"team-a": "key-a"}))
    monkeypatch.setenv("FLYWHEEL_CURATION__QUOTA__PER_USER_PER_DAY", "3")
    settings = load_settings()
    assert settings.kafka.bootstrap_servers == "broker-1:9092"
    assert settings.gateway.rate_limit.burst == 7
    assert settings.gateway.api_keys["team-a"].get_secret_value() == "key-a"
    assert settings.curation.quota.per_user_per_day == 3


def test_an_unknown_key_in_a_config_file_section_lists_the_known_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "flywheel.yaml"
    config.write_text("curation:\n  quota:\n    zzz: 1\n", encoding="utf-8")
    monkeypatch.setenv(CONFIG_FILE_ENV, str(config))
    with pytest.raises(ValidationError) as raised:
        load_settings()
    message = settings_error_message(raised.value)
    assert message.startswith("curation.quota.zzz (FLYWHEEL_CURATION__QUOTA__ZZZ): unknown setting; known here: ")
    assert "per_user_per_day" in message


def test_the_cli_reports_a_mistyped_setting_in_one_line_and_exits_2() -> None:
    result = runner.invoke(app, ["config", "--json"], env={"FLYWHEEL_KAFKA__BOOTSTRAP_SERVER": "broker-1:9092"})
    assert result.exit_code == 2
    assert "did you mean kafka.bootstrap_servers?" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("command", [["gateway", "openapi"], ["gateway", "serve", "--port", "1"]])
def test_gateway_commands_report_a_mistyped_setting_in_one_line(command: list[str]) -> None:
    result = runner.invoke(app, command, env={"FLYWHEEL_GATEWAY__PORTT": "8081"})
    assert result.exit_code == 2, result.output
    assert "did you mean gateway.port?" in result.output and "Traceback" not in result.output


def test_a_typo_in_a_root_environment_variable_is_named_with_the_right_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLYWHEEL_STATE_DIRECTORY", "/srv/flywheel-secret-path")
    with pytest.raises(UnknownVariable) as raised:
        load_settings()
    assert str(raised.value) == "state_directory (FLYWHEEL_STATE_DIRECTORY): unknown setting; did you mean state_dir?"
    assert "secret-path" not in str(raised.value)


def test_an_unknown_root_variable_without_a_close_match_lists_the_known_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLYWHEEL_ZZZ", "1")
    with pytest.raises(UnknownVariable) as raised:
        load_settings()
    assert str(raised.value).startswith("zzz (FLYWHEEL_ZZZ): unknown setting; known here: ")
    assert "kafka" in str(raised.value) and "log_level" in str(raised.value)


def test_root_variables_the_flywheel_reads_are_known(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FLYWHEEL_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("flywheel_log_level", "DEBUG")  # pydantic-settings ignores case; so does the check
    monkeypatch.setenv("FLYWHEEL_JUDGE_API_KEY", "s3cret")  # the judge's default api_key_env
    monkeypatch.setenv("FLYWHEEL_CURATION__JUDGE__API_KEY_ENV", "FLYWHEEL_TEAM_JUDGE_KEY")
    monkeypatch.setenv("FLYWHEEL_TEAM_JUDGE_KEY", "s3cret")
    with pytest.raises(UnknownVariable, match=r"judge_api_key \(FLYWHEEL_JUDGE_API_KEY\): unknown setting"):
        load_settings()  # the default name is a secret's only while the judge reads it
    monkeypatch.delenv("FLYWHEEL_JUDGE_API_KEY")
    settings = load_settings()
    assert settings.state_dir == tmp_path and settings.log_level == "DEBUG"


def test_the_cli_reports_an_unknown_root_variable_in_one_line_and_exits_2() -> None:
    result = runner.invoke(app, ["config", "--json"], env={"FLYWHEEL_LOGLEVEL": "DEBUG"})
    assert result.exit_code == 2
    assert "loglevel (FLYWHEEL_LOGLEVEL): unknown setting; did you mean log_level?" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("variable", "value", "where"),
    [
        ("FLYWHEEL_KAFKA__CLIENT_CONFIG", '{"sasl.password": hunter2}', "Expecting value at line 1 column 19"),
        ("FLYWHEEL_REVIEW__REVIEWERS", '{"alice": "hunter2",}', "line 1 column 21"),
    ],
)
def test_malformed_json_in_a_variable_is_named_in_one_line_without_its_value(
    variable: str, value: str, where: str
) -> None:
    # pydantic-settings alone says 'error parsing value for field "kafka" from source "EnvSettingsSource"'.
    result = runner.invoke(app, ["config", "--json"], env={variable: value})
    assert result.exit_code == 2, result.output
    assert f"configuration error: {variable}: not valid JSON (" in result.output and where in result.output
    assert "hunter2" not in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        (
            "postgresql+psycopg2://flywheel:hunter2@db:5432/catalog",
            "postgresql+psycopg2://flywheel:***@db:5432/catalog",
        ),
        ("postgresql://u:p%40ss@h/d", "postgresql://u:***@h/d"),
        ("https://user@rest.example/iceberg", "https://user@rest.example/iceberg"),
        ("sqlite:///.flywheel/catalog.db", "sqlite:///.flywheel/catalog.db"),
        ("http://127.0.0.1:8181", "http://127.0.0.1:8181"),
    ],
)
def test_a_catalog_uri_is_shown_without_its_password(uri: str, shown: str) -> None:
    # Error bodies (the gateway's 503), logs and CLI lines show this, never the password.
    assert CatalogSettings(uri=uri).shown_uri == shown
