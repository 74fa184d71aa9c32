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
from flywheel.trainer.verdict import detail_lines


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
            lines.extend(detail_lines(result))
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
