"""The result of a curation gate that drops an event.

Every gate returns ``Drop | None``: ``None`` means "keep going". A :class:`Drop` carries
everything a rejections-table row and the ``flywheel_curation_decisions_total`` counter need.
"""

from __future__ import annotations

import msgspec


class Stage:
    """Stable stage names (rejections.stage and the metric's ``stage`` label)."""

    DEDUP = "dedup"
    DISTANCE = "distance"
    POLICY = "policy"
    TOXICITY = "toxicity"
    JUDGE = "judge"
    QUOTA = "quota"
    REVIEW = "review"

    ALL = (DEDUP, DISTANCE, POLICY, TOXICITY, JUDGE, QUOTA, REVIEW)


class Drop(msgspec.Struct, frozen=True):
    """Why an event was dropped: stage, stable reason code, detail and evidence scores."""

    stage: str
    reason: str
    detail: str = ""
    scores: dict[str, float] = msgspec.field(default_factory=dict)
