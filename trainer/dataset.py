"""Training data from one Iceberg snapshot: time-travel reads, a deterministic split, JSONL export."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import orjson
from pyiceberg.table import Table

from flywheel.infra.catalog import resolve_snapshot, total_records

log = logging.getLogger(__name__)

PAIR_COLUMNS = ("pair_id", "prompt", "chosen", "rejected", "policy_version")
EXPORT_COLUMNS = ("prompt", "chosen", "rejected")


def is_eval(key: str, eval_fraction: float) -> bool:
    """Whether a row belongs to the eval split: a pure function of its id, stable across runs."""
    bucket = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2**64
    return bucket < eval_fraction


@dataclass(frozen=True)
class PairSplit:
    """DPO pairs of one snapshot, split into train and eval by ``pair_id``."""

    train: list[dict[str, str]]
    eval: list[dict[str, str]]


def read_pairs(table: Table, snapshot_id: int) -> list[dict[str, str]]:
    """Every pair of exactly ``snapshot_id`` (time travel), sorted by ``pair_id`` for determinism."""
    rows = table.scan(snapshot_id=snapshot_id, selected_fields=PAIR_COLUMNS).to_arrow().to_pylist()
    return sorted(rows, key=lambda row: row["pair_id"])


def split_pairs(rows: list[dict[str, str]], eval_fraction: float) -> PairSplit:
    """Deterministic train/eval split; at least one eval pair when there are two or more rows."""
    train = [row for row in rows if not is_eval(row["pair_id"], eval_fraction)]
    held = [row for row in rows if is_eval(row["pair_id"], eval_fraction)]
    if not held and len(train) > 1:
        held = [train.pop()]
    return PairSplit(train=train, eval=held)


def read_positives(table: Table, snapshot_id: int | None, limit: int) -> list[dict[str, str]]:
    """Up to ``limit`` positive examples of ``snapshot_id``, a deterministic hash-ordered sample."""
    if snapshot_id is None or limit == 0:
        return []
    columns = ("example_id", "prompt", "response")
    rows = table.scan(snapshot_id=snapshot_id, selected_fields=columns).to_arrow().to_pylist()
    rows.sort(key=lambda row: hashlib.sha256(row["example_id"].encode()).hexdigest())
    return rows[:limit]


def mix_in_positives(train: list[dict[str, str]], positives: list[dict[str, str]]) -> list[dict[str, str]]:
    """Positives as extra pairs: the liked response beats another prompt's response (off-topic).

    Only rows whose ``example_id`` falls in the train split are used, so eval stays untouched.
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
                }
            )
    return train + extra


@dataclass(frozen=True)
class ExportReport:
    """What an export wrote."""

    path: str
    rows: int
    snapshot_id: int


def export_jsonl(table: Table, ref: str, destination: str | Path, show_progress: bool = False) -> ExportReport:
    """Write ``{"prompt","chosen","rejected"}`` lines of snapshot/tag ``ref`` to ``destination``.

    ``destination`` is a local path or an fsspec URL; the file is written whole or not at all
    for local paths (temporary file, then rename).
    """
    import fsspec
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    snapshot = resolve_snapshot(table, ref)
    expected = total_records(snapshot)
    destination = str(destination)
    local = "://" not in destination
    target = f"{destination}.partial" if local else destination
    if local:
        Path(destination).parent.mkdir(parents=True, exist_ok=True)
    written = 0
    reader = table.scan(snapshot_id=snapshot.snapshot_id, selected_fields=EXPORT_COLUMNS).to_arrow_batch_reader()
    columns = (
        TextColumn("[bold]export"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, disable=not show_progress) as progress, fsspec.open(target, "wb") as handle:
        task = progress.add_task("export", total=expected)
        for batch in reader:
            lines = [orjson.dumps({c: row[c] for c in EXPORT_COLUMNS}) + b"\n" for row in batch.to_pylist()]
            handle.write(b"".join(lines))
            written += len(lines)
            progress.update(task, advance=len(lines))
    if local:
        Path(target).replace(destination)
    log.info("exported dataset", extra={"rows": written, "snapshot_id": snapshot.snapshot_id})
    return ExportReport(path=destination, rows=written, snapshot_id=snapshot.snapshot_id)
