"""Trainer pieces that need no broker: split, gates, config validation, registry and model errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from flywheel.settings import Settings
from flywheel.trainer.config import GateSettings, TrainerSettings
from flywheel.trainer.dataset import is_eval, split_pairs
from flywheel.trainer.evaluate import apply_gates, forgetting_pct
from flywheel.trainer.events import EvalFigures, run_id_for, trigger_id_for
from flywheel.trainer.models import ModelError, resolve_base_model
from flywheel.trainer.registry import Registry, RegistryError


def _figures(accuracy: float, margin: float, likelihood: float | None = -2.0, pairs: int = 10) -> EvalFigures:
    return EvalFigures(
        preference_accuracy=accuracy, reward_margin=margin, positives_log_likelihood=likelihood, eval_pairs=pairs
    )


def test_split_is_deterministic_and_near_the_fraction() -> None:
    rows = [{"pair_id": f"p{i}", "prompt": "x", "chosen": "a", "rejected": "b"} for i in range(2000)]
    first = split_pairs(rows, 0.1)
    second = split_pairs(list(reversed(rows)), 0.1)
    assert {r["pair_id"] for r in first.eval} == {r["pair_id"] for r in second.eval}
    assert 150 < len(first.eval) < 250
    assert not {r["pair_id"] for r in first.eval} & {r["pair_id"] for r in first.train}
    assert is_eval("p1", 0.1) == is_eval("p1", 0.1)


def test_tiny_split_keeps_one_eval_pair() -> None:
    rows = [{"pair_id": f"q{i}", "prompt": "x", "chosen": "a", "rejected": "b"} for i in range(3)]
    split = split_pairs(rows, 0.01)
    assert len(split.eval) >= 1 and len(split.train) + len(split.eval) == 3


def test_ids_are_pure_functions() -> None:
    assert trigger_id_for("uuid", 7) == trigger_id_for("uuid", 7) != trigger_id_for("uuid", 8)
    assert run_id_for("abcdef0123456789") == "rabcdef012345"


def test_gates_promote_improvement_and_list_every_failure() -> None:
    gates = GateSettings(min_preference_accuracy_gain=0.05, min_reward_margin_gain=0.01, max_forgetting_pct=5.0)
    assert apply_gates(_figures(0.5, 0.0), _figures(0.7, 0.2, -2.05), gates) == []
    reasons = apply_gates(_figures(0.5, 0.0), _figures(0.52, 0.0, -2.5), gates)
    assert [r.split()[0] for r in reasons] == ["preference_accuracy", "reward_margin", "forgetting"]
    assert forgetting_pct(_figures(0, 0, -2.0), _figures(0, 0, -2.5)) == pytest.approx(25.0)
    assert forgetting_pct(_figures(0, 0, None), _figures(0, 0, -2.5)) is None
    assert apply_gates(_figures(0.5, 0), _figures(0.9, 1, pairs=0), GateSettings(min_eval_pairs=1))[0].startswith(
        "eval_pairs"
    )


def test_trainer_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLYWHEEL_TRAINER__THRESHOLD", "200")
    monkeypatch.setenv("FLYWHEEL_TRAINER__GATES__MAX_FORGETTING_PCT", "2.5")
    monkeypatch.setenv("FLYWHEEL_TRAINER__LORA__R", "16")
    settings = Settings()
    assert settings.trainer.threshold == 200 and settings.trainer.gates.max_forgetting_pct == 2.5
    assert settings.trainer.lora.r == 16 and TrainerSettings().threshold == 5000
    with pytest.raises(ValidationError):
        TrainerSettings(max_length=64, max_prompt_length=64)
    with pytest.raises(ValidationError):
        TrainerSettings(threshold=0)


def test_unusable_registry_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="nosuchproto"):
        Registry("nosuchproto://bucket/registry")
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(RegistryError, match="not readable and writable"):
        Registry(str(blocker / "registry")).check()
    Registry(str(tmp_path / "ok")).check()


def test_unknown_model_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="unknown base model"):
        resolve_base_model(TrainerSettings(base_model=str(tmp_path / "missing-model")))
    assert resolve_base_model(TrainerSettings(base_model=str(tmp_path))) == str(tmp_path)
