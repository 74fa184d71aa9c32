"""``flywheel gateway ...`` commands (heavy imports stay inside functions)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from flywheel.console import cli_settings, one_line_errors

if TYPE_CHECKING:
    from fastapi import FastAPI

app = typer.Typer(help="HTTP ingestion gateway.", no_args_is_help=True)


@app.callback()
def gateway() -> None:
    """HTTP ingestion gateway: feedback and telemetry into Kafka, training candidates out."""


@app.command()
def serve(
    host: str | None = typer.Option(None, help="Listen address (default: FLYWHEEL_GATEWAY__HOST)."),
    port: int | None = typer.Option(None, help="Listen port (default: FLYWHEEL_GATEWAY__PORT)."),
    workers: int = typer.Option(1, min=1, help="Uvicorn worker processes (rate limits are per process)."),
) -> None:
    """Serve the gateway with uvicorn (needs the `gateway` extra)."""
    try:
        import uvicorn
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise typer.BadParameter("install the gateway extra: pip install -e '.[gateway]'") from exc
    settings = cli_settings()
    listen_host = host or settings.gateway.host
    listen_port = settings.gateway.port if port is None else port
    with one_line_errors():
        _check_port_free(listen_host, listen_port)
        # Not the broker (readiness waits for it), but a client config librdkafka refuses: that
        # never clears, and would otherwise fail every readiness probe with a traceback.
        from flywheel.infra.kafka import check_client_config

        check_client_config(settings.kafka)
    if workers > 1:
        uvicorn.run(
            "flywheel.gateway_cli:asgi_app",
            host=listen_host,
            port=listen_port,
            workers=workers,
            factory=True,
            log_level="info",
        )
        return
    from flywheel.gateway.app import create_app

    uvicorn.run(create_app(settings.gateway_config()), host=listen_host, port=listen_port, log_level="info")


def _check_port_free(host: str, port: int) -> None:
    """Fail in one line naming ``gateway.port`` when another process already listens there."""
    import errno
    import socket

    from flywheel.errors import PortInUse

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: TIME_WAIT is fine
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            raise PortInUse.for_setting("gateway.port", host, port) from exc


def asgi_app() -> FastAPI:
    """Build the gateway from the environment: ``uvicorn --factory flywheel.gateway_cli:asgi_app``."""
    from flywheel.gateway.app import create_app
    from flywheel.settings import load_settings

    return create_app(load_settings().gateway_config())


@app.command()
def openapi() -> None:
    """Print the gateway's OpenAPI document (JSON) for the current settings."""
    import json

    from flywheel.gateway.app import create_app

    typer.echo(json.dumps(create_app(cli_settings().gateway_config()).openapi(), indent=2, sort_keys=True))
