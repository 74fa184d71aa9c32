"""The engine's batching window: clients that ask at nearly the same time share one batch.

A batch generates until its longest answer ends, so without a window the first request of a
burst starts alone and the rest wait a whole generation (and, asking again on each answer, stay
split). The backend here is an in-memory one that records the batches it is given.
"""

from __future__ import annotations

import time
from pathlib import Path

from flywheel.serving.backend import GenerationParams
from flywheel.serving.engine import Engine
from flywheel.serving.registry import BASE, Alias, RegistryView
from tests.support.serving import GatedBackend

PARAMS = GenerationParams(max_new_tokens=4, temperature=0.0)


def _engine(tmp_path: Path, window_s: float) -> tuple[Engine, GatedBackend]:
    backend = GatedBackend()
    engine = Engine(backend, RegistryView(str(tmp_path / "registry")), tmp_path / "cache", 8, window_s)
    engine.start(Alias(current=BASE))
    return engine, backend


def test_requests_arriving_within_the_window_share_the_first_ones_batch(tmp_path: Path) -> None:
    engine, backend = _engine(tmp_path, window_s=5.0)
    try:
        first = engine.submit([{"role": "user", "content": "q0"}], PARAMS, "user-0")
        time.sleep(0.05)  # the scenario, not a synchronisation: the others arrive 50 ms later
        rest = [engine.submit([{"role": "user", "content": f"q{i}"}], PARAMS, f"user-{i}") for i in range(1, 8)]
        answers = [ticket.future.result(timeout=30).text for ticket in [first, *rest]]
    finally:
        engine.stop()
    assert answers == [f"q{i}" for i in range(8)]
    # a full batch starts at once, without waiting the rest of the 5 s window
    assert [len(batch) for batch in backend.batches] == [8]


def test_a_lone_request_is_answered_when_the_window_ends(tmp_path: Path) -> None:
    engine, backend = _engine(tmp_path, window_s=0.05)
    try:
        ticket = engine.submit([{"role": "user", "content": "alone"}], PARAMS, "user-0")
        assert ticket.future.result(timeout=30).text == "alone"
    finally:
        engine.stop()
    assert [len(batch) for batch in backend.batches] == [1]
