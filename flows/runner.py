"""Run the curation flow: resolve start positions, set up recovery, execute, summarise."""

from __future__ import annotations

import contextlib
import gc
import logging
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from bytewax.outputs import Sink
from bytewax.recovery import RecoveryConfig, init_db_dir
from bytewax.run import cli_main
from pyiceberg.table import Table

from flywheel import metrics
from flywheel.errors import ConfigError, FlywheelError, RecoveryStateExists
from flywheel.flows import positions
from flywheel.flows.chain import CurationChain
from flywheel.flows.config import FlowConfig
from flywheel.flows.curation import FLOW_ID, build_flow
from flywheel.flows.group_offsets import GroupOffsets
from flywheel.flows.iceberg_sink import CommitReport, IcebergSink, TableCommitter
from flywheel.flows.kafka_sink import CheckedKafkaSink
from flywheel.flows.kafka_source import InteractionSource
from flywheel.flows.recall import Recalled, recall
from flywheel.flows.recovery_layout import check_layout
from flywheel.flows.tally import RunStats
from flywheel.flows.winner_files import WinnerFiles, referenced_by_store
from flywheel.infra.catalog import (
    Offsets,
    branch_head,
    check_catalog_reachable,
    committed_offsets,
    drop_tables,
    ensure_tables,
    open_catalog,
    table_identifier,
    wait_for_catalog,
)
from flywheel.infra.kafka import list_partitions, wait_for_broker
from flywheel.infra.kafka_reads import offsets_for_time
from flywheel.schemas.records import OutboundMessage
from flywheel.schemas.tables import contracts

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StartRequest:
    """Explicit start positions (the basis of replay); ``None`` means resume."""

    from_offsets: str | None = None
    from_timestamp: datetime | None = None
    reset_recovery: bool = False


@dataclass
class RunSummary:
    """What one run of the flow did."""

    events_read: int
    dead_letters: int
    events_by_signal: dict[str, int]
    start_offsets: dict[int, int]
    decisions: dict[str, int] = field(default_factory=dict)
    toxicity_items: int = 0
    toxicity_seconds: float = 0.0
    # From the first decoded message to the end of the run (startup excluded); None if idle.
    processing_seconds: float | None = None
    # (messages decoded so far, time.monotonic(), CPU seconds) now and then: for steady-state rates.
    progress: list[tuple[int, float, float]] = field(default_factory=list)
    commits: list[CommitReport] = field(default_factory=list)
    table_offsets: dict[str, Offsets] = field(default_factory=dict)
    table_snapshots: dict[str, int | None] = field(default_factory=dict)
    # The signal that stopped the run (SIGINT, SIGTERM); None when it ran to its end.
    stopped_by: str | None = None

    def rows_written(self, table: str | None = None) -> int:
        """Rows committed by this run, for one table or all."""
        return sum(c.rows for c in self.commits if table is None or c.table == table)


def preflight(settings: FlowConfig) -> list[int]:
    """Check that the broker, the topic and the catalog answer, before anything is created.

    Returns the interactions topic's partitions. Each failure is one line naming the address
    and the setting to check, after at most the configured ``connect_timeout_s``; a broker or
    catalog that does not answer is tried again, with backoff, for up to ``startup_wait_s``.
    """
    kafka = settings.kafka
    wait_for_broker(kafka)
    partitions = list_partitions(kafka, settings.topics.interactions, kafka.connect_timeout_s)
    wait_for_catalog(settings.catalog)
    return partitions


def resolve_start_offsets(
    settings: FlowConfig, tables: dict[str, Table], request: StartRequest, partitions: list[int]
) -> dict[int, int]:
    """Start offsets per partition: explicit offsets, a timestamp, or what the tables hold."""
    topic = settings.topics.interactions
    if request.from_offsets is not None and request.from_timestamp is not None:
        raise ConfigError("give --from-offsets or --from-timestamp, not both")
    if request.from_offsets is not None:
        return positions.parse_offsets(request.from_offsets, partitions)
    if request.from_timestamp is not None:
        return offsets_for_time(settings.kafka, topic, partitions, request.from_timestamp)
    start = positions.from_tables(tables.values(), topic, partitions, settings.catalog.branch)
    positions.refuse_if_ahead(settings.kafka, settings.catalog, topic, start)
    return start


def reset_state(settings: FlowConfig) -> list[str]:
    """Drop the flywheel tables and the flow's recovery state; returns what was removed."""
    check_catalog_reachable(settings.catalog)
    dropped = drop_tables(open_catalog(settings.catalog), settings.catalog)
    removed = [f"table {name}" for name in dropped]
    directory = Path(settings.recovery.directory)
    if directory.exists():
        shutil.rmtree(directory)
        removed.append(f"recovery state {directory}")
    return removed


