"""``flywheel trainer export``: dpo_gold_v1.jsonl from a snapshot or tag, loadable and trainable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flywheel.infra.catalog import ensure_tables, open_catalog, table_identifier
from flywheel.schemas.tables import DPO_PAIRS
from flywheel.settings import Settings
from flywheel.trainer_cli import app
from tests.support.synthetic import append_rows, build_tiny_model, pair_rows

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _env(settings: Settings) -> dict[str, str]:
    return {
        "FLYWHEEL_CATALOG__URI": settings.catalog.uri,
        "FLYWHEEL_CATALOG__WAREHOUSE": settings.catalog.warehouse,
        "FLYWHEEL_KAFKA__BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
        "FLYWHEEL_STATE_DIR": str(settings.state_dir),
    }


def test_export_from_tag_loads_with_datasets_and_trains_one_dpo_step(settings: Settings, tmp_path: Path) -> None:
    catalog = open_catalog(settings.catalog)
    pairs = ensure_tables(catalog, settings.catalog)[DPO_PAIRS]
    append_rows(pairs, pair_rows(10))
    identifier = table_identifier(settings.catalog, DPO_PAIRS)
    first = catalog.load_table(identifier).current_snapshot()
    catalog.load_table(identifier).manage_snapshots().create_tag(first.snapshot_id, "gold-v1").commit()
    append_rows(catalog.load_table(identifier), pair_rows(5, start=10))  # after the tag: not exported

    output = tmp_path / "out" / "dpo_gold_v1.jsonl"
    runner = CliRunner()
    result = runner.invoke(app, ["export", "--ref", "gold-v1", "-o", str(output), "--no-progress"], env=_env(settings))
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    assert len(lines) == 10 and all(set(line) == {"prompt", "chosen", "rejected"} for line in lines)

    by_id = runner.invoke(
        app, ["export", "--ref", str(first.snapshot_id), "-o", str(tmp_path / "by_id.jsonl")], env=_env(settings)
    )
    assert by_id.exit_code == 0 and (tmp_path / "by_id.jsonl").read_text() == output.read_text()

    missing = runner.invoke(
        app, ["export", "--ref", "no-such-tag", "-o", str(tmp_path / "x.jsonl")], env=_env(settings)
    )
    assert missing.exit_code == 2 and "no-such-tag" in missing.output
    assert not (tmp_path / "x.jsonl").exists()

    from datasets import load_dataset
    from peft import LoraConfig
    from trl import DPOConfig, DPOTrainer

    from flywheel.trainer.models import load_model, load_tokenizer

    dataset = load_dataset("json", data_files=str(output), split="train")
    assert dataset.column_names == ["prompt", "chosen", "rejected"] and dataset.num_rows == 10
    model_dir = build_tiny_model(tmp_path / "tiny")
    trainer = DPOTrainer(
        model=load_model(str(model_dir), "cpu"),
        args=DPOConfig(
            output_dir=str(tmp_path / "dpo"),
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
    assert outcome.global_step == 1 and outcome.training_loss > 0
