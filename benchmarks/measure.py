"""What every contestant of ``make bench`` records, and the steady-state arithmetic over it.

A contestant records progress marks ``(events so far, time.monotonic(), CPU seconds)`` and,
from a sampler thread, ``(time.monotonic(), CPU seconds, RSS MiB)`` for memory. Rates are taken over the same share of
the events for every contestant (by default from the 10% mark to the 90% mark), so start-up
(imports, models, consumer joins) and the drain at the end count for none of them.
``time.monotonic()`` is one clock for every process of a machine, so the marks of several
processes of one run merge into one timeline.
"""

from __future__ import annotations

import bisect
import os
import resource
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

# The share of a run's events over which steady-state rates are measured.
STEADY_FROM = 0.10
STEADY_TO = 0.90

Mark = tuple[int, float, float]  # (events so far, time.monotonic(), CPU seconds of the process)
Sample = tuple[float, float, float]  # (time.monotonic(), CPU seconds of the process, RSS MiB)

_STATM = Path("/proc/self/statm")
_PAGE_MIB = os.sysconf("SC_PAGE_SIZE") / 2**20 if hasattr(os, "sysconf") else 0.0


def rss_mib() -> float:
    """Resident memory of this process now, MiB (0 where /proc is missing)."""
    try:
        return int(_STATM.read_text().split()[1]) * _PAGE_MIB
    except (OSError, IndexError, ValueError):
        return 0.0


_STATUS = Path("/proc/self/status")


def peak_rss_mib() -> float:
    """Peak resident memory of this process's own program so far, MiB.

    The kernel's ``VmHWM``, which starts afresh at ``exec``. Not ``getrusage``'s ``ru_maxrss``:
    that survives ``exec``, so a contestant spawned (fork, then exec) by a bench process holding
    gigabytes (the DPO model, earlier streams) reported the parent's size as its own peak (the
    long run's "3.9 GiB" in the runs of 2026-12-03, while no sample of it passed 1.4 GiB).
    ``ru_maxrss`` stays the fallback where /proc is missing.
    """
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, IndexError, ValueError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class ResourceSampler:
    """A daemon thread recording CPU seconds and RSS of this process every ``every_s`` seconds."""

    def __init__(self, every_s: float = 0.25) -> None:
        self.samples: list[Sample] = []
        self._every_s = every_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> ResourceSampler:
        self._sample()
        self._thread = threading.Thread(target=self._loop, name="bench-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample()

    def _loop(self) -> None:
        while not self._stop.wait(self._every_s):
            self._sample()

    def _sample(self) -> None:
        self.samples.append((time.monotonic(), time.process_time(), rss_mib()))


@dataclass
class Measured:
    """What one process of one contestant reports back to the bench (plain data, picklable)."""

    events: int
    progress: list[Mark]
    samples: list[Sample]
    peak_rss_mib: float
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Window:
    """A stretch of a run: events handled in it, its length, and the CPU the processes spent in it."""

    events: int
    seconds: float
    cpu_seconds: float

    @property
    def events_per_s(self) -> float:
        """Events per wall-clock second."""
        return self.events / self.seconds if self.seconds > 0 else 0.0

    @property
    def events_per_cpu_s(self) -> float:
        """Events per CPU second (all processes together): the per-core figure."""
        return self.events / self.cpu_seconds if self.cpu_seconds > 0 else 0.0


def merged_progress(runs: list[list[Mark]]) -> list[tuple[int, float]]:
    """One timeline ``(events so far, time)`` from several processes' own cumulative marks."""
    steps: list[tuple[float, int]] = []
    for marks in runs:
        previous = 0
        for count, at, _ in marks:
            steps.append((at, count - previous))
            previous = count
    steps.sort()
    merged: list[tuple[int, float]] = []
    total = 0
    for at, added in steps:
        total += added
        merged.append((total, at))
    return merged


def window(runs: list[Measured], start: float = STEADY_FROM, end: float = STEADY_TO) -> Window:
    """The events, seconds and CPU seconds between two shares of the run's events (all processes merged)."""
    if not 0.0 <= start < end <= 1.0:
        raise ValueError(f"need 0 <= start < end <= 1, got {start}, {end}")
    progress = merged_progress([run.progress for run in runs])
    if len(progress) < 2:
        return Window(0, 0.0, 0.0)
    total = progress[-1][0]
    counts = [count for count, _ in progress]
    first = progress[min(bisect.bisect_left(counts, start * total), len(progress) - 1)]
    last = progress[min(bisect.bisect_left(counts, end * total), len(progress) - 1)]
    if last[1] <= first[1]:
        return Window(0, 0.0, 0.0)
    cpu = sum(cpu_between(_cpu_samples(run), first[1], last[1]) for run in runs)
    return Window(last[0] - first[0], last[1] - first[1], cpu)


def _cpu_samples(run: Measured) -> list[Sample]:
    """CPU readings of a run: its marks (taken with the counts) and the sampler's, in time order."""
    return sorted([(at, cpu, 0.0) for _, at, cpu in run.progress] + run.samples)


def cpu_between(samples: list[Sample], start: float, end: float) -> float:
    """CPU seconds a process spent between two monotonic times, interpolated between samples."""
    return _cpu_at(samples, end) - _cpu_at(samples, start)


def _cpu_at(samples: list[Sample], at: float) -> float:
    if not samples:
        return 0.0
    times = [t for t, _, _ in samples]
    index = bisect.bisect_left(times, at)
    if index == 0:
        return samples[0][1]
    if index >= len(samples):
        return samples[-1][1]
    (t0, c0, _), (t1, c1, _) = samples[index - 1], samples[index]
    return c0 + (c1 - c0) * (at - t0) / (t1 - t0) if t1 > t0 else c1


def rss_at_share(run: Measured, share: float) -> float:
    """The RSS sampled closest after the moment the run had handled ``share`` of its events, MiB."""
    if not run.progress or not run.samples:
        return 0.0
    total = run.progress[-1][0]
    counts = [mark[0] for mark in run.progress]
    at = run.progress[min(bisect.bisect_left(counts, share * total), len(counts) - 1)][1]
    times = [t for t, _, _ in run.samples]
    return run.samples[min(bisect.bisect_left(times, at), len(times) - 1)][2]


def sampled_rss_peak(run: Measured) -> tuple[float, float]:
    """The highest RSS sampled (MiB) and the share of the run's events handled by then (0..1).

    Beside ``peak_rss_mib`` (the kernel's high-water mark) it says when memory peaked: a kernel
    peak far above every sample is a transient shorter than the sampling interval.
    """
    if not run.samples:
        return 0.0, 0.0
    at, _, rss = max(run.samples, key=lambda sample: sample[2])
    if not run.progress:
        return rss, 0.0
    total = run.progress[-1][0] or 1
    handled = [count for count, moment, _ in run.progress if moment <= at]
    return rss, (handled[-1] if handled else 0) / total
