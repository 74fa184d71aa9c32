"""The impact table: per model version, rates with their 95% intervals and the changes in edit rate
and in setback share (edits, regenerations, thumbs-down, abandons, escalations, low ratings).

Intervals are widened for reactions of one user (``serving/impact.py``); the change says whether
it compares the period both versions were served (``concurrent``, a rollout's arms) or every
reaction before and after (``sequential``, an observation, not an experiment), and shows beside
its one-look interval the one that holds however often the table is read (``any look``).
"""

from __future__ import annotations

from rich.table import Table as RichTable

from flywheel.serving.impact import SETBACK, VersionImpact
from flywheel.serving.impact_statistics import Difference, Rate


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
            *(_rate(rates[signal]) for signal in ("edit", "thumbs_up", "thumbs_down", "regenerate", SETBACK)),
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
    found = f"{change.value:+.1%} [{change.low:+.1%}, {change.high:+.1%}]"
    if change.anytime_low is not None and change.anytime_high is not None:
        found += f" any look [{change.anytime_low:+.1%}, {change.anytime_high:+.1%}]"
    return f"{found} vs {change.against} ({change.design})" if compared else found


def _rate(figure: Rate) -> str:
    return f"{figure.value:.1%} [{figure.low:.1%}, {figure.high:.1%}]"
