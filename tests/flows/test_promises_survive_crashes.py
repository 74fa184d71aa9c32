"""Quota caps and the dedup window hold across a SIGKILL that leaves committed rows but no recovery state.

The sink commits when an epoch closes, before Bytewax writes that epoch's snapshot, so a SIGKILL
at the first epoch leaves rows in the tables and an empty recovery store. The test makes that
state deterministic: it SIGKILLs the flow once the capped user's pairs are committed and removes
the recovery store (what a kill before its first write leaves). The restart must rebuild the
quota and dedup state from the tables (``flows/recall.py``): before that fix a capped user got
a second full quota (issue 13: 100 pairs against a cap of 50).
"""

from __future__ import annotations

import shutil
import signal
from collections import Counter
from pathlib import Path

import pytest
from pyiceberg.exceptions import NoSuchTableError

from flywheel.config import revised
from flywheel.flows.runner import run_until_drained
from flywheel.infra.catalog import committed_offsets, open_catalog, table_identifier
from flywheel.schemas.events import InteractionEvent, encode_event
from flywheel.schemas.tables import DPO_PAIRS, REJECTIONS, contracts
from flywheel.settings import Settings
from tests.conftest import wait_for
from tests.flows.test_curation_paths import GOOD_EDIT, edit
from tests.support.flow_helpers import produce_raw, read_table, start_flow_process, write_config

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CAP = 4
HEAVY = "user-heavy"


def produce(settings: Settings, events: list[InteractionEvent]) -> None:
    produce_raw(settings, [(e.thread_id.encode(), encode_event(e)) for e in events])


def heavy_edits(prefix: str, count: int) -> list[InteractionEvent]:
    return [edit(f"{prefix}-{i}", GOOD_EDIT + f" Step {i}.", user_id=HEAVY) for i in range(count)]


def accounted_for(settings: Settings) -> int:
    """Messages every table has accounted for (the lowest committed offsets, summed over partitions)."""
    catalog = open_catalog(settings.catalog)
    try:
        tables = [catalog.load_table(table_identifier(settings.catalog, name)) for name in contracts()]
    except NoSuchTableError:
        return 0
    ledgers = [committed_offsets(table) for table in tables]
    keys = {key for ledger in ledgers for key in ledger}
    return sum(min(ledger.get(key, -1) for ledger in ledgers) + 1 for key in keys)


def test_quota_and_dedup_hold_after_a_sigkill_before_the_first_snapshot(settings: Settings, tmp_path: Path) -> None:
    settings = revised(
        settings,
        curation={"quota": {"per_user_per_day": CAP}},
        source={"batch_size": 5},
        recovery={"snapshot_interval_s": 0.1},
        sink={"commit_interval_s": 0.1, "progress_commit_interval_s": 0.1},
    )
    first_wave = [*heavy_edits("heavy-a", 3 * CAP), edit("light-a", GOOD_EDIT + " Light.", user_id="user-light")]
    produce(settings, first_wave)
    config = write_config(settings, tmp_path / "flow.yaml")
    log = tmp_path / "flow.log"

    process = start_flow_process(config, log_path=log)
    # Killed once every table accounts for the whole first wave: the restart then reads none of
    # it again, so only the tables can tell it what the quota and dedup already promised.
    wait_for(lambda: accounted_for(settings) == len(first_wave), timeout_s=120, what="the first wave committed")
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    shutil.rmtree(settings.recovery.directory)
    stored = read_table(settings, DPO_PAIRS).to_pylist()
    assert Counter(row["user_id"] for row in stored)[HEAVY] == CAP

    # After the crash: the capped user edits again, and clients retry events the tables already
    # hold, by event id (the light user has quota left) and by content under a new id and user.
    copied = next(row for row in stored if row["user_id"] == HEAVY)
    original = next(e for e in first_wave if e.event_id == copied["event_id"])
    second_wave = [
        *heavy_edits("heavy-b", 2 * CAP),
        *first_wave,
        edit("copy", original.final_user_edit or "", prompt=original.prompt, user_id="user-copier"),
        edit("light-b", GOOD_EDIT + " Light again.", user_id="user-light"),
    ]
    produce(settings, second_wave)
    run_until_drained(settings.flow_config())

    pairs = read_table(settings, DPO_PAIRS).to_pylist()
    per_user = Counter(row["user_id"] for row in pairs)
    assert per_user[HEAVY] == CAP, f"the capped user has {per_user[HEAVY]} pairs against a cap of {CAP}"
    assert per_user["user-light"] == 2
    assert "user-copier" not in per_user, "a content repeat of a stored pair passed dedup"
    event_ids = [row["event_id"] for row in pairs]
    assert len(event_ids) == len(set(event_ids)), f"an event id twice: {Counter(event_ids).most_common(2)}"
    contents = [(row["prompt"], row["chosen"], row["rejected"]) for row in pairs]
    assert len(contents) == len(set(contents))

    # Every message is stored once; every retry of a first-wave event is a dedup rejection.
    placed = [
        (row["source_partition"], row["source_offset"])
        for table in contracts()
        for row in read_table(settings, table).to_pylist()
    ]
    assert len(placed) == len(set(placed)) == len(first_wave) + len(second_wave)
    rejections = read_table(settings, REJECTIONS).to_pylist()
    duplicates = Counter(row["event_id"] for row in rejections if row["stage"] == "dedup")
    assert duplicates == Counter([*(e.event_id for e in first_wave), "copy"])
    quota_drops = [row["event_id"] for row in rejections if row["reason"] == "quota"]
    assert len(quota_drops) == 5 * CAP - CAP  # every edit of the capped user but the first CAP
