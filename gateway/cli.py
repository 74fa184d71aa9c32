"""``flywheel gateway ...`` commands (heavy imports stay inside functions)."""

import typer

app = typer.Typer(help="HTTP ingestion gateway.", no_args_is_help=True)
