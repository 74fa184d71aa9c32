"""Standalone throughput of a toxicity backend: batched vs one item per call.

Used by ``make bench`` (``flywheel bench``) as the denominator of the safety stage's
in-flow items/s. Run directly: ``python -m benchmarks.toxicity_standalone [backend] [n]``.
"""

from __future__ import annotations

import sys
import time

from flywheel.operators.config import ToxicitySettings
from flywheel.operators.toxicity import ToxicityBackend, batch_size_of, build_backend

SAMPLE_TEXTS = (
    "Imagine a coin spinning in the air: while it spins it is both heads and tails.",
    "def calculate_tax(amount: float) -> float:\n    return amount * 0.2",
    "Thanks, that fixed it. I also renamed the variable to make it clearer.",
    "This answer is wrong, the library call is called differently in version 2.",
    "You are an idiot and this is garbage.",
    "Here is the corrected summary of the meeting notes, with action items first.",
)


def sample_texts(n: int) -> list[str]:
    """``n`` distinct texts built from a small corpus (distinct so no cache can help)."""
    return [f"{SAMPLE_TEXTS[i % len(SAMPLE_TEXTS)]} ({i})" for i in range(n)]


def measure_batched_items_per_s(backend: ToxicityBackend, texts: list[str], batch_size: int) -> float:
    """Items per second when ``texts`` are scored ``batch_size`` at a time (one warm-up batch first)."""
    if not texts or batch_size < 1:
        raise ValueError("need at least one text and batch_size >= 1")
    backend.score_batch(texts[:batch_size])
    start = time.perf_counter()
    for offset in range(0, len(texts), batch_size):
        backend.score_batch(texts[offset : offset + batch_size])
    return len(texts) / (time.perf_counter() - start)


def measure_one_at_a_time_items_per_s(backend: ToxicityBackend, texts: list[str]) -> float:
    """Items per second when every text is scored in its own call."""
    return measure_batched_items_per_s(backend, texts, batch_size=1)


def main(argv: list[str]) -> None:
    """Print batched and single-item throughput for a backend (default: the configured default)."""
    backend_name = argv[0] if argv else "profanity"
    n = int(argv[1]) if len(argv) > 1 else 512
    settings = ToxicitySettings(backend=backend_name)  # type: ignore[arg-type]
    backend = build_backend(settings)
    texts = sample_texts(n)
    batch_size = batch_size_of(settings)
    batched = measure_batched_items_per_s(backend, texts, batch_size)
    single = measure_one_at_a_time_items_per_s(backend, texts[: max(32, n // 8)])
    print(f"{backend.name}: batched({batch_size}) {batched:,.0f} items/s, one-at-a-time {single:,.0f} items/s")


if __name__ == "__main__":
    main(sys.argv[1:])