def prepare_recovery(settings: FlowConfig, request: StartRequest) -> RecoveryConfig:
    """Create the recovery store if missing; refuse overrides that recovery state would ignore."""
    directory = Path(settings.recovery.directory)
    has_state = directory.is_dir() and any(directory.iterdir())
    overriding = request.from_offsets is not None or request.from_timestamp is not None
    if has_state and (request.reset_recovery or overriding):
        if not request.reset_recovery:
            raise RecoveryStateExists(
                f"recovery state in {directory} would override the requested start position; "
                "pass --reset-recovery or point FLYWHEEL_RECOVERY__DIRECTORY at a fresh directory"
            )
        shutil.rmtree(directory)
        has_state = False
    if not has_state:
        directory.mkdir(parents=True, exist_ok=True)
        init_db_dir(directory, settings.recovery.partitions)
    check_layout(directory, settings)
    return RecoveryConfig(directory, backup_interval=timedelta(seconds=settings.recovery.backup_interval_s))


def sweep_dedup_journal(settings: FlowConfig, journal: WinnerFiles, processes: int = 1) -> list[str]:
    """Remove the dedup journal files an earlier crash left behind; return their names.

    Only a flow of one process sweeps. In a cluster, a process's directory may hold a copy of a
    partition that another process's worker uses (Bytewax lets each worker search its own
    directory, and the Kubernetes StatefulSet gives each pod its own claim with every
    partition): the snapshots that reference this process's files may be in that other copy.
    """
    if processes > 1:
        log.info(
            "dedup journal not swept: a cluster's local recovery store need not hold the snapshots "
            "that reference its files (`flywheel stack reset` removes them with the recovery state)",
            extra={"processes": processes, "directory": str(journal.directory)},
        )
        return []
    if not journal.directory.is_dir():  # nothing was ever sealed: no need to read the store
        return []
    referenced = referenced_by_store(Path(settings.recovery.directory), f"{FLOW_ID}.dedup.")
    if referenced is None:
        return []
    removed = journal.sweep(referenced)
    if removed:
        log.info(
            "removed dedup journal files that no recovery snapshot references (left by a crash)",
            extra={"files": len(removed), "directory": str(journal.directory)},
        )
    return removed


def run_flow(
    settings: FlowConfig,
    *,
    stop_at_end: bool,
    request: StartRequest | None = None,
    process_id: int | None = None,
    addresses: list[str] | None = None,
    outbound: Sink[OutboundMessage] | None = None,
) -> RunSummary:
    """Run the flow in this process (blocks); with ``stop_at_end`` it drains and returns.

    ``outbound``: where DLQ and review messages go (default: Kafka, checked delivery).
    """
    request = request or StartRequest()
    if settings.metrics.enabled:  # first: the wait for the broker and catalog is counted, and probes answer
        metrics.serve(settings.metrics.host, settings.metrics.port)
    partitions = preflight(settings)
    catalog = open_catalog(settings.catalog)
    tables = ensure_tables(catalog, settings.catalog)
    start_offsets = resolve_start_offsets(settings, tables, request, partitions)
    recovery = prepare_recovery(settings, request)
    journal = WinnerFiles.for_recovery(settings.recovery)
    sweep_dedup_journal(settings, journal, len(addresses) if addresses else 1)

    def load_table(name: str) -> Table:
        return catalog.load_table(table_identifier(settings.catalog, name))

    committers: list[TableCommitter] = []
    stats = RunStats()
    branch = settings.catalog.branch
    group = GroupOffsets(settings.kafka, load_table, contracts(), branch) if branch == "main" else None
    # The quota and dedup promises as the tables hold them: recovery state may be missing or older.
    recalled = recall_for_start(tables, settings, start_offsets)
    flow = build_flow(
        CurationChain.build(settings.curation, settings.validation, settings.topics)
        .recalling(recalled)
        .journaling(journal),
        InteractionSource(
            settings.kafka,
            settings.topics.interactions,
            start_offsets,
            settings.source,
            stop_at_end=stop_at_end,
            sole_worker=settings.workers_per_process == 1 and len(addresses or []) <= 1,
        ),
        IcebergSink(
            load_table,
            contracts(),
            branch,
            settings.sink,
            on_build=committers.append,
            on_commit=group.report if group else None,
        ),
        outbound if outbound is not None else CheckedKafkaSink(settings.kafka),
        sorted(contracts()),
        stats,
    )
    log.info("flow starting", extra={"start_offsets": start_offsets, "stop_at_end": stop_at_end})
    stopped_by: str | None = None
    try:
        with quiet_garbage_collector(), stop_signals() as received:
            # Bytewax's cluster path even for one worker (``addresses`` [] rather than None: only
            # one worker with None runs on the main thread): its workers run on their own threads
            # and the main thread only watches for signals, so a stop never lands inside a step
            # (on the main thread, Ctrl-C inside ``consume`` was an error in the source step: a
            # Rust panic and exit 1). cli_main, not cluster_main: it also starts Bytewax's
            # dataflow API when BYTEWAX_DATAFLOW_API_ENABLED is set.
            cli_main(
                flow,
                workers_per_process=settings.workers_per_process,
                process_id=process_id,
                addresses=addresses or [],
                epoch_interval=timedelta(seconds=settings.recovery.snapshot_interval_s),
                recovery_config=recovery,
            )
    except KeyboardInterrupt:
        stopped_by = received[0] if received else "SIGINT"
        log.warning(
            "flow stopped by a signal: workers left at their next step, the sinks committed what "
            "closed epochs delivered, and a restart resumes from the last snapshot",
            extra={"signal": stopped_by},
        )
    except Exception as exc:
        # Bytewax wraps an error raised in a step in its own runtime errors; one that the flow
        # raised on purpose (a catalog outage past its limit, ...) is reported as its one line.
        cause = flywheel_cause(exc)
        if cause is None:
            raise
        raise cause from None
    finally:
        if group is not None:
            group.close()
    summary = RunSummary(
        events_read=stats.events_read,
        dead_letters=stats.dead_letters,
        events_by_signal=dict(stats.by_signal),
        decisions=dict(stats.decisions),
        toxicity_items=stats.toxicity_items,
        toxicity_seconds=stats.toxicity_seconds,
        processing_seconds=time.perf_counter() - stats.first_event_at if stats.first_event_at else None,
        progress=list(stats.progress),
        start_offsets=start_offsets,
        commits=[report for committer in committers for report in committer.reports],
        stopped_by=stopped_by,
    )
    for name in tables:
        table = load_table(name)
        snapshot = branch_head(table)
        summary.table_snapshots[name] = snapshot.snapshot_id if snapshot else None
        summary.table_offsets[name] = committed_offsets(table, settings.catalog.branch)
    return summary


