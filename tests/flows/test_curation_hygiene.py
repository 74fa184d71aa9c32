"""Hostile characters never reach a stored text, and their removal is counted."""

from __future__ import annotations

from datetime import UTC, datetime

from flywheel import metrics
from flywheel.schemas.events import InteractionEvent, Signal
from flywheel.schemas.tables import DPO_PAIRS
from tests.support.curation_flow import run_curation

ANSWER = "To rotate a key, open the console, choose credentials, and press rotate."
EDIT = "To rotate a key, open the admin console, choose credentials, rotate, then revoke the old key."


def test_nul_and_bidi_overrides_are_removed_before_any_decision_and_counted() -> None:
    before = {kind: metrics.TEXT_HYGIENE.labels(kind)._value.get() for kind in ("control", "bidi")}
    event = InteractionEvent(
        event_id="hostile",
        signal=Signal.EDIT,
        occurred_at=datetime(2026, 11, 2, 9, 0, tzinfo=UTC),
        thread_id="t",
        user_id="u",
        prompt="How do I rotate\x00 a key?",
        response=ANSWER,
        final_user_edit=EDIT.replace("admin", "ad\u202emin\x00"),
    )

    result = run_curation([event])

    pair = result.values(DPO_PAIRS, "hostile")
    assert (pair["prompt"], pair["chosen"]) == ("How do I rotate a key?", EDIT)
    assert metrics.TEXT_HYGIENE.labels("control")._value.get() == before["control"] + 2
    assert metrics.TEXT_HYGIENE.labels("bidi")._value.get() == before["bidi"] + 1
