"""One turn of the flywheel's training half: tracker check -> trigger -> train -> evaluate -> gate.

``make run`` calls :func:`turn_once` after the flow has drained the sample stream.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flywheel.infra.broker import ensure_topics
from flywheel.trainer.config import TrainerConfig
from flywheel.trainer.consumer import TrainerConsumer
from flywheel.trainer.events import TrainingResult, TrainingTrigger
from flywheel.trainer.tracker import check


@dataclass
class TurnReport:
    """What one turn did: the triggers emitted and the results of the runs they caused."""

    pairs_since_trigger: int
    threshold: int
    triggers: list[TrainingTrigger] = field(default_factory=list)
    results: list[TrainingResult] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def summary_lines(self) -> list[str]:
        """Human-readable before/after figures, one run per block."""
        lines = [
            f"triggers emitted: {len(self.triggers)}; pairs since last trigger: "
            f"{self.pairs_since_trigger}/{self.threshold}"
        ]
        for result in self.results:
            lines.append(
                f"run {result.run_id} on snapshot {result.snapshot_id} ({result.snapshot_tag}): "
                f"{result.status.upper()} - {result.train_pairs} train / {result.eval_pairs} eval pairs"
            )
            if result.before and result.after:
                before, after = result.before, result.after
                lines.append(
                    f"  preference accuracy {before.preference_accuracy:.3f} -> {after.preference_accuracy:.3f}"
                )
                lines.append(f"  reward margin       {before.reward_margin:+.4f} -> {after.reward_margin:+.4f}")
                if result.forgetting_pct is not None:
                    lines.append(f"  forgetting          {result.forgetting_pct:+.2f}% (positives log-likelihood)")
            lines.extend(f"  reason: {reason}" for reason in result.reasons)
            if result.adapter_uri:
                lines.append(f"  adapter: {result.adapter_uri}")
        return lines


def turn_once(settings: TrainerConfig, *, show_progress: bool = False) -> TurnReport:
    """Check the threshold (emitting any due trigger), then train on every pending trigger.

    Blocks until the triggers topic is drained for ``settings.trainer.consumer_group``.
    """
    ensure_topics(settings.kafka, settings.topics)
    tracked = check(settings)
    consumed = TrainerConsumer(settings, show_progress=show_progress).run(until_idle=True)
    return TurnReport(
        pairs_since_trigger=tracked.pairs_since_trigger,
        threshold=tracked.threshold,
        triggers=tracked.emitted,
        results=consumed.results,
        skipped=consumed.skipped,
    )
