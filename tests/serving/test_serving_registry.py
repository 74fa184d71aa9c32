"""The registry's current alias: promote, roll back, roll out; refused moves say why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flywheel.errors import AliasError
from flywheel.serving.registry import BASE, RegistryView


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
