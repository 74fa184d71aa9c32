"""Trainer consumer against the real broker and catalog, with a tiny random Llama.

Covers: a crossing is trained once (adapter, card, result, tag), with the positives committed
just after the crossing still used for the forgetting check; the run is listed by ``trainer runs``
and its adapter loads with PEFT; a re-delivered trigger produces nothing new; a failing gate yields
``rejected`` with reasons; a trainer killed mid-run retrains on redelivery and still yields
exactly one result.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from flywheel.config import revised
from flywheel.infra.catalog import ensure_tables, open_catalog
from flywheel.infra.dataset import quarantine
from flywheel.infra.kafka import CheckedProducer
from flywheel.schemas.registry import ALIAS_FILE
from flywheel.schemas.tables import DPO_PAIRS, POSITIVE_EXAMPLES
from flywheel.settings import Settings
from flywheel.trainer import tracker
from flywheel.trainer.config import GateSettings, TrainerSettings
from flywheel.trainer.consumer import TrainerConsumer, snapshot_tag
from flywheel.trainer.dataset import read_pairs, still_held
from flywheel.trainer.events import TrainingResult, TrainingTrigger
from flywheel.trainer.io import read_topic
from flywheel.trainer.registry import Registry
from tests.conftest import wait_for
from tests.support.synthetic import append_rows, build_tiny_model, pair_rows, positive_rows

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random 2-layer Llama with a tokenizer trained on the synthetic corpus (built once)."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))


def _trainer_settings(model: Path, **overrides: object) -> TrainerSettings:
    base: dict[str, object] = {
        "threshold": 40,
        "base_model": str(model),
        "max_steps": 6,
        "batch_size": 4,
        "learning_rate": 5e-3,
        "max_length": 64,
        "max_prompt_length": 32,
        "eval_fraction": 0.25,
        "eval_max_new_tokens": 16,
        "idle_timeout_s": 5.0,
        "poll_timeout_s": 0.2,
        "lora": {"r": 4, "alpha": 8, "dropout": 0.0},
    }
    return TrainerSettings(**{**base, **overrides})


def _results(settings: Settings) -> list[TrainingResult]:
    return [TrainingResult.model_validate_json(v) for v in read_topic(settings.kafka, settings.topics.training_results)]


def _cross_threshold(settings: Settings, positives_after_pairs: bool = False) -> TrainingTrigger:
    catalog = open_catalog(settings.catalog)
    tables = ensure_tables(catalog, settings.catalog)
    if not positives_after_pairs:
        append_rows(tables[POSITIVE_EXAMPLES], positive_rows(16))
    append_rows(tables[DPO_PAIRS], pair_rows(48))
    if positives_after_pairs:  # as the flow commits them: a moment after the pairs' snapshot
        append_rows(tables[POSITIVE_EXAMPLES], positive_rows(16))
    emitted = tracker.check(settings.trainer_config(), catalog).emitted
    assert len(emitted) == 1
    return emitted[0]


def test_trigger_trains_once_and_redelivery_is_skipped(settings: Settings, tiny_model: Path) -> None:
    settings = revised(settings, trainer=_trainer_settings(tiny_model, gates=GateSettings(max_forgetting_pct=1000.0)))
    trigger = _cross_threshold(settings, positives_after_pairs=True)
    assert trigger.positives_snapshot_id is None  # none existed at the crossing's commit

    statuses = ("promoted", "rejected")
    runs_before = {s: REGISTRY.get_sample_value("flywheel_training_runs_total", {"status": s}) or 0.0 for s in statuses}
    report = TrainerConsumer(settings.trainer_config()).run(until_idle=True)
    assert [r.trigger_id for r in report.results] == [trigger.trigger_id]
    result = report.results[0]
    assert REGISTRY.get_sample_value("flywheel_training_runs_total", {"status": result.status}) == (
        runs_before[result.status] + 1
    )
    assert REGISTRY.get_sample_value("flywheel_training_eval_preference_accuracy", {"phase": "after"}) == pytest.approx(
        result.after.logprob_accuracy_normalised.value if result.after else -1
    )
    assert result.snapshot_id == trigger.snapshot_id and result.train_pairs + result.eval_pairs <= 48
    assert result.before is not None and result.after is not None and result.comparison is not None
    assert result.comparison.dpo_reward_margin.value > 0, "DPO should widen the margin against the reference"
    # Too few held-out prompts for the default gates: decided on evidence, and said so.
    assert result.status == "rejected" and result.reasons[0].startswith("not enough evidence"), result.reasons
    # The positives committed just after the pairs are the forgetting check's evidence.
    assert result.after.eval_positives == 16 and result.forgetting_pct is not None

    registry = Registry.from_settings("", settings.state_dir)
    card = registry.read_card(result.run_id)
    assert card is not None and card["dataset"]["snapshot_id"] == trigger.snapshot_id
    assert (
        card["dataset"]["positives_snapshot_id"] is not None and card["metrics"]["forgetting"]["status"] == "measured"
    )
    cap = card["dataset"]["share_cap"]  # 13 users: the 10% user cap trims the busiest ones
    assert result.train_pairs + result.eval_pairs + cap["dropped_for_prompt"] + cap["dropped_for_user"] == 48
    assert cap["largest_user_share"] <= 0.1
    assert card["policy_versions"] == ["synthetic-1"]
    assert card["split"]["by"] == "prompt or chosen answer (linked groups)"
    assert len(card["split"]["eval_prompt_set_hash"]) == 64
    assert card["formatting"] == "plain text" and card["reasons"] == result.reasons
    # The synthetic answers are prose: code parsing says so rather than reporting a rate of nothing.
    assert card["metrics"]["code"]["status"] == "no held-out answer had Python code: not measured"
    assert card["metrics"]["after"]["code_parse_rate"] is None and card["gates"]["max_code_parse_drop"] == 0.05
    adapter = settings.state_dir / "registry" / "runs" / result.run_id / "adapter"
    assert (adapter / "adapter_config.json").is_file() and (adapter / "adapter_model.safetensors").is_file()
    _check_listing(settings, result, tiny_model)
    table = open_catalog(settings.catalog).load_table(trigger.table)
    assert table.metadata.refs[snapshot_tag(result.run_id)].snapshot_id == trigger.snapshot_id
    positives = open_catalog(settings.catalog).load_table(trigger.positives_table)
    assert positives.metadata.refs[snapshot_tag(result.run_id)].snapshot_id == card["dataset"]["positives_snapshot_id"]
    assert [r.trigger_id for r in _results(settings)] == [trigger.trigger_id]

    # The same trigger delivered again (e.g. the tracker re-sent it) produces nothing new.
    card_mtime = (adapter.parent / "model_card.json").stat().st_mtime_ns
    CheckedProducer(settings.kafka).send_durably(
        settings.topics.training_triggers,
        trigger.trigger_id,
        trigger.model_dump_json().encode(),
    )
    again = TrainerConsumer(settings.trainer_config()).run(until_idle=True)
    assert again.results == [] and again.skipped == [trigger.trigger_id]
    assert len(_results(settings)) == 1
    assert (adapter.parent / "model_card.json").stat().st_mtime_ns == card_mtime


def test_failing_gate_rejects_with_reasons(settings: Settings, tiny_model: Path) -> None:
    settings = revised(
        settings,
        trainer=_trainer_settings(
            tiny_model, max_steps=2, gates=GateSettings(min_preference_accuracy_gain=2.0, max_forgetting_pct=1000.0)
        ),
    )
    trigger = _cross_threshold(settings)
    _serve_an_adapter(settings, tiny_model, "r-served")  # users get a promoted run, not the base
    report = TrainerConsumer(settings.trainer_config()).run(until_idle=True)
    (result,) = report.results
    assert result.trigger_id == trigger.trigger_id and result.status == "rejected"
    assert any(reason.startswith("gate preference_accuracy") for reason in result.reasons)
    card = Registry.from_settings("", settings.state_dir).read_card(result.run_id)
    assert card is not None and card["status"] == "rejected" and card["reasons"] == result.reasons
    # The candidate was also measured against the served run's adapter, on the same prompts.
    assert result.comparison is not None and result.comparison.served_version == "r-served"
    assert result.comparison.served_net_closer is not None and result.comparison.served_similarity_gain is not None
    assert card["metrics"]["comparison"]["served_version"] == "r-served" and "evaluate_served" in card["timings_s"]
    (settings.state_dir / "registry" / ALIAS_FILE).unlink()


def _serve_an_adapter(settings: Settings, tiny_model: Path, run_id: str) -> None:
    """A LoRA adapter of the tiny model in the registry, and the server's alias making it current."""
    from peft import LoraConfig, get_peft_model

    from flywheel.trainer.models import load_model

    root = settings.state_dir / "registry"
    adapted = get_peft_model(load_model(str(tiny_model), "cpu"), LoraConfig(r=4, lora_alpha=8, init_lora_weights=False))
    adapted.save_pretrained(str(root / "runs" / run_id / "adapter"))
    (root / ALIAS_FILE).write_text(json.dumps({"current": run_id}))


