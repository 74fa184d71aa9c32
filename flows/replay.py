"""Replay: reprocess from given offsets or a timestamp into an Iceberg branch, then report
what changed against main.

A new branch starts with no snapshot, so its committers hold no offsets and write every
replayed message; main is never touched. Under a different policy (or any other curation
setting) the report says, per source message, where main put it and where the replay did.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

from pyiceberg.table import Table

from flywheel.config import revised
from flywheel.errors import BranchExists, ConfigError
from flywheel.flows.config import FlowConfig
from flywheel.flows.kafka_sink import HeldOutbound
from flywheel.flows.runner import RunSummary, StartRequest, preflight, run_until_drained
from flywheel.infra.catalog import (
    LINEAGE_COLUMNS,
    branch_head,
    committed_offsets,
    ensure_tables,
    from_source,
    open_catalog,
    read_rows,
    table_identifier,
)
from flywheel.schemas.records import Position
from flywheel.schemas.tables import REJECTIONS, contracts

# Where one message ended up: "dpo_pairs", "rejections:policy:pii:email", or "(none)".
NOWHERE = "(none)"


@dataclass
class ReplayReport:
    """Outcome changes between main and the replay branch, over the replayed offsets."""

    branch: str
    start_offsets: dict[int, int]
    summary: RunSummary
    compared: int = 0
    changed: Counter[tuple[str, str]] = field(default_factory=Counter)
    examples: dict[tuple[str, str], list[Position]] = field(default_factory=dict)
    # DLQ and review messages the replay produced and did not send, by topic (main sent its own).
    held_messages: dict[str, int] = field(default_factory=dict)

    @property
    def unchanged(self) -> int:
        return self.compared - sum(self.changed.values())


def replay(settings: FlowConfig, branch: str, request: StartRequest, policy_file: Path | None = None) -> ReplayReport:
    """Run the flow from ``request``'s positions into ``branch`` and compare it with main."""
    if branch == "main":
        raise ConfigError("replay into a branch other than main")
    replay_settings = revised(
        settings,
        catalog={"branch": branch},
        recovery={"directory": Path(settings.state_dir) / "replays" / branch / "recovery"},
        curation={"policy": {"file": policy_file}} if policy_file is not None else {},
    )
    preflight(settings)
    tables = ensure_tables(open_catalog(settings.catalog), settings.catalog)
    existing = [name for name, table in tables.items() if table.snapshot_by_name(branch) is not None]
    if existing:
        raise BranchExists(f"branch {branch!r} already exists on {', '.join(sorted(existing))}; pick a new name")
    if request.from_offsets is None and request.from_timestamp is None:
        request = StartRequest(from_offsets="0")
    request = replace(request, reset_recovery=True)
    held = HeldOutbound()
    summary = run_until_drained(replay_settings, request, outbound=held)
    report = ReplayReport(branch, summary.start_offsets, summary, held_messages=dict(held.counts))
    _compare(report, settings, branch, summary.start_offsets)
    return report


def _compare(report: ReplayReport, settings: FlowConfig, branch: str, start_offsets: dict[int, int]) -> None:
    catalog = open_catalog(settings.catalog)
    tables = {name: catalog.load_table(table_identifier(settings.catalog, name)) for name in contracts()}
    topic = settings.topics.interactions
    main = _outcomes(tables, "main", topic, start_offsets)
    replayed = _outcomes(tables, branch, topic, start_offsets)
    # Only messages the replay read: up to what the branch's offsets ledger records per partition
    # (a message the replay decided and stored nowhere, a thumbs-up left unsampled, is still read),
    # or its highest stored row where the ledger says less.
    reach: dict[int, int] = {}
    for table in tables.values():
        for (ledger_topic, partition), offset in committed_offsets(table, branch).items():
            if ledger_topic == topic:
                reach[partition] = max(reach.get(partition, -1), offset)
    for position in replayed:
        reach[position.partition] = max(reach.get(position.partition, -1), position.offset)
    positions = {p for p in main.keys() | replayed.keys() if p.offset <= reach.get(p.partition, -1)}
    report.compared = len(positions)
    for position in sorted(positions):
        before, after = main.get(position, NOWHERE), replayed.get(position, NOWHERE)
        if before != after:
            report.changed[(before, after)] += 1
            report.examples.setdefault((before, after), []).append(position)


def _outcomes(tables: dict[str, Table], ref: str, topic: str, start_offsets: dict[int, int]) -> dict[Position, str]:
    outcomes: dict[Position, str] = {}
    for name, table in tables.items():
        snapshot = branch_head(table, ref)
        if snapshot is None:
            continue
        fields = LINEAGE_COLUMNS + (("stage", "reason") if name == REJECTIONS else ())
        for row in read_rows(table, snapshot, from_source(topic), fields):
            position = Position(row["source_topic"], row["source_partition"], row["source_offset"])
            if position.offset < start_offsets.get(position.partition, 0):
                continue
            outcomes[position] = f"{name}:{row['stage']}:{row['reason']}" if name == REJECTIONS else name
    return outcomes
