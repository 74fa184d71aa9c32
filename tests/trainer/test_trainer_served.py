"""A candidate is also judged against the run users are served now, not only against the base.

Each run trains from the base and is compared with it; a later run can beat the base and still
be worse than the promoted run it would replace. The trainer reads the server's alias from the
registry, loads the served adapter beside the candidate's, answers the same held-out prompts
with it, and rejects a candidate significantly farther from the users' corrections.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from flywheel.errors import RegistryError
from flywheel.schemas.registry import ALIAS_FILE
from flywheel.trainer.candidate import SERVED_ADAPTER, measure_served
from flywheel.trainer.config import TrainerSettings
from flywheel.trainer.conversation import Formatting
from flywheel.trainer.evaluate import HeldOutPrompt, Measurement, compare, held_out_prompts, measure
from flywheel.trainer.gates import worse_than_served
from flywheel.trainer.generation import Answer
from flywheel.trainer.models import load_model, load_tokenizer
from flywheel.trainer.registry import Registry
from tests.support.synthetic import build_tiny_model, pair_rows


def _comparison(served: list[str], candidate: list[str], users: list[str], version: str | None = "r1") -> Any:
    settings = TrainerSettings()
    prompts = [
        HeldOutPrompt(key=f"k{i}", text=f"Q{i}", prompt=f"Q{i}", corrections=[u], corrected=[s])
        for i, (s, u) in enumerate(zip(served, users, strict=True))
    ]
    measured = [Measurement([Answer(t, True) for t in texts], [], -2.0, 0, 0) for texts in (served, candidate)]
    against = compare(*measured, prompts, settings)
    return against.model_copy(
        update={
            "served_version": version,
            "served_closer": against.closer,
            "served_farther": against.farther,
            "served_net_closer": against.net_closer,
            "served_similarity_gain": against.similarity_gain,
            "served_content_gain": against.content_gain,
        }
    )


USERS = [f"Fix {case}: call close() on the file, then reopen it in append mode." for case in range(40)]
BASE = [f"Answer {case}. Sure! Here is how. Call close(), then reopen. Hope this helps!" for case in range(40)]


def test_a_candidate_worse_than_the_served_run_is_rejected() -> None:
    # The served run writes what users want; the candidate went back to the base's answers.
    [reason] = worse_than_served(_comparison(USERS, BASE, USERS))
    assert reason.startswith("worse than served: against r1, the run users are served now")
    assert "farther on 40" in reason


def test_a_candidate_as_good_as_the_served_run_or_better_passes() -> None:
    assert worse_than_served(_comparison(USERS, USERS, USERS)) == []  # a tie is no regression
    assert worse_than_served(_comparison(BASE, USERS, USERS)) == []  # better than what users get
    assert worse_than_served(_comparison(USERS, BASE, USERS, version=None)) == []  # users get the base


def test_the_served_comparison_reads_content_words_too() -> None:
    # The served run writes the users' answer; the candidate pads it with filler that holds none of
    # their words: fewer of the users' words per word said, a significant loss the reason names.
    padded = [f"{text} Many further aspects could be mentioned here as well." for text in USERS]
    comparison = _comparison(USERS, padded, USERS)
    assert comparison.served_content_gain is not None and comparison.served_content_gain.high < 0
    [reason] = worse_than_served(comparison)
    assert "content-word gain -" in reason


def _registry(tmp_path: Path, alias: dict[str, Any] | None, adapter_of: str | None = None) -> Registry:
    registry = Registry(str(tmp_path / "registry"))
    (tmp_path / "registry").mkdir(parents=True, exist_ok=True)
    if alias is not None:
        (tmp_path / "registry" / ALIAS_FILE).write_text(json.dumps(alias))
    if adapter_of is not None:
        folder = tmp_path / "registry" / "runs" / adapter_of / "adapter"
        folder.mkdir(parents=True)
        (folder / "adapter_config.json").write_text("{}")
    return registry


def test_the_served_run_is_read_from_the_servers_alias(tmp_path: Path) -> None:
    assert _registry(tmp_path / "none", None).served_run() is None  # no alias yet: the base
    assert _registry(tmp_path / "base", {"current": "base"}).served_run() is None
    assert _registry(tmp_path / "run", {"current": "r1"}, adapter_of="r1").served_run() == "r1"
    fetched = _registry(tmp_path / "run", {"current": "r1"}).fetch_adapter("r1", tmp_path / "local")
    assert (fetched / "adapter_config.json").is_file()
    assert _registry(tmp_path / "gone", {"current": "r2"}).served_run() is None  # no adapter here: base only
    with pytest.raises(RegistryError, match="no run id"):
        _registry(tmp_path / "bad", {"current": "../etc"}).served_run()


@pytest.mark.slow
def test_the_served_adapter_answers_beside_the_candidates_and_is_unloaded(tmp_path: Path) -> None:
    import torch
    from peft import LoraConfig, get_peft_model

    folder = build_tiny_model(tmp_path / "tiny", chat=True)
    tokenizer = load_tokenizer(str(folder))
    formatting = Formatting.for_tokenizer(tokenizer)
    settings = TrainerSettings(base_model=str(folder), eval_max_new_tokens=8, max_length=64, max_prompt_length=32)
    rows = [{**row, "turns": []} for row in pair_rows(4).to_pylist()]
    prompts = held_out_prompts(rows, formatting)
    lora = {"r": 4, "lora_alpha": 8, "target_modules": ["q_proj", "v_proj"]}
    # The served run's adapter: random weights on both sides, so its answers differ from the base's.
    torch.manual_seed(1)
    served = get_peft_model(load_model(str(folder), "cpu"), LoraConfig(init_lora_weights=False, **lora))  # type: ignore[arg-type]
    with torch.no_grad():
        for name, weight in served.named_parameters():
            if "lora_B" in name:
                weight.mul_(50.0)
    served.save_pretrained(str(tmp_path / "served"))
    # The candidate: an adapter that starts as the base (LoRA's B = 0).
    candidate = get_peft_model(load_model(str(folder), "cpu"), LoraConfig(**lora))  # type: ignore[arg-type]

    own = measure(candidate, tokenizer, formatting, prompts, rows, [], settings)
    theirs = measure_served(candidate, tmp_path / "served", tokenizer, formatting, prompts, rows, settings)

    assert [a.text for a in theirs.answers] != [a.text for a in own.answers]
    assert candidate.active_adapter == "default" and SERVED_ADAPTER not in candidate.peft_config
    again = measure(candidate, tokenizer, formatting, prompts, rows, [], settings)
    assert [a.text for a in again.answers] == [a.text for a in own.answers]  # the candidate is as it was