def test_a_later_run_keeps_the_sides_of_the_served_run(settings: Settings, tiny_model: Path) -> None:
    import pyarrow as pa
    from typer.testing import CliRunner

    from flywheel.schemas.tables import contracts
    from flywheel.trainer_cli import app

    settings = revised(settings, trainer=_trainer_settings(tiny_model, max_steps=2))
    _cross_threshold(settings)
    (first,) = TrainerConsumer(settings.trainer_config()).run(until_idle=True).results
    registry = Registry.from_settings("", settings.state_dir)
    earlier, first_card = registry.read_split(first.run_id), registry.read_card(first.run_id)
    assert earlier is not None and earlier.eval_keys and first_card is not None
    (settings.state_dir / "registry" / ALIAS_FILE).write_text(json.dumps({"current": first.run_id}))  # users get it
    # 48 more pairs, each answered its own way: 48 new groups beside the first snapshot's six.
    more = [{**row, "chosen": f"{row['chosen']} ({row['event_id']})"} for row in pair_rows(48, start=48).to_pylist()]
    catalog = open_catalog(settings.catalog)
    append_rows(
        ensure_tables(catalog, settings.catalog)[DPO_PAIRS],
        pa.Table.from_pylist(more, contracts()[DPO_PAIRS].arrow_schema),
    )
    assert len(tracker.check(settings.trainer_config(), catalog).emitted) == 1

    (second,) = TrainerConsumer(settings.trainer_config()).run(until_idle=True).results

    later, card = registry.read_split(second.run_id), registry.read_card(second.run_id)
    assert later is not None and card is not None
    assert earlier.eval_keys <= later.eval_keys and earlier.trained_keys <= later.trained_keys
    split = card["split"]
    assert split["previous"] == {"runs": [first.run_id], "unrecorded_runs": [], "rebuilt_runs": [], "not_rebuilt": {}}
    assert split["carried_eval_prompts"] == first_card["split"]["eval_prompts"]
    assert split["new_groups"] == {"pairs": 48, "eval_pairs": 12, "eval_share": 0.25}
    assert split["new_eval_prompts"] == 12 and split["eval_prompts_trained_before"] == 0
    # Compared with the served run on every held-out prompt: it trained on none of their groups.
    assert second.comparison is not None and second.comparison.served_version == first.run_id
    assert second.comparison.served_prompts == second.eval_prompts and second.comparison.served_excluded_prompts == 0
    shown = CliRunner().invoke(app, ["show", second.run_id], env={"FLYWHEEL_STATE_DIR": str(settings.state_dir)})
    assert f"held out before (kept from {first.run_id}), 12 new" in shown.output
    assert f"against the served run {first.run_id} on all {second.eval_prompts} held-out prompts" in shown.output
    (settings.state_dir / "registry" / ALIAS_FILE).unlink()


