"""What every ``flywheel`` command shares: the settings it loads and how errors read."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from pydantic import ValidationError
from pydantic_settings import SettingsError
from rich.console import Console

from flywheel.errors import FlywheelError
from flywheel.settings import Settings, load_settings, settings_error_message, settings_source_error_message

stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def cli_settings() -> Settings:
    """Load the settings once for a command and configure logging; a bad setting exits 2 in one line."""
    try:
        settings = load_settings()
    except ValidationError as exc:
        stderr.print(f"[red]configuration error:[/red] {settings_error_message(exc)}")
        raise typer.Exit(2) from exc
    except SettingsError as exc:  # a value that does not parse (malformed JSON): name its variable
        stderr.print(f"[red]configuration error:[/red] {settings_source_error_message(exc, os.environ)}")
        raise typer.Exit(2) from exc
    except Exception as exc:  # an unreadable config file: a configuration error, not a bug
        stderr.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc
    try:
        from flywheel.logs import configure_logging
    except ImportError:  # pragma: no cover - the logs module ships with the package
        logging.basicConfig(level=settings.log_level)
    else:
        configure_logging(settings.log_level)
    return settings


@contextmanager
def one_line_errors() -> Iterator[None]:
    """Turn a :class:`FlywheelError` into its message on stderr and exit code 2."""
    try:
        yield
    except FlywheelError as exc:
        stderr.print(f"[red]error:[/red] {exc}")
        # SystemExit, not typer.Exit: this also wraps the whole app, outside click's context,
        # where a typer.Exit would surface as a traceback.
        raise SystemExit(2) from exc


def quiet_model_libraries() -> None:
    """The demos print their own progress: library deprecation notices and progress bars are noise there."""
    import warnings

    import transformers

    warnings.filterwarnings("ignore", category=FutureWarning)
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
