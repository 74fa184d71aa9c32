"""``flywheel review ...`` commands (heavy imports stay inside functions)."""

from __future__ import annotations

import sys
import threading

import typer

app = typer.Typer(help="Human review: the review queue and its web app.", no_args_is_help=True)


@app.callback()
def review() -> None:
    """Human review: thumbs-down, escalations and held-back edits, answered in the browser."""


@app.command()
def serve(
    host: str | None = typer.Option(None, help="Listen address (default: FLYWHEEL_REVIEW__HOST)."),
    port: int | None = typer.Option(None, help="Listen port (default: FLYWHEEL_REVIEW__PORT)."),
) -> None:
    """Serve the review app, and read the review topic into the queue (unless review.consume is false)."""
    import uvicorn

    from flywheel.console import cli_settings
    from flywheel.review.app import create_app
    from flywheel.review.queue import QueueConsumer, run_in_background
    from flywheel.review.store import ReviewStore

    settings = cli_settings()
    config = settings.review_config()
    if config.review.consume:
        # The queue consumer reads the review topic in the background: a client config librdkafka
        # refuses never clears there, so it stops the start, in one line.
        from flywheel.console import one_line_errors
        from flywheel.infra.kafka import check_client_config

        with one_line_errors():
            check_client_config(settings.kafka)
    if not config.review.reviewers:
        typer.echo(
            "warning: no reviewers configured (FLYWHEEL_REVIEW__REVIEWERS, id -> `flywheel review hash-password` "
            "output); nobody can log in",
            err=True,
        )
    store = ReviewStore(config.review.store_location(config.state_dir), config.review.claim_ttl_s)
    stop = threading.Event()
    if config.review.consume:
        run_in_background(QueueConsumer(config, store), stop)
    try:
        uvicorn.run(
            create_app(config, store),
            host=host or config.review.host,
            port=config.review.port if port is None else port,
            log_level="info",
        )
    finally:
        stop.set()


@app.command()
def intake(
    until_drained: bool = typer.Option(True, help="Stop when every partition of the review topic is read."),
) -> None:
    """Read the review topic into the queue store (what `serve` does in the background)."""
    from flywheel.console import cli_settings
    from flywheel.review.queue import QueueConsumer
    from flywheel.review.store import ReviewStore

    config = cli_settings().review_config()
    store = ReviewStore(config.review.store_location(config.state_dir), config.review.claim_ttl_s)
    report = QueueConsumer(config, store).run(until_drained=until_drained)
    typer.echo(f"read {report.read} messages, stored {report.stored} new items, {report.invalid} invalid")


@app.command("hash-password")
def hash_password() -> None:
    """Read a password (prompted twice on a terminal, else one line of stdin); print its scrypt hash.

    Store the output as the reviewer's value in ``review.reviewers``
    (e.g. ``FLYWHEEL_REVIEW__REVIEWERS='{"alice": "scrypt:32768:8:1$..."}'``).
    """
    from flywheel.errors import ConfigError
    from flywheel.review.passwords import hash_password as scrypt_hash

    if sys.stdin.isatty():
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise ConfigError("no password given (an empty password cannot be hashed)")
    typer.echo(scrypt_hash(password))
