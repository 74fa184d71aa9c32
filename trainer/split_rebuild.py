"""A run's sticky split, and split records rebuilt for runs trained before them from their tagged snapshot.

A run trained before the split became sticky has no ``split.json``, so a later run could not keep its
sides, and the comparison with it (users' served model, after an upgrade) ran on every held-out
prompt, some of which it may have trained on. Its split was a pure function of two things its card
and the catalog still hold: the pairs it split, and ``eval_fraction``. The pairs are its snapshot
(tagged ``train-<run_id>``, which snapshot expiry keeps) less those its table's head no longer held
when it ran (the card's ``dataset.removed_since_trigger``: how many, and the head it checked; see
:func:`flywheel.trainer.dataset.still_held`). :func:`split_pairs` with no earlier record is that
rule exactly, as the card's ``split.rule`` (:data:`PRE_STICKY_SPLIT_RULE`) states it.

Invariant: a rebuilt record is written only when it is verifiably the run's split: the rebuilt
held-out prompt-set hash, held-out pairs and degenerate pairs equal the card's. Otherwise (another
rule, the snapshot expired, a figure that differs) the run stays unrecorded, and the reason is
logged and written in the next run's card.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError

from flywheel.errors import RegistryError
from flywheel.trainer.dataset import read_pairs
from flywheel.trainer.registry import Registry
from flywheel.trainer.split import PairSplit, split_pairs

log = logging.getLogger(__name__)

# The rule the cards of runs before split records name (``split.rule``): the split they made is
# split_pairs with no earlier record. A card naming another rule (older still) was split otherwise.
PRE_STICKY_SPLIT_RULE = (
    "pairs linked by a shared prompt (after its conversation; and after its conversation without system "
    "turns), a shared chosen answer of 32+ characters, a shared thread_id, or a follow-up whose conversation "
    "holds an earlier pair's prompt and answer, form one group (texts NFKC, casefolded, whitespace-collapsed, "
    "typographic quotes made plain, punctuation at either end and spaces before it dropped); groups in the "
    "order of sha256(their least prompt key) are held out until eval_fraction of the pairs are, a group that "
    "would overshoot it by more than it was short skipped; never every group, the smallest when all are too large"
)


@dataclass(frozen=True)
class Rebuilds:
    """The earlier runs without a split record that one run looked at: those rebuilt, and why the others were not."""

    rebuilt: tuple[str, ...] = ()
    not_rebuilt: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RebuiltSplit:
    """A run's split made again, and what it was made from (written into its record as ``rebuilt_from``)."""

    split: PairSplit
    source: dict[str, Any]


