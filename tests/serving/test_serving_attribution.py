"""Reactions without a model_version, put on the version another reaction to the same answer names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from flywheel.flows.runner import run_until_drained
from flywheel.gateway.app import create_app
from flywheel.impact_report import impact_table
from flywheel.infra.broker import LocalBroker, ensure_topics
from flywheel.serving.attribution import UNKNOWN, attribute_by_request
from flywheel.serving.impact import Reaction, impact_by_version, read_impact
from flywheel.serving.impact_gauges import export_gauges
from tests.conftest import make_settings

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def reaction(event_id: str, version: str, request_id: str = "", signal: str = "thumbs_down") -> Reaction:
    return Reaction(event_id, version, signal, T0, request_id=request_id)


def test_an_unknown_reaction_takes_the_one_version_its_answer_names() -> None:
    reactions = [
        reaction("a1", "r1", "req-a", "edit"),
        reaction("a2", UNKNOWN, "req-a"),
        reaction("b1", "r1", "req-b"),
        reaction("b2", "r2", "req-b"),  # the answer's version in doubt: two named
        reaction("b3", UNKNOWN, "req-b"),
        reaction("c1", UNKNOWN, "req-c"),  # no sibling with a version
        reaction("d1", UNKNOWN),  # no request id at all
    ]
    out = {r.event_id: (r.model_version, r.attributed) for r in attribute_by_request(reactions)}
    assert out == {
        "a1": ("r1", False),
        "a2": ("r1", True),
        "b1": ("r1", False),
        "b2": ("r2", False),
        "b3": (UNKNOWN, False),
        "c1": (UNKNOWN, False),
        "d1": (UNKNOWN, False),
    }


def test_the_unattributed_count_is_exported_even_when_unknown_is_past_the_gauge_cap() -> None:
    early_unknown = [Reaction(f"u{i}", UNKNOWN, "thumbs_down", T0) for i in range(3)]
    later = [Reaction(f"v{v}{i}", f"r{v}", "edit", T0 + timedelta(hours=v + 1)) for v in range(3) for i in range(2)]
    attributed = [Reaction("x", "r2", "thumbs_down", T0 + timedelta(hours=3), attributed=True)]
    figures = impact_by_version(early_unknown + later + attributed)
    export_gauges(figures, max_versions=2)  # unknown came first: its per-version series is cut
    assert REGISTRY.get_sample_value("flywheel_impact_interactions", {"model_version": UNKNOWN}) is None
    assert REGISTRY.get_sample_value("flywheel_impact_unattributed_interactions") == 3
    assert REGISTRY.get_sample_value("flywheel_impact_attributed_interactions") == 1
    assert [f.attributed for f in figures if f.model_version == "r2"] == [1]


@pytest.mark.integration
def test_feedback_without_a_version_counts_for_the_version_that_answered(broker: LocalBroker, tmp_path: Path) -> None:
    settings = make_settings(broker.bootstrap_servers, tmp_path, gateway={"api_keys": {"app": "attr-key"}})
    ensure_topics(settings.kafka, settings.topics)

    def feedback(event_id: str, request_id: str, signal: str, **extra: Any) -> dict[str, Any]:
        return {
            "event_id": event_id,
            "request_id": request_id,
            "signal_type": signal,
            "user_query": "How do I rotate my API credentials safely?",
            "ai_response": "Open the console, find credentials, and press rotate now.",
            "user_id": f"user-{request_id}",
            "occurred_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
            **extra,
        }

    posts = [
        # The chat client said which version answered req-a; the feedback widget did not.
        feedback("regen-a", "req-a", "regenerate", model_version="r7"),
        feedback("down-a", "req-a", "thumbs_down"),
        feedback("down-b", "req-b", "thumbs_down"),  # nothing says which version answered req-b
    ]
    with TestClient(create_app(settings.gateway_config())) as client:
        for body in posts:
            response = client.post("/v1/feedback", json=body, headers={"X-API-Key": "attr-key"})
            assert response.status_code == 202, response.text
    run_until_drained(settings.flow_config())

    figures = {f.model_version: f for f in read_impact(settings.catalog)}
    assert set(figures) == {"r7", UNKNOWN}
    assert (figures["r7"].interactions, figures["r7"].attributed) == (2, 1)
    assert figures["r7"].rates["thumbs_down"].value == 0.5
    assert figures[UNKNOWN].interactions == 1  # shown, never pooled into a version
    rendered = [cell for column in impact_table(list(figures.values())).columns for cell in column._cells]
    assert "2 (1 by request_id)" in rendered
