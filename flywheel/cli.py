"""The ``flywheel`` command line: local stack, the curation flow, the demo and the benchmark."""

from __future__ import annotations

import dataclasses
import json
import logging
import signal
import threading
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table as RichTable

from flywheel.config import revised
from flywheel.console import cli_settings, one_line_errors
from flywheel.logs import configure_logging
from flywheel.settings import Settings

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    pass

app = typer.Typer(
    help="Data Flywheel: curate LLM feedback into preference data in Iceberg, and train on it.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
stack_app = typer.Typer(
    help="The local stack: bundled Kafka-protocol broker, topics, Iceberg tables.", no_args_is_help=True
)
flow_app = typer.Typer(help="The curation flow (Bytewax).", no_args_is_help=True)
app.add_typer(stack_app, name="stack")
app.add_typer(flow_app, name="flow")
# Start positions shared by `flow run` and `flow replay` (replay defaults to offset 0).
FromOffsets = Annotated[
    str | None, typer.Option(help="Start offsets, 'PARTITION:OFFSET,...' or one offset for all partitions.")
]
FromTimestamp = Annotated[
    datetime | None, typer.Option(help="Start at the first message at or after this time (UTC if no offset).")
]

console = Console()


def _register_subapps() -> None:
    from flywheel.data_cli import app as data_app
    from flywheel.gateway_cli import app as gateway_app
    from flywheel.review_cli import app as review_app
    from flywheel.serving_cli import impact, model_app, serve
    from flywheel.trainer_cli import app as trainer_app

    app.add_typer(data_app, name="data")
    app.add_typer(trainer_app, name="trainer")
    app.add_typer(gateway_app, name="gateway")
    app.add_typer(review_app, name="review")
    app.add_typer(model_app, name="model")
    app.command("serve")(serve)
    app.command("impact")(impact)


_register_subapps()


def _settings() -> Settings:
    return cli_settings()


@stack_app.command("up")
def stack_up(
    port: Annotated[int, typer.Option(help="Broker port on 127.0.0.1 (0 picks a free one).")] = 9092,
) -> None:
    """Start the bundled broker on loopback, create topics and tables, run until Ctrl-C."""
    from flywheel.infra.broker import ensure_topics, start_broker
    from flywheel.infra.catalog import ensure_tables, open_catalog

    settings = _settings()
    broker = start_broker(port=port or None)
    settings = revised(settings, kafka={"bootstrap_servers": broker.bootstrap_servers})
    setup = ensure_topics(settings.kafka, settings.topics)
    ensure_tables(open_catalog(settings.catalog), settings.catalog)
    console.print(
        f"broker on [bold]{broker.bootstrap_servers}[/bold]; topics created: {setup.created or 'none (all existed)'}"
    )
    console.print(f"catalog {settings.catalog.shown_uri}, warehouse {settings.catalog.warehouse}. Ctrl-C stops.")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            if broker.process.poll() is not None:
                console.print(f"[red]broker exited with code {broker.process.returncode}[/red]")
                raise typer.Exit(1)
    except KeyboardInterrupt:
        pass
    finally:
        broker.stop()
        console.print("broker stopped")


@stack_app.command("topics")
def stack_topics() -> None:
    """Create the flywheel's topics on the configured cluster (idempotent)."""
    from flywheel.infra.broker import ensure_topics
    from flywheel.infra.kafka import wait_for_broker

    settings = _settings()
    # A Kubernetes init container runs this before the broker may answer: wait as the flow does.
    wait_for_broker(settings.kafka)
    setup = ensure_topics(settings.kafka, settings.topics)
    console.print(f"topics ready; created now: {setup.created or 'none'}")
    for mismatch in setup.retention_differs:
        console.print(f"[yellow]warning:[/yellow] {mismatch}", highlight=False, soft_wrap=True)


@stack_app.command("tables")
def stack_tables() -> None:
    """Create the Iceberg namespace and tables in the configured catalog (idempotent)."""
    from flywheel.infra.catalog import ensure_tables, open_catalog, wait_for_catalog

    settings = _settings()
    wait_for_catalog(settings.catalog)
    tables = ensure_tables(open_catalog(settings.catalog), settings.catalog)
    console.print(f"tables ready: {', '.join(sorted(tables))}")


@stack_app.command("reset")
def stack_reset(
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: the tables' rows and history are deleted.")] = False,
) -> None:
    """Drop the flywheel tables and the flow's recovery state, e.g. after the broker was reset."""
    from flywheel.flows.runner import reset_state

    settings = _settings()
    if not yes:
        console.print(
            f"this drops every flywheel table in namespace {settings.catalog.namespace!r} of "
            f"{settings.catalog.shown_uri} and the recovery state in {settings.recovery.directory}; "
            "run again with --yes"
        )
        raise typer.Exit(1)
    removed = reset_state(settings.flow_config())
    console.print(f"removed: {', '.join(removed) or 'nothing (no tables, no recovery state)'}")


@flow_app.command("run")
def flow_run(
    until_drained: Annotated[bool, typer.Option(help="Stop when every partition is at its end.")] = False,
    from_offsets: FromOffsets = None,
    from_timestamp: FromTimestamp = None,
    reset_recovery: Annotated[bool, typer.Option(help="Delete Bytewax recovery state before starting.")] = False,
    process_id: Annotated[int | None, typer.Option("--process-id", "-i", help="This process's index.")] = None,
    addresses: Annotated[
        str | None, typer.Option("--addresses", "-a", help="host:port of every process, ';'-separated.")
    ] = None,
    peers_from_pod: Annotated[
        bool,
        typer.Option(help="Derive -i and -a from a StatefulSet pod (POD_NAME, POD_NAMESPACE, FLOW_PROCESSES)."),
    ] = False,
) -> None:
    """Run the curation flow: Kafka -> curation -> Iceberg (exactly-once)."""
    import os

    from flywheel.flows.runner import StartRequest, run_flow
    from flywheel.infra.cluster import place_from_env

    settings = _settings()
    if peers_from_pod:
        with one_line_errors():
            place = place_from_env(os.environ)
        process_id, addresses = place.process_id, ";".join(place.addresses)
    request = StartRequest(from_offsets, from_timestamp, reset_recovery)
    summary = run_flow(
        settings.flow_config(),
        stop_at_end=until_drained,
        request=request,
        process_id=process_id,
        addresses=addresses.split(";") if addresses else None,
    )
    from flywheel.report import print_summary

    print_summary(console, summary)


@flow_app.command("replay")
def flow_replay(
    branch: Annotated[str, typer.Option(help="New Iceberg branch to write the replay into.")],
    from_offsets: FromOffsets = None,
    from_timestamp: FromTimestamp = None,
    policy_file: Annotated[Path | None, typer.Option(help="Replay under this policy rules file.")] = None,
) -> None:
    """Reprocess from offsets or a time into a branch (main untouched) and report what changed."""
    from flywheel.flows.replay import replay
    from flywheel.flows.runner import StartRequest
    from flywheel.report import print_replay

    settings = _settings()
    report = replay(settings.flow_config(), branch, StartRequest(from_offsets, from_timestamp), policy_file)
    print_replay(console, report)


@app.command("demo")
def demo(
    events: Annotated[int, typer.Option(help="How many general sample events to send.")] = 600,
    coding_events: Annotated[int, typer.Option(help="How many coding-assistant events (one edit habit).")] = 600,
    directory: Annotated[
        Path, typer.Option(help="Where the demo's catalog, warehouse and registry go (wiped).")
    ] = Path(".flywheel/demo"),
    train: Annotated[bool, typer.Option(help="Also turn the training half (trigger, DPO, evaluation).")] = True,
    threshold: Annotated[int, typer.Option(help="Demo training threshold (new pairs per trigger).")] = 150,
    revolutions: Annotated[
        int, typer.Option(help="Turn the wheel this many times with simulated users (0: one turn on the sample).")
    ] = 2,
) -> None:
    """The whole loop on the local stack: serve -> users react -> curate -> train -> gate -> serve the new model."""
    configure_logging("WARNING")
    if train and revolutions > 0:
        from flywheel.revolutions import WheelOptions, run_revolutions

        with one_line_errors():
            run_revolutions(console, WheelOptions(revolutions=revolutions, directory=directory))
        return
    from flywheel.demo import DemoOptions, run_demo

    options = DemoOptions(
        events=events, coding_events=coding_events, directory=directory, train=train, threshold=threshold
    )
    run_demo(console, options)


@app.command("bench")
def bench(
    events: Annotated[int, typer.Option(help="Events per stream (the mix, views only).")] = 200_000,
    edit_events: Annotated[int, typer.Option(help="Events of the edits-only stream (0: as many as --events).")] = 0,
    quick: Annotated[bool, typer.Option(help="Small streams (20,000 events) for development.")] = False,
    scale_out: Annotated[bool, typer.Option(help="Also 2 workers, 2 processes, 2 separate flows on the mix.")] = True,
    long_run: Annotated[bool, typer.Option(help="Also the long run: RSS and rate as a 24 h window fills.")] = False,
    long_run_events: Annotated[int, typer.Option(help="Events of the long run.")] = 1_000_000,
    gateway_seconds: Annotated[float, typer.Option(help="Seconds per gateway measurement (0 skips).")] = 5.0,
    write_readme: Annotated[bool, typer.Option(help="Regenerate the README's benchmark block afterwards.")] = False,
    readme_only: Annotated[bool, typer.Option(help="Only regenerate the README block from the last JSON.")] = False,
) -> None:
    """Steady-state throughput of the flow vs a bare consumer and the seed approach, in one run (make bench)."""
    from flywheel.benchmarks.readme import write_readme as regenerate
    from flywheel.benchmarks.run import RESULTS, BenchOptions, run_benchmarks

    if not readme_only:
        configure_logging("WARNING")
        options = BenchOptions.quick() if quick else BenchOptions(events=events, edit_events=edit_events or events)
        options = dataclasses.replace(
            options,
            scale_out=scale_out,
            long_run_events=long_run_events if long_run else 0,
            gateway_seconds=gateway_seconds if not quick else min(gateway_seconds, 2.0),
        )
        run_benchmarks(options, console=console)
    if write_readme or readme_only:
        regenerate(Path("README.md"), RESULTS)
        console.print(f"README.md benchmark block regenerated from {RESULTS}")


@app.command("config")
def show_config(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object (for scripts).")] = False,
) -> None:
    """Print the effective configuration (secrets masked: passwords, tokens, credentials, keys)."""
    from flywheel.config import masked

    dumped = masked(_settings().model_dump(mode="json"))
    if as_json:
        typer.echo(json.dumps(dumped, indent=2, sort_keys=True))
        return
    table = RichTable("setting", "value")
    for section, values in dumped.items():
        table.add_row(section, str(values))
    console.print(table)


def main() -> None:
    """Run the CLI; a :class:`FlywheelError` prints as one line and exits with code 2."""
    with one_line_errors():
        app()