def test_a_served_run_before_split_records_is_rebuilt_kept_and_left_out_where_it_trained(
    settings: Settings, tiny_model: Path
) -> None:
    import pyarrow as pa

    from flywheel.schemas.tables import contracts
    from flywheel.trainer.registry import LATEST_SPLIT_FILE
    from flywheel.trainer.split import pair_prompt_key
    from flywheel.trainer.split_rebuild import PRE_STICKY_SPLIT_RULE

    settings = revised(settings, trainer=_trainer_settings(tiny_model, max_steps=2))
    _cross_threshold(settings)
    (first,) = TrainerConsumer(settings.trainer_config()).run(until_idle=True).results
    registry = Registry.from_settings("", settings.state_dir)
    original, card = registry.read_split(first.run_id), registry.read_card(first.run_id)
    assert original is not None and card is not None
    # As a run before split records left the registry: no split.json, no latest pointer, its card's rule.
    root = settings.state_dir / "registry"
    (root / "runs" / first.run_id / "split.json").unlink()
    (root / LATEST_SPLIT_FILE).unlink()
    sticky = ("previous", "carried_eval_prompts", "new_eval_prompts", "eval_prompts_trained_before", "new_groups")
    old_split = {key: value for key, value in card["split"].items() if key not in sticky}
    registry.write_card(first.run_id, {**card, "split": {**old_split, "rule": PRE_STICKY_SPLIT_RULE}})
    (root / ALIAS_FILE).write_text(json.dumps({"current": first.run_id}))  # users are served it
    # 48 pairs of new groups, and one giving a prompt it trained on a held-out pair's answer: one group now.
    catalog = open_catalog(settings.catalog)
    table = ensure_tables(catalog, settings.catalog)[DPO_PAIRS]
    rows = read_pairs(table, first.snapshot_id)
    held_row = next(row for row in rows if pair_prompt_key(row) in original.eval_keys)
    trained_row = next(row for row in rows if pair_prompt_key(row) in original.trained_keys)
    new = [{**row, "chosen": f"{row['chosen']} ({row['event_id']})"} for row in pair_rows(48, start=48).to_pylist()]
    linking = {**pair_rows(1, start=96).to_pylist()[0], "prompt": trained_row["prompt"], "chosen": held_row["chosen"]}
    append_rows(table, pa.Table.from_pylist([*new, linking], contracts()[DPO_PAIRS].arrow_schema))
    assert len(tracker.check(settings.trainer_config(), catalog).emitted) == 1

    (second,) = TrainerConsumer(settings.trainer_config()).run(until_idle=True).results

    # Rebuilt to exactly its sides, marked, once; the next run kept them and is the latest.
    assert registry.read_split(first.run_id) == original
    rebuilt = json.loads((root / "runs" / first.run_id / "split.json").read_text())["rebuilt_from"]
    assert rebuilt["snapshot_id"] == first.snapshot_id and rebuilt["rule"] == PRE_STICKY_SPLIT_RULE
    assert json.loads((root / LATEST_SPLIT_FILE).read_text()) == {"run_id": second.run_id}
    later, second_card = registry.read_split(second.run_id), registry.read_card(second.run_id)
    assert later is not None and second_card is not None and original.eval_keys <= later.eval_keys
    assert second_card["split"]["previous"] == {
        "runs": [first.run_id],
        "unrecorded_runs": [],
        "rebuilt_runs": [first.run_id],
        "not_rebuilt": {},
    }
    # The comparison with the served run leaves out the held-out group holding a prompt it trained on.
    comparison = second.comparison
    assert comparison is not None and comparison.served_version == first.run_id
    assert comparison.served_excluded_prompts is not None and comparison.served_excluded_prompts > 0
    assert comparison.served_prompts is not None
    assert comparison.served_prompts + comparison.served_excluded_prompts == second.eval_prompts
    (root / ALIAS_FILE).unlink()


