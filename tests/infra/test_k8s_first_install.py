"""A first install creates its topics and tables: the init containers, and the wait they rely on.

On a new cluster nothing else creates them: the trainer stops at once on a missing results topic,
the tracker on a missing table, and a broker that auto-creates topics would give the interactions
topic its own ``num.partitions`` instead of ``FLYWHEEL_TOPICS__PARTITIONS``. So every workload
that needs them runs ``flywheel stack topics`` (and ``stack tables``) as init containers, which
wait for a broker or catalog that is not up yet as the flow does.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from flywheel.infra.broker import free_port, start_broker
from tests.conftest import wait_for
from tests.support.k8s import TARGETS, Doc, effective_env, one, render, secret_refs, settings_from

# Workload -> the setup commands its init containers run, in order.
SETUP = {
    ("StatefulSet", "flywheel-flow"): [["flywheel", "stack", "topics"], ["flywheel", "stack", "tables"]],
    ("Deployment", "flywheel-tracker"): [["flywheel", "stack", "topics"], ["flywheel", "stack", "tables"]],
    ("Deployment", "flywheel-trainer"): [["flywheel", "stack", "topics"]],
    ("Deployment", "flywheel-gateway"): [["flywheel", "stack", "topics"]],
}


@pytest.fixture(params=list(TARGETS))
def rendered(request: pytest.FixtureRequest) -> tuple[str, tuple[Doc, ...]]:
    return request.param, render(request.param)


def test_workloads_that_need_topics_or_tables_create_them_first(
    rendered: tuple[str, tuple[Doc, ...]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    target, docs = rendered
    for (kind, name), commands in SETUP.items():
        spec = one(docs, kind, name)["spec"]["template"]["spec"]
        inits = spec.get("initContainers", [])
        assert [c["command"] for c in inits] == commands, f"{target}: {name}"
        main = spec["containers"][0]
        for init in inits:
            assert init["image"] == main["image"], f"{target}: {name} {init['name']} runs the workload's image"
            for section in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(init["resources"][section]), f"{target}: {name} {init['name']}"
            wanted = "kafka-client-config" if init["command"][-1] == "topics" else "catalog-properties"
            assert wanted in {ref["key"] for ref in secret_refs(init).values()}, f"{target}: {name} {init['name']}"
            settings = settings_from(effective_env(docs, init), monkeypatch, tmp_path)
            assert settings.topics.partitions == int(effective_env(docs, init)["FLYWHEEL_TOPICS__PARTITIONS"])
            if target != "base":  # the base waits 240 s; an init container that gives up at once would loop
                assert settings.kafka.startup_wait_s > 0 and settings.catalog.startup_wait_s > 0


def test_stack_topics_waits_for_a_broker_that_comes_up_late(tmp_path: Path) -> None:
    port = free_port()
    bootstrap = f"127.0.0.1:{port}"
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FLYWHEEL_")},
        "FLYWHEEL_KAFKA__BOOTSTRAP_SERVERS": bootstrap,
        "FLYWHEEL_KAFKA__CONNECT_TIMEOUT_S": "1",
        "FLYWHEEL_KAFKA__STARTUP_WAIT_S": "60",
        "FLYWHEEL_TOPICS__PARTITIONS": "5",
        "FLYWHEEL_TOPICS__INTERACTIONS": f"late-interactions-{port}",
        "FLYWHEEL_STATE_DIR": str(tmp_path),
    }
    log = tmp_path / "stack-topics.log"
    with log.open("wb") as output:
        setup = subprocess.Popen(
            [sys.executable, "-m", "flywheel", "stack", "topics"], env=environment, stdout=output, stderr=output
        )
    try:
        wait_for(lambda: "dependency not answering at start; retrying" in log.read_text(), 30, what="a retry logged")
        assert setup.poll() is None, log.read_text()
        broker = start_broker(port=port)
        try:
            assert setup.wait(timeout=90) == 0, log.read_text()
            topics = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10).topics
            assert len(topics[f"late-interactions-{port}"].partitions) == 5
        finally:
            broker.stop()
    finally:
        if setup.poll() is None:
            setup.kill()
            setup.wait()


def test_stack_tables_without_a_wait_stops_with_one_line(tmp_path: Path) -> None:
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FLYWHEEL_")},
        "FLYWHEEL_CATALOG__TYPE": "rest",
        "FLYWHEEL_CATALOG__URI": f"http://127.0.0.1:{free_port()}",
        "FLYWHEEL_CATALOG__CONNECT_TIMEOUT_S": "2",
        "FLYWHEEL_STATE_DIR": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-m", "flywheel", "stack", "tables"], env=environment, capture_output=True, text=True
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and done.stderr.startswith("error: cannot reach the Iceberg catalog")
