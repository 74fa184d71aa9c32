"""``flywheel model`` and ``flywheel impact``: the alias moves on the trainer's registry; errors exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flywheel.cli import app
from flywheel.serving.registry import RegistryView

runner = CliRunner()


@pytest.mark.parametrize("command", [["serve"], ["impact"], ["model"], ["model", "rollback"], ["model", "rollout"]])
def test_every_command_has_help(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output


def _registry(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    root = tmp_path / "models"
    for run in ("r1", "r2"):
        (root / "runs" / run / "adapter").mkdir(parents=True)
        (root / "runs" / run / "adapter" / "adapter_config.json").write_text("{}")
        (root / "runs" / run / "model_card.json").write_text(json.dumps({"run_id": run}))
    return root, {"FLYWHEEL_TRAINER__REGISTRY_URL": str(root), "FLYWHEEL_STATE_DIR": str(tmp_path)}


def test_model_commands_move_the_alias_of_the_trainers_registry(tmp_path: Path) -> None:
    root, env = _registry(tmp_path)
    assert runner.invoke(app, ["model", "current", "--set", "r1"], env=env).exit_code == 0
    assert runner.invoke(app, ["model", "current", "--set", "r2"], env=env).exit_code == 0
    shown = runner.invoke(app, ["model", "current"], env=env)
    assert shown.exit_code == 0 and "current: r2" in shown.output
    rolled = runner.invoke(app, ["model", "rollback"], env=env)
    assert rolled.exit_code == 0 and "current: r1" in rolled.output
    assert RegistryView(str(root)).read_alias().current == "r1"
    split = runner.invoke(app, ["model", "rollout", "--candidate", "previous", "--share", "0.25"], env=env)
    assert split.exit_code == 0 and "candidate: r2 for 25% of users" in split.output


def test_unknown_run_exits_2_with_one_line(tmp_path: Path) -> None:
    _, env = _registry(tmp_path)
    result = runner.invoke(app, ["model", "rollback", "--to", "r-nope"], env=env)
    assert result.exit_code == 2 and "r-nope" in result.output and "Traceback" not in result.output


def test_impact_without_tables_exits_2(tmp_path: Path) -> None:
    env = {
        "FLYWHEEL_CATALOG__URI": f"sqlite:///{tmp_path / 'catalog.db'}",
        "FLYWHEEL_CATALOG__WAREHOUSE": str(tmp_path / "warehouse"),
        "FLYWHEEL_STATE_DIR": str(tmp_path),
    }
    result = runner.invoke(app, ["impact"], env=env)
    assert result.exit_code == 2 and "table missing" in result.output and "Traceback" not in result.output


def test_impact_reads_the_tables(tmp_path: Path) -> None:
    from flywheel.config import CatalogSettings
    from flywheel.infra.catalog import ensure_tables, open_catalog
    from tests.support.synthetic import append_rows, pair_rows, positive_rows

    catalog = CatalogSettings(uri=f"sqlite:///{tmp_path / 'catalog.db'}", warehouse=str(tmp_path / "warehouse"))
    tables = ensure_tables(open_catalog(catalog), catalog)
    append_rows(tables["dpo_pairs"], pair_rows(3))  # model_version v1, three edits
    append_rows(tables["positive_examples"], positive_rows(2))  # v1, sampled at 1%: 100 thumbs-up each
    env = {"FLYWHEEL_CATALOG__URI": catalog.uri, "FLYWHEEL_CATALOG__WAREHOUSE": catalog.warehouse}
    result = runner.invoke(app, ["impact", "--json"], env=env)
    assert result.exit_code == 0, result.output
    (version,) = json.loads(result.output)
    assert version["model_version"] == "v1" and version["interactions"] == 203
    assert version["rates"]["edit"]["count"] == 3 and version["rates"]["thumbs_up"]["count"] == 200
    # The users are read from the tables (rows of users u-0, u-1, u-2): the interval is widened for them.
    assert version["rates"]["edit"]["users"] == 3 and version["rates"]["edit"]["design_effect"] >= 1.0
