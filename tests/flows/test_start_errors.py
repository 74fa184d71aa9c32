"""Clear errors at the edges: an unreachable broker or catalog, a catalog ahead of its topic.

Each runs the real ``flywheel`` command in its own process and reads what a user would see:
one line on stderr naming the address and the setting to check, exit code 2, and nothing
created before the refusal.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from flywheel.config import revised
from flywheel.flows.runner import run_until_drained
from flywheel.infra.broker import LocalBroker, ensure_topics, free_port, start_broker
from flywheel.schemas.tables import DPO_PAIRS
from flywheel.settings import Settings
from tests.flows.test_flow_backbone import as_message, edit_event
from tests.support.flow_helpers import produce_raw, total_records, write_config

pytestmark = pytest.mark.integration

FAST = {"FLYWHEEL_KAFKA__CONNECT_TIMEOUT_S": "3", "FLYWHEEL_CATALOG__CONNECT_TIMEOUT_S": "3"}


def flywheel(config: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m flywheel ARGS`` configured by file (plus ``env``); capture its output."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("FLYWHEEL_")}
    environment.update({"FLYWHEEL_CONFIG_FILE": str(config), **FAST, **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "flywheel", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def error_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


@pytest.fixture
def second_broker(tmp_path: Path) -> Iterator[LocalBroker]:
    """Another, fresh broker: what a restarted in-memory broker looks like to the flow."""
    broker = start_broker(log_file=tmp_path / "second-broker.log")
    yield broker
    broker.stop()


@pytest.mark.parametrize(
    "command", [["flow", "run", "--until-drained"], ["stack", "topics"], ["trainer", "track", "--once"]]
)
def test_an_unreachable_broker_is_one_line_and_creates_nothing(
    settings: Settings, tmp_path: Path, command: list[str]
) -> None:
    closed = f"127.0.0.1:{free_port()}"
    root = tmp_path / "fresh"
    isolated = revised(settings, catalog={"uri": f"sqlite:///{root / 'catalog.db'}", "warehouse": str(root / "wh")})
    config = write_config(isolated, tmp_path / "flywheel.yaml")

    result = flywheel(config, *command, env={"FLYWHEEL_KAFKA__BOOTSTRAP_SERVERS": closed})

    assert result.returncode == 2, result.stderr
    lines = error_lines(result)
    assert len(lines) == 1, result.stderr  # no librdkafka "Connection refused" spam, no traceback
    assert closed in lines[0] and "FLYWHEEL_KAFKA__BOOTSTRAP_SERVERS" in lines[0]
    assert "within 3s" in lines[0]
    assert not root.exists()  # no catalog file, no warehouse: nothing was created first


def test_an_unreachable_catalog_is_one_line_and_creates_nothing(settings: Settings, tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    isolated = revised(settings, catalog={"type": "rest", "uri": closed, "warehouse": str(tmp_path / "wh")})
    config = write_config(isolated, tmp_path / "flywheel.yaml")

    for command in (["flow", "run", "--until-drained"], ["stack", "tables"]):
        result = flywheel(config, *command)
        assert result.returncode == 2, result.stderr
        lines = error_lines(result)
        assert len(lines) == 1, result.stderr
        assert closed in lines[0] and "FLYWHEEL_CATALOG__URI" in lines[0] and "Connection refused" in lines[0]
    assert not Path(settings.recovery.directory).exists()  # refused before the recovery store was made


def test_a_catalog_ahead_of_a_new_broker_is_refused_until_reset(
    settings: Settings, second_broker: LocalBroker, tmp_path: Path
) -> None:
    produce_raw(settings, [as_message(edit_event(i)) for i in range(12)])
    first = run_until_drained(settings.flow_config())
    assert first.rows_written(DPO_PAIRS) == 12

    # The same catalog against a new broker whose topic holds fewer messages than were read.
    moved = revised(settings, kafka={"bootstrap_servers": second_broker.bootstrap_servers})
    ensure_topics(moved.kafka, moved.topics)
    produce_raw(moved, [as_message(edit_event(100 + i)) for i in range(2)])
    config = write_config(moved, tmp_path / "flywheel.yaml")

    refused = flywheel(config, "flow", "run", "--until-drained")
    assert refused.returncode == 2, refused.stderr
    lines = error_lines(refused)
    assert len(lines) == 1, refused.stderr
    assert "flywheel stack reset --yes" in lines[0] and "but ends at" in lines[0]
    assert second_broker.bootstrap_servers in lines[0]
    assert total_records(moved, DPO_PAIRS) == 12  # untouched

    assert flywheel(config, "stack", "reset").returncode == 1  # asks for confirmation, drops nothing
    assert total_records(moved, DPO_PAIRS) == 12
    reset = flywheel(config, "stack", "reset", "--yes")
    assert reset.returncode == 0, reset.stderr
    assert f"table {DPO_PAIRS}" in reset.stdout

    again = run_until_drained(moved.flow_config())
    assert again.rows_written(DPO_PAIRS) == 2
    assert total_records(moved, DPO_PAIRS) == 2
