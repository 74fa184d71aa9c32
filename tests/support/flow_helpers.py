"""Helpers for flow integration tests: produce, read tables, read topics, run the flow as a process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml
from pyiceberg.exceptions import NoSuchTableError

from flywheel.infra.catalog import branch_head, open_catalog, table_identifier
from flywheel.infra.catalog import total_records as records_in
from flywheel.infra.kafka import CheckedProducer
from flywheel.infra.kafka_reads import read_to_end
from flywheel.settings import Settings


def produce_raw(
    settings: Settings,
    messages: Iterable[tuple[bytes | None, bytes | None]],
    timestamps: list[int] | None = None,
) -> None:
    """Produce raw (key, value) messages to the interactions topic and wait for acks."""
    producer = CheckedProducer(settings.kafka)
    for index, (key, value) in enumerate(messages):
        producer.send(settings.topics.interactions, value, key, timestamp_ms=timestamps[index] if timestamps else None)
    producer.flush(30)


def read_table(settings: Settings, name: str) -> pa.Table:
    """The whole current content of a table."""
    table = open_catalog(settings.catalog).load_table(table_identifier(settings.catalog, name))
    return table.scan().to_arrow()


def total_records(settings: Settings, name: str) -> int:
    """Row count from the current snapshot summary (cheap; no data files read); 0 before creation."""
    try:
        table = open_catalog(settings.catalog).load_table(table_identifier(settings.catalog, name))
    except NoSuchTableError:
        return 0
    return records_in(branch_head(table))


def snapshot_count(settings: Settings, name: str) -> int:
    table = open_catalog(settings.catalog).load_table(table_identifier(settings.catalog, name))
    return len(table.snapshots())


def read_topic(settings: Settings, topic: str) -> list[Any]:
    """Every message of a topic, from the start of each partition to its end."""
    return list(read_to_end(settings.kafka, topic))


def write_config(settings: Settings, path: Path) -> Path:
    """Write settings as a YAML config file for a flow subprocess."""
    path.write_text(yaml.safe_dump(settings.model_dump(mode="json")))
    return path


# Flow processes the running test started: killed at its teardown (``tests/conftest.py``), so a
# test that fails midway leaves no flow spinning on the cores the next tests need.
STARTED: list[subprocess.Popen[bytes]] = []


def start_flow_process(
    config: Path, *args: str, log_path: Path, env_extra: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    """``python -m flywheel flow run`` in its own process, configured by file."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLYWHEEL_")}
    env["FLYWHEEL_CONFIG_FILE"] = str(config)
    env.update(env_extra or {})
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "flywheel", "flow", "run", *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
        )
    STARTED.append(process)
    return process


def kill_started_flows() -> list[int]:
    """Kill the flow processes still running that this test started; return their pids."""
    killed = []
    while STARTED:
        process = STARTED.pop()
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
            killed.append(process.pid)
    return killed
