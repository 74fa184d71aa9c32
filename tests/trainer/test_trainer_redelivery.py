"""Trainer redelivery against the real broker and catalog: one result per trigger, however a run ends.

A child trainer process runs with the consumer's ``checkpoint`` hook, which either kills it
(``os._exit``: no flush, no consumer close, like SIGKILL) at one step of the run, or holds it
there until the test releases it. Killed mid-training is ``test_trainer_consumer.py``'s
``test_killed_trainer_retrains_on_redelivery``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from confluent_kafka import ConsumerGroupState
from confluent_kafka.admin import AdminClient

from flywheel.config import revised
from flywheel.infra.kafka import client_config
from flywheel.settings import Settings
from flywheel.trainer.config import GateSettings
from flywheel.trainer.consumer import RUN_STEPS, TrainerConsumer
from flywheel.trainer.events import run_id_for
from flywheel.trainer.registry import Registry
from tests.conftest import wait_for
from tests.support.synthetic import build_tiny_model
from tests.trainer.test_trainer_consumer import _cross_threshold, _results, _trainer_settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CRASHED = 86  # the child's exit code when killed at its step
REPO = Path(__file__).resolve().parents[2]

_CHILD = """
import json, logging, os, sys, time
from pathlib import Path
from flywheel.settings import Settings
from flywheel.trainer.consumer import TrainerConsumer

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
settings = Settings(**json.loads(Path(sys.argv[1]).read_text()))
step, action, release = sys.argv[2], sys.argv[3], Path(sys.argv[4])


def checkpoint(reached):
    if reached != step:
        return
    if action == "crash":
        os._exit(86)  # CRASHED
    Path(str(release) + ".waiting").touch()
    deadline = time.monotonic() + 300
    while not release.exists():  # held mid-run, as by a long training: no poll, no heartbeat of the loop
        if time.monotonic() > deadline:
            os._exit(3)
        time.sleep(0.1)


TrainerConsumer(settings.trainer_config(), checkpoint=checkpoint).run(until_idle=True)
"""


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random 2-layer Llama with a tokenizer trained on the synthetic corpus (built once)."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))


def start_trainer(settings: Settings, folder: Path, step: str, action: str) -> subprocess.Popen[bytes]:
    """A trainer process that crashes at (or is held at) ``step``; its output goes to ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "settings.json"
    config.write_text(settings.model_dump_json())
    log = (folder / "trainer.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(config), step, action, str(folder / "release")],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _group_is_empty(settings: Settings) -> bool:
    """Whether the trainers' group has no member left (librdkafka left it on max.poll.interval.ms).

    The held child cannot say so itself: its client's log lines reach Python only when it polls.
    """
    admin = AdminClient(client_config(settings.kafka))
    group = settings.trainer.consumer_group
    description = admin.describe_consumer_groups([group])[group].result(10)
    return bool(description.state == ConsumerGroupState.EMPTY)


def finish(child: subprocess.Popen[bytes], timeout_s: float = 300.0) -> int:
    """The child's exit code; killed if it outlives ``timeout_s``."""
    try:
        return child.wait(timeout_s)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(30)


@pytest.mark.parametrize("step", RUN_STEPS)
def test_a_crash_at_each_step_ends_with_one_result(
    settings: Settings, tiny_model: Path, tmp_path: Path, step: str
) -> None:
    settings = revised(settings, trainer=_trainer_settings(tiny_model, gates=GateSettings(max_forgetting_pct=1000.0)))
    trigger = _cross_threshold(settings)
    run_id = run_id_for(trigger.trigger_id)
    registry = Registry.from_settings("", settings.state_dir)

    assert finish(start_trainer(settings, tmp_path / "crashed", step, "crash")) == CRASHED
    published = step in ("after-result", "before-commit")
    assert [r.trigger_id for r in _results(settings)] == ([trigger.trigger_id] if published else [])
    assert (registry.read_card(run_id) is not None) == (step != "before-data")

    # The dead member holds its partitions until its session expires and the group rebalances.
    settings = revised(settings, trainer={"idle_timeout_s": 20.0})
    report = TrainerConsumer(settings.trainer_config()).run(until_idle=True)
    retrained, reemitted, skipped = {
        "before-data": ([trigger.trigger_id], [], []),
        "after-card": ([], [trigger.trigger_id], []),
        "after-result": ([], [], [trigger.trigger_id]),
        "before-commit": ([], [], [trigger.trigger_id]),
    }[step]
    assert [r.trigger_id for r in report.results] == retrained
    assert (report.reemitted, report.skipped) == (reemitted, skipped)
    (result,) = _results(settings)
    assert result.trigger_id == trigger.trigger_id
    card = registry.read_card(run_id)
    assert card is not None and card["result"]["run_id"] == result.run_id

    # The offset was committed: a further session finds nothing to do.
    again = TrainerConsumer(settings.trainer_config()).run(until_idle=True)
    assert (again.results, again.reemitted, again.skipped) == ([], [], [])


@pytest.mark.parametrize("step", ["before-data", "after-card"])
def test_two_trainers_in_one_group_publish_one_result(
    settings: Settings, tiny_model: Path, tmp_path: Path, step: str
) -> None:
    """The first is held mid-run past max_poll_interval_ms, the group hands its trigger to the second."""
    settings = revised(
        settings,
        trainer=_trainer_settings(
            tiny_model, gates=GateSettings(max_forgetting_pct=1000.0), max_poll_interval_ms=10_000, idle_timeout_s=20.0
        ),
    )
    trigger = _cross_threshold(settings)
    held = tmp_path / "held"
    first = start_trainer(settings, held, step, "hold")
    try:
        wait_for(lambda: (held / "release.waiting").exists() or first.poll() is not None, 180, what="a held run")
        assert first.poll() is None, (held / "trainer.log").read_text()
        # The embedded broker completes no join while a stuck member is still in the group (real
        # Kafka would, after the rebalance timeout): start the second once librdkafka let the first go.
        wait_for(lambda: _group_is_empty(settings), 60, what="the first to leave the group")
        second = start_trainer(settings, tmp_path / "second", "none", "crash")
        assert finish(second) == 0, (tmp_path / "second" / "trainer.log").read_text()
        assert [r.trigger_id for r in _results(settings)] == [trigger.trigger_id]
    finally:
        (held / "release").touch()
    assert finish(first) == 0, (held / "trainer.log").read_text()
    # The first finished its run (or skipped it), saw the second's result and published nothing.
    assert [r.trigger_id for r in _results(settings)] == [trigger.trigger_id]
    assert "another trainer published" in (held / "trainer.log").read_text()
