"""The curation chain's parts, each bound to its own settings section."""

from __future__ import annotations

from dataclasses import dataclass, replace

from flywheel.config import TopicSettings, ValidationSettings
from flywheel.flows.dedup import Dedup
from flywheel.flows.edits import DistanceBand, JudgeScreen, PolicyGate, Quota, ToxicityScreen
from flywheel.flows.intake import Intake
from flywheel.flows.recall import Recalled
from flywheel.flows.review import Review
from flywheel.flows.routing import Router
from flywheel.flows.rows import Rows
from flywheel.operators.config import CurationSettings
from flywheel.operators.judge import build_judge
from flywheel.operators.learned_safety import build_learned
from flywheel.operators.policy import PolicyEngine
from flywheel.operators.toxicity import ToxicityGate, build_scorer
from flywheel.operators.winners import WinnerJournal


@dataclass(frozen=True)
class CurationChain:
    """Every step of the curation flow, ready to be wired by ``flows/curation.py``."""

    intake: Intake
    dedup: Dedup
    router: Router
    distance: DistanceBand
    policy: PolicyGate
    toxicity: ToxicityScreen
    judge: JudgeScreen
    quota: Quota
    rows: Rows
    review: Review

    def recalling(self, recalled: Recalled) -> CurationChain:
        """The same chain, with the quota and dedup state the tables imply (``flows/recall.py``)."""
        return replace(self, quota=self.quota.recalling(recalled.pairs), dedup=self.dedup.recalling(recalled.kept))

    def journaling(self, journal: WinnerJournal) -> CurationChain:
        """The same chain, its dedup sealing winners into ``journal`` (``flows/winner_files.py``)."""
        return replace(self, dedup=self.dedup.journaling(journal))

    @classmethod
    def build(cls, curation: CurationSettings, validation: ValidationSettings, topics: TopicSettings) -> CurationChain:
        """Load the policy file, the toxicity model and the judge, and bind each step to its settings."""
        policy = PolicyEngine.from_file(curation.policy.path())
        backend = build_scorer(curation.toxicity, policy.own_words)
        toxicity = ToxicityGate.for_backend(curation.toxicity.thresholds, backend)
        learned_cfg = curation.learned_safety
        learned = build_learned(
            learned_cfg.enabled, learned_cfg.model, learned_cfg.threshold, curation.toxicity.segment_max_words or 24
        )
        return cls(
            intake=Intake(validation, topics.dlq, topics.dlq_max_message_bytes),
            dedup=Dedup(curation.dedup),
            router=Router(curation.sampling),
            distance=DistanceBand(curation.distance),
            policy=PolicyGate(policy),
            toxicity=ToxicityScreen(backend, toxicity, learned),
            judge=JudgeScreen(build_judge(curation.judge)),
            quota=Quota(curation.quota),
            rows=Rows(policy, topics.review),
            review=Review(curation, policy, topics.review),
        )
