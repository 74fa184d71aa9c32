"""The impact table: per model version, rates with their 95% intervals and the changes in edit rate
and in setback share (edits, regenerations, thumbs-down, abandons, escalations, low ratings).

Intervals are widened for reactions of one user (``serving/impact.py``); the change says whether
it compares the period both versions were served (``concurrent``, a rollout's arms) or every
reaction before and after (``sequential``, an observation, not an experiment), and shows beside
its one-look interval the one that holds however often the table is read (``any look``).
"""

from __future__ import annotations

from rich.console import Console, RenderableType
from rich.measure import Measurement
from rich.table import Table as RichTable
from rich.text import Text

from flywheel.serving.impact import SETBACK, VersionImpact
from flywheel.serving.impact_statistics import Difference, Rate

_RATES = (
    ("edit rate", "edit"),
    ("thumbs-up", "thumbs_up"),
    ("thumbs-down", "thumbs_down"),
    ("regenerate", "regenerate"),
    ("setbacks", SETBACK),
)


def impact_report(console: Console, figures: list[VersionImpact]) -> RenderableType:
    """The impact table where the console is wide enough for it unwrapped, else one block per version.

    A table squeezed into 80 columns (a log, a CI job, ``make run`` piped) cuts every interval
    into fragments; the blocks keep each figure on one line.
    """
    table = impact_table(figures)
    unbounded = console.options.update_width(10_000)  # measured at its natural width, not squeezed to fit
    if Measurement.get(console, unbounded, table).maximum <= console.width:
        return table
    return Text("\n".join(impact_blocks(figures)))


def impact_blocks(figures: list[VersionImpact]) -> list[str]:
    """The impact table's figures as short lines, a block per version, each figure whole on its line."""
    lines: list[str] = []
    for version in figures:
        attributed = f" ({version.attributed:.0f} by request_id)" if version.attributed else ""
        lines.append(
            f"{version.model_version}: {version.interactions:.0f} interactions{attributed}, "
            f"{version.rates['edit'].users} users"
        )
        lines.extend(f"  {label:<13} {_rate(version.rates[signal])}" for label, signal in _RATES)
        for label, change, compared in (
            ("Δ edit rate", version.edit_rate_change, True),
            ("Δ setbacks", version.setback_rate_change, False),
        ):
            if change is None:
                continue
            against = f" vs {change.against} ({change.design})" if compared else ""
            lines.append(f"  {label:<13} {_interval(change.value, change.low, change.high)}{against}")
            if change.anytime_low is not None and change.anytime_high is not None:
                lines.append(f"  {'':<13} any look [{change.anytime_low:+.1%}, {change.anytime_high:+.1%}]")
    return lines


def impact_table(figures: list[VersionImpact]) -> RichTable:
    """Per version: interactions, edit / thumbs / regenerate / setback rates with intervals, and the
    changes in edit rate and setback share."""
    table = RichTable(
        "model_version",
        "interactions",
        "users",
        "edit rate",
        "thumbs-up",
        "thumbs-down",
        "regenerate",
        "setbacks",
        "Δ edit rate vs previous",
        "Δ setbacks vs previous",
    )
    for version in figures:
        rates = version.rates
        table.add_row(
            version.model_version,
            _interactions(version),
            str(rates["edit"].users),
            *(_rate(rates[signal]) for _, signal in _RATES),
            _change(version.edit_rate_change),
            # The same comparison as the edit rate's: its versions and design are said once, there.
            _change(version.setback_rate_change, compared=False),
        )
    return table


def _interactions(version: VersionImpact) -> str:
    # Reactions whose event said no version, put on this one by their answer's request_id: said, not hidden.
    total = f"{version.interactions:.0f}"
    return f"{total} ({version.attributed:.0f} by request_id)" if version.attributed else total


def _change(change: Difference | None, compared: bool = True) -> str:
    if change is None:
        return "-"
    found = _interval(change.value, change.low, change.high)
    if change.anytime_low is not None and change.anytime_high is not None:
        found += f" any look [{change.anytime_low:+.1%}, {change.anytime_high:+.1%}]"
    return f"{found} vs {change.against} ({change.design})" if compared else found


def _interval(value: float, low: float, high: float) -> str:
    return f"{value:+.1%} [{low:+.1%}, {high:+.1%}]"


def _rate(figure: Rate) -> str:
    return f"{figure.value:.1%} [{figure.low:.1%}, {figure.high:.1%}]"
