"""``flywheel trainer ...`` and ``flywheel export`` commands (heavy imports stay inside functions)."""

import typer

app = typer.Typer(help="Threshold tracker, DPO trainer and dataset export.", no_args_is_help=True)
