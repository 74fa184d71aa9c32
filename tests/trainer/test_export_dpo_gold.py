"""``flywheel trainer export``: dpo_gold_v1.jsonl from a snapshot or tag, with earlier turns, loadable and trainable."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from flywheel.infra.catalog import ensure_tables, open_catalog, table_identifier
from flywheel.schemas.tables import DPO_PAIRS, contracts
from flywheel.settings import Settings
from flywheel.trainer_cli import app
from tests.support.synthetic import append_rows, build_tiny_model, pair_rows, prompt_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TURNS = [
    {"role": "system", "content": "You review Python code."},
    {"role": "user", "content": "Here is my list code."},
    {"role": "assistant", "content": "It looks fine; what should change?"},
]


def _env(settings: Settings) -> dict[str, str]:
    return {
        "FLYWHEEL_CATALOG__URI": settings.catalog.uri,
        "FLYWHEEL_CATALOG__WAREHOUSE": settings.catalog.warehouse,
        "FLYWHEEL_KAFKA__BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
        "FLYWHEEL_STATE_DIR": str(settings.state_dir),
    }


def _with_turns(rows: pa.Table) -> pa.Table:
    """Row 0 carries earlier turns as the flow stores them; row 1 a malformed stored conversation."""
    values = rows.to_pylist()
    values[0]["metadata"] = json.dumps({"conversation": TURNS})
    values[1]["metadata"] = json.dumps({"conversation": [{"role": "robot", "content": "beep"}]})
    return pa.Table.from_pylist(values, schema=contracts()[DPO_PAIRS].arrow_schema)


def _lines(path: Path) -> dict[str, dict[str, Any]]:
    """Exported examples by the text of the user's last message."""
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    return {
        line["prompt"][-1]["content"] if isinstance(line["prompt"], list) else line["prompt"]: line for line in lines
    }