@contextlib.contextmanager
def stop_signals() -> Iterator[list[str]]:
    """SIGTERM stops the flow as SIGINT does; yields the names of the signals received.

    Kubernetes stops a pod with SIGTERM, which by default ends Python at once, without the
    sinks' last commit. Here it raises :class:`KeyboardInterrupt` in the main thread, where
    Bytewax's cluster entry point watches for it and stops the workers. Only the main thread can
    install handlers: elsewhere (a flow run inside a test's thread) nothing changes.
    """
    received: list[str] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def stop(signum: int, _frame: object) -> None:
        received.append(signal.Signals(signum).name)
        raise KeyboardInterrupt(signal.Signals(signum).name)

    # A signal the caller ignores (a shell's background job ignores SIGINT) stays ignored.
    previous = {
        signum: handler
        for signum in (signal.SIGINT, signal.SIGTERM)
        if (handler := signal.getsignal(signum)) is not signal.SIG_IGN
    }
    for signum in previous:
        signal.signal(signum, stop)
    try:
        yield received
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def recall_for_start(tables: dict[str, Table], settings: FlowConfig, start_offsets: dict[int, int]) -> Recalled:
    """What dedup and quota remember at start: the branch's rows, or for a new branch started mid-stream
    (a replay), main's rows below the start: main's flow remembered them when it got there, and a
    replay without them would take duplicates and over-quota pairs main rightly refused."""
    branch = settings.catalog.branch
    fresh = branch != "main" and all(branch_head(table, branch) is None for table in tables.values())
    if not fresh or not any(start_offsets.values()):
        return recall(tables, branch, settings.curation)
    topic = settings.topics.interactions
    before = {(topic, partition): offset for partition, offset in start_offsets.items()}
    return recall(tables, "main", settings.curation, before=before)


def flywheel_cause(exc: BaseException) -> FlywheelError | None:
    """The first :class:`FlywheelError` in ``exc``'s chain of causes, if any."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, FlywheelError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


@contextlib.contextmanager
def quiet_garbage_collector(young_threshold: int = 50_000) -> Iterator[None]:
    """Keep Python's cyclic garbage collector from dominating the flow's CPU while the flow runs.

    The flow allocates several objects per event and keeps a dedup window of millions: with the
    default thresholds (700 allocations) the collector ran constantly and rescanned the whole
    window, over a third of the flow's CPU in profiles. Everything loaded so far (libraries,
    models, the policy) is frozen out of collection, and young collections run 70x less often.
    Collection still happens, so cyclic garbage is still freed; both are undone afterwards.
    """
    gc.collect()
    gc.freeze()
    thresholds = gc.get_threshold()
    gc.set_threshold(young_threshold, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def run_until_drained(
    settings: FlowConfig, request: StartRequest | None = None, outbound: Sink[OutboundMessage] | None = None
) -> RunSummary:
    """Process the interactions topic until every partition is at its end, then return."""
    return run_flow(settings, stop_at_end=True, request=request, outbound=outbound)
