"""A real Prometheus scrapes the running flow and gateway; key series checked through its HTTP API.

Stream: events posted to the gateway over HTTP (-> Kafka), plus undecodable messages produced
straight to the topic. The flow runs as its own process (``flywheel flow run``) serving its
registry on a free loopback port; the gateway runs in this process under uvicorn. Prometheus
(Debian package, ``infra/install-prometheus.sh``) runs on loopback with its TSDB in tmp_path,
loads ``infra/prometheus/rules.yml`` and scrapes both every second.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
import yaml
from prometheus_client import REGISTRY

from flywheel.config import revised
from flywheel.gateway.app import create_app
from flywheel.infra.broker import free_port, stop_process
from flywheel.infra.kafka import CheckedProducer
from flywheel.settings import Settings
from tests.conftest import wait_for
from tests.support.flow_helpers import start_flow_process, write_config

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "infra" / "prometheus" / "rules.yml"
KEY = "obs-test-key"

BASE = "Dear customer, this is a reminder that your invoice number {n} is overdue. Please pay it immediately."
EDIT = "Dear customer, a friendly reminder that invoice number {n} is overdue. Please pay at your convenience."


def _events() -> list[dict[str, Any]]:
    """Distinct, valid events: 6 edits in the similarity band, 3 thumbs up, 2 views, 1 rating."""
    events: list[dict[str, Any]] = []
    common = {"prompt": "Draft a polite reminder email about the invoice.", "segment": "pro"}
    for n in range(6):
        events.append(
            {
                **common,
                "event_id": f"obs-edit-{n}",
                "signal": "edit",
                "thread_id": f"t-{n}",
                "user_id": f"u-{n}",
                "response": BASE.format(n=n),
                "final_user_edit": EDIT.format(n=n),
                "occurred_at": f"2026-11-01T12:0{n}:00+00:00",
            }
        )
    for n, signal in enumerate(["thumbs_up"] * 3 + ["view"] * 2):
        events.append(
            {
                **common,
                "event_id": f"obs-{signal}-{n}",
                "signal": signal,
                "thread_id": f"t-x{n}",
                "user_id": f"u-x{n}",
                "response": BASE.format(n=100 + n),
                "occurred_at": "2026-11-01T13:00:00+00:00",
            }
        )
    events.append({**events[-1], "event_id": "obs-rating", "signal": "rating", "rating": 5})
    return events


class Prom:
    """A Prometheus server process on loopback and a tiny client for its HTTP API."""

    def __init__(self, root: Path, targets: dict[str, str]) -> None:
        binary = shutil.which("prometheus")
        if binary is None:
            pytest.skip("prometheus is not on PATH: install it (infra/install-prometheus.sh; .ci/run does)")
        shutil.copy(RULES, root / "rules.yml")
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": ["rules.yml"],
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": [target]}]} for job, target in targets.items()
            ],
        }
        (root / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.url = f"http://127.0.0.1:{free_port()}"
        self.log = root / "prometheus.log"
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [
                    binary,
                    f"--config.file={root / 'prometheus.yml'}",
                    f"--storage.tsdb.path={root / 'tsdb'}",
                    f"--web.listen-address={self.url.removeprefix('http://')}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for(self._ready, timeout_s=30, what=f"prometheus ready (log {self.log})")

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            pytest.fail(f"prometheus exited: {self.log.read_text()[-2000:]}")
        try:
            return httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def api(self, path: str, **params: str) -> Any:
        response = httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=5)
        response.raise_for_status()
        body = response.json()
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> dict[str, float]:
        """Instant query -> {label set rendered as 'k=v,...': value}."""
        result = self.api("query", query=expr)["result"]
        return {",".join(f"{k}={v}" for k, v in sorted(r["metric"].items())): float(r["value"][1]) for r in result}

    def scalar(self, expr: str) -> float | None:
        """Value of a query that yields one series (None when it yields none)."""
        values = list(self.query(expr).values())
        assert len(values) <= 1, f"{expr} returned {values}"
        return values[0] if values else None

    def stop(self) -> None:
        stop_process(self.process)


@contextmanager
def running_flow(settings: Settings, root: Path, **env_extra: str) -> Iterator[subprocess.Popen[bytes]]:
    """``flywheel flow run`` as a subprocess configured by file; stopped on exit."""
    config = write_config(settings, root / "flow.yaml")
    process = start_flow_process(config, log_path=root / "flow.log", env_extra=env_extra, cwd=root)
    try:
        yield process
    finally:
        stop_process(process, timeout_s=20)


def wait_serving(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    """Wait until ``url`` answers 200; fail at once if the flow process died."""

    def serving() -> bool:
        if process.poll() is not None:
            pytest.fail(f"flow exited with {process.returncode}: {log.read_text()[-3000:]}")
        try:
            return httpx.get(url, timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(serving, timeout_s=60, what=f"{url} (flow log {log})")


@pytest.fixture
def flow_process(settings: Settings, tmp_path: Path) -> Iterator[tuple[Settings, str]]:
    """The flow with its metrics endpoint on a free loopback port."""
    settings = revised(settings, metrics={"enabled": True, "port": free_port()})
    target = f"127.0.0.1:{settings.metrics.port}"
    with running_flow(settings, tmp_path) as process:
        wait_serving(process, f"http://{target}/metrics", tmp_path / "flow.log")
        yield settings, target


@pytest.fixture
def gateway(flow_process: tuple[Settings, str]) -> Iterator[str]:
    """The gateway app under uvicorn in a thread of this process, on a free loopback port."""
    settings = revised(flow_process[0], gateway={"api_keys": {"obs": KEY}})
    settings = Settings(**settings.model_dump(mode="python"))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings.gateway_config()), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, timeout_s=30, what="gateway started")
    yield f"127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)


def _registry(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_prometheus_scrapes_flow_and_gateway(flow_process: tuple[Settings, str], gateway: str, tmp_path: Path) -> None:
    settings, flow_target = flow_process
    events = _events()
    bad = [b"{not json", b"\xff\xfe not utf-8"]
    route = "/v1/events"
    produced_before = _registry("flywheel_gateway_events_produced_total", route=route)
    accepted_before = _registry("flywheel_gateway_requests_total", route=route, status="202")

    prom = Prom(tmp_path, {"flywheel-flow": flow_target, "flywheel-gateway": gateway})
    try:
        # The stream: one batch request and one single-event request through the gateway ...
        with httpx.Client(base_url=f"http://{gateway}", headers={"X-API-Key": KEY}, timeout=30) as client:
            for body in ({"events": events[:-1]}, events[-1]):
                response = client.post(route, json=body)
                assert response.status_code == 202, response.text
        # ... and undecodable input straight to the topic.
        producer = CheckedProducer(settings.kafka)
        for value in bad:
            producer.send(settings.topics.interactions, value, b"bad")
        producer.flush(30)

        # Both targets up, and the rule file loaded by the real server.
        wait_for(lambda: prom.query("up == 1").keys() >= _up_keys(flow_target, gateway), timeout_s=30, what="up")
        groups = {g["name"] for g in prom.api("rules")["groups"]}
        assert {"flywheel.recording", "flywheel.flow", "flywheel.training", "flywheel.gateway"} <= groups

        flow = 'job="flywheel-flow"'
        consumed = f"sum(flywheel_events_consumed_total{{{flow}}})"
        wait_for(lambda: prom.scalar(consumed) == len(events), timeout_s=60, what=f"{consumed} == {len(events)}")
        by_signal = prom.query(f"sum by (signal) (flywheel_events_consumed_total{{{flow}}})")
        assert by_signal == {"signal=edit": 6, "signal=thumbs_up": 3, "signal=view": 2, "signal=rating": 1}

        dlq = f"sum(flywheel_dlq_messages_total{{{flow}}})"
        wait_for(lambda: prom.scalar(dlq) == len(bad), timeout_s=30, what=f"{dlq} == {len(bad)}")
        dlq_reasons = prom.query(f"sum by (reason) (flywheel_dlq_messages_total{{{flow}}})")
        assert set(dlq_reasons) == {"reason=malformed_json", "reason=invalid_utf8"}, dlq_reasons

        pairs = f'sum(flywheel_iceberg_rows_written_total{{{flow}, table="dpo_pairs"}})'
        decisions = f"sum by (stage, reason) (flywheel_curation_decisions_total{{{flow}}})"
        if not wait_for_quietly(lambda: (prom.scalar(pairs) or 0) >= 1, timeout_s=60):
            written = prom.query(f"sum by (table) (flywheel_iceberg_rows_written_total{{{flow}}})")
            commits = prom.query(f"sum by (table, outcome) (flywheel_iceberg_commits_total{{{flow}}})")
            found = f"decisions {prom.query(decisions)}, written {written}, commits {commits}"
            pytest.fail(f"no dpo pairs committed; {found}")
        assert (prom.scalar(pairs) or 0) <= 6
        assert (prom.scalar(f'sum(flywheel_iceberg_commits_total{{{flow}, outcome="ok"}})') or 0) >= 1
        assert prom.scalar(f'sum(flywheel_iceberg_commits_total{{{flow}, outcome="failed"}})') in (None, 0)
        assert (prom.scalar(f"sum(flywheel_iceberg_commit_duration_seconds_count{{{flow}}})") or 0) >= 1

        # Poisoning signal: six distinct users in segment "pro", one accepted pair each.
        day_pairs = f'max(flywheel_accepted_pairs_current_day{{{flow}, segment="pro"}})'
        wait_for(lambda: prom.scalar(day_pairs) == prom.scalar(pairs), timeout_s=30, what=f"{day_pairs} == pairs")
        share = prom.scalar(f'max(flywheel_accepted_pairs_top_user_share{{{flow}, segment="pro"}})')
        assert share is not None and abs(share * (prom.scalar(day_pairs) or 0) - 1) < 1e-9

        similarity = prom.scalar(f"sum(flywheel_edit_similarity_ratio_count{{{flow}}})")
        assert similarity is not None and 1 <= similarity <= 6
        mean = prom.scalar(
            f"sum(flywheel_edit_similarity_ratio_sum{{{flow}}}) / sum(flywheel_edit_similarity_ratio_count{{{flow}}})"
        )
        assert mean is not None and 0.10 <= mean <= 0.95

        lag = f"flywheel_source_lag_messages{{{flow}}}"
        wait_for(
            lambda: len(prom.query(lag)) == settings.topics.partitions and max(prom.query(lag).values()) == 0,
            timeout_s=30,
            what="zero lag on every partition",
        )

        gw = 'job="flywheel-gateway"'
        produced = prom.scalar(f'sum(flywheel_gateway_events_produced_total{{{gw}, route="{route}"}})')
        assert produced == produced_before + len(events)
        accepted = prom.scalar(f'sum(flywheel_gateway_requests_total{{{gw}, route="{route}", status="202"}})')
        assert accepted == accepted_before + 2
        latency = prom.scalar(f'sum(flywheel_gateway_request_duration_seconds_sum{{{gw}, route="{route}"}})')
        assert latency is not None and latency > 0
    finally:
        prom.stop()


def wait_for_quietly(predicate: Callable[[], bool], timeout_s: float) -> bool:
    """Like ``wait_for`` but returns False at the deadline so the caller can explain the failure."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def _up_keys(flow_target: str, gateway_target: str) -> set[str]:
    return {
        f"__name__=up,instance={flow_target},job=flywheel-flow",
        f"__name__=up,instance={gateway_target},job=flywheel-gateway",
    }


