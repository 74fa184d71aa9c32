"""Interrupted flow runs: stop the flow while waves of input arrive, then compare with an uninterrupted run.

The comparison holds for SIGKILL, SIGINT/SIGTERM, step exceptions and faults alike: every
source message lands in at most one table, at most once, and the tables match a reference
run of the same input that nothing interrupted.
"""

from __future__ import annotations

import subprocess
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from flywheel.config import revised
from flywheel.flows.runner import run_until_drained
from flywheel.sample import sample_events
from flywheel.schemas.tables import DPO_PAIRS, FEEDBACK_SIGNALS, POSITIVE_EXAMPLES, REJECTIONS, contracts
from flywheel.settings import Settings
from tests.conftest import make_settings, wait_for
from tests.support.flow_helpers import produce_raw, read_table, total_records

StopT = TypeVar("StopT")
Processes = list[subprocess.Popen[bytes]]


def frequent_commits(settings: Settings, **changes: Any) -> Settings:
    """``settings`` with small batches and frequent epochs, so commits happen all through a run,
    and dedup winners sealed into the journal every few (a restart then reads it back)."""
    return revised(
        settings,
        source={"batch_size": 25},
        recovery={"snapshot_interval_s": 0.1},
        sink={"commit_interval_s": 0.1, "progress_commit_interval_s": 0.1},
        **{"curation": {"dedup": {"seal_at": 4}}, **changes},
    )


def stop_during_waves(
    settings: Settings,
    stops: Sequence[StopT],
    wave: int,
    start: Callable[[StopT], Processes],
    stop: Callable[[int, StopT, Processes, int], None],
) -> None:
    """Start the flow once per stop, feed it a fresh wave of ``wave`` events, and ``stop`` it meanwhile.

    ``stop`` gets the stop's index, the stop, the started processes and the count of pairs
    before the wave; it returns once the processes have exited.
    """
    for index, kind in enumerate(stops):
        events = [(k.encode(), v) for k, v in sample_events(wave, seed=index + 1)]
        before = total_records(settings, DPO_PAIRS)
        processes = start(kind)
        # Input keeps arriving while the flow runs, so each stop lands in a busy stream.
        producer = threading.Thread(target=produce_raw, args=(settings, events))
        producer.start()
        stop(index, kind, processes, before)
        producer.join()


def signal_after_progress(
    settings: Settings, processes: Processes, signum: int, grown: int, timeout_s: float, what: str
) -> None:
    """Once ``grown`` pairs are committed, send ``signum`` to every process and wait for them to exit."""
    wait_for(lambda: total_records(settings, DPO_PAIRS) >= grown, timeout_s=timeout_s, what=what)
    for process in processes:
        process.send_signal(signum)
    for process in processes:
        process.wait(timeout=120)


def assert_drained(processes: Processes, log: Path) -> None:
    """Every process of the last restart drains the input and exits on its own with 0."""
    for process in processes:
        assert process.wait(timeout=300) == 0, log.read_text()[-3000:]


def row_ids(settings: Settings, table: str) -> list[tuple[str, int, int]]:
    """Every row's source coordinates: unique per source message and table."""
    rows = read_table(settings, table).select(["source_topic", "source_partition", "source_offset"]).to_pylist()
    return [(r["source_topic"], r["source_partition"], r["source_offset"]) for r in rows]


def describe(settings: Settings, positions: set[tuple[str, int, int]]) -> list[dict[str, object]]:
    """Table, stage and reason of the rows at these source positions (for failure messages)."""
    found = []
    for table in (DPO_PAIRS, REJECTIONS):
        for row in read_table(settings, table).to_pylist():
            if (row["source_topic"], row["source_partition"], row["source_offset"]) in positions:
                found.append(
                    {k: row.get(k) for k in ("event_id", "source_offset", "stage", "reason")} | {"table": table}
                )
    return found[:8]


def assert_same_rows(settings: Settings, reference: Settings) -> None:
    """Every table holds what the uninterrupted reference holds: 0 lost, 0 duplicated."""
    crashed = {table: row_ids(settings, table) for table in contracts()}
    expected = {table: row_ids(reference, table) for table in contracts()}
    # Each source message lands in at most one table, at most once.
    every_row = [key for rows in crashed.values() for key in rows]
    duplicates = [key for key, count in Counter(every_row).items() if count > 1]
    assert not duplicates, f"duplicated rows {duplicates[:5]}"
    # Routing and sampling are per-event decisions: those tables match the reference exactly.
    for table in (FEEDBACK_SIGNALS, POSITIVE_EXAMPLES):
        missing = set(expected[table]) - set(crashed[table])
        extra = set(crashed[table]) - set(expected[table])
        assert not missing and not extra, f"{table}: {len(missing)} lost, {len(extra)} extra"
    # An edit ends up as a pair or as a rejection. Which one can depend on the order in which
    # partitions interleave at a quota or dedup boundary (README: determinism), but every
    # edit must be in exactly one of the two.
    edits_crashed = set(crashed[DPO_PAIRS] + crashed[REJECTIONS])
    edits_expected = set(expected[DPO_PAIRS] + expected[REJECTIONS])
    assert edits_crashed == edits_expected, (
        f"{len(edits_expected - edits_crashed)} lost: {describe(reference, edits_expected - edits_crashed)}; "
        f"{len(edits_crashed - edits_expected)} extra: {describe(settings, edits_crashed - edits_expected)}"
    )
    pairs = read_table(settings, DPO_PAIRS).column("event_id").to_pylist()
    assert len(pairs) == len(set(pairs)) > 0


def assert_matches_uninterrupted_run(settings: Settings, directory: Path) -> None:
    """Run the same input once, uninterrupted, into a fresh catalog under ``directory``; compare every table."""
    reference = make_settings(settings.kafka.bootstrap_servers, directory, topics=settings.topics)
    run_until_drained(reference.flow_config())
    assert_same_rows(settings, reference)
