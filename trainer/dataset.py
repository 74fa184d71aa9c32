"""Training data from one Iceberg snapshot: time-travel reads, share caps, positives, JSONL export."""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from pyiceberg.table import Table
from pyiceberg.table.snapshots import Operation, Snapshot, ancestors_of

from flywheel.infra.catalog import branch_head, resolve_snapshot, total_records
from flywheel.schemas.conversation import stored_turns
from flywheel.trainer.conversation import Formatting
from flywheel.trainer.split import (
    MIN_LINKING_ANSWER_CHARS,
    SPLIT_RULE,
    PairSplit,
    is_eval,
    normalise_prompt,
    pair_groups,
    pair_prompt_key,
    prompt_key,
    split_pairs,
    user_prompt_key,
)

log = logging.getLogger(__name__)

__all__ = [  # the split's names too: kept importable from here, where they lived
    "MIN_LINKING_ANSWER_CHARS",
    "SPLIT_RULE",
    "ExportReport",
    "HeldPairs",
    "PairSplit",
    "ShareCap",
    "cap_share",
    "cap_training_set",
    "export_example",
    "export_jsonl",
    "is_eval",
    "mix_in_positives",
    "normalise_prompt",
    "pair_groups",
    "pair_prompt_key",
    "prompt_key",
    "read_pairs",
    "read_positives",
    "split_pairs",
    "still_held",
    "user_prompt_key",
]

PAIR_COLUMNS = ("pair_id", "prompt", "chosen", "rejected", "policy_version", "user_id")
# Read when the table has them: the event's metadata (JSON text or a map) carries earlier turns;
# thread_id keeps a conversation's pairs on one side of the split (tables of tests may lack either).
OPTIONAL_PAIR_COLUMNS = ("metadata", "thread_id")
EXPORT_COLUMNS = ("prompt", "chosen", "rejected")


def read_pairs(table: Table, snapshot_id: int) -> list[dict[str, Any]]:
    """Every pair of exactly ``snapshot_id`` (time travel), sorted by ``pair_id``, with parsed ``turns``."""
    names = {column.name for column in table.schema().columns}
    columns = PAIR_COLUMNS + tuple(c for c in OPTIONAL_PAIR_COLUMNS if c in names)
    rows = table.scan(snapshot_id=snapshot_id, selected_fields=columns).to_arrow().to_pylist()
    malformed = 0
    for row in rows:
        turns = stored_turns(row.pop("metadata", None))
        malformed += turns is None
        row["turns"] = turns or []
    if malformed:
        log.warning("pairs with a malformed metadata.conversation train without it", extra={"pairs": malformed})
    return sorted(rows, key=lambda row: row["pair_id"])


@dataclass(frozen=True)
class HeldPairs:
    """A trigger's pairs that the table still holds, and what was removed from them since."""

    rows: list[dict[str, Any]]
    removed: int
    # The head the trigger's pairs were checked against (None: only appends since, nothing to check).
    checked_snapshot_id: int | None


def still_held(table: Table, rows: list[dict[str, Any]], snapshot_id: int) -> HeldPairs:
    """The rows of ``snapshot_id`` whose ``pair_id`` the table's head still holds.

    A trigger names the snapshot it crossed the threshold at; a quarantine, a revert or any
    other delete committed while it waited removed rows from the table, not from that snapshot.
    Training on the snapshot as it was would train on exactly what someone took out: the pairs
    the table no longer holds are left out (compaction rewrites files, not rows).
    """
    held_ids = _held_ids(table, snapshot_id)
    head = branch_head(table)
    if held_ids is None or head is None:
        return HeldPairs(rows, 0, None)
    kept = [row for row in rows if row["pair_id"] in held_ids]
    return HeldPairs(kept, len(rows) - len(kept), head.snapshot_id)


def _removed_since(table: Table, head: Snapshot, snapshot_id: int) -> bool:
    """Whether anything but appends was committed between ``snapshot_id`` and ``head`` (or it is not behind it)."""
    for snapshot in ancestors_of(head, table.metadata):
        if snapshot.snapshot_id == snapshot_id:
            return False
        if snapshot.summary is None or snapshot.summary.operation != Operation.APPEND:
            return True
    return True  # not an ancestor (a rollback), or history expired: compare the rows


