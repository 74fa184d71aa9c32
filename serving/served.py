"""When each model version answered users, from the registry alias's history.

The alias says which versions answer (``current``, and ``candidate`` for its share of users); every
move is kept with its time (``serving/registry.py``). Read back, the history gives the periods in
which a pair of versions answered side by side: the only periods in which their reactions can be
compared as a rollout's arms (``serving/impact.py``). Reaction times alone cannot tell: edits
arrive minutes after the answer, so a version replaced outright keeps collecting reactions after
the switch, which look concurrent with its successor's first ones.

The history records what the alias asked for, not what each replica served: a replica that cannot
load a version keeps its previous routes and says so itself (``flywheel_serving_alias_applied`` 0,
``alias_applied`` and ``error`` in ``/v1/flywheel/routes`` and ``/readyz``). No replica writes
that into the alias (one replica's failure must not erase another's success, and a write would
race the commands that move the alias), so while one of those signals is 0 the periods here
overstate what was served: the answers (and their reactions) carry the ``model_version`` that
actually produced them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from flywheel.serving.registry import BASE, Alias


@dataclass(frozen=True)
class ServedPeriod:
    """From ``start`` to ``end`` (None: still so) ``current`` answered, and ``candidate`` its ``share`` of users."""

    current: str
    candidate: str | None
    share: float
    start: datetime | None  # None: since before the history begins
    end: datetime | None

    def routes(self, version: str) -> bool:
        """Whether ``version`` answered users in this period."""
        return version == self.current or (version == self.candidate and self.share > 0)

    def side_by_side(self, one: str, other: str) -> bool:
        """Whether ``one`` and ``other`` both answered in this period (a rollout's arms)."""
        return one != other and self.routes(one) and self.routes(other) and 0 < self.share < 1

    def holds(self, moment: datetime) -> bool:
        """Whether ``moment`` falls in the period."""
        return (self.start is None or self.start <= moment) and (self.end is None or moment < self.end)


def served_periods(alias: Alias) -> list[ServedPeriod]:
    """The alias's history as consecutive periods; before its first move, ``base`` answered alone."""
    periods: list[ServedPeriod] = []
    current, candidate, share, start = BASE, None, 0.0, None
    for change in alias.history:
        periods.append(ServedPeriod(current, candidate, share, start, change.at))
        current, candidate = change.current, change.candidate
        share, start = (change.candidate_share if change.candidate else 0.0), change.at
    periods.append(ServedPeriod(current, candidate, share, start, None))
    return [period for period in periods if period.start is None or period.end is None or period.start < period.end]


def replaced(periods: Sequence[ServedPeriod], version: str) -> str | None:
    """The version ``version`` was measured against: the one current when it first answered users.

    A candidate is compared with the current version it ran beside; a version made current
    outright, with the one current just before it. None when the history never routed it.
    """
    for index, period in enumerate(periods):
        if not period.routes(version):
            continue
        if period.current != version:
            return period.current
        earlier = [p.current for p in periods[:index] if p.current != version]
        return earlier[-1] if earlier else None
    return None
