"""The engine's batching window: clients that ask at nearly the same time share one batch.

A batch generates until its longest answer ends, so without a window the first request of a
burst starts alone and the rest wait a whole generation (and, asking again on each answer, stay
split). The backend here is an in-memory one that records the batches it is given.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path

from flywheel.serving.backend import Completion, GenerationParams, Message
from flywheel.serving.engine import Engine
from flywheel.serving.registry import BASE, Alias, RegistryView

PARAMS = GenerationParams(max_new_tokens=4, temperature=0.0)


class RecordingBackend:
    """Answers each conversation with its last message and records batch sizes."""

    def __init__(self) -> None:
        self.batches: list[int] = []
        self.lock = threading.Lock()

    def start(self) -> None:
        """Nothing to load."""

    def load(self, version: str, adapter_dir: Path) -> None:
        """No adapters in these tests."""

    def unload(self, version: str) -> None:
        """No adapters in these tests."""

    def generate(
        self, version: str, conversations: Sequence[Sequence[Message]], params: GenerationParams
    ) -> list[Completion]:
        with self.lock:
            self.batches.append(len(conversations))
        return [Completion(c[-1]["content"], 1, 1, "stop") for c in conversations]


def _engine(tmp_path: Path, window_s: float) -> tuple[Engine, RecordingBackend]:
    backend = RecordingBackend()
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
    assert backend.batches == [8]


def test_a_lone_request_is_answered_when_the_window_ends(tmp_path: Path) -> None:
    engine, backend = _engine(tmp_path, window_s=0.05)
    try:
        ticket = engine.submit([{"role": "user", "content": "alone"}], PARAMS, "user-0")
        assert ticket.future.result(timeout=30).text == "alone"
    finally:
        engine.stop()
    assert backend.batches == [1]