def rebuild_split(catalog: Catalog, card: dict[str, Any]) -> RebuiltSplit | str:
    """The split ``card``'s run made, from its tagged snapshot; why not (a sentence) when it cannot be made exactly."""
    shown, dataset = card.get("split") or {}, card.get("dataset") or {}
    if shown.get("rule") != PRE_STICKY_SPLIT_RULE:
        return "its card names another split rule than the one rebuilt (a run older still, or a damaged card)"
    try:
        table = catalog.load_table(dataset["table"])
        snapshot_id, tag, removed = dataset["snapshot_id"], dataset["snapshot_tag"], dataset["removed_since_trigger"]
        fraction, expected_hash = shown["eval_fraction"], shown["eval_prompt_set_hash"]
        expected = dataset["eval_pairs"], dataset["degenerate_pairs"]["pairs"]
    except NoSuchTableError:
        return f"its pairs table {dataset.get('table')} is gone"
    except (KeyError, TypeError) as exc:
        return f"its card lacks what a rebuild needs ({exc!r})"
    # By id: the tag only kept it from expiry (a snapshot whose tag was removed may still be there).
    if table.snapshot_by_id(snapshot_id) is None:
        return f"its pairs snapshot {snapshot_id} is gone (expired; tag {tag} removed)"
    rows = read_pairs(table, snapshot_id)
    if removed["pairs"]:
        # The run left out the pairs the head it checked no longer held: that head's pair ids say which.
        checked = table.snapshot_by_id(removed["checked_snapshot_id"] or -1)
        if checked is None:
            return f"the snapshot {removed['checked_snapshot_id']} its removed pairs were checked against is gone"
        held = set(
            table.scan(snapshot_id=checked.snapshot_id, selected_fields=("pair_id",)).to_arrow()["pair_id"].to_pylist()
        )
        kept = [row for row in rows if row["pair_id"] in held]
        if len(rows) - len(kept) != removed["pairs"]:
            return (
                f"{len(rows) - len(kept)} pairs are left out against the checked head, the card says {removed['pairs']}"
            )
        rows = kept
    split = split_pairs(rows, fraction)
    if (split.eval_prompt_set_hash, len(split.eval), split.degenerate) != (expected_hash, *expected):
        return (
            f"the split rebuilt from snapshot {snapshot_id} differs from the card's (held-out pairs {len(split.eval)}, "
            f"card {expected[0]}; degenerate {split.degenerate}, card {expected[1]}; or the prompt-set hash)"
        )
    source = {
        "rule": PRE_STICKY_SPLIT_RULE,
        "table": dataset["table"],
        "snapshot_id": snapshot_id,
        "snapshot_tag": tag,
        "removed_since_trigger": removed,
        "eval_fraction": fraction,
        "eval_prompt_set_hash": expected_hash,
        "rebuilt_at": datetime.now(UTC).isoformat(),
    }
    return RebuiltSplit(split, source)


def rebuild_missing_splits(catalog: Catalog, registry: Registry, runs: list[str]) -> Rebuilds:
    """Write the split record of each of ``runs`` without one, rebuilt from its card and snapshot (once: it stays).

    A damaged record is left as it is (:meth:`Registry.previous_splits` reports it); a run that
    cannot be rebuilt exactly stays unrecorded, logged with the reason, and its sides are not kept.
    """
    rebuilt, not_rebuilt = [], {}
    for run_id in runs:
        try:
            if registry.read_split(run_id) is not None:
                continue
        except RegistryError:
            continue
        card = registry.read_card(run_id)
        outcome = "it has no model card in the registry" if card is None else rebuild_split(catalog, card)
        if isinstance(outcome, str):
            log.warning(
                "an earlier run's split could not be rebuilt: its sides are not kept",
                extra={"run_id": run_id, "reason": outcome},
            )
            not_rebuilt[run_id] = outcome
            continue
        registry.write_split(run_id, outcome.split.record(run_id), rebuilt_from=outcome.source)
        log.info(
            "an earlier run's split rebuilt from its tagged snapshot",
            extra={
                "run_id": run_id,
                "snapshot_id": outcome.source["snapshot_id"],
                "eval_pairs": len(outcome.split.eval),
            },
        )
        rebuilt.append(run_id)
    return Rebuilds(rebuilt=tuple(rebuilt), not_rebuilt=not_rebuilt)


def sticky_split(
    catalog: Catalog,
    registry: Registry,
    rows: list[dict[str, Any]],
    eval_fraction: float,
    run_id: str,
    also: tuple[str, ...] = (),
) -> tuple[PairSplit, Rebuilds]:
    """Split a run's pairs keeping the sides of the earlier runs the registry names (and ``also``).

    Runs trained before split records get one rebuilt from their tagged snapshot first, so they
    are kept too.
    """
    rebuilds = rebuild_missing_splits(catalog, registry, registry.kept_runs(exclude=run_id, also=also))
    previous = registry.previous_splits(exclude=run_id, also=also)
    split = split_pairs(rows, eval_fraction, previous)
    log.info(
        "held-out prompts kept from earlier runs",
        extra={
            "run_id": run_id,
            "previous_runs": [record.run_id for record in previous.records],
            "unrecorded_runs": list(previous.unrecorded),
            "rebuilt_runs": list(rebuilds.rebuilt),
            "carried": split.carried_eval_prompts,
            "new": split.new_eval_prompts,
            "trained_before": split.eval_prompts_trained_before,
        },
    )
    return split, rebuilds
