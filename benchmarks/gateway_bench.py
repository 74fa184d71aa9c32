"""Gateway throughput: HTTP requests/s for single-event and batch posts against a real broker.

``measure_gateway(settings, seconds)`` serves the gateway with uvicorn on a free loopback port
in a child process, posts from a few client threads over real HTTP for ``seconds / 2`` with single
events and ``seconds / 2`` with batches, and reports requests/s and events/s for each. Every
202 means a committed Kafka transaction. Traffic goes to 127.0.0.1 only, bounded in time.
"""

from __future__ import annotations

import secrets
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from flywheel.gateway_process import running_gateway
from flywheel.infra.broker import ensure_topics
from flywheel.settings import Settings, load_settings


def _event(index: int) -> dict[str, Any]:
    return {
        "signal": "edit",
        "thread_id": f"bench-thread-{index % 64}",
        "user_id": f"bench-user-{index % 97}",
        "prompt": "Write a python function that computes tax.",
        "response": "def foo(): pass",
        "final_user_edit": "def calculate_tax(amount): return amount * 0.2",
        "segment": "bench",
    }


def _hammer(
    base_url: str, headers: dict[str, str], body: Callable[[int], Any], seconds: float, concurrency: int
) -> tuple[int, int, float]:
    """Post ``body(i)`` from ``concurrency`` threads until the deadline: (ok, failed, elapsed)."""
    import httpx

    deadline = time.monotonic() + seconds
    counts = [[0, 0] for _ in range(concurrency)]

    def worker(slot: int) -> None:
        with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
            index = slot
            while time.monotonic() < deadline:
                response = client.post("/v1/events", json=body(index))
                counts[slot][0 if response.status_code == 202 else 1] += 1
                index += concurrency

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(worker, range(concurrency)))
    elapsed = time.monotonic() - started
    return sum(c[0] for c in counts), sum(c[1] for c in counts), elapsed


def measure_gateway(settings: Settings, seconds: float = 10.0, concurrency: int = 8, batch_size: int = 50) -> dict:
    """Requests/s and events/s for single and batch posts through the real HTTP stack.

    The gateway runs under uvicorn in a child process (so the load generator does not share
    its GIL), configured by a YAML file written from ``settings`` plus a throwaway API key.
    """

    key = secrets.token_urlsafe(16)
    ensure_topics(settings.kafka, settings.topics)
    overrides: dict[str, Any] = {
        "rate_limit": {"enabled": False},
        "producer_pool_size": max(settings.gateway.producer_pool_size, concurrency),
        "transactional_id_prefix": f"flywheel-gateway-bench-{uuid.uuid4().hex[:6]}",
    }
    with running_gateway(settings, {"bench": key}, **overrides) as base_url:
        headers = {"X-API-Key": key}
        _hammer(base_url, headers, _event, min(1.0, seconds / 10), concurrency)  # warm-up
        half = seconds / 2
        single_ok, single_failed, single_s = _hammer(base_url, headers, _event, half, concurrency)
        batch_ok, batch_failed, batch_s = _hammer(
            base_url,
            headers,
            lambda i: {"events": [_event(i * batch_size + j) for j in range(batch_size)]},
            half,
            concurrency,
        )
    return {
        "concurrency": concurrency,
        "batch_size": batch_size,
        "single_requests_per_s": round(single_ok / single_s, 1),
        "single_events_per_s": round(single_ok / single_s, 1),
        "single_failed": single_failed,
        "batch_requests_per_s": round(batch_ok / batch_s, 1),
        "batch_events_per_s": round(batch_ok * batch_size / batch_s, 1),
        "batch_failed": batch_failed,
    }


if __name__ == "__main__":  # pragma: no cover - manual run against a throwaway local broker
    import json

    from flywheel.infra.broker import running_broker

    with running_broker() as broker, tempfile.TemporaryDirectory() as root:
        local = load_settings(
            kafka={"bootstrap_servers": broker.bootstrap_servers},
            catalog={"uri": f"sqlite:///{Path(root) / 'catalog.db'}", "warehouse": str(Path(root) / "warehouse")},
        )
        print(json.dumps(measure_gateway(local, seconds=6.0), indent=2))
