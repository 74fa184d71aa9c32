"""The registry's current alias: promote, roll back, roll out; refused moves say why."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from flywheel.errors import AliasError
from flywheel.serving.registry import BASE, NotServable, RegistryView


def _run(root: Path, run_id: str, adapter: bool = True, card: bool = True) -> None:
    run = root / "runs" / run_id
    (run / "adapter").mkdir(parents=True)
    if adapter:
        (run / "adapter" / "adapter_config.json").write_text("{}")
    if card:
        (run / "model_card.json").write_text(json.dumps({"run_id": run_id}))


@pytest.fixture
def registry(tmp_path: Path) -> RegistryView:
    for run_id in ("r1", "r2", "r3"):
        _run(tmp_path, run_id)
    _run(tmp_path, "r-died", card=False)
    return RegistryView(str(tmp_path))


def test_fresh_registry_serves_base(registry: RegistryView) -> None:
    alias = registry.read_alias()
    assert alias.current == BASE and alias.candidate is None and alias.previous() is None


def test_promotions_then_rollback_walk_back_the_history(registry: RegistryView, tmp_path: Path) -> None:
    registry.promote("r1", trigger_id="t1")
    registry.promote("r2", trigger_id="t2")
    assert registry.read_alias().current == "r2"
    assert registry.rollback().current == "r1"
    assert registry.read_alias().current == "r1"
    assert registry.rollback(to=BASE).current == BASE
    assert registry.rollback(to="r3").current == "r3"
    actions = [change.action for change in registry.read_alias().history]
    assert actions == ["promote", "promote", "rollback", "rollback", "rollback"]
    assert not list(tmp_path.glob("*.partial"))  # the alias is renamed into place, never left half-written


def test_a_redelivered_promotion_is_applied_once(registry: RegistryView) -> None:
    assert registry.promote("r1", trigger_id="t1") is not None
    registry.rollback()
    assert registry.promote("r1", trigger_id="t1") is None  # the rollback stands
    assert registry.read_alias().current == BASE


def test_promotion_with_a_share_makes_a_candidate(registry: RegistryView) -> None:
    registry.promote("r1", trigger_id="t1")
    alias = registry.promote("r2", trigger_id="t2", share=0.1)
    assert alias is not None
    assert (alias.current, alias.candidate, alias.candidate_share) == ("r1", "r2", 0.1)
    assert alias.versions() == ["r1", "r2"]
    assert registry.rollback().candidate is None  # a rollback sends everyone to one version


def test_rollout_against_previous_and_off(registry: RegistryView) -> None:
    registry.promote("r1", trigger_id="t1")
    registry.promote("r2", trigger_id="t2")
    alias = registry.rollout("previous", 0.5)
    assert (alias.current, alias.candidate, alias.candidate_share) == ("r2", "r1", 0.5)
    off = registry.rollout(None, 0.0)
    assert (off.current, off.candidate, off.candidate_share) == ("r2", None, 0.0)


@pytest.mark.parametrize("run_id", ["r-missing", "r-died"])
def test_runs_that_are_not_servable_are_refused(registry: RegistryView, run_id: str) -> None:
    with pytest.raises(AliasError, match=run_id):
        registry.set_current(run_id)
    assert registry.read_alias().current == BASE


def test_nothing_to_roll_back_to(registry: RegistryView) -> None:
    with pytest.raises(AliasError, match="nothing to roll back"):
        registry.rollback()


def test_a_corrupt_alias_is_a_clear_error(registry: RegistryView, tmp_path: Path) -> None:
    (tmp_path / "current.json").write_text('{"current": 3')
    with pytest.raises(AliasError, match="not a valid alias"):
        registry.read_alias()


def test_an_object_store_registry_is_read_and_its_adapter_cached_locally(tmp_path: Path) -> None:
    import fsspec

    memory = fsspec.filesystem("memory")
    root = f"memory://registry-{tmp_path.name}"
    memory.pipe(f"{root}/runs/r1/model_card.json", b"{}")
    memory.pipe(f"{root}/runs/r1/adapter/adapter_config.json", b'{"r": 8}')
    memory.pipe(f"{root}/runs/r1/adapter/adapter_model.safetensors", b"weights")
    registry = RegistryView(root)
    registry.promote("r1", trigger_id="t1")
    assert RegistryView(root).read_alias().current == "r1"
    local = registry.local_adapter("r1", tmp_path / "cache")
    assert (local / "adapter_config.json").read_text() == '{"r": 8}'
    assert (local / "adapter_model.safetensors").read_bytes() == b"weights"
    assert registry.local_adapter("r1", tmp_path / "cache") == local  # copied once


# --- the card's status: the gates' verdict stands unless a person forces it


def _card_status(root: Path, run_id: str, status: str) -> None:
    (root / "runs" / run_id / "model_card.json").write_text(json.dumps({"run_id": run_id, "status": status}))


@pytest.mark.parametrize(
    "move",
    [
        lambda r, force: r.set_current("r3", force=force),
        lambda r, force: r.rollback(to="r3", force=force),
        lambda r, force: r.rollout("r3", 0.2, force=force),
    ],
    ids=["current --set", "rollback --to", "rollout --candidate"],
)
def test_a_rejected_run_is_refused_unless_forced(registry: RegistryView, tmp_path: Path, move: Any) -> None:
    _card_status(tmp_path, "r3", "rejected")
    with pytest.raises(NotServable, match=r"'r3' has status 'rejected'.*--force"):
        move(registry, False)
    assert registry.read_alias().history == []
    alias = move(registry, True)
    assert "r3" in alias.versions()
    assert registry.read_alias().versions() == alias.versions()


def test_a_promoted_card_is_served_and_a_rejected_promotion_notice_is_refused(
    registry: RegistryView, tmp_path: Path
) -> None:
    _card_status(tmp_path, "r1", "promoted")
    _card_status(tmp_path, "r2", "rejected")
    assert registry.set_current("r1").current == "r1"
    with pytest.raises(NotServable, match="'rejected'"):
        registry.promote("r2", trigger_id="t2")  # the follower's path has no force
    assert registry.read_alias().current == "r1"


def test_a_corrupt_card_is_a_clear_error(registry: RegistryView, tmp_path: Path) -> None:
    (tmp_path / "runs" / "r1" / "model_card.json").write_text('{"status": "prom')
    with pytest.raises(NotServable, match="unreadable model card"):
        registry.set_current("r1", force=True)
    (tmp_path / "runs" / "r2" / "model_card.json").write_text("[1, 2]")
    with pytest.raises(NotServable, match="not a JSON object"):
        registry.promote("r2", trigger_id="t2")
    assert registry.read_alias().current == BASE


# --- run ids become folder names: only well-formed ones are accepted

BAD_IDS = ["../r1", "../../outside", "r1/../r2", "..", ".", ".hidden", "r1/adapter", "a..b", "", "r1\n", "/abs"]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_malformed_run_ids_are_refused_at_every_entry(registry: RegistryView, tmp_path: Path, bad: str) -> None:
    for move in (
        lambda: registry.promote(bad, trigger_id="t-bad"),
        lambda: registry.set_current(bad, force=True),
        lambda: registry.rollback(to=bad, force=True),
        lambda: registry.rollout(bad, 0.5, force=True),
        lambda: registry.card(bad),
        lambda: registry.adapter_config(bad),
        lambda: registry.local_adapter(bad, tmp_path / "cache"),
    ):
        with pytest.raises(NotServable, match="not a valid run id"):
            move()
    assert registry.read_alias().history == []


def test_an_alias_naming_a_path_is_refused(registry: RegistryView, tmp_path: Path) -> None:
    (tmp_path / "current.json").write_text(json.dumps({"current": "../../etc", "candidate": None}))
    with pytest.raises(AliasError, match="not a valid run id"):
        registry.read_alias()
    (tmp_path / "current.json").write_text(
        json.dumps({"current": "r1", "candidate": "r2/../../x", "candidate_share": 1})
    )
    with pytest.raises(AliasError, match="not a valid run id"):
        registry.read_alias()


def test_a_remote_adapter_copy_never_touches_a_path_outside_the_cache(tmp_path: Path) -> None:
    import fsspec

    memory = fsspec.filesystem("memory")
    root = f"memory://registry-{tmp_path.name}-traversal"
    memory.pipe(f"{root}/runs/r1/adapter/adapter_config.json", b"{}")
    victim = tmp_path / "victim"  # cache/adapters/../../victim
    victim.mkdir()
    (victim / "keep.txt").write_text("precious")
    with pytest.raises(NotServable, match="not a valid run id"):
        RegistryView(root).local_adapter("../../victim", tmp_path / "cache")
    assert (victim / "keep.txt").read_text() == "precious"


def test_runs_lists_only_well_formed_ids(registry: RegistryView, tmp_path: Path) -> None:
    _run(tmp_path, ".staging")
    assert registry.runs() == ["r1", "r2", "r3"]


# --- the CLI: --force, and one line naming the status without it


def test_cli_refuses_a_rejected_run_without_force(registry: RegistryView, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from flywheel.cli import app

    _card_status(tmp_path, "r2", "rejected")
    env = {"FLYWHEEL_TRAINER__REGISTRY_URL": str(tmp_path), "FLYWHEEL_STATE_DIR": str(tmp_path / "state")}
    runner = CliRunner()
    for command in (
        ["model", "current", "--set", "r2"],
        ["model", "rollback", "--to", "r2"],
        ["model", "rollout", "--candidate", "r2", "--share", "0.5"],
    ):
        refused = runner.invoke(app, command, env=env)
        assert refused.exit_code == 2, refused.output
        assert "'rejected'" in refused.output and "Traceback" not in refused.output
        assert registry.read_alias().history == []
    forced = runner.invoke(app, ["model", "current", "--set", "r2", "--force"], env=env)
    assert forced.exit_code == 0 and "current: r2" in forced.output
    assert registry.read_alias().current == "r2"
    assert registry.read_alias().history[-1].note == "flywheel model current --set --force"
    rolled = runner.invoke(app, ["model", "rollback", "--to", "r1"], env=env)
    assert rolled.exit_code == 0 and registry.read_alias().current == "r1"
    split = runner.invoke(app, ["model", "rollout", "--candidate", "r2", "--share", "0.5", "--force"], env=env)
    assert split.exit_code == 0 and registry.read_alias().candidate == "r2"
