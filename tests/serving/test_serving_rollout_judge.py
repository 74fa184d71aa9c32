"""A rollout decided from live traffic: completed when users edit the candidate less, stopped when more.

The judge reads the impact table's concurrent comparison of the two arms, and only its interval
that holds at every look. The pure rule is checked on hand-built figures; the whole path on a
real registry folder and a real Iceberg catalog, through ``flywheel model rollout --decide``.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from prometheus_client import REGISTRY
from typer.testing import CliRunner

from flywheel.cli import app
from flywheel.config import CatalogSettings
from flywheel.errors import AliasError
from flywheel.infra.catalog import ensure_tables, open_catalog
from flywheel.schemas.registry import ALIAS_FILE
from flywheel.schemas.tables import DPO_PAIRS, POSITIVE_EXAMPLES, contracts
from flywheel.serving.config import RolloutSettings
from flywheel.serving.impact import VersionImpact
from flywheel.serving.impact_gauges import ImpactRefresher
from flywheel.serving.impact_statistics import Difference
from flywheel.serving.registry import Alias, AliasChange, RegistryView
from flywheel.serving.rollout_judge import RolloutJudge, decide
from tests.support.synthetic import append_rows, pair_rows, positive_rows

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _figures(change: Difference | None, version: str = "r1") -> list[VersionImpact]:
    return [VersionImpact(version, 100.0, {}, T0, change)]


def _change(
    low: float, high: float, design: str = "concurrent", against: str = "base", reactions: int = 100
) -> Difference:
    return Difference(against, (low + high) / 2, low / 2, high / 2, design, T0, None, low, high, reactions, reactions)


ROLLOUT = Alias(current="base", candidate="r1", candidate_share=0.5)


@pytest.mark.parametrize(
    ("alias", "change", "action"),
    [
        (ROLLOUT, _change(-0.30, -0.05), "complete"),  # fewer edits at every look
        (ROLLOUT, _change(0.04, 0.25), "stop"),  # more edits at every look
        (ROLLOUT, _change(-0.30, 0.02), "wait"),  # the one-look interval may exclude 0; this one does not
        (ROLLOUT, _change(-0.30, -0.05, design="sequential"), "wait"),  # before/after decides nothing
        (ROLLOUT, _change(-0.30, -0.05, against="r0"), "wait"),  # compared with another version
        (ROLLOUT, None, "wait"),  # too few reactions for a comparison
        (Alias(current="r1"), _change(-0.30, -0.05), "wait"),  # no rollout running
    ],
)
def test_only_the_any_look_interval_of_the_arms_decides(alias: Alias, change: Difference | None, action: str) -> None:
    decision = decide(alias, _figures(change))
    assert decision.action == action, decision.reason


LIMITS = RolloutSettings(max_reactions=1000, max_age_days=14)
# A rollout begun at T0, its share raised a week later: its age counts from T0.
BEGUN = Alias(
    current="base",
    candidate="r1",
    candidate_share=0.5,
    history=[
        AliasChange(action="rollout", current="base", candidate="r1", candidate_share=0.1, at=T0),
        AliasChange(action="rollout", current="base", candidate="r1", candidate_share=0.5, at=T0 + timedelta(days=7)),
    ],
)


@pytest.mark.parametrize(
    ("change", "days", "action"),
    [
        (_change(-0.03, 0.03, reactions=999), 13.9, "wait"),  # under both limits
        (_change(-0.03, 0.03, reactions=1000), 1, "no_difference"),  # both arms reached max_reactions
        (_change(-0.05, -0.01, reactions=5000), 30, "complete"),  # evidence read at the same look wins
        (_change(0.01, 0.05, reactions=5000), 30, "stop"),
        (_change(-0.03, 0.03, reactions=10), 14, "no_difference"),  # max_age_days since the first rollout change
        (None, 14, "no_difference"),  # no comparison at all after max_age_days: too little traffic
        (None, 13.9, "wait"),
    ],
)
def test_a_rollout_that_finds_no_difference_ends_keeping_the_current_version(
    change: Difference | None, days: float, action: str
) -> None:
    decision = decide(BEGUN, _figures(change), LIMITS, T0 + timedelta(days=days))
    assert decision.action == action, decision.reason
    if action == "no_difference":
        assert decision.reason.startswith("no difference found after ") and decision.reason.endswith("keeping base")
    # Without limits (or without a clock for the age), the same figures only wait.
    unlimited = RolloutSettings(max_reactions=None, max_age_days=None)
    assert decide(BEGUN, _figures(change), unlimited, T0 + timedelta(days=days)).action == action.replace(
        "no_difference", "wait"
    )


def _registry(root: Path) -> RegistryView:
    for run in ("r1",):
        (root / "runs" / run / "adapter").mkdir(parents=True)
        (root / "runs" / run / "adapter" / "adapter_config.json").write_text("{}")
        (root / "runs" / run / "model_card.json").write_text(json.dumps({"run_id": run}))
    return RegistryView(str(root))


def _reactions(tables: dict[str, Any], version: str, edit_share: float, start: datetime, seed: int) -> None:
    """400 reactions of 40 users to ``version``'s answers, a minute apart: edits (pairs) or thumbs-up."""
    draw = random.Random(seed)
    template_pair, template_positive = pair_rows(1).to_pylist()[0], positive_rows(1).to_pylist()[0]
    edits, thumbs = [], []
    for n in range(400):
        lineage = {
            "event_id": f"{version}-{seed}-{n}",
            "user_id": f"{version}-user-{n % 40}",
            "model_version": version,
            "occurred_at": start + timedelta(minutes=n),
        }
        if draw.random() < edit_share:
            edits.append({**template_pair, **lineage, "pair_id": f"p-{version}-{seed}-{n}"})
        else:
            thumbs.append(
                {**template_positive, **lineage, "example_id": f"x-{version}-{seed}-{n}", "sampling_rate": 1.0}
            )
    append_rows(tables[DPO_PAIRS], pa.Table.from_pylist(edits, schema=contracts()[DPO_PAIRS].arrow_schema))
    append_rows(
        tables[POSITIVE_EXAMPLES], pa.Table.from_pylist(thumbs, schema=contracts()[POSITIVE_EXAMPLES].arrow_schema)
    )


