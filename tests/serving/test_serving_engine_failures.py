"""The engine's worker outlives any one request, and a server whose worker is gone says 503 at once.

A caller that gives up cancels its ticket's future (``asyncio.wrap_future`` does so when the
request's task is cancelled). Before, the worker then set a result on a cancelled future, died of
``InvalidStateError``, and every later request was queued and never answered. The backend here
(``tests/support/serving.GatedBackend``) is an in-memory one that can hold a batch until the test
lets it go, fail a batch, or kill the worker outright (a ``BaseException``, as the
``InvalidStateError`` did).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import CancelledError, ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from prometheus_client import REGISTRY

from flywheel.errors import ServingBusy, ServingError
from flywheel.serving.app import create_app
from flywheel.serving.backend import GenerationParams, Message
from flywheel.serving.config import ServingConfig, ServingSettings
from flywheel.serving.engine import Engine
from flywheel.serving.registry import BASE, Alias, RegistryView
from tests.conftest import wait_for
from tests.support.serving import WAIT_S, GatedBackend, running_server

PARAMS = GenerationParams(max_new_tokens=4, temperature=0.0)


def _ask(text: str) -> list[Message]:
    return [{"role": "user", "content": text}]


@pytest.fixture
def gated(tmp_path: Path) -> Iterator[tuple[Engine, GatedBackend]]:
    backend = GatedBackend(hold=True)
    engine = Engine(backend, RegistryView(str(tmp_path / "registry")), tmp_path / "cache", 8, 0.0)
    engine.start(Alias(current=BASE))
    try:
        yield engine, backend
    finally:
        backend.release.set()
        engine.stop()


def test_a_request_cancelled_during_its_batch_leaves_the_worker_answering(
    gated: tuple[Engine, GatedBackend],
) -> None:
    engine, backend = gated
    first = engine.submit(_ask("first"), PARAMS, "user-1")
    assert backend.started.wait(WAIT_S)
    first.future.cancel()  # the caller gives up while its answer is being generated
    backend.release.set()
    second = engine.submit(_ask("second"), PARAMS, "user-2")
    assert second.future.result(timeout=WAIT_S).text == "second"
    assert engine.ready
    # generating had begun, so the answer still lands (it is discarded if nobody reads it)
    assert first.future.result(timeout=WAIT_S).text == "first"


def test_a_request_cancelled_while_queued_is_never_generated(gated: tuple[Engine, GatedBackend]) -> None:
    engine, backend = gated
    first = engine.submit(_ask("first"), PARAMS, "user-1")
    assert backend.started.wait(WAIT_S)  # "first" is being generated; the next two queue behind it
    gone = engine.submit(_ask("gone"), PARAMS, "user-2")
    kept = engine.submit(_ask("kept"), PARAMS, "user-3")
    assert gone.future.cancel()
    backend.release.set()
    assert first.future.result(timeout=WAIT_S).text == "first"
    assert kept.future.result(timeout=WAIT_S).text == "kept"
    with pytest.raises(CancelledError):
        gone.future.result(timeout=0)
    assert backend.batches == [["first"], ["kept"]]
    assert engine.ready


def test_a_failed_batch_fails_its_requests_and_the_next_is_answered(tmp_path: Path) -> None:
    engine = Engine(GatedBackend(), RegistryView(str(tmp_path / "registry")), tmp_path / "cache", 8, 0.0)
    engine.start(Alias(current=BASE))
    try:
        failed = engine.submit(_ask("boom"), PARAMS, "user-1")
        with pytest.raises(ServingError, match="generation failed: the backend failed"):
            failed.future.result(timeout=WAIT_S)
        assert engine.submit(_ask("after"), PARAMS, "user-2").future.result(timeout=WAIT_S).text == "after"
    finally:
        engine.stop()


def test_when_the_worker_ends_queued_and_new_requests_fail_instead_of_waiting(
    gated: tuple[Engine, GatedBackend],
) -> None:
    engine, backend = gated
    dying = engine.submit(_ask("die"), PARAMS, "user-1")
    assert backend.started.wait(WAIT_S)
    queued = engine.submit(_ask("queued"), PARAMS, "user-2")
    backend.release.set()
    with pytest.raises(ServingError, match="stopped while answering"):
        dying.future.result(timeout=WAIT_S)
    with pytest.raises(ServingError, match="stopped before answering"):
        queued.future.result(timeout=WAIT_S)
    wait_for(lambda: not engine.ready, timeout_s=WAIT_S, what="the engine to report it is not ready")
    with pytest.raises(ServingError, match="worker is not running"):
        engine.submit(_ask("later"), PARAMS, "user-3")
    assert backend.batches == [["die"]]


def test_a_stopped_engine_refuses_requests(tmp_path: Path) -> None:
    engine = Engine(GatedBackend(), RegistryView(str(tmp_path / "registry")), tmp_path / "cache", 8, 0.0)
    engine.start(Alias(current=BASE))
    engine.stop()
    with pytest.raises(ServingError, match="shutting down"):
        engine.submit(_ask("late"), PARAMS, "user-1")


def _config(tmp_path: Path) -> ServingConfig:
    return ServingConfig(
        serving=ServingSettings(follow_promotions=False, watch_interval_s=0.05, batch_window_ms=0.0),
        registry_url=str(tmp_path / "registry"),
        base_model="unused: the backend is given",
        state_dir=tmp_path / "state",
    )


def _post(client: httpx.Client, text: str) -> httpx.Response:
    return client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": text}]})


def test_the_server_answers_503_not_a_hang_once_its_worker_is_gone(tmp_path: Path) -> None:
    app = create_app(_config(tmp_path), backend=GatedBackend())
    # The client's timeout turns a request left waiting forever into a failure of this test.
    with running_server(app) as url, httpx.Client(base_url=url, timeout=WAIT_S) as client:
        answered = _post(client, "hello")
        assert answered.status_code == 200 and answered.json()["choices"][0]["message"]["content"] == "hello"
        killed = _post(client, "die")
        assert killed.status_code == 503 and "stopped while answering" in killed.json()["error"]["message"]
        wait_for(lambda: client.get("/readyz").status_code == 503, timeout_s=WAIT_S, what="/readyz to say 503")
        refused = _post(client, "after")
        assert refused.status_code == 503 and "worker is not running" in refused.json()["error"]["message"]


def test_the_server_answers_503_once_its_engine_is_stopped(tmp_path: Path) -> None:
    app = create_app(_config(tmp_path), backend=GatedBackend())
    with running_server(app) as url, httpx.Client(base_url=url, timeout=WAIT_S) as client:
        assert _post(client, "hello").status_code == 200
        app.state.engine.stop()
        refused = _post(client, "after")
        assert refused.status_code == 503 and "shutting down" in refused.json()["error"]["message"]
        assert client.get("/readyz").status_code == 503


def test_a_full_queue_refuses_at_once_and_answers_what_it_holds(tmp_path: Path) -> None:
    backend = GatedBackend(hold=True)
    engine = Engine(backend, RegistryView(str(tmp_path / "registry")), tmp_path / "cache", 8, 0.0, max_queued=2)
    engine.start(Alias(current=BASE))
    refused_before = REGISTRY.get_sample_value("flywheel_serving_requests_refused_total", {"reason": "busy"}) or 0.0
    try:
        first = engine.submit(_ask("first"), PARAMS, "user-1")
        assert backend.started.wait(WAIT_S)  # being generated: no longer waiting
        queued = [engine.submit(_ask(f"queued-{n}"), PARAMS, f"user-{n}") for n in (2, 3)]
        with pytest.raises(ServingBusy, match="2 requests are waiting already"):
            engine.submit(_ask("one too many"), PARAMS, "user-4")
        assert REGISTRY.get_sample_value("flywheel_serving_requests_refused_total", {"reason": "busy"}) == (
            refused_before + 1
        )
        backend.release.set()
        assert [t.future.result(timeout=WAIT_S).text for t in (first, *queued)] == ["first", "queued-2", "queued-3"]
        # The queue drained: requests are taken again.
        assert engine.submit(_ask("later"), PARAMS, "user-5").future.result(timeout=WAIT_S).text == "later"
    finally:
        backend.release.set()
        engine.stop()


def test_the_server_says_busy_with_retry_after_and_refuses_large_bodies(tmp_path: Path) -> None:
    config = _config(tmp_path)
    config = config.model_copy(
        update={"serving": config.serving.model_copy(update={"max_queued": 1, "max_request_bytes": 4096})}
    )
    backend = GatedBackend(hold=True)
    app = create_app(config, backend=backend)
    with running_server(app) as url, httpx.Client(base_url=url, timeout=WAIT_S) as client:
        # Over the limit, declared: refused before it is read.
        large = _post(client, "x" * 5000)
        assert large.status_code == 413 and "over the limit of 4096" in large.json()["error"]["message"]

        # Over the limit, chunked (no Content-Length): refused as it passes the limit.
        def chunks() -> Iterator[bytes]:
            yield b'{"messages": [{"role": "user", "content": "'
            for _ in range(10):
                yield b"y" * 1000
            yield b'"}]}'

        streamed = client.post("/v1/chat/completions", content=chunks(), headers={"content-type": "application/json"})
        assert streamed.status_code == 413 and "exceeds the limit of 4096" in streamed.text
        # One request generating, one waiting (max_queued 1): the next is told to come back.
        with ThreadPoolExecutor(2) as pool:
            first = pool.submit(_post, client, "first")
            assert backend.started.wait(WAIT_S)
            waiting = pool.submit(_post, client, "waiting")
            wait_for(lambda: len(app.state.engine._pending) == 1, timeout_s=WAIT_S, what="a queued request")
            busy = _post(client, "busy")
            assert busy.status_code == 503 and busy.headers["Retry-After"] == "1"
            assert "busy" in busy.json()["error"]["message"]
            backend.release.set()
            assert first.result(timeout=WAIT_S).status_code == 200
            assert waiting.result(timeout=WAIT_S).json()["choices"][0]["message"]["content"] == "waiting"
