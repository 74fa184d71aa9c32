"""The settings a recovery store was written with, checked before the flow resumes from it.

Keyed state is laid out by ``dedup.buckets``: the held dedup's buckets, the progress barrier
that waits for a marker from each of them, the review step's keys. Resuming with another count
is silently wrong: with more buckets, the restored barrier passes an offset while a new bucket
still holds an event below it (after a crash that row is lost); with fewer, the orphaned buckets
never release, progress stops, and the sink buffers for ever. So the store records the count,
and a start with another one is refused with what to do.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flywheel.errors import RecoveryStateExists
from flywheel.flows.config import FlowConfig

LAYOUT_FILE = "flywheel-layout.json"


def layout_of(settings: FlowConfig) -> dict[str, Any]:
    """The settings that shape the flow's keyed recovery state."""
    return {"dedup.buckets": settings.curation.dedup.buckets}


def check_layout(directory: Path, settings: FlowConfig) -> None:
    """Refuse a store written with another layout; record the layout of a new (or older, unrecorded) one."""
    wanted = layout_of(settings)
    path = directory / LAYOUT_FILE
    if path.is_file():
        try:
            recorded = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise RecoveryStateExists(f"{path} is not valid JSON ({exc}); pass --reset-recovery") from exc
        changed = {
            name: (recorded[name], value) for name, value in wanted.items() if recorded.get(name, value) != value
        }
        if changed:
            was = ", ".join(f"{name}={old} (the settings say {new})" for name, (old, new) in changed.items())
            raise RecoveryStateExists(
                f"the recovery state in {directory} was written with {was}: its keyed state (dedup buckets, "
                "progress barrier) cannot be read with another layout. Set it back, or pass --reset-recovery "
                "(the flow then resumes from the tables' committed offsets, its dedup keys recalled from them)"
            )
    path.write_text(json.dumps(wanted, sort_keys=True), encoding="utf-8")