def _train_one_step(data: Path, model_dir: Path, output: Path) -> float:
    from datasets import load_dataset
    from peft import LoraConfig
    from trl import DPOConfig, DPOTrainer

    from flywheel.trainer.models import load_model, load_tokenizer

    dataset = load_dataset("json", data_files=str(data), split="train")
    assert dataset.column_names == ["prompt", "chosen", "rejected"] and dataset.num_rows == 10
    trainer = DPOTrainer(
        model=load_model(str(model_dir), "cpu"),
        args=DPOConfig(
            output_dir=str(output),
            max_steps=1,
            per_device_train_batch_size=2,
            max_length=64,
            report_to="none",
            save_strategy="no",
            use_cpu=True,
            disable_tqdm=True,
        ),
        train_dataset=dataset,
        processing_class=load_tokenizer(str(model_dir)),
        peft_config=LoraConfig(r=2, lora_alpha=4, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"),
    )
    outcome = trainer.train()
    assert outcome.global_step == 1
    return float(outcome.training_loss)


def test_export_from_tag_carries_turns_loads_with_datasets_and_trains(settings: Settings, tmp_path: Path) -> None:
    catalog = open_catalog(settings.catalog)
    pairs = ensure_tables(catalog, settings.catalog)[DPO_PAIRS]
    append_rows(pairs, _with_turns(pair_rows(10)))
    identifier = table_identifier(settings.catalog, DPO_PAIRS)
    first = catalog.load_table(identifier).current_snapshot()
    assert first is not None
    catalog.load_table(identifier).manage_snapshots().create_tag(first.snapshot_id, "gold-v1").commit()
    append_rows(catalog.load_table(identifier), pair_rows(5, start=10))  # after the tag: not exported

    output = tmp_path / "out" / "dpo_gold_v1.jsonl"
    runner = CliRunner()
    result = runner.invoke(app, ["export", "--ref", "gold-v1", "-o", str(output), "--no-progress"], env=_env(settings))
    assert result.exit_code == 0, result.output
    assert "1 pairs had a malformed stored conversation" in result.output
    # TRL's conversational format (the default): the earlier turns, oldest first, then the user's message.
    lines = _lines(output)
    assert len(lines) == 10 and all(set(line) == {"prompt", "chosen", "rejected"} for line in lines.values())
    with_turns, malformed, single = (lines[prompt_for(index)] for index in range(3))
    assert with_turns["prompt"] == [*TURNS, {"role": "user", "content": prompt_for(0)}]
    assert with_turns["chosen"] == [{"role": "assistant", "content": pair_rows(1)["chosen"][0].as_py()}]
    assert malformed["prompt"] == [{"role": "user", "content": prompt_for(1)}]  # trained without it, as the trainer
    assert single["prompt"] == [{"role": "user", "content": prompt_for(2)}]

    by_id = runner.invoke(
        app, ["export", "--ref", str(first.snapshot_id), "-o", str(tmp_path / "by_id.jsonl")], env=_env(settings)
    )
    assert by_id.exit_code == 0 and (tmp_path / "by_id.jsonl").read_text() == output.read_text()

    # TRL's standard format: strings; the turns' texts come first, as for a model without a chat template.
    standard = tmp_path / "standard.jsonl"
    plain = runner.invoke(app, ["export", "-r", "gold-v1", "-o", str(standard), "--standard"], env=_env(settings))
    assert plain.exit_code == 0, plain.output
    flat = [json.loads(line) for line in standard.read_text().splitlines()]
    assert all(isinstance(line[key], str) for line in flat for key in ("prompt", "chosen", "rejected"))
    texts = [turn["content"] for turn in TURNS]
    assert "\n\n".join([*texts, prompt_for(0)]) in {line["prompt"] for line in flat}
    assert prompt_for(2) in {line["prompt"] for line in flat}

    missing = runner.invoke(
        app, ["export", "--ref", "no-such-tag", "-o", str(tmp_path / "x.jsonl")], env=_env(settings)
    )
    assert missing.exit_code == 2 and "no-such-tag" in missing.output
    assert not (tmp_path / "x.jsonl").exists()

    # Both load with `datasets` and train: conversational with a chat model, standard with a plain one.
    chat_model = build_tiny_model(tmp_path / "tiny-chat", chat=True)
    assert _train_one_step(output, chat_model, tmp_path / "dpo-chat") > 0
    assert _train_one_step(standard, build_tiny_model(tmp_path / "tiny"), tmp_path / "dpo-plain") > 0


def test_export_of_a_tag_says_what_was_removed_since_and_only_held_leaves_it_out(
    settings: Settings, tmp_path: Path
) -> None:
    # A run's tag names the trigger's snapshot; a quarantine after it removes one user's pairs from
    # the table (not from the snapshot), and the run trains without them. Export says so.
    from datetime import datetime

    from flywheel.infra.dataset import quarantine

    catalog = open_catalog(settings.catalog)
    pairs = ensure_tables(catalog, settings.catalog)[DPO_PAIRS]
    append_rows(pairs, pair_rows(24))
    identifier = table_identifier(settings.catalog, DPO_PAIRS)
    tagged = catalog.load_table(identifier).current_snapshot()
    assert tagged is not None
    catalog.load_table(identifier).manage_snapshots().create_tag(tagged.snapshot_id, "train-r000000000001").commit()
    users = pair_rows(24)["user_id"].to_pylist()
    removal = quarantine(catalog.load_table(identifier), datetime(2000, 1, 1), datetime(2100, 1, 1), "poison", users[0])
    assert removal.rows == users.count(users[0]) > 0

    runner = CliRunner()
    whole, held = tmp_path / "whole.jsonl", tmp_path / "held.jsonl"
    result = runner.invoke(app, ["export", "-r", "train-r000000000001", "-o", str(whole)], env=_env(settings))
    assert result.exit_code == 0, result.output
    assert len(whole.read_text().splitlines()) == 24  # the snapshot as it was, with a warning
    assert f"{removal.rows} of these pairs were removed from the table since" in " ".join(result.output.split())
    result = runner.invoke(
        app, ["export", "-r", "train-r000000000001", "-o", str(held), "--only-held"], env=_env(settings)
    )
    assert result.exit_code == 0, result.output
    assert len(held.read_text().splitlines()) == 24 - removal.rows
    assert f"left out {removal.rows} pairs" in " ".join(result.output.split())