def test_pairs_quarantined_after_the_trigger_are_not_trained_on(settings: Settings, tiny_model: Path) -> None:
    settings = revised(settings, trainer=_trainer_settings(tiny_model, max_steps=2))
    trigger = _cross_threshold(settings)
    # A user's rows are quarantined while the trigger waits on the topic: the trigger's snapshot
    # still has them, the table does not.
    table = open_catalog(settings.catalog).load_table(trigger.table)
    append_rows(table, pair_rows(4, start=48))  # only appends since the trigger: nothing to compare
    assert still_held(table, read_pairs(table, trigger.snapshot_id), trigger.snapshot_id).checked_snapshot_id is None
    removal = quarantine(table, datetime(2000, 1, 1), datetime(2100, 1, 1), "abuse", user_id="u-3")
    assert removal.rows == 4  # indices 3, 16, 29, 42; the 4 appended after the trigger (48-51) are others'

    pairs = read_pairs(table, trigger.snapshot_id)
    held = still_held(table, pairs, trigger.snapshot_id)
    assert len(pairs) == 48 and held.removed == 4 and held.checked_snapshot_id == removal.snapshot_id
    assert {row["user_id"] for row in held.rows} == {row["user_id"] for row in pairs} - {"u-3"}

    (result,) = TrainerConsumer(settings.trainer_config()).run(until_idle=True).results
    card = Registry.from_settings("", settings.state_dir).read_card(result.run_id)
    assert card is not None and card["dataset"]["snapshot_id"] == trigger.snapshot_id
    assert card["dataset"]["removed_since_trigger"] == {"pairs": 4, "checked_snapshot_id": removal.snapshot_id}
    cap = card["dataset"]["share_cap"]
    assert result.train_pairs + result.eval_pairs + cap["dropped_for_prompt"] + cap["dropped_for_user"] == 44
    status = Registry.from_settings("", settings.state_dir).read_status(result.run_id)
    assert status["pairs_removed_since_trigger"] == 4


