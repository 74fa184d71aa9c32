"""What one turn of ``make run``'s wheel measured: the revolution's line, and each version's arm."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from flywheel.serving.impact import Reaction, signal_rates
from flywheel.simulation import Answer


@dataclass
class Revolution:
    """One turn of the wheel, as printed and written to report.json."""

    revolution: int
    model_version: str
    answers: int
    interactions: float
    edit_rate: float
    edit_rate_low: float
    edit_rate_high: float
    pairs: int
    decision: str
    run_id: str | None = None
    reasons: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    # The training run's evidence (TrainingResult as JSON: figures with intervals, samples), if one ran.
    training: dict[str, Any] | None = None
    # Per version that answered (two in a rollout: side by side on the same questions), as the line shows.
    arms: list[Arm] = field(default_factory=list)

    def line(self) -> str:
        """One line for the console (a line per arm where a rollout split the users)."""
        tail = f"{self.pairs} pairs curated -> {self.decision}  ({self.duration_s:.0f}s)"
        if len(self.arms) < 2:
            pooled = Arm(
                self.model_version,
                self.answers,
                self.interactions,
                self.edit_rate,
                self.edit_rate_low,
                self.edit_rate_high,
            )
            return f"revolution {self.revolution}: {pooled.line()}, {tail}"
        arms = "\n".join(f"  {arm.line()}" for arm in self.arms)
        return f"revolution {self.revolution}: side by side (a rollout splits the users), {tail}\n{arms}"


@dataclass
class Arm:
    """One version's answers in a revolution and the users' reactions to them."""

    model_version: str
    answers: int
    interactions: float
    edit_rate: float
    edit_rate_low: float
    edit_rate_high: float

    def line(self) -> str:
        """The version's figures, as the revolution's line shows them."""
        return (
            f"model {self.model_version:<14} {self.answers:>4} answers, {self.interactions:>4.0f} interactions, "
            f"edit rate {self.edit_rate:.1%} [{self.edit_rate_low:.1%}, {self.edit_rate_high:.1%}]"
        )


def arm_of(version: str, answers: int, reactions: Sequence[Reaction]) -> Arm:
    """``version``'s figures from its answer count and its users' reactions (edit interval widened for users)."""
    edit = signal_rates(reactions)["edit"] if reactions else None
    return Arm(
        version,
        answers,
        sum(reaction.weight for reaction in reactions),
        edit.value if edit else 0.0,
        edit.low if edit else 0.0,
        edit.high if edit else 1.0,
    )


def version_arms(answers: Sequence[Answer], reactions: Sequence[Reaction]) -> list[Arm]:
    """Each version's answers and edit rate, base first, then by name."""
    return [
        arm_of(
            version,
            sum(1 for answer in answers if answer.model_version == version),
            [reaction for reaction in reactions if reaction.model_version == version],
        )
        for version in sorted({answer.model_version for answer in answers}, key=lambda v: (v != "base", v))
    ]
