"""The held-out split is sticky across snapshots: a group an earlier run held out stays held out,
one it trained on stays on the train side, and only groups no earlier run saw are split afresh.

Before, the split was a function of one snapshot: with more groups the greedy cut moved, so a
prompt held out in run N could be trained on in run N+1 and the other way round, and the
comparison with the served run could be judged on prompts that run had trained on.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flywheel.schemas.registry import ALIAS_FILE
from flywheel.trainer.candidate import against_served
from flywheel.trainer.card import split_line
from flywheel.trainer.config import TrainerSettings
from flywheel.trainer.evaluate import HeldOutPrompt, Measurement, compare
from flywheel.trainer.generation import Answer
from flywheel.trainer.registry import Registry
from flywheel.trainer.split import PairSplit, PreviousSplits, SplitRecord, pair_prompt_key, split_pairs
from flywheel.trainer.verdict import served_line
from tests.support.cards import card_for, plain_result


def _row(index: int, copy: int = 0) -> dict[str, Any]:
    return {
        "pair_id": f"p{index:05d}-{copy}",
        "prompt": f"Question number {index}",
        "chosen": f"answer {index} ({copy})",
        "rejected": "base answer",
        "user_id": f"u{copy}",
        "turns": [],
    }


def _snapshot(prompts: range, copies: dict[int, int] | None = None) -> list[dict[str, Any]]:
    """One row per copy of each prompt: 1, 2, 3 or 8 pairs a prompt, fixed by its index."""
    sizes = copies or {}
    return [_row(i, copy=c) for i in prompts for c in range(sizes.get(i, (1, 1, 2, 3, 8)[i % 5]))]


def _sides(split: PairSplit) -> tuple[set[str], set[str]]:
    return {pair_prompt_key(r) for r in split.train}, {pair_prompt_key(r) for r in split.eval}


def _previous(*records: SplitRecord) -> PreviousSplits:
    return PreviousSplits(records=records)


def test_a_superset_snapshot_moves_prompts_without_the_earlier_record() -> None:
    # The bug, as it was: the second snapshot adds prompts and pairs, and the greedy cut moves.
    first = _snapshot(range(200))
    second = first + _snapshot(range(200, 260)) + [_row(i, copy=10 + c) for i in range(0, 200, 7) for c in range(6)]
    trained, held = _sides(split_pairs(first, 0.2))
    trained_after, held_after = _sides(split_pairs(second, 0.2))
    assert held & trained_after or trained & held_after  # without the record, prompts change side


def test_a_superset_snapshot_keeps_every_prompt_on_its_side() -> None:
    first = _snapshot(range(200))
    # More prompts, and more pairs on old prompts (a held-out one grown large would have been skipped).
    second = first + _snapshot(range(200, 260)) + [_row(i, copy=10 + c) for i in range(0, 200, 7) for c in range(6)]
    earlier = split_pairs(first, 0.2)
    trained, held = _sides(earlier)

    later = split_pairs(second, 0.2, _previous(earlier.record("r1")))

    trained_after, held_after = _sides(later)
    assert held <= held_after and trained <= trained_after
    # The new prompts are split on their own, near the fraction of their pairs.
    new_rows = [row for row in second if pair_prompt_key(row) not in held | trained]
    new_held = [row for row in new_rows if pair_prompt_key(row) in held_after]
    assert later.new_group_pairs == len(new_rows) and later.new_group_eval_pairs == len(new_held)
    assert 0.1 <= len(new_held) / len(new_rows) <= 0.3
    # The card counts held-out prompts carried over from the earlier run and new ones.
    assert later.carried_eval_prompts == len(held) and later.new_eval_prompts == len(held_after - held)
    assert later.eval_prompts_trained_before == 0
    card = card_for(plain_result(["x"] * 3, ["y"] * 3), later)
    assert card["split"]["previous"] == {"runs": ["r1"], "unrecorded_runs": [], "rebuilt_runs": [], "not_rebuilt": {}}
    assert card["split"]["carried_eval_prompts"] == len(held)
    assert card["split"]["new_eval_prompts"] == len(held_after - held) > 0
    assert card["split"]["new_groups"]["pairs"] == len(new_rows)
    assert split_line(card) == (
        f"  held-out prompts: {len(held)} held out before (kept from r1), {len(held_after - held)} new, "
        "0 trained on before"
    )
    # Without a record the split is what it always was (the first run's, and the card says so).
    assert split_pairs(first, 0.2, PreviousSplits()).eval == earlier.eval
    first_card = card_for(plain_result(["x"] * 3, ["y"] * 3), earlier)
    assert first_card["split"]["carried_eval_prompts"] == 0
    assert first_card["split"]["new_eval_prompts"] == len(held) and first_card["split"]["previous"]["runs"] == []
    assert "(no earlier split recorded)" in str(split_line(first_card))
    assert split_line({"split": {"rule": "older card"}}) is None


def test_a_chain_of_runs_keeps_every_earlier_side() -> None:
    # r1 on 0..99, r2 on 0..199 (sticky to r1), r3 on 0..299 sticky to r2 alone: r1's sides still hold.
    r1 = split_pairs(_snapshot(range(100)), 0.2)
    r2 = split_pairs(_snapshot(range(200)), 0.2, _previous(r1.record("r1")))
    r3 = split_pairs(_snapshot(range(300)), 0.2, _previous(r2.record("r2")))
    for earlier in (r1, r2):
        trained, held = _sides(earlier)
        trained_after, held_after = _sides(r3)
        assert held <= held_after and trained <= trained_after


def test_a_record_keeps_the_sides_of_prompts_the_snapshot_no_longer_holds() -> None:
    first = _snapshot(range(100))
    r1 = split_pairs(first, 0.2)
    held = _sides(r1)[1]
    gone = sorted(held)[0]
    # r2's snapshot lost a held-out prompt (quarantined); r3's has it again, after r2 alone.
    r2 = split_pairs([row for row in first if pair_prompt_key(row) != gone], 0.2, _previous(r1.record("r1")))
    record = r2.record("r2")
    assert gone in record.eval_keys and gone not in record.trained_keys
    r3 = split_pairs(first, 0.2, _previous(record))
    assert gone in _sides(r3)[1]


def test_a_group_linking_a_trained_and_a_held_out_prompt_stays_held_out_and_is_named() -> None:
    first = _snapshot(range(100), copies=dict.fromkeys(range(100), 1))
    r1 = split_pairs(first, 0.2)
    trained, held = _sides(r1)
    held_row, trained_row = r1.eval[0], r1.train[0]
    # A new pair answers the trained prompt with the held-out prompt's (long) correction: one group now.
    shared = "A long correction that both prompts now share, word for word."
    linking = [
        {**held_row, "pair_id": "link-1", "chosen": shared},
        {**trained_row, "pair_id": "link-2", "chosen": shared},
    ]
    later = split_pairs(first + linking, 0.2, _previous(r1.record("r1")))
    trained_after, held_after = _sides(later)
    # Held out wins: the prompt r1 trained on is now held out, and named as one r1 trained on.
    assert pair_prompt_key(trained_row) in held_after and held <= held_after
    assert later.eval_prompts_trained_before == 1
    assert later.trained_by["r1"] == {pair_prompt_key(held_row), pair_prompt_key(trained_row)}
    assert trained - {pair_prompt_key(trained_row)} <= trained_after


def test_positives_follow_the_earlier_records_side() -> None:
    r1 = split_pairs(_snapshot(range(100)), 0.2)
    held_prompt = r1.eval[0]["prompt"]
    trained_prompt = r1.train[0]["prompt"]
    # A snapshot without those prompts: a positive of either still goes where the earlier run put it.
    later = split_pairs(_snapshot(range(100, 200)), 0.2, _previous(r1.record("r1")))
    assert later.holds_out(held_prompt, 0.2) and not later.holds_out(trained_prompt, 0.2)


def test_every_pair_on_a_held_out_side_leaves_nothing_to_train() -> None:
    r1 = split_pairs(_snapshot(range(100)), 0.2)
    only_held = [row for row in _snapshot(range(100)) if pair_prompt_key(row) in _sides(r1)[1]]
    later = split_pairs(only_held, 0.2, _previous(r1.record("r1")))
    assert later.train == [] and len(later.eval) == len(only_held)


def _prompt(key: str) -> HeldOutPrompt:
    return HeldOutPrompt(key=key, text=key, prompt=key, corrections=[f"the users' answer to {key}"], corrected=["x"])


def _measured(texts: list[str]) -> Measurement:
    return Measurement([Answer(text, True) for text in texts], [], -2.0, 0, 0)


def test_the_served_comparison_leaves_out_groups_the_served_run_trained_on() -> None:
    settings = TrainerSettings()
    prompts = [_prompt(f"k{i:02d}") for i in range(40)]
    wanted = [p.corrections[0] for p in prompts]
    # The served run answers the 10 prompts it trained on as users want, the others badly; the
    # candidate answers every prompt fairly well. Judged on all 40, the candidate loses on 10.
    served = _measured([w if i < 10 else "no idea" for i, w in enumerate(wanted)])
    candidate = _measured([f"{w} (roughly)" for w in wanted])
    comparison = compare(served, candidate, prompts, settings)
    trained = frozenset(p.key for p in prompts[:10])

    judged = against_served(comparison, "r1", served, candidate, prompts, [], trained, settings)

    assert judged.served_version == "r1" and judged.served_prompts == 30 and judged.served_excluded_prompts == 10
    assert judged.served_farther == 0 and judged.served_closer == 30
    assert "on 30 of 40 held-out prompts (10 left out: the served run trained on their group)" in served_line(judged)
    # The served run's split not recorded (a run before split records): all 40, and the line says so.
    unknown = against_served(comparison, "r0", served, candidate, prompts, [], None, settings)
    assert unknown.served_prompts == 40 and unknown.served_excluded_prompts is None and unknown.served_farther == 10
    assert "its split is not recorded" in served_line(unknown)
    # Nothing left to compare: no served figures, and the line says why.
    nothing = against_served(
        comparison, "r1", served, candidate, prompts, [], frozenset(p.key for p in prompts), settings
    )
    assert nothing.served_prompts == 0 and nothing.served_net_closer is None
    assert "not compared" in served_line(nothing)


def _alias(root: Path, **alias: Any) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / ALIAS_FILE).write_text(json.dumps(alias))


def test_the_registry_keeps_each_runs_split_and_finds_the_earlier_ones(tmp_path: Path) -> None:
    root = tmp_path / "registry"
    registry = Registry(str(root))
    r1 = split_pairs(_snapshot(range(50)), 0.2)
    r2 = split_pairs(_snapshot(range(80)), 0.2, _previous(r1.record("r1")))
    assert registry.previous_splits(exclude="r9") == PreviousSplits()  # nothing yet: a fresh split

    registry.write_split("r1", r1.record("r1"))
    registry.write_split("r2", r2.record("r2"))
    assert registry.read_split("r1") == r1.record("r1") and registry.read_split("r3") is None
    # The latest run that wrote a split is read, whatever the alias says...
    assert [r.run_id for r in registry.previous_splits(exclude="r9").records] == ["r2"]
    # ... and the runs the alias serves (current and rollout candidate); one without a record is named.
    _alias(root, current="r1", candidate="r0")
    previous = registry.previous_splits(exclude="r9")
    assert [r.run_id for r in previous.records] == ["r1", "r2"] and previous.unrecorded == ("r0",)
    assert registry.previous_splits(exclude="r2").records[0].run_id == "r1"  # a retried run ignores its own
    # A damaged record is reported as unrecorded, not trusted.
    (root / "runs" / "r1" / "split.json").write_text("{not json")
    assert registry.previous_splits(exclude="r9").unrecorded == ("r1", "r0")
