"""A rollout decided from live traffic: completed when users edit the candidate less and meet fewer
setbacks, stopped when either rises.

The judge reads the impact table's concurrent comparison of the two arms (the edit rate's change
and the setback share's), and only their intervals that hold at every look. The pure rule is
checked on hand-built figures; the whole path on a real registry folder and a real Iceberg
catalog, through ``flywheel model rollout --decide``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pytest
from prometheus_client import REGISTRY
from typer.testing import CliRunner

from flywheel.cli import app
from flywheel.config import CatalogSettings
from flywheel.errors import AliasError
from flywheel.infra.catalog import ensure_tables, open_catalog
from flywheel.schemas.registry import ALIAS_FILE
from flywheel.schemas.tables import DPO_PAIRS, FEEDBACK_SIGNALS, POSITIVE_EXAMPLES, contracts
from flywheel.serving.config import RolloutSettings
from flywheel.serving.impact import VersionImpact, read_impact
from flywheel.serving.impact_gauges import ImpactRefresher
from flywheel.serving.impact_statistics import Difference
from flywheel.serving.registry import Alias, AliasChange, RegistryView
from flywheel.serving.rollout_judge import RolloutJudge, decide
from tests.support.synthetic import append_rows, pair_rows, positive_rows

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _figures(
    change: Difference | None, version: str = "r1", setbacks: Difference | Literal["same"] | None = "same"
) -> list[VersionImpact]:
    """The candidate's figures; its setback share moves as its edit rate does unless ``setbacks`` says."""
    return [
        VersionImpact(version, 100.0, {}, T0, change, setback_rate_change=change if setbacks == "same" else setbacks)
    ]


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


FELL, FLAT, ROSE = _change(-0.30, -0.05), _change(-0.03, 0.03), _change(0.04, 0.25)


@pytest.mark.parametrize(
    ("edits", "setbacks", "action", "says"),
    [
        (FELL, FELL, "complete", "fewer edits and fewer setbacks with r1's answers"),
        (FELL, ROSE, "stop", "more setbacks with r1's answers"),  # complaints moved from edits to other signals
        (ROSE, FELL, "stop", "more edits with r1's answers"),
        (ROSE, ROSE, "stop", "more edits and more setbacks with r1's answers"),
        (FELL, FLAT, "wait", "fewer edits with r1's answers but not yet fewer setbacks"),
        (FLAT, FELL, "wait", "fewer setbacks with r1's answers but not yet fewer edits"),
        (FLAT, FLAT, "wait", "no difference yet"),
        (FELL, None, "wait", "no concurrent comparison"),  # figures without the setback share decide nothing
        (FELL, _change(-0.30, -0.05, design="sequential"), "wait", "no concurrent comparison"),
    ],
)
def test_a_rollout_completes_only_when_edits_and_setbacks_both_fell(
    edits: Difference, setbacks: Difference | None, action: str, says: str
) -> None:
    decision = decide(ROLLOUT, _figures(edits, setbacks=setbacks))
    assert (decision.action, decision.reason.startswith(says)) == (action, True), decision.reason
    if setbacks is not None and setbacks.design == "concurrent":  # a decision read off both figures names both
        assert "edit rate " in decision.reason and "setback share " in decision.reason


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


