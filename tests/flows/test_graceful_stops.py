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
from pathlib import Path

import pytest

from flywheel.settings import Settings
from tests.support.flow_helpers import STARTED, start_flow_process, write_config
from tests.support.interrupted_runs import (
    assert_drained,
    assert_matches_uninterrupted_run,
    frequent_commits,
    signal_after_progress,
    stop_during_waves,
)

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
        process = subprocess.Popen(
            [sys.executable, "-c", _FAILING_FLOW, str(fail_at)], stdout=output, stderr=subprocess.STDOUT, env=env
        )
    STARTED.append(process)  # killed at teardown if the test fails before stopping it
    return process


def test_sigint_sigterm_and_step_exceptions_with_two_workers_lose_and_duplicate_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    settings = frequent_commits(settings, workers_per_process=2)
    config = write_config(settings, tmp_path / "flow.yaml")
    log = tmp_path / "flow.log"

    def start(stop: str) -> list[subprocess.Popen[bytes]]:
        if stop == "raise":
            return [start_failing_flow(config, fail_at=WAVE // 2, log=log)]
        return [start_flow_process(config, log_path=log)]

    def interrupt(index: int, stop: str, processes: list[subprocess.Popen[bytes]], before: int) -> None:
        if stop == "raise":
            assert processes[0].wait(timeout=300) != 0, log.read_text()[-3000:]
        else:
            signum = signal.SIGINT if stop == "sigint" else signal.SIGTERM
            signal_after_progress(settings, processes, signum, before + 40, 60.0, f"progress before stop {index}")

    stop_during_waves(settings, STOPS, WAVE, start, interrupt)
    assert log.read_text().count("injected failure in a step") >= STOPS.count("raise")

    # A last restart drains everything and exits on its own.
    assert_drained([start_flow_process(config, "--until-drained", log_path=log)], log)
    assert_matches_uninterrupted_run(settings, tmp_path / "reference")
