"""The ``flywheel`` command line (placeholder until the commands land)."""

import typer

app = typer.Typer(help="Data Flywheel: curate LLM feedback into preference data and train on it.")


@app.callback()
def main() -> None:
    """Data Flywheel command line."""
