"""The streams ``make bench`` produces and the flow runs it measures over them.

Each stream goes to a topic of its own, produced once before any contestant reads it; each
flow run gets a fresh catalog, warehouse and recovery store, so every run reads its topic
from offset 0 and writes its tables from empty.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from pyiceberg.table.snapshots import Snapshot

from flywheel.benchmarks.contestants import flow_process, in_children
from flywheel.benchmarks.measure import Measured
from flywheel.flows.config import FlowConfig
from flywheel.flows.runner import StartRequest, prepare_recovery
from flywheel.infra.broker import ensure_topics, free_port
from flywheel.infra.catalog import ensure_tables, open_catalog, table_identifier
from flywheel.sample import SampleMix, produce, sample_events
from flywheel.schemas.tables import contracts
from flywheel.settings import Settings, local_settings

# Events of 1-2 KB: retrieved context makes real prompts long.
PAD_TO_BYTES = 1200
# The realistic mix: about 10% edits, the rest feedback, views and 0.5% bad messages.
REALISTIC = SampleMix(edit=0.10, trivial_edit=0.0, bad=0.005)
VIEWS_ONLY = SampleMix(
    edit=0.0, trivial_edit=0.0, thumbs_up=0.0, thumbs_down=0.0, rating=0.0, other_feedback=0.0, bad=0.0
)
EDITS_ONLY = SampleMix(
    edit=1.0, trivial_edit=0.0, thumbs_up=0.0, thumbs_down=0.0, rating=0.0, other_feedback=0.0, bad=0.0
)
MIXES = {"mix": REALISTIC, "views": VIEWS_ONLY, "edits": EDITS_ONLY}


@dataclass(frozen=True)
class Stream:
    """One produced benchmark stream."""

    name: str
    topic: str
    events: int
    produce_seconds: float


@dataclass(frozen=True)
class Bench:
    """Where the benchmark's broker and files are, and how its topics are partitioned."""

    bootstrap_servers: str
    root: Path
    partitions: int
    # The flow's messages per consume(); None keeps the product default. A steady-state window
    # needs many batches, so small development runs read smaller batches.
    source_batch_size: int | None = None

    def settings(self, name: str, topic: str, workers: int = 1) -> Settings:
        """Settings of one run: this bench's broker, ``topic`` as the interactions topic, fresh files."""
        overrides: dict[str, Any] = {"topics": {"interactions": topic, "partitions": self.partitions}}
        if self.source_batch_size is not None:
            overrides["source"] = {"batch_size": self.source_batch_size}
        return local_settings(self.bootstrap_servers, self.root / name, workers_per_process=workers, **overrides)

    def produce(self, name: str, events: int, mix: SampleMix, spacing: timedelta = timedelta(seconds=1)) -> Stream:
        """Produce ``events`` of ``mix`` (event times ``spacing`` apart) to the topic ``bench.<name>``."""
        topic = f"bench.{name}"
        settings = self.settings(f"produce-{name}", topic)
        ensure_topics(settings.kafka, settings.topics)
        started = time.perf_counter()
        stream = sample_events(events, seed=11, mix=mix, pad_to_bytes=PAD_TO_BYTES, spacing=spacing)
        produce(settings.kafka, topic, stream)
        return Stream(name, topic, events, time.perf_counter() - started)

    def run_flow(self, name: str, stream: Stream, processes: int = 1, workers: int = 1) -> FlowRun:
        """Drain ``stream`` through the flow in ``processes`` spawned processes of ``workers`` workers each."""
        flow = self.settings(name, stream.topic, workers).flow_config()
        if processes == 1:
            return self._drain([flow], [(flow, None, None)])
        addresses = [f"127.0.0.1:{free_port()}" for _ in range(processes)]
        return self._drain([flow], [(flow, index, addresses) for index in range(processes)])

    def run_flows_apart(self, name: str, stream: Stream, copies: int = 2) -> FlowRun:
        """``copies`` independent one-process flows at once, each draining all of ``stream`` into files of its own.

        Nothing crosses between them: what they spend per event against one flow alone is what
        running several processes on this machine costs by itself (cores, caches, the broker),
        the baseline a cluster's exchange is measured against.
        """
        flows = [self.settings(f"{name}-{index}", stream.topic).flow_config() for index in range(copies)]
        return self._drain(flows, [(flow, None, None) for flow in flows])

    def _drain(self, flows: list[FlowConfig], arguments: list[tuple[Any, ...]]) -> FlowRun:
        # Tables created here once, not by each process of a cluster at the same time.
        for flow in flows:
            ensure_tables(open_catalog(flow.catalog), flow.catalog)
            prepare_recovery(flow, StartRequest())
        started = time.perf_counter()
        runs = in_children(flow_process, arguments)
        return FlowRun(runs, time.perf_counter() - started, iceberg_counts(flows[0]))


@dataclass(frozen=True)
class FlowRun:
    """The processes of one flow run, its wall time including start-up, and what it left in Iceberg."""

    runs: list[Measured]
    wall_seconds: float
    iceberg: dict[str, Any]


def iceberg_counts(flow: FlowConfig) -> dict[str, Any]:
    """Snapshots, data files and rows per table after a run, and their totals."""
    catalog = open_catalog(flow.catalog)
    tables: dict[str, dict[str, int]] = {}
    for name in sorted(contracts()):
        table = catalog.load_table(table_identifier(flow.catalog, name))
        snapshots = table.snapshots()
        current = table.current_snapshot()
        tables[name] = {
            "snapshots": len(snapshots),
            "data_files_written": sum(_summary_int(snapshot, "added-data-files") for snapshot in snapshots),
            "data_files_now": _summary_int(current, "total-data-files"),
            "rows": _summary_int(current, "total-records"),
        }
    return {
        "tables": tables,
        "snapshots": sum(table["snapshots"] for table in tables.values()),
        "data_files_written": sum(table["data_files_written"] for table in tables.values()),
        "rows": sum(table["rows"] for table in tables.values()),
    }


def _summary_int(snapshot: Snapshot | None, key: str) -> int:
    """An integer of a snapshot's summary; 0 when absent (pyiceberg's ``get`` ignores defaults)."""
    if snapshot is None or snapshot.summary is None:
        return 0
    return int(snapshot.summary.get(key) or 0)