@dataclass(frozen=True)
class ShareCap:
    """What capping the share of one prompt and one user removed from the training set."""

    max_prompt_share: float
    max_user_share: float
    dropped_for_prompt: int = 0
    dropped_for_user: int = 0
    largest_prompt_share: float = 0.0
    largest_user_share: float = 0.0  # above the cap only when there are fewer groups than 1 / cap


def cap_share(
    rows: list[dict[str, Any]], group: Callable[[dict[str, Any]], str], max_share: float
) -> list[dict[str, Any]]:
    """Keep at most ``c`` rows per group, the largest ``c`` for which no group supplies over ``max_share``.

    Rows keep their order (the first ``c`` of each group stay), so the result is deterministic. When
    even one row per group is too many (fewer than ``1 / max_share`` groups), one row per group stays.
    """
    counts = Counter(group(row) for row in rows)
    if not counts:
        return rows

    def fits(cap: int) -> bool:
        total = sum(min(n, cap) for n in counts.values())
        return max(min(n, cap) for n in counts.values()) <= max_share * total + 1e-9

    low, high = 1, max(counts.values())
    if fits(high):
        return rows
    while low < high:  # the largest fitting cap; shares only shrink as the cap falls
        middle = (low + high + 1) // 2
        low, high = (middle, high) if fits(middle) else (low, middle - 1)
    kept: Counter[str] = Counter()
    capped = []
    for row in rows:
        name = group(row)
        if kept[name] < low:
            kept[name] += 1
            capped.append(row)
    return capped


def cap_training_set(
    rows: list[dict[str, Any]], max_prompt_share: float, max_user_share: float
) -> tuple[list[dict[str, Any]], ShareCap]:
    """Apply the per-prompt, then the per-user share cap; report what each removed.

    A prompt is what the split calls one (:func:`user_prompt_key`): a follow-up after its own
    conversation, so 400 conversations ending in "Make it shorter." are not one prompt over the cap.
    """
    by_prompt = cap_share(rows, user_prompt_key, max_prompt_share)
    by_user = cap_share(by_prompt, lambda row: str(row.get("user_id") or ""), max_user_share)

    def largest(kept: list[dict[str, Any]], group: Callable[[dict[str, Any]], str]) -> float:
        counts = Counter(group(row) for row in kept)
        return max(counts.values()) / len(kept) if kept else 0.0

    report = ShareCap(
        max_prompt_share=max_prompt_share,
        max_user_share=max_user_share,
        dropped_for_prompt=len(rows) - len(by_prompt),
        dropped_for_user=len(by_prompt) - len(by_user),
        largest_prompt_share=largest(by_user, user_prompt_key),
        largest_user_share=largest(by_user, lambda row: str(row.get("user_id") or "")),
    )
    return by_user, report


def read_positives(table: Table, snapshot_id: int | None, limit: int) -> list[dict[str, str]]:
    """Up to ``limit`` positive examples of ``snapshot_id``, a deterministic hash-ordered sample."""
    if snapshot_id is None or limit == 0:
        return []
    columns = ("example_id", "prompt", "response")
    rows = table.scan(snapshot_id=snapshot_id, selected_fields=columns).to_arrow().to_pylist()
    rows.sort(key=lambda row: hashlib.sha256(row["example_id"].encode()).hexdigest())
    return rows[:limit]


def mix_in_positives(train: list[dict[str, Any]], positives: list[dict[str, str]]) -> list[dict[str, Any]]:
    """Positives as extra pairs: the liked response beats another prompt's response (off-topic).

    Callers pass only positives whose prompt is on the train side, so eval stays untouched.
    """
    if len(positives) < 2:
        return train
    extra = []
    for index, row in enumerate(positives):
        other = positives[(index + 1) % len(positives)]
        if other["response"] != row["response"]:
            extra.append(
                {
                    "pair_id": f"positive:{row['example_id']}",
                    "prompt": row["prompt"],
                    "chosen": row["response"],
                    "rejected": other["response"],
                    "user_id": "",
                    "turns": [],
                }
            )
    return train + extra