def _reactions(
    tables: dict[str, Any],
    version: str,
    shares: Mapping[str, float],
    start: datetime,
    answers: int = 400,
    tag: str = "",
) -> None:
    """Reactions of 40 users to ``answers`` of ``version``'s answers, a minute apart (event ids tagged ``tag``).

    ``shares``: each signal's share of the answers (exactly, in an order shuffled by the version;
    ``rating:N`` is a rating of N stars); the rest are only read, and a view is not stored. Edits
    are pairs, thumbs-up sampled positives (rate 1), the other signals feedback rows (low ratings
    included), as the flow stores them.
    """
    counts = {signal: round(share * answers) for signal, share in shares.items()}
    signals = [signal for signal, count in counts.items() for _ in range(count)]
    signals += ["view"] * (answers - len(signals))
    random.Random(version).shuffle(signals)
    template_pair, template_positive = pair_rows(1).to_pylist()[0], positive_rows(1).to_pylist()[0]
    feedback_columns = contracts()[FEEDBACK_SIGNALS].arrow_schema.names
    template_feedback = {name: template_pair.get(name) for name in feedback_columns}
    rows: dict[str, list[dict[str, Any]]] = {DPO_PAIRS: [], POSITIVE_EXAMPLES: [], FEEDBACK_SIGNALS: []}
    for n, signal in enumerate(signals):
        lineage = {
            "event_id": f"{version}-{tag}{n}",
            "user_id": f"{version}-user-{n % 40}",
            "model_version": version,
            "occurred_at": start + timedelta(minutes=n),
        }
        if signal == "edit":
            rows[DPO_PAIRS].append({**template_pair, **lineage, "pair_id": f"p-{version}-{tag}{n}"})
        elif signal == "thumbs_up":
            rows[POSITIVE_EXAMPLES].append(
                {**template_positive, **lineage, "example_id": f"x-{version}-{tag}{n}", "sampling_rate": 1.0}
            )
        elif signal != "view":  # "rating:2": a rating of 2 stars
            name, _, stars = signal.partition(":")
            rating = int(stars) if stars else None
            rows[FEEDBACK_SIGNALS].append({**template_feedback, **lineage, "signal": name, "rating": rating})
    for table, stored in rows.items():
        append_rows(tables[table], pa.Table.from_pylist(stored, schema=contracts()[table].arrow_schema))


# Users edit the current version's answers 45% of the time and thumb up the rest.
CURRENT = {"edit": 0.45, "thumbs_up": 0.55}


def _rollout(
    tmp_path: Path, candidate: Mapping[str, float], current: Mapping[str, float] = CURRENT, answers: int = 400
) -> tuple[RegistryView, CatalogSettings]:
    """r1 rolled out to half the users, and the reactions to ``answers`` answers of each arm in the
    rollout's period (``candidate``, ``current``: each signal's share of the answers)."""
    registry = _registry(tmp_path / "models")
    registry.rollout("r1", 0.5)
    started = registry.read_alias().history[-1].at
    catalog = CatalogSettings(uri=f"sqlite:///{tmp_path / 'catalog.db'}", warehouse=str(tmp_path / "warehouse"))
    tables = ensure_tables(open_catalog(catalog), catalog)
    # The current version answered before the rollout (outside the arms' comparison): it comes first.
    _reactions(tables, "base", {"thumbs_up": 1.0}, started - timedelta(minutes=1), 1, tag="before")
    _reactions(tables, "base", current, started + timedelta(seconds=1), answers)
    _reactions(tables, "r1", candidate, started + timedelta(seconds=1), answers)
    return registry, catalog


def _edits(share: float) -> dict[str, float]:
    """Answers edited ``share`` of the time, thumbed up otherwise."""
    return {"edit": share, "thumbs_up": 1 - share}


def _env(tmp_path: Path, catalog: CatalogSettings) -> dict[str, str]:
    return {
        "FLYWHEEL_CATALOG__URI": catalog.uri,
        "FLYWHEEL_CATALOG__WAREHOUSE": catalog.warehouse,
        "FLYWHEEL_TRAINER__REGISTRY_URL": str(tmp_path / "models"),
        "FLYWHEEL_STATE_DIR": str(tmp_path),
    }


