"""``flywheel trainer`` commands: help everywhere, bad configuration exits 2 with a clear message."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from flywheel.trainer_cli import app

runner = CliRunner()


@pytest.mark.parametrize(
    "command", [[], ["track"], ["run"], ["turn"], ["runs"], ["show"], ["export"], ["prepare-model"]]
)
def test_every_command_has_help(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "FLYWHEEL_CATALOG__URI": f"sqlite:///{tmp_path / 'catalog.db'}",
        "FLYWHEEL_CATALOG__WAREHOUSE": str(tmp_path / "warehouse"),
        "FLYWHEEL_STATE_DIR": str(tmp_path),
        **extra,
    }


def test_unknown_model_exits_2(tmp_path: Path) -> None:
    env = _env(tmp_path, FLYWHEEL_TRAINER__BASE_MODEL=str(tmp_path / "no-such-model"))
    result = runner.invoke(app, ["run", "--no-progress"], env=env)
    assert result.exit_code == 2 and "unknown base model" in result.output
    assert "Traceback" not in result.output


def test_unreadable_registry_exits_2(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    env = _env(
        tmp_path, FLYWHEEL_TRAINER__BASE_MODEL=str(tmp_path), FLYWHEEL_TRAINER__REGISTRY_URL=str(blocker / "registry")
    )
    result = runner.invoke(app, ["run", "--no-progress"], env=env)
    assert result.exit_code == 2 and "registry" in result.output


def test_missing_table_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["export", "--ref", "train-x", "-o", str(tmp_path / "x.jsonl")], env=_env(tmp_path))
    assert result.exit_code == 2 and "missing" in result.output


def test_runs_of_an_empty_registry(tmp_path: Path) -> None:
    listed = runner.invoke(app, ["runs", "--json"], env=_env(tmp_path))
    assert listed.exit_code == 0 and listed.stdout.strip() == "[]"
    shown = runner.invoke(app, ["show", "r123"], env=_env(tmp_path))
    assert shown.exit_code == 2 and "no run 'r123'" in shown.output


def test_bad_setting_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["track"], env=_env(tmp_path, FLYWHEEL_TRAINER__THRESHOLD="0"))
    assert result.exit_code == 2 and "configuration error" in result.output
