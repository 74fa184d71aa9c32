"""Human-readable run summaries (rich)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from flywheel.flows.replay import ReplayReport
from flywheel.flows.runner import RunSummary
from flywheel.infra.catalog import encode_offsets


def print_summary(console: Console, summary: RunSummary) -> None:
    """Print what a run read, wrote, dead-lettered, and the offsets stored per table."""
    console.print(
        f"[bold]events read[/bold] {summary.events_read}   "
        f"[bold]rows written[/bold] {summary.rows_written()}   "
        f"[bold]DLQ[/bold] {summary.dead_letters}   "
        f"[bold]start offsets[/bold] {summary.start_offsets}"
    )
    if summary.events_by_signal:
        signals = ", ".join(f"{name}={count}" for name, count in sorted(summary.events_by_signal.items()))
        console.print(f"valid events by signal: {signals}")
    if summary.decisions:
        decisions = ", ".join(f"{name}={count}" for name, count in sorted(summary.decisions.items()))
        console.print(f"curation decisions (stage:reason): {decisions}")
    table = Table("table", "rows this run", "commits", "snapshot id")
    for name in sorted(summary.table_snapshots):
        commits = [c for c in summary.commits if c.table == name]
        table.add_row(
            name,
            str(summary.rows_written(name)),
            str(len(commits)),
            str(summary.table_snapshots[name]),
        )
    console.print(table)
    if summary.stopped_by:
        console.print(
            f"[yellow]stopped by {summary.stopped_by}[/yellow]: rows of epochs that had closed are committed; "
            "a restart resumes from the last recovery snapshot (nothing lost, nothing twice)"
        )
    console.print("offsets stored in each table's current snapshot summary (last offset per partition):")
    for name in sorted(summary.table_offsets):
        console.print(f"  {name}: {encode_offsets(summary.table_offsets[name])}", soft_wrap=True)


def print_replay(console: Console, report: ReplayReport) -> None:
    """Print a replay's run summary and what changed against main."""
    print_summary(console, report.summary)
    console.print(
        f"[bold]replay into branch {report.branch!r}[/bold]: {report.compared} messages compared with main, "
        f"{report.unchanged} unchanged, {sum(report.changed.values())} changed"
    )
    if report.held_messages:
        held = ", ".join(f"{count} for {topic}" for topic, count in sorted(report.held_messages.items()))
        console.print(f"not sent (main sent its own; a trial policy must not queue reviewers): {held}")
    if report.changed:
        table = Table("on main", "in the replay", "messages", "e.g. (topic, partition, offset)")
        for (before, after), count in report.changed.most_common():
            table.add_row(before, after, str(count), str(tuple(report.examples[(before, after)][0])))
        console.print(table)
