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
from flywheel.flows.runner import RunSummary, StartRequest, run_until_drained
from flywheel.infra.catalog import ensure_tables, open_catalog, table_identifier
from flywheel.infra.offsets import branch_head
from flywheel.schemas.tables import REJECTIONS, contracts

Position = tuple[str, int, int]
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
    tables = ensure_tables(open_catalog(settings.catalog), settings.catalog)
    existing = [name for name, table in tables.items() if table.snapshot_by_name(branch) is not None]
    if existing:
        raise BranchExists(f"branch {branch!r} already exists on {', '.join(sorted(existing))}; pick a new name")
    if request.from_offsets is None and request.from_timestamp is None:
        request = StartRequest(from_offsets="0")
    request = replace(request, reset_recovery=True)
    summary = run_until_drained(replay_settings, request)
    report = ReplayReport(branch, summary.start_offsets, summary)
    _compare(report, settings, branch, summary.start_offsets)
    return report


def _compare(report: ReplayReport, settings: FlowConfig, branch: str, start_offsets: dict[int, int]) -> None:
    catalog = open_catalog(settings.catalog)
    tables = {name: catalog.load_table(table_identifier(settings.catalog, name)) for name in contracts()}
    topic = settings.topics.interactions
    main = _outcomes(tables, "main", topic, start_offsets)
    replayed = _outcomes(tables, branch, topic, start_offsets)
    # Only messages the replay read: up to the branch's highest offset per partition.
    reach: dict[int, int] = {}
    for _, partition, offset in replayed:
        reach[partition] = max(reach.get(partition, -1), offset)
    positions = {p for p in main.keys() | replayed.keys() if p[2] <= reach.get(p[1], -1)}
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
        fields = ["source_topic", "source_partition", "source_offset"]
        if name == REJECTIONS:
            fields += ["stage", "reason"]
        rows = (
            table.scan(
                row_filter=f"source_topic = '{topic}'", selected_fields=tuple(fields), snapshot_id=snapshot.snapshot_id
            )
            .to_arrow()
            .to_pylist()
        )
        for row in rows:
            if row["source_offset"] < start_offsets.get(row["source_partition"], 0):
                continue
            where = f"{name}:{row['stage']}:{row['reason']}" if name == REJECTIONS else name
            outcomes[(row["source_topic"], row["source_partition"], row["source_offset"])] = where
    return outcomes
