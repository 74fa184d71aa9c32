"""kill -9 the flow at different points, restart it, and check every table holds each row once."""

from __future__ import annotations

import signal
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from flywheel.config import revised
from flywheel.flows.runner import run_until_drained
from flywheel.sample import sample_events
from flywheel.schemas.tables import DPO_PAIRS, FEEDBACK_SIGNALS, POSITIVE_EXAMPLES, REJECTIONS, contracts
from flywheel.settings import Settings
from tests.conftest import make_settings, wait_for
from tests.support.flow_helpers import (
    produce_raw,
    read_table,
    start_flow_process,
    total_records,
    write_config,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WAVE = 3000


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


def kill(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


def test_sigkill_three_times_loses_and_duplicates_nothing(settings: Settings, tmp_path: Path) -> None:
    # Small batches and frequent epochs make commits happen all through the run.
    settings = revised(
        settings,
        source={"batch_size": 25},
        recovery={"snapshot_interval_s": 0.1},
        sink={"commit_interval_s": 0.1, "progress_commit_interval_s": 0.1},
    )
    produce_raw(settings, [(k.encode(), v) for k, v in sample_events(WAVE, seed=1)])
    config = write_config(settings, tmp_path / "flow.yaml")
    log = tmp_path / "flow.log"

    # 1: killed as soon as the first pairs are committed.
    process = start_flow_process(config, log_path=log)
    wait_for(lambda: total_records(settings, DPO_PAIRS) > 0, what="first commit")
    kill(process)
    first = total_records(settings, DPO_PAIRS)

    # 2: killed after more progress, with a second wave of input arriving meanwhile.
    process = start_flow_process(config, log_path=log)
    produce_raw(settings, [(k.encode(), v) for k, v in sample_events(WAVE, seed=2)])
    wait_for(lambda: total_records(settings, DPO_PAIRS) > first, what="progress after restart")
    kill(process)
    second = total_records(settings, DPO_PAIRS)

    # 3: killed again after further progress.
    process = start_flow_process(config, log_path=log)
    wait_for(lambda: total_records(settings, DPO_PAIRS) > second, what="progress after second restart")
    kill(process)

    # Final restart drains everything and exits on its own.
    process = start_flow_process(config, "--until-drained", log_path=log)
    assert process.wait(timeout=300) == 0, log.read_text()[-3000:]

    # Reference: the same input processed once, without crashes, into a fresh catalog.
    reference = make_settings(settings.kafka.bootstrap_servers, tmp_path / "reference", topics=settings.topics)
    run_until_drained(reference.flow_config())

    crashed = {table: row_ids(settings, table) for table in contracts()}
    expected = {table: row_ids(reference, table) for table in contracts()}
    # Each source message lands in at most one table, at most once.
    every_row = [key for rows in crashed.values() for key in rows]
    duplicates = [key for key, count in Counter(every_row).items() if count > 1]
    assert not duplicates, f"duplicated rows {duplicates[:5]}"
    # Routing and sampling are per-event decisions: those tables match the reference exactly.
    for table in (FEEDBACK_SIGNALS, POSITIVE_EXAMPLES):
        assert sorted(crashed[table]) == sorted(expected[table]), f"{table}: rows lost or extra"
    # An edit ends up as a pair or as a rejection. Which one can depend on the order in which
    # partitions interleave at a quota or dedup boundary (README: determinism), but every
    # edit must be in exactly one of the two.
    edits_crashed = set(crashed[DPO_PAIRS] + crashed[REJECTIONS])
    edits_expected = set(expected[DPO_PAIRS] + expected[REJECTIONS])
    assert edits_crashed == edits_expected, (
        f"extra {describe(settings, edits_crashed - edits_expected)}; "
        f"missing {describe(reference, edits_expected - edits_crashed)}"
    )
    pairs = read_table(settings, DPO_PAIRS).column("event_id").to_pylist()
    assert len(pairs) == len(set(pairs)) > 0
