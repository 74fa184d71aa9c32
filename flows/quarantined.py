"""The sink's side of a quarantine (``infra/dataset.py``): rows a rule holds are not written.

``flywheel data quarantine`` stores its window as a rule in the table's properties, then deletes
what the table holds. Rows the flow had not committed yet (buffered, held by dedup, not read, a
late producer) come to the sink afterwards: it leaves them out before each commit, and deletes at
once any it wrote while a rule was landing (a catalog applies an append onto the table as it is
at commit time, checking only the branch head, so a rule committed meanwhile does not stop it).
"""

from __future__ import annotations

import logging

from pyiceberg.table import Table

from flywheel import metrics
from flywheel.infra.dataset import enforce_quarantine, quarantine_rules
from flywheel.schemas.records import TableRow

log = logging.getLogger(__name__)


def left_out_quarantined(rows: list[TableRow], now: Table, name: str, branch: str = "main") -> list[TableRow]:
    """``rows`` but those a quarantine rule of the table (``now``: as it is now) for ``branch`` holds; decided,
    not written.

    ``now`` is a fresh load, not the metadata the committer's append builds on: that must stay the
    one it last saw (a conflict is how it learns of other writers' offsets).
    """
    if not rows:
        return rows
    rules = quarantine_rules(now.properties, branch)
    if not rules:
        return rows
    kept = [row for row in rows if not any(rule.holds(row.values) for rule in rules)]
    if len(kept) < len(rows):
        metrics.ROWS_QUARANTINED.labels(name).inc(len(rows) - len(kept))
        log.warning("rows in a quarantined window left out", extra={"table": name, "rows": len(rows) - len(kept)})
    return kept


def enforce_landed_rules(written: list[TableRow], committed: Table, branch: str) -> bool:
    """Delete the rows just ``written`` that a rule in the ``committed`` metadata holds; whether it deleted.

    Such a rule landed while the commit was written. A failure is logged, never fatal to the
    flow: the rows then stay until the quarantine runs again.
    """
    name = committed.name()[-1]
    rules = [
        rule for rule in quarantine_rules(committed.properties, branch) if any(rule.holds(r.values) for r in written)
    ]
    if not rules:
        return False
    try:
        removal = enforce_quarantine(committed, rules, branch)
    except Exception:
        log.exception("could not delete rows a quarantine rule landed on during a commit", extra={"table": name})
        return False
    metrics.ROWS_QUARANTINED.labels(name).inc(removal.rows)
    log.warning(
        "rows committed as a quarantine rule landed were deleted",
        extra={"table": name, "rows": removal.rows, "snapshot_id": removal.snapshot_id},
    )
    return removal.rows > 0
