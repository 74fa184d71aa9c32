"""The setback share: reactions saying the answer failed, compared as the edit rate is.

Rates are per stored reaction, so a version whose answers users regenerate or thumb down instead
of editing has a lower edit rate without being better. The setback share counts every way of
saying the answer failed; its change comes from the same comparison as the edit rate's.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from rich.console import Console
from rich.table import Table

from flywheel.impact_report import impact_report, impact_table
from flywheel.schemas.tables import DPO_PAIRS, FEEDBACK_SIGNALS, POSITIVE_EXAMPLES, REJECTIONS
from flywheel.serving.impact import SETBACK, Reaction, impact_by_version, reactions_from_rows, signal_rates
from flywheel.serving.impact_statistics import PLANNED_REACTIONS, anytime, difference
from flywheel.serving.served import ServedPeriod

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def _row(event_id: str, minute: int, **extra: Any) -> dict[str, Any]:
    return {"event_id": event_id, "model_version": "v", "occurred_at": T0 + timedelta(minutes=minute), **extra}


def test_what_counts_as_a_setback_is_read_from_the_rows() -> None:
    rows = {
        DPO_PAIRS: [_row("edit", 0)],
        FEEDBACK_SIGNALS: [
            _row("down", 1, signal="thumbs_down"),
            _row("regen", 2, signal="regenerate"),
            _row("abandon", 3, signal="abandon"),
            _row("escalate", 4, signal="escalation"),
            _row("one-star", 5, signal="rating", rating=1),
            _row("two-stars", 6, signal="rating", rating=2),
            _row("three-stars", 7, signal="rating", rating=3),  # below min_rating, stored as feedback: middling
            _row("copy", 8, signal="copy"),
            _row("follow-up", 9, signal="follow_up"),
            _row("edited-up", 10, signal="thumbs_up", rating=None),  # its edit is an edit event of its own
        ],
        REJECTIONS: [
            _row("refused-edit", 11, signal="edit"),  # an edit curation refused is still an edit
            _row("pii-positive", 12, signal="rating", scores=[]),  # a high rating dropped for PII: no stars stored
        ],
        POSITIVE_EXAMPLES: [
            _row("up", 13, signal="thumbs_up", rating=None, sampling_rate=1.0),
            _row("five-stars", 14, signal="rating", rating=5, sampling_rate=1.0),
        ],
    }
    reactions = [reaction for table, stored in rows.items() for reaction in reactions_from_rows(table, stored)]

    setbacks = {reaction.event_id for reaction in reactions if reaction.setback}

    expected = {"edit", "down", "regen", "abandon", "escalate", "one-star", "two-stars", "refused-edit"}
    assert setbacks == expected
    share = signal_rates(reactions)[SETBACK]
    assert (share.count, share.total) == (len(expected), len(reactions)) == (8, 15)


def _arm(version: str, signals: dict[str, int], minute: int, users: int = 20) -> list[Reaction]:
    """Reactions to ``version``, one a minute from ``minute``: ``signals`` says how many of each."""
    ordered = [signal for signal, count in signals.items() for _ in range(count)]
    return [
        Reaction(
            f"{version}-{minute}-{n}",
            version,
            signal,
            T0 + timedelta(minutes=minute + n),
            user_id=f"{version}{n % users}",
        )
        for n, signal in enumerate(ordered)
    ]


def test_the_setback_change_comes_from_the_edit_changes_comparison() -> None:
    # base alone before the rollout (users edit everything then); during it, base's users edit 40 of
    # 100 answers and r1's 10, regenerating 30: fewer edits, as many setbacks.
    before = _arm("base", {"edit": 50}, minute=0)
    base = _arm("base", {"edit": 40, "thumbs_up": 60}, minute=1000)
    r1 = _arm("r1", {"edit": 10, "regenerate": 30, "thumbs_up": 60}, minute=1000)
    served = [
        ServedPeriod("base", None, 0.0, None, T0 + timedelta(minutes=1000)),
        ServedPeriod("base", "r1", 0.5, T0 + timedelta(minutes=1000), None),
    ]

    _, figure = impact_by_version(before + base + r1, served=served)

    edits, setbacks = figure.edit_rate_change, figure.setback_rate_change
    assert edits is not None and setbacks is not None
    assert edits.value == pytest.approx(-0.30) and setbacks.value == pytest.approx(0.0)
    # The same arms, the same period, the same counts: only the share compared differs.
    same = ("design", "against", "since", "until", "reactions", "against_reactions")
    assert [getattr(setbacks, name) for name in same] == [getattr(edits, name) for name in same]
    assert setbacks.design == "concurrent" and setbacks.reactions == setbacks.against_reactions == 100
    # Its intervals: Newcombe's on the user-clustered rates of the period, and the any-look one.
    expected = anytime(difference(signal_rates(r1)[SETBACK], signal_rates(base)[SETBACK], "base"), PLANNED_REACTIONS)
    assert (setbacks.low, setbacks.high, setbacks.anytime_low, setbacks.anytime_high) == pytest.approx(
        (expected.low, expected.high, expected.anytime_low, expected.anytime_high)
    )
    assert setbacks.anytime_low is not None and setbacks.anytime_low < 0 < (setbacks.anytime_high or 0)


def test_without_a_history_the_setback_change_is_before_and_after_as_the_edit_change() -> None:
    base = _arm("base", {"edit": 80, "thumbs_up": 120}, minute=0)
    r1 = _arm("r1", {"edit": 20, "thumbs_down": 120, "thumbs_up": 60}, minute=300)

    base_figure, figure = impact_by_version(base + r1)

    assert base_figure.setback_rate_change is None  # nothing before it to compare with
    edits, setbacks = figure.edit_rate_change, figure.setback_rate_change
    assert edits is not None and setbacks is not None
    assert (edits.design, setbacks.design) == ("sequential", "sequential")
    assert edits.value == pytest.approx(-0.30) and setbacks.value == pytest.approx(0.70 - 0.40)
    assert setbacks.anytime_low is not None and setbacks.anytime_low > 0  # the thumbs-down show
    # The impact table shows the setback share and its change beside the edit rate's.
    table = impact_table([base_figure, figure])
    r1_row = {str(column.header): str(column._cells[1]) for column in table.columns}
    assert r1_row["setbacks"].startswith("70.0% [")
    assert r1_row["Δ setbacks vs previous"].startswith("+30.0% [") and "any look" in r1_row["Δ setbacks vs previous"]
    assert r1_row["Δ edit rate vs previous"].startswith("-30.0% [")


def test_a_narrow_console_gets_one_block_per_version_with_every_figure_whole() -> None:
    base = _arm("base", {"edit": 80, "thumbs_up": 120}, minute=0)
    r1 = _arm("r1-a-long-run-identifier", {"edit": 20, "thumbs_down": 120, "thumbs_up": 60}, minute=300)
    figures = impact_by_version(base + r1)

    narrow = Console(width=80, record=True)
    narrow.print(impact_report(narrow, figures))
    lines = narrow.export_text().splitlines()
    # An 80-column table cut each interval into fragments ("[60.…"); the blocks keep them whole.
    assert all(len(line) <= 80 for line in lines) and "…" not in "".join(lines)
    assert "r1-a-long-run-identifier: 200 interactions, 20 users" in lines
    assert any(
        line.split()[:3] == ["Δ", "edit", "rate"] and "-30.0% [" in line and "vs base (sequential)" in line
        for line in lines
    )
    assert any(line.strip().startswith("setbacks") and "70.0% [" in line for line in lines)
    assert sum("any look [" in line for line in lines) == 2  # the edit change's and the setback change's

    wide = Console(width=400)
    assert isinstance(impact_report(wide, figures), Table)  # room for the table unwrapped: the table
