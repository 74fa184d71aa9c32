"""End to end with a tiny model: the wheel turns, and the users' edit rate falls because the model changed.

The tiny model opens two answers in three with "Sure!"; the simulated users delete that opener
(the default house-style habit). One DPO run on revolution 0's edits removes the habit, so
revolution 1 has nothing left to correct (no trigger) and revolution 2 confirms the new level.
In revolution 0 a reviewer corrects one thumbs-down in the review app, after the users' commit that
crossed the threshold: the trusted pair is in the data of the next run that triggers. A run the
gates reject leaves serving on the version it had, and the next revolution's run trains on the pair.
"""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from flywheel.infra.catalog import open_catalog, table_identifier
from flywheel.review_demo import CORRECTIONS
from flywheel.revolutions import WheelOptions, revolution_prompts, run_revolutions, wheel_settings
from flywheel.schemas.tables import DPO_PAIRS
from flywheel.simulation import HOUSE_STYLE
from flywheel.trainer.registry import Registry
from tests.support.serving import chatty_model
from tests.support.synthetic import VERBS

pytestmark = [pytest.mark.integration, pytest.mark.slow]


# The users correct every answer about one topic to one text, which links the topic's prompts into
# one group of the split: eight topics are eight independent observations, however many prompts.
TOPICS = ("python lists", "sql joins", "kafka offsets", "git rebase", "unit tests", "http caching", "docker images",
          "css grids")  # fmt: skip


