"""``flywheel data``: dataset versioning and upkeep (revert to a tag, quarantine a window, expire and compact)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from flywheel.console import cli_settings
from flywheel.settings import Settings

if TYPE_CHECKING:
    from pyiceberg.table import Table as IcebergTable

log = logging.getLogger(__name__)

app = typer.Typer(
    help="Dataset versioning and upkeep: revert to a tag, quarantine a time window, expire and compact.",
    no_args_is_help=True,
)
DEFAULT_DATA_TABLES = ["dpo_pairs", "positive_examples"]
console = Console()


def _settings() -> Settings:
    return cli_settings()


@app.command("revert")
def data_revert(
    to_tag: Annotated[str, typer.Option(help="Tag (e.g. train-<run_id>) whose content the table returns to.")],
    table: Annotated[
        list[str] | None,
        typer.Option(
            help="Table(s) to revert, all or none. Default: those of dpo_pairs, positive_examples with the tag."
        ),
    ] = None,
) -> None:
    """Remove every row added after a tag (a new snapshot; history and the stream position stay)."""
    from flywheel.infra.dataset import revert_all_to_tag

    settings = _settings()
    tables = [_load_table(settings, name) for name in (table or DEFAULT_DATA_TABLES)]
    for removal in revert_all_to_tag(tables, to_tag, skip_untagged=table is None):
        console.print(
            f"{removal.table}: removed {removal.rows} rows added after {to_tag} (snapshot {removal.snapshot_id})"
        )


@app.command("quarantine")
def data_quarantine(
    start: Annotated[datetime, typer.Option("--from", help="Window start, event time (UTC if no offset).")],
    end: Annotated[datetime, typer.Option("--to", help="Window end, exclusive.")],
    reason: Annotated[str, typer.Option(help="Why (stored in the snapshot summary).")],
    user: Annotated[str | None, typer.Option(help="Only this user's rows.")] = None,
    table: Annotated[list[str], typer.Option(help="Table(s) to quarantine.")] = DEFAULT_DATA_TABLES,
) -> None:
    """Remove the rows of an event-time window (e.g. a poisoning attack) from the training tables."""
    from flywheel.infra.dataset import quarantine

    settings = _settings()
    for name in table:
        removal = quarantine(_load_table(settings, name), start, end, reason, user, settings.catalog.branch)
        console.print(
            f"{removal.table}: quarantined {removal.rows} rows (snapshot {removal.snapshot_id}); rule "
            f"{removal.rule_id} keeps later rows of the window out (data lift-quarantine --rule {removal.rule_id})"
        )


@app.command("lift-quarantine")
def data_lift_quarantine(
    rule: Annotated[str, typer.Option(help="The rule id `data quarantine` printed.")],
    table: Annotated[list[str], typer.Option(help="Table(s) to lift it on.")] = DEFAULT_DATA_TABLES,
) -> None:
    """Let the flow write rows of a quarantined window again (rows the quarantine removed stay removed)."""
    from flywheel.infra.dataset import lift_quarantine

    settings = _settings()
    for name in table:
        lifted = lift_quarantine(_load_table(settings, name), rule)
        console.print(f"{name}: " + (f"rule {rule} lifted" if lifted else f"no quarantine rule {rule}"))


@app.command("maintain")
def data_maintain(
    table: Annotated[
        list[str] | None, typer.Option(help="Table(s) to maintain (default: every flywheel table).")
    ] = None,
    expire: Annotated[bool, typer.Option(help="Expire old snapshots (tags and the offsets ledger stay).")] = True,
    compact: Annotated[bool, typer.Option(help="Rewrite small files into fewer files (one snapshot).")] = True,
) -> None:
    """Expire old snapshots and compact small files (safe to run while the flow commits).

    Each table and each step stands alone: a table that cannot be loaded or compacted is reported
    and the others (and its own expiry) still run; the command then exits 2 naming what failed.
    """
    from flywheel.schemas.tables import contracts

    settings = _settings()
    failed: list[str] = []

    def attempt(name: str, step: str, action: Callable[[IcebergTable, Settings], str], loaded: IcebergTable) -> None:
        try:
            console.print(f"{name}: {action(loaded, settings)}")
        except Exception as exc:  # one table's fault must not stop the others' upkeep
            log.warning("maintenance step failed", extra={"table": name, "step": step}, exc_info=True)
            console.print(f"[red]{name}: {step} failed: {type(exc).__name__}: {exc}[/red]")
            failed.append(f"{name} ({step})")

    for name in table or sorted(contracts()):
        try:
            loaded = _open_table(settings, name)
        except Exception as exc:  # as above: report, go on with the next table
            console.print(f"[red]{name}: cannot be loaded: {type(exc).__name__}: {exc}[/red]")
            failed.append(f"{name} (load)")
            continue
        if compact:
            attempt(name, "compaction", _compacted, loaded)
        if expire:
            attempt(name, "expiry", _expired, loaded)
    if failed:
        console.print(f"[red]maintenance failed for: {', '.join(failed)}[/red]")
        raise typer.Exit(2)


def _compacted(table: IcebergTable, settings: Settings) -> str:
    from flywheel.infra.maintenance import compact

    done = compact(table, settings.maintenance)
    return f"compacted {done.files_before} files into {done.files_after} ({done.rows} rows)"


def _expired(table: IcebergTable, settings: Settings) -> str:
    from flywheel.infra.maintenance import expire_snapshots

    expired = expire_snapshots(table, settings.maintenance)
    return f"expired {expired.expired} snapshots, {expired.kept} kept"


def _load_table(settings: Settings, name: str) -> IcebergTable:
    from pyiceberg.exceptions import NoSuchTableError

    try:
        return _open_table(settings, name)
    except NoSuchTableError as exc:
        console.print(f"[red]no table {name!r} in namespace {settings.catalog.namespace!r}[/red]")
        raise typer.Exit(2) from exc


def _open_table(settings: Settings, name: str) -> IcebergTable:
    from flywheel.infra.catalog import open_catalog, table_identifier

    return open_catalog(settings.catalog).load_table(table_identifier(settings.catalog, name))