@dataclass(frozen=True)
class ExportReport:
    """What an export wrote."""

    path: str
    rows: int
    snapshot_id: int
    without_turns: int = 0  # rows whose stored conversation was malformed: exported without it
    # Pairs of the snapshot the table's head no longer holds (quarantined, reverted, deleted since):
    # written unless ``only_held``, left out if it is. A training run left them out too.
    removed_since: int = 0


def export_example(row: dict[str, Any], conversational: bool) -> tuple[dict[str, Any], bool]:
    """(the TRL example the trainer would train on for ``row``, whether its stored turns were usable).

    Conversational: ``prompt`` is the earlier turns then the user's message, ``chosen`` and
    ``rejected`` one assistant message each. Standard: strings; the earlier turns' texts come
    before the prompt, as the trainer formats them for a model without a chat template.
    """
    turns = stored_turns(row.get("metadata"))
    fields = {column: row[column] for column in EXPORT_COLUMNS}
    return Formatting(chat=conversational).example({**fields, "turns": turns or []}), turns is not None


def export_jsonl(
    table: Table,
    ref: str,
    destination: str | Path,
    *,
    conversational: bool = True,
    show_progress: bool = False,
    only_held: bool = False,
) -> ExportReport:
    """Write one TRL DPO example per line (:func:`export_example`) of snapshot/tag ``ref`` to ``destination``.

    ``destination`` is a local path or an fsspec URL; the file is written whole or not at all
    for local paths (temporary file, then rename). Pairs of ``ref`` that the table's head no
    longer holds are counted (``removed_since``) and, with ``only_held``, left out: what a
    training run on ``ref`` trains on (:func:`still_held`), not the snapshot as it was.
    """
    import fsspec
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    snapshot = resolve_snapshot(table, ref)
    expected = total_records(snapshot)
    held_ids = _held_ids(table, snapshot.snapshot_id)
    removed = 0
    destination = str(destination)
    local = "://" not in destination
    target = f"{destination}.partial" if local else destination
    if local:
        Path(destination).parent.mkdir(parents=True, exist_ok=True)
    written = without_turns = 0
    names = {column.name for column in table.schema().columns}
    selected = EXPORT_COLUMNS + (("metadata",) if "metadata" in names else ())
    if held_ids is not None and "pair_id" not in selected:
        selected += ("pair_id",)
    reader = table.scan(snapshot_id=snapshot.snapshot_id, selected_fields=selected).to_arrow_batch_reader()
    columns = (
        TextColumn("[bold]export"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, disable=not show_progress) as progress, fsspec.open(target, "wb") as handle:
        task = progress.add_task("export", total=expected)
        for batch in reader:
            lines = []
            for row in batch.to_pylist():
                if held_ids is not None and row["pair_id"] not in held_ids:
                    removed += 1
                    if only_held:
                        continue
                example, usable = export_example(row, conversational)
                lines.append(orjson.dumps(example) + b"\n")
                without_turns += not usable
            handle.write(b"".join(lines))
            written += len(lines)
            progress.update(task, advance=len(lines))
    if local:
        Path(target).replace(destination)
    if without_turns:
        log.warning("pairs with a malformed metadata.conversation exported without it", extra={"pairs": without_turns})
    log.info("exported dataset", extra={"rows": written, "snapshot_id": snapshot.snapshot_id})
    if removed:
        log.warning(
            "pairs of the exported snapshot were removed from the table since",
            extra={"pairs": removed, "left_out": only_held, "snapshot_id": snapshot.snapshot_id},
        )
    return ExportReport(
        path=destination,
        rows=written,
        snapshot_id=snapshot.snapshot_id,
        without_turns=without_turns,
        removed_since=removed,
    )


def _held_ids(table: Table, snapshot_id: int) -> set[str] | None:
    """The pair ids the table's head holds, when something but appends was committed since ``snapshot_id``."""
    table.refresh()
    head = branch_head(table)
    if head is None or not _removed_since(table, head, snapshot_id):
        return None
    return set(table.scan(snapshot_id=head.snapshot_id, selected_fields=("pair_id",)).to_arrow()["pair_id"].to_pylist())