def test_bytewax_dataflow_api_serves_flywheel_and_bytewax_metrics(settings: Settings, tmp_path: Path) -> None:
    """BYTEWAX_DATAFLOW_API_ENABLED: Bytewax's webserver serves its own and the Python registry."""
    port = free_port()
    env = {"BYTEWAX_DATAFLOW_API_ENABLED": "true", "BYTEWAX_DATAFLOW_API_PORT": str(port)}
    with running_flow(settings, tmp_path, **env) as process:
        url = f"http://127.0.0.1:{port}/metrics"
        wait_serving(process, url, tmp_path / "flow.log")
        CheckedProducer(settings.kafka).send_durably(settings.topics.interactions, "bad", b"{not json")

        def dlq_counted() -> bool:
            text = httpx.get(url, timeout=5).text
            return 'flywheel_dlq_messages_total{reason="malformed_json"} 1.0' in text

        wait_for(dlq_counted, timeout_s=60, what="DLQ counter on the Bytewax endpoint")
        text = httpx.get(url, timeout=5).text
        names = {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and line[0] != "#"}
        assert "flywheel_events_consumed_total" in text or "flywheel_dlq_messages_total" in names
        bytewax_own = {n for n in names if not n.startswith(("flywheel_", "python_", "process_"))}
        assert bytewax_own, f"no Bytewax metrics among {sorted(names)[:20]}"
        assert httpx.get(f"http://127.0.0.1:{port}/dataflow", timeout=5).status_code == 200
