"""The learned safety classifier wired into the curation flow (curation.learned_safety.enabled)."""

from __future__ import annotations

from flywheel.config import revised
from flywheel.flows.chain import CurationChain
from flywheel.flows.config import FlowConfig
from flywheel.schemas.tables import DPO_PAIRS, REJECTIONS
from tests.flows.test_curation_flow import GOOD_EDIT, event
from tests.support.curation_flow import run_curation

# An insult in free wording that the v9 rules and the profanity model pass.
INSULT = " Whoever programmed you clearly never finished school."
EVENTS = [event("pair-ok"), event("schooling", final_user_edit=GOOD_EDIT + INSULT)]


def test_off_by_default_the_rules_alone_decide() -> None:
    config = FlowConfig()
    chain = CurationChain.build(config.curation, config.validation, config.topics)
    result = run_curation(list(EVENTS), config, chain)
    assert sorted(result.event_ids(DPO_PAIRS)) == ["pair-ok", "schooling"]
    assert "learned_safety:harmful" not in dict(result.values(DPO_PAIRS, "pair-ok")["safety_scores"])


def test_on_it_drops_the_insult_in_the_safety_stage_and_scores_the_pairs() -> None:
    config = revised(FlowConfig(), curation={"learned_safety": {"enabled": True}})
    chain = CurationChain.build(config.curation, config.validation, config.topics)
    result = run_curation(list(EVENTS), config, chain)

    assert result.event_ids(DPO_PAIRS) == ["pair-ok"]
    assert result.rejections() == {"schooling": ("toxicity", "learned_safety:harmful")}
    assert result.stats.decisions.get("toxicity:learned_safety:harmful") == 1
    row = result.values(REJECTIONS, "schooling")
    assert dict(row["scores"])["learned_safety:harmful"] >= chain.toxicity._learned.threshold  # type: ignore[union-attr]
    assert "toxicity:profanity" in dict(row["scores"])
    assert dict(result.values(DPO_PAIRS, "pair-ok")["safety_scores"])["learned_safety:harmful"] < 0.5
