"""SIGINT, SIGTERM and exceptions in a step, with 2 workers, then a restart: nothing lost, nothing twice.

On such a stop Bytewax closes the Iceberg sink mid-epoch while rows of that epoch are still in
flight in the other worker; the sink must commit only what closed epochs delivered
(``flows/iceberg_sink.py``; ``test_sink_teardown.py`` checks that directly). Here the whole
flow is stopped eight times, each while a fresh wave of input is being processed. The step
exception is injected in the flow process by wrapping ``Intake.decode`` (test-side:
nothing in the product knows about it).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest

from flywheel.config import revised
from flywheel.flows.runner import run_until_drained
from flywheel.sample import sample_events
from flywheel.schemas.tables import DPO_PAIRS, FEEDBACK_SIGNALS, POSITIVE_EXAMPLES, REJECTIONS, contracts
from flywheel.settings import Settings
from tests.conftest import make_settings, wait_for
from tests.flows.test_crash_recovery import describe, row_ids
from tests.support.flow_helpers import produce_raw, read_table, start_flow_process, total_records, write_config

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WAVE = 1500
# Each stop lands while a new wave is being processed; "raise" fails the Nth decode of the run.
STOPS = ["raise", "sigint", "raise", "sigint", "sigterm", "raise", "sigint", "sigint"]
REPO = Path(__file__).resolve().parents[2]

# `flywheel flow run --until-drained` whose decode step raises on its Nth call (argv[1]), in
# whichever worker gets there.
_FAILING_FLOW = """
import sys, threading
from flywheel.flows.intake import Intake

limit, calls, lock = int(sys.argv[1]), [0], threading.Lock()
original = Intake.decode


def decode(self, message):
    with lock:
        calls[0] += 1
        if calls[0] == limit:
            raise RuntimeError("injected failure in a step")
    return original(self, message)


Intake.decode = decode
from flywheel.cli import main

sys.argv = ["flywheel", "flow", "run", "--until-drained"]
main()
"""


def start_failing_flow(config: Path, fail_at: int, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLYWHEEL_")}
    env.update({"FLYWHEEL_CONFIG_FILE": str(config), "PYTHONPATH": str(REPO)})
    with open(log, "ab") as output:
        return subprocess.Popen(
            [sys.executable, "-c", _FAILING_FLOW, str(fail_at)], stdout=output, stderr=subprocess.STDOUT, env=env
        )


def assert_same_rows(settings: Settings, reference: Settings) -> None:
    """Every table holds what the uninterrupted reference holds: 0 lost, 0 duplicated."""
    crashed = {table: row_ids(settings, table) for table in contracts()}
    expected = {table: row_ids(reference, table) for table in contracts()}
    every_row = [key for rows in crashed.values() for key in rows]
    duplicates = [key for key, count in Counter(every_row).items() if count > 1]
    assert not duplicates, f"duplicated rows {duplicates[:5]}"
    for table in (FEEDBACK_SIGNALS, POSITIVE_EXAMPLES):
        missing = set(expected[table]) - set(crashed[table])
        extra = set(crashed[table]) - set(expected[table])
        assert not missing and not extra, f"{table}: {len(missing)} lost, {len(extra)} extra"
    # An edit is a pair or a rejection; which one may depend on how partitions interleave at a
    # quota or dedup boundary, but every edit is in exactly one of the two (as in the SIGKILL test).
    edits_crashed = set(crashed[DPO_PAIRS] + crashed[REJECTIONS])
    edits_expected = set(expected[DPO_PAIRS] + expected[REJECTIONS])
    assert edits_crashed == edits_expected, (
        f"{len(edits_expected - edits_crashed)} lost: {describe(reference, edits_expected - edits_crashed)}; "
        f"{len(edits_crashed - edits_expected)} extra: {describe(settings, edits_crashed - edits_expected)}"
    )
    pairs = read_table(settings, DPO_PAIRS).column("event_id").to_pylist()
    assert len(pairs) == len(set(pairs)) > 0


def test_sigint_sigterm_and_step_exceptions_with_two_workers_lose_and_duplicate_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    settings = revised(
        settings,
        workers_per_process=2,
        source={"batch_size": 25},
        recovery={"snapshot_interval_s": 0.1},
        sink={"commit_interval_s": 0.1, "progress_commit_interval_s": 0.1},
    )
    config = write_config(settings, tmp_path / "flow.yaml")
    log = tmp_path / "flow.log"

    for index, stop in enumerate(STOPS):
        wave = [(k.encode(), v) for k, v in sample_events(WAVE, seed=index + 1)]
        before = total_records(settings, DPO_PAIRS)
        if stop == "raise":
            process = start_failing_flow(config, fail_at=WAVE // 2, log=log)
        else:
            process = start_flow_process(config, log_path=log)
        # Input keeps arriving while the flow runs, so each stop lands in a busy stream.
        producer = threading.Thread(target=produce_raw, args=(settings, wave))
        producer.start()
        if stop == "raise":
            assert process.wait(timeout=300) != 0, log.read_text()[-3000:]
        else:
            grown = before + 40
            wait_for(lambda: total_records(settings, DPO_PAIRS) >= grown, what=f"progress before stop {index}")  # noqa: B023
            process.send_signal(signal.SIGINT if stop == "sigint" else signal.SIGTERM)
            process.wait(timeout=120)
        producer.join()
    assert log.read_text().count("injected failure in a step") >= STOPS.count("raise")

    # A last restart drains everything and exits on its own.
    process = start_flow_process(config, "--until-drained", log_path=log)
    assert process.wait(timeout=300) == 0, log.read_text()[-3000:]

    reference = make_settings(settings.kafka.bootstrap_servers, tmp_path / "reference", topics=settings.topics)
    run_until_drained(reference.flow_config())
    assert_same_rows(settings, reference)