@pytest.mark.parametrize(
    ("candidate", "expected", "says"),
    [
        (_edits(0.15), "complete", "fewer edits and fewer setbacks with r1's answers"),
        (_edits(0.75), "stop", "more edits and more setbacks with r1's answers"),
        (_edits(0.45), "wait", "no difference yet"),
        # Fewer edits, and regenerations no more common than the edits they replace: fewer setbacks too.
        ({"edit": 0.15, "regenerate": 0.05, "thumbs_up": 0.80}, "complete", "fewer edits and fewer setbacks"),
        # Fewer edits, but as many setbacks: regenerations took the edits' place.
        ({"edit": 0.15, "regenerate": 0.30, "thumbs_up": 0.55}, "wait", "fewer edits with r1's answers but not yet"),
        # The same with ratings of 1 star read from the feedback table (3 stars are no setback).
        (
            {"edit": 0.15, "rating:1": 0.30, "rating:3": 0.10, "thumbs_up": 0.45},
            "wait",
            "fewer edits with r1's answers but not yet fewer setbacks",
        ),
    ],
)
def test_the_judge_completes_or_stops_a_rollout_from_the_tables(
    tmp_path: Path, candidate: dict[str, float], expected: str, says: str
) -> None:
    registry, catalog = _rollout(tmp_path, candidate)
    env = _env(tmp_path, catalog)

    result = CliRunner().invoke(app, ["model", "rollout", "--decide"], env=env)

    assert result.exit_code == 0, result.output
    said = " ".join(result.stdout.split())  # the decision alone (logs go to stderr), unwrapped
    assert said.startswith(f"{expected}: {says}") and "edit rate " in said and "setback share " in said, said
    alias = registry.read_alias()
    if expected == "wait":
        assert (alias.current, alias.candidate, len(alias.history)) == ("base", "r1", 1)
        return
    assert alias.candidate is None and alias.current == ("r1" if expected == "complete" else "base")
    last = alias.history[-1]
    assert last.action == ("set" if expected == "complete" else "rollout_off")
    assert last.note.startswith(f"rollout judged: {says}") and "any look" in last.note


def test_a_candidate_that_only_moves_complaints_from_edits_to_other_signals_is_stopped(tmp_path: Path) -> None:
    """The reviewer's rollout: of the current version's answers 30% are edited and 15% thumbed up,
    of the candidate's 32% edited, 30% regenerated, 15% thumbed down and 23% thumbed up (the rest
    only read). Per reaction the candidate's edit rate is far lower (32% against 67%), as the
    regenerations and thumbs-down swell its denominator; its setback share is higher (77% against 67%)."""
    candidate = {"edit": 0.32, "regenerate": 0.30, "thumbs_down": 0.15, "thumbs_up": 0.23}
    registry, catalog = _rollout(tmp_path, candidate, current={"edit": 0.30, "thumbs_up": 0.15}, answers=1000)
    figures = {figure.model_version: figure for figure in read_impact(catalog, str(tmp_path / "models"))}
    edits, setbacks = figures["r1"].edit_rate_change, figures["r1"].setback_rate_change
    # The edit rate alone says better at every look: the rule before setbacks completed this rollout.
    assert edits is not None and edits.design == "concurrent" and edits.anytime_high is not None
    assert edits.value == pytest.approx(0.32 - 0.30 / 0.45) and edits.anytime_high < 0
    assert setbacks is not None and setbacks.anytime_low is not None
    assert setbacks.value == pytest.approx(0.77 - 0.30 / 0.45) and setbacks.anytime_low > 0

    result = CliRunner().invoke(app, ["model", "rollout", "--decide"], env=_env(tmp_path, catalog))

    assert result.exit_code == 0, result.output
    said = " ".join(result.stdout.split())  # the decision alone (logs go to stderr), unwrapped
    fell, rose = (0.32 - 0.30 / 0.45) * 100, (0.77 - 0.30 / 0.45) * 100
    assert said.startswith(f"stop: more setbacks with r1's answers: edit rate {fell:+.1f} points"), said
    assert f"setback share {rose:+.1f} points" in said
    alias = registry.read_alias()
    assert (alias.current, alias.candidate, alias.history[-1].action) == ("base", None, "rollout_off")


def test_the_servers_impact_refresh_judges_the_rollout_when_asked(tmp_path: Path) -> None:
    registry, catalog = _rollout(tmp_path, _edits(0.15))

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
    registry, catalog = _rollout(tmp_path, _edits(0.45))  # the arms edit alike
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
