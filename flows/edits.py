"""The edit chain's gates: distance band -> policy -> toxicity -> judge -> per-user quota.

Each gate is bound to its own settings and returns a :data:`Decision` per candidate; the
business rules live in ``operators/``. Cheap gates run first: the toxicity model and the
judge only see edits that passed dedup, the distance band and the policy engine.
"""

from __future__ import annotations

import msgspec

from flywheel import metrics
from flywheel.flows.decisions import Candidate, Decision, Dropped, Sampled, position_of
from flywheel.flows.recall import StoredPair
from flywheel.operators.config import DistanceSettings, QuotaSettings
from flywheel.operators.distance import check_band, measure_edit
from flywheel.operators.judge import Judge, JudgeItem, check_verdict
from flywheel.operators.learned_safety import SCORE_KEY, LearnedSafety
from flywheel.operators.outcome import Drop
from flywheel.operators.policy import PolicyEngine, earlier_turns, response_pii
from flywheel.operators.quota import QuotaLedger, quota_key
from flywheel.operators.sampling import SAMPLING_RATE_SCORE
from flywheel.operators.toxicity import SegmentedScorer, ToxicityGate, prefixed_scores


class DistanceBand:
    """Measure the golden delta and keep edits inside the similarity band."""

    def __init__(self, band: DistanceSettings) -> None:
        self._band = band

    def check(self, candidate: Candidate) -> Decision:
        """Keep an edit whose similarity lies within the band, with its measure attached."""
        measure = measure_edit(candidate.sourced.event.response, candidate.chosen)
        drop = check_band(measure, self._band)
        if drop is not None:
            return Dropped(candidate.sourced, drop)
        return msgspec.structs.replace(candidate, measure=measure)


class PolicyGate:
    """Deterministic rules: lengths, injection markers, blocked content, PII (reject or scrub)."""

    def __init__(self, engine: PolicyEngine) -> None:
        self._engine = engine

    def check(self, candidate: Candidate) -> Decision:
        """Drop an edit the policy rejects or whose turns are malformed; else keep it scrubbed, with findings."""
        event = candidate.sourced.event
        turns = earlier_turns(event.metadata)
        if isinstance(turns, Drop):
            return Dropped(candidate.sourced, turns)
        conversation = [turn["content"] for turn in turns]
        verdict = self._engine.evaluate(event.prompt, candidate.chosen, event.response, conversation)
        if verdict.drop is not None:
            return Dropped(candidate.sourced, verdict.drop)
        scores = {**candidate.scores, **{f"policy:{k}": v for k, v in verdict.findings.items()}}
        return msgspec.structs.replace(candidate, chosen=verdict.chosen, scores=scores)

    def check_positive(self, sampled: Sampled) -> Sampled | Dropped:
        """Drop a sampled positive whose response holds PII (``pii_in_response:<detector>``).

        Its response is a training target like a pair's chosen: stored scrubbed it would teach
        placeholders, stored raw it would leak. Counted as sampled, then as a policy drop.
        """
        drop = response_pii(sampled.sourced.event.response)
        if drop is None:
            return sampled
        # The rate travels with the audit row: the impact figures weigh it as a stored positive.
        scores = {**drop.scores, SAMPLING_RATE_SCORE: sampled.sampling_rate}
        return Dropped(sampled.sourced, msgspec.structs.replace(drop, scores=scores))


class ToxicityScreen:
    """The toxicity model and its thresholds, scored per segment of what the user wrote.

    With the learned safety classifier (``curation.learned_safety.enabled``), an edit the
    thresholds pass is also scored by it; at or over its threshold it is dropped in this stage
    with reason ``learned_safety:harmful``, its score kept with the others.
    """

    def __init__(self, backend: SegmentedScorer, gate: ToxicityGate, learned: LearnedSafety | None = None) -> None:
        self.backend = backend
        self._gate = gate
        self._learned = learned

    def check_batch(self, candidates: list[Candidate]) -> list[Decision]:
        """Score the user's edits (the scorer batches every segment; never one call per item), apply thresholds."""
        scored = self.backend.score_edits(
            [c.chosen for c in candidates], [c.sourced.event.response for c in candidates]
        )
        drops = [self._gate.check(scores) for scores in scored]
        kept = [prefixed_scores(scores) for scores in scored]
        learned = self._learned
        if learned is not None:
            passed = [index for index, drop in enumerate(drops) if drop is None]
            learned_scores = learned.score_edits(
                [candidates[i].chosen for i in passed], [candidates[i].sourced.event.response for i in passed]
            )
            for index, value in zip(passed, learned_scores, strict=True):
                drops[index] = learned.check(value, kept[index])
                kept[index] = {**kept[index], SCORE_KEY: value}
        decisions: list[Decision] = []
        for candidate, scores, drop in zip(candidates, kept, drops, strict=True):
            if drop is not None:
                decisions.append(Dropped(candidate.sourced, drop))
            else:
                decisions.append(msgspec.structs.replace(candidate, scores={**candidate.scores, **scores}))
        return decisions


class JudgeScreen:
    """The LLM-as-a-judge hook, batched; a pass-through when no judge is configured (the default)."""

    def __init__(self, judge: Judge | None) -> None:
        self._judge = judge

    def check_batch(self, candidates: list[Candidate]) -> list[Decision]:
        """Drop the edits the judge finds unsafe, biased or wrong."""
        if self._judge is None:
            return list(candidates)
        items = [JudgeItem(c.sourced.event.prompt, c.chosen, c.sourced.event.response) for c in candidates]
        decisions: list[Decision] = []
        for candidate, verdict in zip(candidates, self._judge.judge_batch(items), strict=True):
            drop = check_verdict(verdict)
            decisions.append(candidate if drop is None else Dropped(candidate.sourced, drop))
        return decisions


class Quota:
    """Per-user and per-segment caps per event-time day, so no one can dominate the data."""

    def __init__(self, cfg: QuotaSettings, recalled: dict[str, list[StoredPair]] | None = None) -> None:
        self._cfg = cfg
        # Stored pairs by segment, each list taken by the segment's first check in this process
        # and counted into its ledger, fresh or restored from recovery state (counting is
        # idempotent per position, so a restored ledger that holds some of them stays exact).
        self._recalled = recalled if recalled is not None else {}

    def recalling(self, recalled: dict[str, list[StoredPair]]) -> Quota:
        """The same caps, counting the pairs the tables already hold (``flows/recall.py``) first."""
        return Quota(self._cfg, recalled)

    @staticmethod
    def segment(candidate: Candidate) -> str:
        """Key a candidate by its quota segment (one ledger sees a whole segment)."""
        return quota_key(candidate.sourced.event)

    def check(self, ledger: QuotaLedger | None, candidate: Candidate) -> tuple[QuotaLedger, Decision]:
        """Admit a pair within the caps; drop it over them."""
        ledger = ledger or QuotaLedger(self._cfg)
        event = candidate.sourced.event
        for pair in self._recalled.pop(quota_key(event), ()):
            ledger.recall(pair.user_id, pair.segment, pair.occurred_at, pair.position)
        drop = ledger.admit(event.user_id, event.segment, event.occurred_at, position_of(candidate.sourced))
        if drop is not None:
            return ledger, Dropped(candidate.sourced, drop)
        # A gauge of the ledger's state, which only this keyed step sees (one writer per segment).
        metrics.observe_user_share(event.segment, ledger.user_counts_on(event.occurred_at))
        return ledger, candidate
