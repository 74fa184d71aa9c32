"""Before/after of the policy's ``[word_lists]`` on every labelled set.

Run: ``python -m flywheel.benchmarks.word_list_eval``.

Each set (ours, the held-out set, probe rounds 1-5 together, rounds 6, 7 and 8 alone) runs through
the real curation flow in memory, on the same code: with ``default-v12``; with v12 plus the
``[word_lists]`` of ``word_lists_section.toml`` ("lists"); and with those lists read in every
segment whatever its language ("lists ungated": ``any_language`` = every list, what the language
gate costs or saves). The lists were chosen and their exclusions written without reading any probe
text; the section was not adopted as a policy version (README, Round 8). Per set: insults and
injections accepted, precision of accepted pairs, good-edit recall, one-token fixes
(``small_semantic``) kept; then the events whose decision changed under any of the three, with each
one's placements. Written to ``benchmarks/results/word_lists.json``.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from flywheel.benchmarks.curation_quality import (
    HOLDOUT_SET,
    LABELLED_SET,
    PROBE_SET,
    Labelled,
    load_labelled,
    probe_kinds,
    run_labelled,
    score,
)
from flywheel.flows.config import FlowConfig
from flywheel.operators.config import DEFAULT_POLICY_FILE

V12 = DEFAULT_POLICY_FILE.with_name("default-v12.toml")
SECTION = Path(__file__).with_name("word_lists_section.toml")
RESULTS = Path("benchmarks/results/word_lists.json")


def _sets() -> dict[str, list[Labelled]]:
    kinds = probe_kinds()
    probes = load_labelled(PROBE_SET)

    def rounds(*names: str) -> list[Labelled]:
        return [item for item in probes if kinds[item.event.event_id].endswith(names)]

    late = (":round6", ":round7", ":round8")
    return {
        "our set": load_labelled(LABELLED_SET),
        "held-out set": load_labelled(HOLDOUT_SET),
        "probe rounds 1-5": [item for item in probes if not kinds[item.event.event_id].endswith(late)],
        "round 6": rounds(":round6"),
        "round 7": rounds(":round7"),
        "round 8": rounds(":round8"),
    }


def _figures(results: dict[str, Any]) -> dict[str, Any]:
    cats = results["categories"]

    def of(name: str, key: str) -> int:
        return int(cats.get(name, {}).get(key, 0))

    return {
        "insults_accepted": f"{of('insult', 'accepted')} of {of('insult', 'items')}",
        "injections_accepted": f"{of('injection', 'accepted')} of {of('injection', 'items')}",
        "precision": round(results["precision"], 3) if results["precision"] is not None else None,
        "good_edit_recall": round(results["good_edit_recall"], 3) if results["good_edit_recall"] is not None else None,
        "one_token_fixes_kept": f"{of('small_semantic', 'accepted')} of {of('small_semantic', 'items')}",
    }


def _config(policy: Path) -> FlowConfig:
    config = FlowConfig()
    return config.model_copy(
        update={
            "curation": config.curation.model_copy(
                update={"policy": config.curation.policy.model_copy(update={"file": policy})}
            )
        }
    )


def _policies(folder: Path) -> dict[str, Path]:
    """v12; v12 with the word lists (its version renamed); the same with every list ungated."""
    v12 = V12.read_text(encoding="utf-8")
    section = SECTION.read_text(encoding="utf-8")
    gated = 'any_language = ["hindi", "russian"]'
    if gated not in section:
        raise SystemExit(f"{SECTION}: no `{gated}` line to replace")
    every = section.split("\nlanguages = [", 1)[1].split("]", 1)[0]
    paths = {"v12": V12}
    for label, text in (("lists", section), ("lists ungated", section.replace(gated, f"any_language = [{every}]"))):
        path = folder / f"{label.replace(' ', '-')}.toml"
        version = f'version = "default-v12+{label.replace(" ", "-")}"'
        path.write_text(v12.replace('version = "default-v12"', version, 1) + "\n" + text, encoding="utf-8")
        paths[label] = path
    return paths


def main() -> dict[str, Any]:
    """Run every set with each policy; print and write the figures and the changed decisions."""
    out: dict[str, Any] = {}
    folder = Path(tempfile.mkdtemp(prefix="word-lists-"))
    policies = _policies(folder)
    for name, items in _sets().items():
        runs = {label: run_labelled(items, _config(path), 1, 1000, 1) for label, path in policies.items()}
        entry: dict[str, Any] = {label: _figures(score(items, run)) for label, run in runs.items()}
        changed = []
        for item in items:
            places = {label: sorted(run.placed.get(item.event.event_id, [])) for label, run in runs.items()}
            if len({json.dumps(p) for p in places.values()}) > 1:
                changed.append(
                    {"event_id": item.event.event_id, "category": item.category, "expect": item.expect, **places}
                )
        entry["changed"] = changed
        out[name] = entry
        print(
            name, json.dumps({k: v for k, v in entry.items() if k != "changed"}), f"{len(changed)} changed", flush=True
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return out


if __name__ == "__main__":
    main()