def _options(tmp_path: Path, revolutions: int, prompt_count: int = 480, **trainer: object) -> WheelOptions:
    topics = [TOPICS[(index // 6) % len(TOPICS)] for index in range(prompt_count)]
    prompts = tuple(f"Please {VERBS[index % len(VERBS)]} {topic} case {index}.\n" for index, topic in enumerate(topics))
    model = chatty_model(tmp_path / "model", list(prompts), topics=topics)  # opens 2 answers in 3 with "Sure!"
    return WheelOptions(
        revolutions=revolutions,
        directory=tmp_path / "wheel",
        users=40,
        prompts_per_user=12,
        threshold=40,
        max_new_tokens=16,
        policy=HOUSE_STYLE,  # users delete the "Sure!" opener: the same habit in every revolution
        history_events=0,  # no logged history: the tiny model's users alone cross the threshold
        history_coding_events=0,
        # ...but for answers users liked as they were: the users' own thumbs-up go to answers they
        # correct others' to (trained on), so these are the forgetting guard's only evidence.
        history_liked_events=200,
        prompts=prompts,
        # The same questions in every revolution and a promotion to everyone: what these tests read
        # (make run asks each revolution new questions, side by side: test_fresh_questions_side_by_side).
        fresh_questions=False,
        rollout_share=0.0,
        base_reference=str(model),
        trainer={
            "base_model": str(model),
            "device": "cpu",
            "max_steps": 2,
            "batch_size": 8,
            "learning_rate": 1e-3,
            # Six of the eight topics held out (2 steps of 8 train on 16 pairs of the other two), and
            # judged on six groups: all closer is the sign test's p = 0.031. The default evidence
            # gate asks for 20 groups, more independent tasks than this tiny model can learn.
            "eval_fraction": 0.75,
            "gates": {"min_eval_groups": 6},
            "max_length": 64,
            "max_prompt_length": 32,
            "lora": {"target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]},
            **trainer,
        },
    )


def test_the_wheel_lowers_the_edit_rate_over_two_revolutions(tmp_path: Path) -> None:
    options = _options(tmp_path, revolutions=2)
    output = io.StringIO()
    revolutions = run_revolutions(Console(file=output, width=200), options)
    printed = output.getvalue()
    print(printed)  # the revolution lines and the impact table, for -s
    assert [r.revolution for r in revolutions] == [0, 1, 2], printed
    first, second, third = revolutions
    assert first.model_version == "base" and first.pairs >= 10, printed
    assert first.decision.startswith("promoted") and first.run_id == second.model_version, printed
    assert second.edit_rate < first.edit_rate, printed
    assert third.edit_rate <= second.edit_rate, printed
    # The fall is larger than the noise: the intervals of the first and last revolution do not overlap.
    assert third.edit_rate_high < first.edit_rate_low, printed
    assert second.decision.startswith(("no trigger", "promoted", "rejected")), printed
    report = json.loads((tmp_path / "wheel" / "report.json").read_text())
    # The liked history (version 2026.11) is in the impact table too: the base is found by name.
    base_impact = next(v for v in report["impact"] if v["model_version"] == "base")
    base_figures, last_figures = base_impact["rates"], report["impact"][-1]["rates"]
    # Not a broken model that users stopped editing: regenerations and thumbs-down did not rise.
    for signal in ("regenerate", "thumbs_down"):
        assert last_figures[signal]["count"] / report["impact"][-1]["interactions"] <= (
            base_figures[signal]["count"] / base_impact["interactions"]
        ), printed
    assert [r["model_version"] for r in report["revolutions"]] == [r.model_version for r in revolutions]
    assert {"interactions", "edit_rate", "edit_rate_low", "edit_rate_high", "pairs", "decision"} <= set(
        report["revolutions"][0]
    )
    assert [v["model_version"] for v in report["impact"]][:2] == ["2026.11", "base"]
    # The training run's evidence in words, and the same figures in the report.
    training = report["revolutions"][0]["training"]
    comparison = training["comparison"]
    headline = f"answers closer to users' corrections: {comparison['closer']}/{comparison['prompts']} held-out prompts"
    assert headline in printed and "PROMOTED" in printed and "sample prompt:" in printed, printed
    assert (
        training["run_id"] == first.run_id and comparison["closer_share"]["low"] <= comparison["closer_share"]["value"]
    )
    assert report["revolutions"][2]["training"] is None
    # A reviewer corrected one thumbs-down in revolution 0; the trusted pair is in dpo_pairs. The
    # tracker cut revolution 0's trigger at the first snapshot that crossed the threshold, before the
    # review's commit, so the pair waits for the next trigger (revolution 1 has none here).
    review = report["review"]
    assert review is not None and review["pair_id"] and review["reviewer_id"] == "demo-reviewer", printed
    assert f"review: reviewer pair {review['pair_id']}" in printed, printed
    runs = [r.run_id for r in revolutions if r.run_id]
    _assert_reviewer_pair_where_the_demo_says(options, runs, review)
    if review["trained_by"] is None:
        assert second.decision.startswith("no trigger") and "counts toward the next trigger" in printed, printed
        pending = int(second.decision.split("(")[1].split("/")[0])
        assert pending >= 1, printed  # the reviewer pair is among the pairs since the last trigger


def _assert_reviewer_pair_where_the_demo_says(options: WheelOptions, runs: list[str], review: dict[str, Any]) -> None:
    """Independently of the demo's own check: each run's model card names its snapshot; the pair is in
    exactly the snapshot of the run the demo names (none if it names none), and in dpo_pairs now."""
    settings = wheel_settings("127.0.0.1:9", options)  # the broker is gone; the catalog is SQLite
    registry = Registry.from_settings(settings.trainer.registry_url, settings.state_dir)
    table = open_catalog(settings.catalog).load_table(table_identifier(settings.catalog, DPO_PAIRS))
    columns = ("pair_id", "source", "reviewer_id")

    def reviewer_pairs(snapshot_id: int | None) -> list[tuple[str, str]]:
        rows = table.scan(snapshot_id=snapshot_id, selected_fields=columns).to_arrow().to_pylist()
        return [(row["pair_id"], row["reviewer_id"]) for row in rows if row["source"] == "reviewer"]

    assert reviewer_pairs(None) == [(review["pair_id"], "demo-reviewer")]  # the current snapshot
    for run_id in runs:
        card = registry.read_card(run_id)
        assert card is not None
        trained = reviewer_pairs(card["dataset"]["snapshot_id"])
        if run_id == review["trained_by"]:
            assert card["dataset"]["snapshot_id"] == review["snapshot_id"]
            assert trained == [(review["pair_id"], "demo-reviewer")]
        else:
            assert trained == []


def test_a_rejected_run_leaves_serving_on_the_old_version(tmp_path: Path) -> None:
    # More held-out prompts than 480 answers can give: the gates must reject for lack of evidence.
    options = _options(tmp_path, revolutions=2, gates={"min_eval_prompts": 10_000})
    output = io.StringIO()
    first, second, _ = run_revolutions(Console(file=output, width=200), options)
    printed = output.getvalue()
    assert first.decision.startswith("rejected") and "serving keeps base" in first.decision, printed
    assert first.reasons, printed
    assert second.model_version == "base", printed
    # Users still edit the base model's answers, so revolution 1 triggers again: its trigger is cut
    # after the reviewer's correction of revolution 0, which is in the data that run trained on.
    assert second.run_id and second.decision.startswith("rejected"), printed
    review = json.loads((tmp_path / "wheel" / "report.json").read_text())["review"]
    assert review is not None and review["trained_by"] == second.run_id, printed
    assert f"that run {second.run_id} trained on ({review['split']} split)" in printed, printed
    _assert_reviewer_pair_where_the_demo_says(options, [first.run_id or "", second.run_id], review)


def test_the_logged_history_is_replayed_around_the_review_step_so_the_first_run_holds_its_pair(
    tmp_path: Path,
) -> None:
    """``make run``'s ordering: general history, curated; the review step; then the coding history.

    The general history alone stays under the threshold and the coding history crosses it, so the
    reviewer's pair, committed in between, is in the data of revolution 0's run. Were the coding
    history replayed before the review, the trigger would be cut before the pair and it would wait.
    """
    options = dataclasses.replace(
        _options(tmp_path, revolutions=1, prompt_count=48),  # a smaller model build: the users ask 32
        users=8,
        prompts_per_user=4,
        history_events=200,
        history_coding_events=200,
        threshold=40,
    )
    output = io.StringIO()
    first, last = run_revolutions(Console(file=output, width=200), options)
    printed = output.getvalue()
    assert "history: 600 logged events replayed into the topic before revolution 0 (200 of them" in printed, printed
    assert first.model_version == "base" and first.run_id and first.answers == 32, printed
    review = json.loads((tmp_path / "wheel" / "report.json").read_text())["review"]
    # The reviewer answered a thumbs-down of the logged history, not of revolution 0's live users.
    assert review is not None and review["prompt"].startswith(tuple(CORRECTIONS)), printed
    assert review["trained_by"] == first.run_id, printed
    assert f"that run {first.run_id} trained on ({review['split']} split)" in printed, printed
    settings = wheel_settings("127.0.0.1:9", options)  # the broker is gone; the catalog is SQLite
    table = open_catalog(settings.catalog).load_table(table_identifier(settings.catalog, DPO_PAIRS))
    card = Registry.from_settings(settings.trainer.registry_url, settings.state_dir).read_card(first.run_id)
    assert card is not None
    trained = table.scan(snapshot_id=card["dataset"]["snapshot_id"], selected_fields=("event_id", "source"))
    sources = [(row["event_id"].split("-")[0], row["source"]) for row in trained.to_arrow().to_pylist()]
    general = sum(1 for prefix, source in sources if prefix == "evt" and source != "reviewer")
    coding = sum(1 for prefix, _ in sources if prefix == "code")
    assert general + 1 < options.threshold <= general + 1 + coding, sources  # the coding history crossed it
    assert sum(1 for _, source in sources if source == "reviewer") == 1
    assert last.decision.startswith("measured only"), printed


def test_fresh_questions_side_by_side(tmp_path: Path) -> None:
    """``make run``'s design: each revolution asks questions no earlier one asked, and a promoted run
    answers half of the users while the base answers the others, on the same questions."""
    # Half the questions are revolution 0's, so fewer are held out than the default gate asks for.
    options = dataclasses.replace(
        _options(tmp_path, revolutions=1, gates={"min_eval_prompts": 10, "min_eval_groups": 6}),
        users=20,
        fresh_questions=True,
        rollout_share=0.5,
    )
    asked = revolution_prompts(options)
    assert len(asked) == 2 and not set(asked[0]) & set(asked[1]), "revolution 1's questions are new"
    output = io.StringIO()
    first, second = run_revolutions(Console(file=output, width=200), options)
    printed = output.getvalue()
    print(printed)
    assert first.decision.startswith("promoted") and first.run_id, printed
    assert [arm.model_version for arm in second.arms] == ["base", first.run_id], printed
    assert all(arm.answers > 0 for arm in second.arms) and second.model_version == "mixed", printed
    assert "side by side" in printed and f"model {first.run_id}" in printed, printed
    # On questions no run trained on, asked at the same time: the run's users edit less than the base's.
    base, run = second.arms
    assert run.edit_rate_high < base.edit_rate_low, printed
    report = json.loads((tmp_path / "wheel" / "report.json").read_text())
    assert [arm["model_version"] for arm in report["revolutions"][1]["arms"]] == ["base", first.run_id]
    run = next(v for v in report["impact"] if v["model_version"] == first.run_id)
    change = run["edit_rate_change"]
    assert change["against"] == "base" and change["design"] == "concurrent", printed