def _rollout(tmp_path: Path, candidate_edits: float) -> tuple[RegistryView, CatalogSettings]:
    """r1 rolled out to half the users, and 400 reactions to each arm in the rollout's period.

    Users edit the current version's answers 45% of the time, r1's ``candidate_edits``.
    """
    registry = _registry(tmp_path / "models")
    registry.rollout("r1", 0.5)
    started = registry.read_alias().history[-1].at
    catalog = CatalogSettings(uri=f"sqlite:///{tmp_path / 'catalog.db'}", warehouse=str(tmp_path / "warehouse"))
    tables = ensure_tables(open_catalog(catalog), catalog)
    _reactions(tables, "base", 0.45, started + timedelta(seconds=1), seed=1)
    _reactions(tables, "r1", candidate_edits, started + timedelta(seconds=1), seed=2)
    return registry, catalog


def _env(tmp_path: Path, catalog: CatalogSettings) -> dict[str, str]:
    return {
        "FLYWHEEL_CATALOG__URI": catalog.uri,
        "FLYWHEEL_CATALOG__WAREHOUSE": catalog.warehouse,
        "FLYWHEEL_TRAINER__REGISTRY_URL": str(tmp_path / "models"),
        "FLYWHEEL_STATE_DIR": str(tmp_path),
    }


@pytest.mark.parametrize(("candidate_edits", "expected"), [(0.15, "complete"), (0.75, "stop"), (0.45, "wait")])
def test_the_judge_completes_or_stops_a_rollout_from_the_tables(
    tmp_path: Path, candidate_edits: float, expected: str
) -> None:
    registry, catalog = _rollout(tmp_path, candidate_edits)
    env = _env(tmp_path, catalog)

    result = CliRunner().invoke(app, ["model", "rollout", "--decide"], env=env)

    assert result.exit_code == 0, result.output
    assert f"\n{expected}: " in f"\n{result.output}", result.output
    alias = registry.read_alias()
    if expected == "wait":
        assert (alias.current, alias.candidate, len(alias.history)) == ("base", "r1", 1)
        return
    assert alias.candidate is None and alias.current == ("r1" if expected == "complete" else "base")
    last = alias.history[-1]
    assert last.action == ("set" if expected == "complete" else "rollout_off")
    assert last.note.startswith("rollout judged: users edit r1's answers") and "any look" in last.note


def test_the_servers_impact_refresh_judges_the_rollout_when_asked(tmp_path: Path) -> None:
    registry, catalog = _rollout(tmp_path, candidate_edits=0.15)

    # Off (serving.rollout.decide false, the default): the refresh only measures.
    ImpactRefresher(catalog, 0, 8, str(tmp_path / "models")).refresh()
    assert registry.read_alias().candidate == "r1"
    # A judge whose registry fails is reported and retried at the next refresh, never raised.
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / ALIAS_FILE).write_text("{not json")
    broken = RolloutJudge(RegistryView(str(tmp_path / "broken")))
    with pytest.raises(AliasError):
        broken.review([])
    ImpactRefresher(catalog, 0, 8, str(tmp_path / "models"), judge=broken.review).refresh()
    assert registry.read_alias().candidate == "r1"
    # On: the candidate users edit less becomes current.
    ImpactRefresher(catalog, 0, 8, str(tmp_path / "models"), judge=RolloutJudge(registry).review).refresh()
    alias = registry.read_alias()
    assert (alias.current, alias.candidate) == ("r1", None)


def test_an_equal_rollout_past_max_reactions_ends_keeping_the_current_version(tmp_path: Path) -> None:
    registry, catalog = _rollout(tmp_path, candidate_edits=0.45)  # the arms edit alike
    env = {**_env(tmp_path, catalog), "FLYWHEEL_SERVING__ROLLOUT__MAX_REACTIONS": "400"}
    before = REGISTRY.get_sample_value("flywheel_serving_rollout_decisions_total", {"action": "no_difference"}) or 0

    result = CliRunner().invoke(app, ["model", "rollout", "--decide"], env=env)

    assert result.exit_code == 0, result.output
    assert "no_difference: no difference found after 400 reactions to r1, 400 to base" in result.output
    alias = registry.read_alias()
    assert (alias.current, alias.candidate, alias.history[-1].action) == ("base", None, "rollout_off")
    note = alias.history[-1].note
    assert note.startswith("rollout judged: no difference found after 400 reactions") and "any look" in note
    assert note.endswith("keeping base")
    after = REGISTRY.get_sample_value("flywheel_serving_rollout_decisions_total", {"action": "no_difference"})
    assert after == before + 1
