"""A replica that cannot load the alias's adapter says so, once, and keeps serving the routes in force.

Before, the alias said ``r2`` while every answer came from ``r1``: ``/readyz`` and
``/v1/flywheel/routes`` showed nothing amiss, and the watcher logged a traceback every tick. The
backend here refuses adapters as PEFT does on a shape mismatch (a bare ``RuntimeError``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest
from prometheus_client import REGISTRY

from flywheel.serving import follower
from flywheel.serving.app import create_app
from flywheel.serving.backend import Completion, GenerationParams, Message
from flywheel.serving.config import ServingConfig, ServingSettings
from flywheel.serving.engine import Engine
from flywheel.serving.follower import AliasWatcher
from flywheel.serving.registry import RegistryView
from tests.conftest import wait_for
from tests.support.serving import WAIT_S, running_server


class RefusingBackend:
    """Answers name their version; loading a version in ``broken`` fails like a PEFT size mismatch."""

    def __init__(self, broken: set[str]) -> None:
        self.broken = broken
        self.loads: list[str] = []

    def start(self) -> None:
        """Nothing to load."""

    def load(self, version: str, adapter_dir: Path) -> None:
        self.loads.append(version)
        if version in self.broken:
            raise RuntimeError(f"Error(s) in loading state_dict:\n\tsize mismatch for lora_A ({version})")

    def unload(self, version: str) -> None:
        """Nothing to free."""

    def generate(
        self, version: str, conversations: Sequence[Sequence[Message]], params: GenerationParams
    ) -> list[Completion]:
        return [Completion(f"by {version}", 1, 1, "stop") for _ in conversations]


def _registry(root: Path, *runs: str) -> RegistryView:
    for run in runs:
        (root / "runs" / run / "adapter").mkdir(parents=True)
        (root / "runs" / run / "adapter" / "adapter_config.json").write_text("{}")
        (root / "runs" / run / "model_card.json").write_text(json.dumps({"run_id": run, "status": "promoted"}))
    return RegistryView(str(root))


def _applied() -> float | None:
    return REGISTRY.get_sample_value("flywheel_serving_alias_applied")


def _failed_swaps() -> float:
    return REGISTRY.get_sample_value("flywheel_serving_swaps_total", {"outcome": "failed"}) or 0.0


def _errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == follower.__name__ and r.levelno >= logging.ERROR]


def test_a_swap_the_backend_refuses_is_reported_once_and_retried_after_a_back_off(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = _registry(tmp_path / "registry", "r1", "r2")
    registry.set_current("r1")
    backend = RefusingBackend(broken={"r2"})
    engine = Engine(backend, registry, tmp_path / "cache", 8, 0.0)
    engine.start(registry.read_alias())
    watcher = AliasWatcher(engine, registry, interval_s=60.0)  # checked by hand: no thread, no ticks
    try:
        assert engine.alias_state.applied and _applied() == 1.0
        failed_before = _failed_swaps()
        registry.promote("r2", trigger_id="t-2")
        with caplog.at_level(logging.INFO, logger=follower.__name__):
            assert watcher.check() is False
            assert watcher.check() is False  # within the back-off: not tried again, not logged again
        assert engine.routes.current == "r1"
        state = engine.alias_state
        assert not state.applied and state.wanted is not None and state.wanted.current == "r2"
        assert state.error == "RuntimeError: Error(s) in loading state_dict: size mismatch for lora_A (r2)"
        assert _applied() == 0.0 and _failed_swaps() == failed_before + 1
        assert backend.loads == ["r1", "r2"]
        [error] = _errors(caplog)
        assert error.exc_info is None and error.error == state.error  # one line, no traceback

        backend.broken.clear()  # a passing fault: the retry after the back-off loads it
        later = follower.time.monotonic() + 61.0
        monkeypatch.setattr(follower.time, "monotonic", lambda: later)
        caplog.clear()
        with caplog.at_level(logging.INFO, logger=follower.__name__):
            assert watcher.check() is True
        assert engine.routes.current == "r2" and engine.alias_state.applied and engine.alias_state.error is None
        assert _applied() == 1.0 and _errors(caplog) == []
        assert any(r.getMessage() == "the registry alias is applied" for r in caplog.records)
    finally:
        engine.stop()


def test_a_new_alias_change_that_fails_is_logged_again(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    registry = _registry(tmp_path / "registry", "r1", "r2", "r3")
    registry.set_current("r1")
    engine = Engine(RefusingBackend(broken={"r2", "r3"}), registry, tmp_path / "cache", 8, 0.0)
    engine.start(registry.read_alias())
    watcher = AliasWatcher(engine, registry, interval_s=60.0)
    try:
        with caplog.at_level(logging.INFO, logger=follower.__name__):
            registry.set_current("r2")
            watcher.check()
            registry.set_current("r3")
            watcher.check()
        assert [r.current for r in _errors(caplog)] == ["r2", "r3"]
        assert engine.routes.current == "r1" and "(r3)" in (engine.alias_state.error or "")
        registry.set_current("r1")  # back to the routes in force: nothing to load, the alias is served again
        watcher.check()
        assert engine.alias_state.applied and _applied() == 1.0
    finally:
        engine.stop()


def test_the_server_says_which_routes_it_serves_when_the_alias_cannot_be_applied(tmp_path: Path) -> None:
    registry = _registry(tmp_path / "registry", "r1", "r2")
    registry.set_current("r1")
    config = ServingConfig(
        serving=ServingSettings(
            follow_promotions=False, watch_interval_s=0.05, batch_window_ms=0.0, impact_refresh_s=0
        ),
        registry_url=str(tmp_path / "registry"),
        base_model="unused: the backend is given",
        state_dir=tmp_path / "state",
    )
    app = create_app(config, backend=RefusingBackend(broken={"r2"}))
    with running_server(app) as url, httpx.Client(base_url=url, timeout=WAIT_S) as client:
        assert client.get("/v1/flywheel/routes").json()["alias_applied"] is True
        registry.promote("r2", trigger_id="t-2")
        routes = wait_for(
            lambda: (r := client.get("/v1/flywheel/routes").json())["alias_applied"] is False and r,
            timeout_s=WAIT_S,
            what="the routes endpoint to report the alias as not applied",
        )
        assert routes["current"] == "r1" and routes["alias"] == {
            "current": "r2",
            "candidate": None,
            "candidate_share": 0.0,
        }
        assert "size mismatch for lora_A (r2)" in routes["error"]
        ready = client.get("/readyz")  # still answering, with the routes in force
        assert (
            ready.status_code == 200
            and ready.json()["alias_applied"] is False
            and ready.json()["error"] == routes["error"]
        )
        answer = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]}).json()
        assert answer["model_version"] == "r1"
        assert "flywheel_serving_alias_applied 0.0" in client.get("/metrics").text
        registry.rollback(to="r1")
        wait_for(
            lambda: client.get("/readyz").json() == {"status": "ready", "alias_applied": True},
            timeout_s=WAIT_S,
            what="/readyz to report the alias applied again",
        )
