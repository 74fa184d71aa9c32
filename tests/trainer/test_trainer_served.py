"""A candidate is also judged against the run users are served now, not only against the base.

Each run trains from the base and is compared with it; a later run can beat the base and still
be worse than the promoted run it would replace. The trainer reads the server's alias from the
registry, loads the served adapter beside the candidate's, answers the same held-out prompts
with it, and rejects a candidate not shown as good as it (a non-inferiority margin), or not compared at all.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from flywheel.errors import RegistryError
from flywheel.schemas.registry import ALIAS_FILE
from flywheel.trainer.candidate import SERVED_ADAPTER, measure_served
from flywheel.trainer.config import GateSettings, TrainerSettings
from flywheel.trainer.conversation import Formatting
from flywheel.trainer.evaluate import HeldOutPrompt, Measurement, compare, held_out_prompts, measure
from flywheel.trainer.gates import worse_than_served
from flywheel.trainer.generation import Answer
from flywheel.trainer.models import load_model, load_tokenizer
from flywheel.trainer.registry import Registry, ServedRun
from tests.support.synthetic import build_tiny_model, pair_rows


def _comparison(
    served: list[str], candidate: list[str], users: list[str], version: str | None = "r1", **update: Any
) -> Any:
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
            "served_prompts": len(prompts),
            **update,
        }
    )


GATES = GateSettings()
USERS = [f"Fix {case}: call close() on the file, then reopen it in append mode." for case in range(40)]
BASE = [f"Answer {case}. Sure! Here is how. Call close(), then reopen. Hope this helps!" for case in range(40)]


def test_a_candidate_worse_than_the_served_run_is_rejected() -> None:
    # The served run writes what users want; the candidate went back to the base's answers.
    [reason] = worse_than_served(_comparison(USERS, BASE, USERS), GATES)
    assert reason.startswith("worse than served: not shown as good as r1, the run users are served now")
    assert "farther on 40 of 40" in reason


def test_a_candidate_as_good_as_the_served_run_or_better_passes() -> None:
    assert worse_than_served(_comparison(USERS, USERS, USERS), GATES) == []  # a tie is as good
    assert worse_than_served(_comparison(BASE, USERS, USERS), GATES) == []  # better than what users get
    assert worse_than_served(_comparison(USERS, BASE, USERS, version=None), GATES) == []  # users get the base


def test_a_loss_too_small_to_be_significant_is_not_shown_as_good() -> None:
    # 40 prompts: closer on 12, farther on 20, the rest ties. Not significantly worse (the net
    # interval reaches above 0), but not shown within 0.10 of the served run either.
    candidate = [*USERS[:8], *BASE[8:28], *USERS[28:]]
    served = [*USERS[:8], *USERS[8:28], *BASE[28:]]
    comparison = _comparison(served, candidate, USERS)
    net = comparison.served_net_closer
    assert (comparison.served_closer, comparison.served_farther) == (12, 20)
    assert net.value == pytest.approx(-0.2) and net.high >= 0 > net.low + GATES.max_served_net_loss
    [reason] = worse_than_served(comparison, GATES)
    assert "not shown as good as r1" in reason and "net closer -0.20" in reason and "below -0.1" in reason
    # The old rule (significantly worse: every upper end below 0) would have passed it.
    assert net.high >= 0


def test_a_comparison_with_the_served_run_too_small_or_missing_is_not_evidence() -> None:
    small = _comparison(USERS[:12], USERS[:12], USERS[:12], served_excluded_prompts=28)
    [reason] = worse_than_served(small, GATES)
    assert reason == (
        "not enough evidence: compared with r1, the run users are served now, on 12 held-out prompts "
        "(28 left out: their group holds a prompt r1 trained on) < min_eval_prompts 30"
    )
    none_kept = _comparison(USERS, USERS, USERS).model_copy(
        update={"served_prompts": 0, "served_net_closer": None, "served_similarity_gain": None}
    )
    assert worse_than_served(none_kept, GATES)[0].startswith("not enough evidence: compared with r1")
    missing = _comparison(BASE, USERS, USERS).model_copy(
        update={"served_missing": "its adapter is not in the registry", "served_net_closer": None}
    )
    [reason] = worse_than_served(missing, GATES)
    assert reason.startswith("not enough evidence: users are served r1, which could not be compared with (its adapter")
    assert "compare_with_served=false" in reason


def test_the_served_comparison_reads_content_words_too() -> None:
    # The served run writes the users' answer; the candidate pads it with filler that holds none of
    # their words: fewer of the users' words per word said, a loss beyond the margin the reason names.
    padded = [f"{text} Many further aspects could be mentioned here as well." for text in USERS]
    comparison = _comparison(USERS, padded, USERS)
    assert comparison.served_content_gain is not None and comparison.served_content_gain.high < 0
    [reason] = worse_than_served(comparison, GATES)
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
    assert _registry(tmp_path / "none", None).served_run() == ServedRun()  # no alias yet: the base
    assert _registry(tmp_path / "base", {"current": "base"}).served_run() == ServedRun()
    assert _registry(tmp_path / "run", {"current": "r1"}, adapter_of="r1").served_run() == ServedRun(run="r1")
    fetched = _registry(tmp_path / "run", {"current": "r1"}).fetch_adapter("r1", tmp_path / "local")
    assert (fetched / "adapter_config.json").is_file()
    # No adapter here: users are served something the candidate cannot be compared with.
    assert _registry(tmp_path / "gone", {"current": "r2"}).served_run() == ServedRun(missing="r2")
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