def test_trigger_whose_pairs_were_all_removed_fails_without_training(settings: Settings, tiny_model: Path) -> None:
    settings = revised(settings, trainer=_trainer_settings(tiny_model, max_steps=2))
    trigger = _cross_threshold(settings)
    table = open_catalog(settings.catalog).load_table(trigger.table)
    assert quarantine(table, datetime(2000, 1, 1), datetime(2100, 1, 1), "bad batch").rows == 48

    (result,) = TrainerConsumer(settings.trainer_config()).run(until_idle=True).results
    assert result.status == "failed" and result.reasons == [
        f"all 48 pairs of snapshot {trigger.snapshot_id} were removed since"
    ]
    assert Registry.from_settings("", settings.state_dir).read_card(result.run_id) is None
    assert [r.trigger_id for r in _results(settings)] == [trigger.trigger_id]


def test_killed_trainer_retrains_on_redelivery(settings: Settings, tiny_model: Path, tmp_path: Path) -> None:
    settings = revised(settings, trainer=_trainer_settings(tiny_model, gates=GateSettings(max_forgetting_pct=1000.0)))
    trigger = _cross_threshold(settings)
    status_file = settings.state_dir / "registry" / "runs" / f"r{trigger.trigger_id[:12]}" / "status.json"
    slow = revised(settings, trainer={"max_steps": 100_000})  # long enough that the kill lands mid-training
    config = tmp_path / "slow.json"
    config.write_text(slow.model_dump_json())
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(config)],
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        start_new_session=True,
    )
    try:
        wait_for(lambda: status_file.is_file() or child.poll() is not None, 120, what="training to start")
        assert child.poll() is None, "trainer exited before it was killed"
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
    assert json.loads(status_file.read_text())["state"] == "training"
    assert _results(settings) == []

    # The dead member holds its partitions until its session expires and the group rebalances.
    settings = revised(settings, trainer={"idle_timeout_s": 20.0})
    report = TrainerConsumer(settings.trainer_config()).run(until_idle=True)
    assert [r.trigger_id for r in report.results] == [trigger.trigger_id]
    assert [r.trigger_id for r in _results(settings)] == [trigger.trigger_id]


def _check_listing(settings: Settings, result: TrainingResult, model: Path) -> None:
    """``trainer runs --json`` lists the run; ``trainer show`` says it in words; PEFT loads the adapter."""
    from peft import PeftModel
    from typer.testing import CliRunner

    from flywheel.trainer.models import load_model
    from flywheel.trainer_cli import app

    env = {"FLYWHEEL_STATE_DIR": str(settings.state_dir)}
    listed = CliRunner().invoke(app, ["runs", "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    (row,) = json.loads(listed.stdout)
    assert row["run_id"] == result.run_id and row["status"] == result.status
    assert row["snapshot_tag"] == snapshot_tag(result.run_id) and row["trigger_id"] == result.trigger_id
    assert row["closer"] == f"{result.comparison.closer}/{result.comparison.prompts}" if result.comparison else False
    assert row["primary_before"] == pytest.approx(result.before.similarity_to_users.value if result.before else -1)
    shown = CliRunner().invoke(app, ["show", result.run_id], env=env)
    assert shown.exit_code == 0 and "answers closer to users' corrections" in shown.stdout
    assert "REJECTED" in shown.stdout and "reason: not enough evidence" in shown.stdout
    missing = CliRunner().invoke(app, ["show", "r-nope"], env=env)
    assert missing.exit_code == 2 and "no run" in missing.output
    adapted = PeftModel.from_pretrained(load_model(str(model), "cpu"), row["adapter_uri"])
    assert adapted.peft_config["default"].r == 4


_CHILD = """
import json, sys
from flywheel.settings import Settings
from flywheel.trainer.consumer import TrainerConsumer
settings = Settings(**json.loads(open(sys.argv[1]).read()))
TrainerConsumer(settings.trainer_config()).run(until_idle=True)
"""
