"""Trainer pieces that need no broker: split, caps, gates, config validation, registry and model errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from flywheel.settings import Settings
from flywheel.trainer.config import GateSettings, TrainerSettings
from flywheel.trainer.conversation import Formatting
from flywheel.trainer.dataset import cap_share, cap_training_set, is_eval, pair_prompt_key, prompt_key, split_pairs
from flywheel.trainer.evaluate import held_out_prompts
from flywheel.trainer.events import Comparison, Interval, ModelFigures, run_id_for, trigger_id_for
from flywheel.trainer.forgetting import forgetting_pct
from flywheel.trainer.gates import apply_gates
from flywheel.trainer.models import ModelError, resolve_base_model
from flywheel.trainer.registry import Registry, RegistryError


def _interval(value: float, spread: float = 0.0) -> Interval:
    return Interval(value=value, low=value - spread, high=value + spread)


def _figures(accuracy: float = 0.5, repeated: float = 0.0, truncated: float = 0.0) -> ModelFigures:
    return ModelFigures(
        similarity_to_users=_interval(0.5),
        repeated_line_rate=_interval(repeated),
        repeated_ngram_rate=_interval(repeated),
        empty_or_truncated_rate=_interval(truncated),
        mean_answer_chars=100.0,
        logprob_accuracy_length_biased=_interval(0.0),
        logprob_accuracy_normalised=_interval(accuracy),
        positives_log_likelihood=-2.0,
        eval_prompts=40,
        eval_pairs=40,
    )


def _comparison(
    closer: int = 30, farther: int = 5, prompts: int = 40, margin: float = 0.5, forgetting: float | None = 1.0
) -> Comparison:
    net = (closer - farther) / prompts
    return Comparison(
        prompts=prompts,
        closer=closer,
        farther=farther,
        ties=prompts - closer - farther,
        closer_share=_interval(closer / prompts, 0.1),
        net_closer=_interval(net, 0.2),
        similarity_gain=_interval(0.1, 0.05),
        length_ratio=1.0,
        users_length_ratio=1.0,
        dpo_reward_accuracy=_interval(1.0),
        dpo_reward_margin=_interval(margin),
        forgetting_pct=forgetting,
        # Measured on 16 positives whose answers the run did not train on or against: what the guard judges.
        positives_unseen=None if forgetting is None else 16,
        forgetting_pct_unseen=forgetting,
    )


def _rows(count: int, prompts: int) -> list[dict[str, str]]:
    return [
        {"pair_id": f"p{i}", "prompt": f"Question {i % prompts}", "chosen": "a", "rejected": "b", "user_id": f"u{i}"}
        for i in range(count)
    ]


def test_split_is_by_prompt_deterministic_and_near_the_fraction() -> None:
    rows = _rows(4000, prompts=2000)
    first = split_pairs(rows, 0.1)
    second = split_pairs(list(reversed(rows)), 0.1)
    assert {r["pair_id"] for r in first.eval} == {r["pair_id"] for r in second.eval}
    assert first.eval_prompt_set_hash == second.eval_prompt_set_hash
    assert 300 < len(first.eval) < 500
    assert not {r["pair_id"] for r in first.eval} & {r["pair_id"] for r in first.train}
    # All pairs of one prompt on one side; prompts equal up to case and spacing are one prompt.
    assert not {prompt_key(r["prompt"]) for r in first.eval} & {prompt_key(r["prompt"]) for r in first.train}
    assert prompt_key("  Question   7 ") == prompt_key("question 7") != prompt_key("question 8")
    assert is_eval("p1", 0.1) == is_eval("p1", 0.1)


def test_reworded_prompts_answered_alike_stay_on_one_side() -> None:
    # 25 tasks, 16 wordings each, every wording corrected to the task's code (the demo's users).
    wordings = ["How do I {} in Python?", "Write a Python function to {}.", "Show me code that can {}", "{}, please"]
    rows = [
        {
            "pair_id": f"t{task}-w{wording}-{copy}",
            "prompt": f"{template.format(f'solve task {task}')} (variant {copy})",
            "chosen": f"```python\ndef task_{task}(items):\n    return sorted(items)[{task}]\n```",
            "rejected": "I am not sure.",
            "user_id": f"u{copy}",
        }
        for task in range(25)
        for wording, template in enumerate(wordings)
        for copy in range(4)
    ]
    split = split_pairs(rows, 0.2)
    held_answers = {row["chosen"] for row in split.eval}
    assert split.eval and split.train
    assert not held_answers & {row["chosen"] for row in split.train}  # no held-out answer is trained on
    assert len(held_answers) * 16 == len(split.eval)  # whole tasks held out
    # A short answer ("Yes.") does not chain unrelated prompts into one group.
    short = [{**row, "chosen": "Yes."} for row in rows]
    assert len({row["prompt"] for row in split_pairs(short, 0.2).eval}) not in (0, len(rows))


def test_positives_follow_their_prompt_to_its_pairs_side() -> None:
    rows = [
        {
            "pair_id": f"p{i}",
            "prompt": f"Question {i}",
            "chosen": f"a long enough shared answer {i // 2:04d}",
            "rejected": "b",
        }
        for i in range(200)
    ]
    split = split_pairs(rows, 0.2)
    for row in split.eval:
        assert split.holds_out(row["prompt"].upper(), 0.2)
    for row in split.train:
        assert not split.holds_out(row["prompt"], 0.2)
    assert split.holds_out("a prompt no pair has", 0.2) == is_eval(prompt_key("a prompt no pair has"), 0.2)
    # A held-out pair's chosen answer under a reworded prompt is held out too: mixed into training,
    # it would teach the very answer the held-out prompt is measured against.
    reworded = next(
        f"reworded question {n}" for n in range(1000) if not is_eval(prompt_key(f"reworded question {n}"), 0.2)
    )
    assert not split.holds_out(reworded, 0.2)
    assert split.holds_out(reworded, 0.2, split.eval[0]["chosen"].upper())
    assert not split.holds_out(reworded, 0.2, split.train[0]["chosen"])


def test_tiny_split_keeps_one_eval_prompt() -> None:
    rows = _rows(3, prompts=3)
    split = split_pairs(rows, 0.01)
    assert len(split.eval) >= 1 and len(split.train) + len(split.eval) == 3
    assert split_pairs(_rows(3, prompts=1), 0.01).eval == []  # one prompt cannot be split


def test_share_caps_bound_one_prompt_and_one_user() -> None:
    rows = _rows(100, prompts=100)
    flood = [{**row, "pair_id": f"f{i}", "prompt": "Same question", "user_id": "spammer"} for i, row in enumerate(rows)]
    capped, report = cap_training_set(rows + flood, max_prompt_share=0.05, max_user_share=0.1)
    assert report.largest_prompt_share <= 0.05 and report.dropped_for_prompt > 90
    assert sum(r["prompt"] == "Same question" for r in capped) == 5 and len(capped) == 105
    by_user = cap_share(rows + flood[:50], lambda r: r["user_id"], 0.1)
    assert sum(r["user_id"] == "spammer" for r in by_user) / len(by_user) <= 0.1
    assert cap_share(rows, lambda r: r["user_id"], 0.1) == rows  # nobody over the cap: untouched


def test_ids_are_pure_functions() -> None:
    assert trigger_id_for("uuid", 7) == trigger_id_for("uuid", 7) != trigger_id_for("uuid", 8)
    assert run_id_for("abcdef0123456789") == "rabcdef012345"


def test_gates_promote_improvement_and_list_every_failure() -> None:
    gates = GateSettings(min_preference_accuracy_gain=0.05, min_reward_margin_gain=0.01, max_forgetting_pct=5.0)
    assert apply_gates(_figures(0.5), _figures(0.7), _comparison(), gates) == []
    reasons = apply_gates(_figures(0.5), _figures(0.52, repeated=0.3), _comparison(margin=0.0, forgetting=25.0), gates)
    assert [r.split(":")[0] for r in reasons] == [
        "guard repetition",
        "guard repetition",
        "guard forgetting",
        "gate preference_accuracy",
        "gate reward_margin",
    ]
    assert forgetting_pct(-2.0, -2.5) == pytest.approx(25.0)
    assert forgetting_pct(None, -2.5) is None


def test_gates_reject_ties_noise_and_missing_evidence() -> None:
    gates = GateSettings()
    tie = apply_gates(_figures(), _figures(), _comparison(closer=0, farther=0), gates)
    assert tie and tie[0].startswith("no gain")
    noise = _comparison(closer=12, farther=10).model_copy(update={"net_closer": _interval(0.05, 0.2)})
    assert apply_gates(_figures(), _figures(), noise, gates)[0].startswith("no gain")
    few = apply_gates(_figures(), _figures(), _comparison(closer=9, farther=0, prompts=10), gates)
    assert few[0] == "not enough evidence: 10 held-out prompts < min_eval_prompts 30"
    blind = apply_gates(_figures(), _figures(), _comparison(forgetting=None), gates)
    assert blind[0].startswith("not enough evidence: no held-out positive examples")
    assert (
        apply_gates(_figures(), _figures(), _comparison(forgetting=None), GateSettings(require_forgetting_check=False))
        == []
    )
    cut = apply_gates(_figures(truncated=0.1), _figures(truncated=0.5), _comparison(), gates)
    assert cut == ["guard truncation: empty or cut-off answers 10% -> 50% (rise above 5%)"]
    longer = _comparison().model_copy(update={"length_ratio": 1.6})
    assert apply_gates(_figures(), _figures(), longer, gates)[0].startswith("guard length")
    # Users who cut answers to a third ask for shorter answers: x0.3 is then no collapse.
    shorter = _comparison().model_copy(update={"length_ratio": 0.3, "users_length_ratio": 0.33})
    assert apply_gates(_figures(), _figures(), shorter, gates) == []


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


def test_building_a_trainer_consumer_touches_nothing(tmp_path: Path) -> None:
    """No catalog, registry or broker is reached until ``run``: a closed port and missing folders are fine."""
    from flywheel.infra.broker import free_port
    from flywheel.settings import local_settings
    from flywheel.trainer.consumer import TrainerConsumer

    root = tmp_path / "nothing-yet"
    consumer = TrainerConsumer(local_settings(f"127.0.0.1:{free_port()}", root).trainer_config())
    assert consumer.settings.catalog.uri.endswith("catalog.db")
    assert not root.exists()


def test_gradient_checkpointing_is_on_for_cuda_only_unless_set() -> None:
    from flywheel.trainer.train import checkpointing_for

    assert checkpointing_for(TrainerSettings(), "cuda") is True
    assert checkpointing_for(TrainerSettings(), "cpu") is False
    assert checkpointing_for(TrainerSettings(gradient_checkpointing=True), "cpu") is True
    assert checkpointing_for(TrainerSettings(gradient_checkpointing=False), "cuda") is False


def test_reference_log_probs_are_precomputed_when_pairs_are_seen_more_than_once() -> None:
    from flywheel.trainer.train import precompute_for

    assert precompute_for(TrainerSettings(), 100) is True  # 2 epochs by default: the second reuses them
    assert precompute_for(TrainerSettings(num_epochs=1), 100) is False
    # a cap within the first pass would precompute pairs never trained on (the demo: 16 of 58 steps)
    assert precompute_for(TrainerSettings(max_steps=16), 231) is False
    assert precompute_for(TrainerSettings(max_steps=25), 100) is False  # exactly one pass (25 steps of 4)
    assert precompute_for(TrainerSettings(max_steps=26), 100) is True  # one step into the second pass
    assert precompute_for(TrainerSettings(max_steps=5, gradient_accumulation_steps=2), 40) is False
    assert precompute_for(TrainerSettings(num_epochs=1, precompute_ref_log_probs=True), 100) is True
    assert precompute_for(TrainerSettings(precompute_ref_log_probs=False), 100) is False
    assert precompute_for(TrainerSettings(max_steps=10), 0) is False


def test_a_follow_up_is_told_apart_by_its_conversation() -> None:
    cats = [{"role": "user", "content": "Tell me about cats."}, {"role": "assistant", "content": "Cats nap a lot."}]
    sql = [{"role": "user", "content": "Write a query."}, {"role": "assistant", "content": "SELECT 1 FROM dual;"}]
    rows = [
        {"pair_id": "a", "prompt": "Make it shorter.", "chosen": "Cats nap.", "rejected": "x", "turns": cats},
        {"pair_id": "b", "prompt": "Make it shorter.", "chosen": "SELECT 1;", "rejected": "y", "turns": sql},
        {"pair_id": "c", "prompt": "Make it shorter.", "chosen": "Short.", "rejected": "z", "turns": []},
    ]

    prompts = held_out_prompts(rows, Formatting(chat=True))

    assert len(prompts) == 3  # one prompt per conversation, each scored against its own correction only
    assert sorted(p.corrections[0] for p in prompts) == ["Cats nap.", "SELECT 1;", "Short."]
    assert len({pair_prompt_key(row) for row in rows}) == 3
    assert pair_prompt_key(rows[2]) == prompt_key("make it  shorter.")  # no conversation: the prompt alone
