"""``make bench``: steady-state throughput of the flow against baselines measured in the same run.

One local broker; streams of 1-2 KB events produced once (the realistic mix with about 10%
edits, views only, edits only); then each contestant in a fresh process of its own:

* bare consumer: confluent-kafka ``consume(1000)`` and a typed msgspec decode, nothing else;
* seed logger: the seeds' per-event Levenshtein check + synchronous JSONL append;
* the flow (whole curation chain, exactly-once into Iceberg) on each stream;
* scale-out: the realistic mix again with 2 workers in one process, and with 2 processes;
* DPO + LoRA: the trainer's recipe, pairs/s and tokens/s (``dpo_bench.py``; CUDA + bf16 when present),
  and alternating whole 2-epoch runs with the reference's log-probs per step vs precomputed;
* curation quality on our labelled set, the held-out set and the probe set (``curation_quality.py``);
* optionally a long run (default 1,000,000 events inside one 24 h dedup window): rate at the
  start vs the end, RSS growth.

Rates are steady state for every contestant alike: events between the 10% and the 90% mark
over the time between them (``measure.py``). Also: the curation stages' cost per edit
(``stages.py``), the PII/policy work per event against the previous scan (``pii_stage.py``),
Iceberg snapshots and files, gateway requests/s. Results go to
``benchmarks/results/latest.json``; ``--write-readme`` regenerates the README's block from it.
Nothing here is asserted in tests.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console

from flywheel.benchmarks.contestants import CONSUME_BATCH, bare_consumer, in_children, seed_logger
from flywheel.benchmarks.curation_quality import LABELLED_SETS, run_curation_quality
from flywheel.benchmarks.measure import STEADY_FROM, STEADY_TO, Measured, rss_at_share, sampled_rss_peak, window
from flywheel.benchmarks.pii_stage import measure_pii_stage
from flywheel.benchmarks.readme import render_table
from flywheel.benchmarks.scenarios import MIXES, Bench, FlowRun
from flywheel.benchmarks.stages import stage_costs
from flywheel.errors import ModelError
from flywheel.infra.broker import start_broker

RESULTS = Path("benchmarks/results/latest.json")


@dataclass(frozen=True)
class BenchOptions:
    """How much ``make bench`` measures."""

    events: int = 200_000
    # As many as the others: the flow's window needs many rounds of 5000-message batches.
    edit_events: int = 200_000
    partitions: int = 4  # divides evenly among 1, 2 or 4 processes
    scale_out: bool = True
    long_run_events: int = 0  # 0 skips the long run
    stage_edits: int = 5000
    pii_stage_events: int = 20_000  # events of the mix for the PII/policy comparison (about 2,000 edits)
    gateway_seconds: float = 5.0
    source_batch_size: int | None = None  # None: the product's default (source.batch_size)

    @classmethod
    def quick(cls) -> BenchOptions:
        """A few minutes on a busy laptop: for development, not for figures (batches of 1000 for resolution)."""
        return cls(
            events=20_000,
            edit_events=5000,
            stage_edits=1000,
            pii_stage_events=4000,
            gateway_seconds=2.0,
            source_batch_size=1000,
        )


def run_benchmarks(options: BenchOptions, console: Console | None = None) -> dict[str, Any]:
    """Run every measurement once, write the JSON and return it."""
    console = console or Console()
    root = Path(tempfile.mkdtemp(prefix="flywheel-bench-"))
    results: dict[str, Any] = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "machine": _machine()}
    results["config"] = {
        "events": options.events,
        "edit_events": options.edit_events,
        "partitions": options.partitions,
        "consume_batch": CONSUME_BATCH,
        "steady_window": [STEADY_FROM, STEADY_TO],
        "mix_edit_share": MIXES["mix"].edit,
    }
    started = time.perf_counter()
    broker = start_broker(log_file=root / "broker.log")
    try:
        bench = Bench(broker.bootstrap_servers, root, options.partitions, options.source_batch_size)
        results["config"]["flow_source_batch_size"] = bench.settings("config", "bench.mix").source.batch_size
        counts = {"mix": options.events, "views": options.events, "edits": options.edit_events}
        streams = {}
        for name, mix in MIXES.items():
            console.print(f"producing {counts[name]:,} events ({name}) ...")
            streams[name] = bench.produce(name, counts[name], mix)
        kafka = bench.settings("baselines", streams["mix"].topic).kafka
        contestants: dict[str, dict[str, Any]] = {}
        console.print("bare consumer, seed logger ...")
        contestants["bare_consumer"] = _summary(in_children(bare_consumer, [(kafka, streams["mix"].topic)]))
        seed_out = root / "dpo_gold_v1.jsonl"
        contestants["seed_logger"] = _summary(in_children(seed_logger, [(kafka, streams["mix"].topic, seed_out)]))
        flows: dict[str, FlowRun] = {}
        for name in MIXES:
            console.print(f"flow on {name} ...")
            flows[name] = bench.run_flow(f"flow-{name}", streams[name])
            contestants[f"flow_{name}"] = _flow_summary(flows[name])
        bare = contestants["bare_consumer"]
        for figures in contestants.values():
            figures["vs_bare_consumer"] = _ratio(figures["events_per_s"], bare["events_per_s"])
            figures["vs_bare_consumer_per_cpu_s"] = _ratio(figures["events_per_cpu_s"], bare["events_per_cpu_s"])
        results["contestants"] = contestants
        results["flow_vs_seed_logger"] = _ratio(
            contestants["flow_mix"]["events_per_s"], contestants["seed_logger"]["events_per_s"]
        )
        _save(results)
        console.print("curation stages per edit ...")
        results["stages"] = stage_costs(bench.settings("stages", streams["edits"].topic), options.stage_edits)
        console.print("PII + policy per event, previous scan vs one pass ...")
        results["pii_stage"] = measure_pii_stage(options.pii_stage_events)
        if options.scale_out:
            results["scale_out"] = _scale_out(bench, streams["mix"], flows["mix"], console)
        results["gateway"] = _gateway(bench, options.gateway_seconds, console)
        results["dpo"] = _dpo(console)
        results["long_run"] = {"skipped": "interrupted"}
        _save(results, started)
        # Last, as the longest: everything above is already saved if it is interrupted.
        results["long_run"] = _long_run(bench, options.long_run_events, console)
    finally:
        broker.stop()
        shutil.rmtree(root, ignore_errors=True)  # topics' logs and tables: gigabytes after a long run
    results["curation_quality"] = run_curation_quality(LABELLED_SETS, console)
    _save(results, started)
    console.print(render_table(results))
    console.print(f"written to {RESULTS}")
    return results


def _save(results: dict[str, Any], started: float | None = None) -> None:
    """Write the results so far (load average and duration as of now)."""
    results["machine"]["load_average_after"] = list(os.getloadavg())
    if started is not None:
        results["bench_seconds"] = time.perf_counter() - started
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


def _summary(runs: list[Measured]) -> dict[str, Any]:
    """Steady-state figures of one contestant (all its processes together)."""
    steady = window(runs)
    whole = window(runs, 0.0, 1.0)
    return {
        "events": sum(run.events for run in runs),
        "processes": len(runs),
        "events_per_s": steady.events_per_s,
        "events_per_cpu_s": steady.events_per_cpu_s,
        "steady_seconds": steady.seconds,
        "steady_cpu_seconds": steady.cpu_seconds,
        "first_to_last_events_per_s": whole.events_per_s,
        "peak_rss_mib": max(run.peak_rss_mib for run in runs),
    }


def _flow_summary(flow: FlowRun) -> dict[str, Any]:
    figures = _summary(flow.runs)
    figures["wall_seconds_with_startup"] = flow.wall_seconds
    # The conservative figure: from the first decoded event to the drained end (last commit included).
    drained = max(run.details["first_event_to_drained_seconds"] for run in flow.runs)
    figures["first_event_to_drained_events_per_s"] = figures["events"] / drained if drained else 0.0
    figures["rows_written"] = sum(run.details["rows_written"] for run in flow.runs)
    figures["iceberg"] = flow.iceberg
    return figures


def _scale_out(bench: Bench, stream: Any, one: FlowRun, console: Console) -> dict[str, Any]:
    """The realistic mix with 1 process x 2 workers, 2 processes x 1 worker, and 2 independent
    processes (nothing crossing, each all events: the machine's own cost of two busy processes,
    the baseline of the cluster's), as ratios to 1 x 1."""
    base = _flow_summary(one)
    result: dict[str, Any] = {"cores": os.cpu_count(), "partitions": bench.partitions, "one_process_one_worker": base}
    layouts: tuple[tuple[str, str, Callable[[], FlowRun]], ...] = (
        ("one_process_two_workers", "1 process x 2 workers", lambda: bench.run_flow("scale-2w", stream, 1, 2)),
        ("two_processes_one_worker", "2 processes x 1 worker", lambda: bench.run_flow("scale-2p", stream, 2, 1)),
        ("two_independent_processes", "2 independent processes", lambda: bench.run_flows_apart("scale-apart", stream)),
    )
    for name, label, run in layouts:
        console.print(f"scale-out: {label} ...")
        figures = _flow_summary(run())
        figures["events_per_s_vs_one"] = _ratio(figures["events_per_s"], base["events_per_s"])
        figures["cpu_seconds_per_1k_events"] = _per_1k(figures)
        figures["cpu_per_event_vs_one"] = _ratio(_per_1k(figures), _per_1k(base))
        result[name] = figures
    base["cpu_seconds_per_1k_events"] = _per_1k(base)
    return result


def _long_run(bench: Bench, events: int, console: Console) -> dict[str, Any]:
    """Rate at the start vs the end and RSS growth while one 24 h dedup window fills up."""
    if events <= 0:
        return {"skipped": "pass --long-run to measure (1,000,000 events by default)"}
    spacing = timedelta(hours=24) / events  # every event of the run stays inside the 24 h window
    console.print(f"long run: producing {events:,} events over 24 h of event time ...")
    stream = bench.produce("long", events, MIXES["mix"], spacing)
    console.print("long run: the flow ...")
    started = time.perf_counter()
    flow = bench.run_flow("flow-long", stream)
    run = flow.runs[0]
    start, end = window([run], 0.05, 0.15), window([run], 0.85, 0.95)
    sampled_peak = sampled_rss_peak(run)
    return {
        "events": run.events,
        "event_time_span_h": 24,
        "produce_seconds": stream.produce_seconds,
        "flow_seconds": time.perf_counter() - started,
        "events_per_s": window([run]).events_per_s,
        "start_events_per_s": start.events_per_s,
        "end_events_per_s": end.events_per_s,
        "end_vs_start": _ratio(end.events_per_s, start.events_per_s),
        # Per CPU-second: what the run itself costs, whatever else shares the cores.
        "start_events_per_cpu_s": start.events_per_cpu_s,
        "end_events_per_cpu_s": end.events_per_cpu_s,
        "end_vs_start_per_cpu_s": _ratio(end.events_per_cpu_s, start.events_per_cpu_s),
        "rss_mib_at_10pct": rss_at_share(run, 0.10),
        "rss_mib_at_end": rss_at_share(run, 1.0),
        "peak_rss_mib": run.peak_rss_mib,
        "rss_mib_sampled_peak": sampled_peak[0],
        "rss_sampled_peak_at_share": sampled_peak[1],
        "iceberg": flow.iceberg,
    }


def _gateway(bench: Bench, seconds: float, console: Console) -> dict[str, Any]:
    if seconds <= 0:
        return {"skipped": "--gateway-seconds 0"}
    try:
        from flywheel.benchmarks.gateway_bench import measure_gateway
    except ImportError as exc:  # the gateway extra is not installed
        console.print(f"[yellow]gateway bench skipped: {exc}[/yellow]")
        return {"skipped": str(exc)}
    console.print("gateway ...")
    result: dict[str, Any] = measure_gateway(bench.settings("gateway", "bench.gateway"), seconds=seconds)
    return result


def _dpo(console: Console) -> dict[str, Any]:
    try:
        from flywheel.benchmarks.dpo_bench import measure_dpo_throughput, measure_reference_precompute

        console.print("DPO + LoRA throughput (a few optimizer steps of the trainer's recipe) ...")
        result = measure_dpo_throughput()
        console.print("DPO reference log-probs, per step vs precomputed (alternating whole runs of 2 epochs) ...")
        result["reference_precompute"] = measure_reference_precompute()
        return result
    except (ImportError, ModelError) as exc:  # the train extra or the local model is missing
        console.print(f"[yellow]DPO bench skipped: {exc}[/yellow]")
        return {"skipped": str(exc)}


def _machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "load_average_before": list(os.getloadavg()),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ratio(value: float, base: float) -> float:
    return value / base if base else 0.0


def _per_1k(figures: dict[str, Any]) -> float:
    events = figures["events_per_s"] * figures["steady_seconds"]
    return figures["steady_cpu_seconds"] * 1000 / events if events else 0.0
