"""``flywheel serve``, ``flywheel model ...`` and ``flywheel impact`` (heavy imports inside functions)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:
    from flywheel.serving.config import ServingConfig
    from flywheel.serving.registry import Alias
    from flywheel.settings import Settings

model_app = typer.Typer(help="The served model version: show, roll back, roll out.", no_args_is_help=True)
console = Console()


def _settings() -> Settings:
    from flywheel.console import cli_settings

    return cli_settings()


def resolved_serving_config(settings: Settings) -> ServingConfig:
    """The server's config with a loadable base model (the local SmolLM2 is converted once if needed)."""
    from flywheel.config import revised
    from flywheel.trainer.models import resolve_base_model

    config = settings.serving_config()
    reference = resolve_base_model(revised(settings.trainer, base_model=config.base_model))
    return revised(config, base_model=reference)


def serve(
    host: Annotated[str | None, typer.Option(help="Listen address (default: FLYWHEEL_SERVING__HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (default: FLYWHEEL_SERVING__PORT).")] = None,
) -> None:
    """Serve the base model + the registry's current adapter (OpenAI-compatible chat completions)."""
    import uvicorn

    from flywheel.console import one_line_errors
    from flywheel.serving.app import create_app

    settings = _settings()
    with one_line_errors():
        config = resolved_serving_config(settings)
        # The promotion follower reads the results topic in the background: a client config
        # librdkafka refuses never clears there, so it stops the start, in one line.
        from flywheel.infra.kafka import check_client_config

        check_client_config(settings.kafka)
    console.print(f"serving {config.base_model} + registry {config.registry_url}")
    uvicorn.run(
        create_app(config),
        host=host or settings.serving.host,
        port=settings.serving.port if port is None else port,
        log_level="warning",
    )


def _show(alias: Alias) -> None:
    line = f"current: [bold]{alias.current}[/bold]"
    if alias.candidate:
        line += f"; candidate: [bold]{alias.candidate}[/bold] for {alias.candidate_share:.0%} of users"
    console.print(line)
    for change in alias.history[-5:]:
        console.print(
            f"  {change.at:%Y-%m-%d %H:%M:%S} {change.action:<11} -> {change.current}"
            + (f" (candidate {change.candidate} {change.candidate_share:.0%})" if change.candidate else "")
            + (f" {change.note}" if change.note else "")
        )


@model_app.command("current")
def current(
    set_to: Annotated[str | None, typer.Option("--set", help="Make this run (or 'base') current.")] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Serve the run even if its model card says the gates rejected it.")
    ] = False,
) -> None:
    """Show the version users get (or set it)."""
    from flywheel.console import one_line_errors
    from flywheel.serving.registry import RegistryView

    registry = RegistryView(_settings().serving_config().registry_url)
    with one_line_errors():
        if set_to:
            note = "flywheel model current --set" + (" --force" if force else "")
            _show(registry.set_current(set_to, note=note, force=force))
        else:
            _show(registry.read_alias())


@model_app.command("rollback")
def rollback(
    to: Annotated[str | None, typer.Option(help="Run id (or 'base') to serve; default: the previous one.")] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Serve the run even if its model card says the gates rejected it.")
    ] = False,
) -> None:
    """Serve the previous version (or ``--to RUN``) to everyone; running servers follow within seconds."""
    from flywheel.console import one_line_errors
    from flywheel.serving.registry import RegistryView

    with one_line_errors():
        _show(RegistryView(_settings().serving_config().registry_url).rollback(to, force=force))


@model_app.command("rollout")
def rollout(
    candidate: Annotated[str | None, typer.Option(help="Run id, or 'previous' (compare with the one before).")] = None,
    share: Annotated[float, typer.Option(min=0.0, max=1.0, help="Share of users (by user_id hash).")] = 0.1,
    off: Annotated[bool, typer.Option("--off", help="Stop the rollout; everyone gets current.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Serve the run even if its model card says the gates rejected it.")
    ] = False,
    decide: Annotated[
        bool,
        typer.Option(
            "--decide",
            help="Judge the running rollout from live traffic now: complete it when the candidate's edit rate "
            "and setback share are both lower at every look's 95% interval, stop it when either is higher, "
            "else leave it.",
        ),
    ] = False,
) -> None:
    """Split users between current and a candidate by a stable hash of user_id."""
    from flywheel.serving.registry import RegistryView

    if decide:
        _decide()
        return
    if not off and candidate is None:
        raise typer.BadParameter("give --candidate RUN|previous, --off or --decide")
    from flywheel.console import one_line_errors

    with one_line_errors():
        _show(
            RegistryView(_settings().serving_config().registry_url).rollout(
                None if off else candidate, share, force=force
            )
        )


def _decide() -> None:
    from flywheel.console import one_line_errors
    from flywheel.serving.impact import read_impact
    from flywheel.serving.registry import RegistryView
    from flywheel.serving.rollout_judge import RolloutJudge

    settings = _settings()
    with one_line_errors():
        registry_url = settings.serving_config().registry_url
        figures = read_impact(settings.catalog, registry_url, settings.serving.impact_planned_reactions)
        decision = RolloutJudge(RegistryView(registry_url), settings.serving.rollout).review(figures)
    console.print(f"{decision.action}: {decision.reason}")


def impact(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Edit, thumbs, regenerate and setback rates per model_version from the Iceberg tables, with 95% intervals."""
    from dataclasses import asdict

    from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError

    from flywheel.console import one_line_errors
    from flywheel.serving.impact import read_impact

    settings = _settings()
    try:
        with one_line_errors():
            figures = read_impact(
                settings.catalog, settings.serving_config().registry_url, settings.serving.impact_planned_reactions
            )
    except (NoSuchTableError, NoSuchNamespaceError) as exc:
        console.print(f"[red]error:[/red] Iceberg table missing ({exc}); run the flow or `flywheel stack tables` first")
        raise typer.Exit(2) from exc
    if as_json:
        typer.echo(json.dumps([asdict(version) for version in figures], default=str, indent=2))
        return
    if not figures:
        console.print("no interactions in the tables yet")
        return
    from flywheel.impact_report import impact_report

    console.print(impact_report(console, figures))
