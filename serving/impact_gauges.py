"""The impact figures as Prometheus gauges, recomputed in a background thread of the model server.

The figures themselves (:mod:`flywheel.serving.impact`) are pure reads of the tables; this is
what the server exports of them and how often.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from flywheel.config import CatalogSettings
from flywheel.serving import metrics
from flywheel.serving.attribution import UNKNOWN
from flywheel.serving.impact import VersionImpact, read_impact
from flywheel.serving.impact_statistics import PLANNED_REACTIONS

log = logging.getLogger(__name__)
# Each change's gauges: its value, and the lower and upper ends of its any-look interval.
_EDIT_GAUGES = (metrics.IMPACT_EDIT_CHANGE, metrics.IMPACT_EDIT_CHANGE_LOW, metrics.IMPACT_EDIT_CHANGE_HIGH)
_SETBACK_GAUGES = (metrics.IMPACT_SETBACK_CHANGE, metrics.IMPACT_SETBACK_CHANGE_LOW, metrics.IMPACT_SETBACK_CHANGE_HIGH)


def export_gauges(figures: Sequence[VersionImpact], max_versions: int) -> None:
    """Set the impact gauges for the ``max_versions`` most recent versions (older series are dropped)."""
    for gauge in (
        metrics.IMPACT_INTERACTIONS,
        metrics.IMPACT_RATE,
        metrics.IMPACT_RATE_LOW,
        metrics.IMPACT_RATE_HIGH,
        *_EDIT_GAUGES,
        *_SETBACK_GAUGES,
    ):
        gauge.clear()
    # Over every version, not the most recent: reactions no version can be found for never drop out of sight.
    metrics.IMPACT_UNATTRIBUTED.set(sum(v.interactions for v in figures if v.model_version == UNKNOWN))
    metrics.IMPACT_ATTRIBUTED.set(sum(v.attributed for v in figures))
    for version in figures[-max_versions:]:
        metrics.IMPACT_INTERACTIONS.labels(version.model_version).set(version.interactions)
        for signal, figure in version.rates.items():
            metrics.IMPACT_RATE.labels(version.model_version, signal).set(figure.value)
            metrics.IMPACT_RATE_LOW.labels(version.model_version, signal).set(figure.low)
            metrics.IMPACT_RATE_HIGH.labels(version.model_version, signal).set(figure.high)
        for change, gauges in (
            (version.edit_rate_change, _EDIT_GAUGES),
            (version.setback_rate_change, _SETBACK_GAUGES),
        ):
            if change is not None and change.anytime_low is not None and change.anytime_high is not None:
                # A gauge is read at every refresh: only the interval that holds at every look is exported.
                labels = (version.model_version, change.against, change.design)
                for gauge, value in zip(gauges, (change.value, change.anytime_low, change.anytime_high), strict=True):
                    gauge.labels(*labels).set(value)


class ImpactRefresher:
    """Recomputes the impact gauges every ``interval_s`` in a background thread (0 = never)."""

    def __init__(
        self,
        catalog: CatalogSettings,
        interval_s: float,
        max_versions: int,
        registry_url: str | None = None,
        planned_reactions: float = PLANNED_REACTIONS,
        judge: Callable[[Sequence[VersionImpact]], object] | None = None,
    ) -> None:
        self.catalog = catalog
        self.judge = judge
        self.registry_url = registry_url
        self.planned_reactions = planned_reactions
        self.interval_s = interval_s
        self.max_versions = max_versions
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def refresh(self) -> None:
        """Read the tables once and set the gauges; a failure is logged and retried next period."""
        try:
            figures = read_impact(self.catalog, self.registry_url, self.planned_reactions)
            export_gauges(figures, self.max_versions)
        except Exception as exc:  # the catalog may be down or the tables not created yet; serving goes on
            log.warning("impact refresh failed", extra={"error": str(exc)})
            return
        if self.judge is not None:
            try:
                self.judge(figures)
            except Exception as exc:  # the registry may be unreachable; judged again next refresh
                log.warning("rollout judge failed", extra={"error": str(exc)})

    def start(self) -> None:
        """Start refreshing (no-op when the interval is 0)."""
        if self.interval_s > 0:
            self._thread = threading.Thread(target=self._run, name="serving-impact", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        self.refresh()
        while not self._stop.wait(self.interval_s):
            self.refresh()

    def stop(self) -> None:
        """Stop refreshing."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
