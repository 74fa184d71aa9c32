"""``make bench``: throughput of the flow against baselines measured in the same run.

One local broker, one realistic stream (about 10% edits, 1-2 KB events), then:

* bare consumer: confluent-kafka consumer that only decodes the same topic (msgspec);
* seed baseline: the seeds' per-event Levenshtein check + synchronous JSONL append;
* the flow: the whole curation chain into Iceberg, exactly-once, until drained;
* safety stage: toxicity items/s inside the flow vs the backend's standalone batched rate;
* gateway: HTTP requests/s for single and batch posts;
* curation quality: precision/recall of accepted pairs per category on the labelled set
  ``tests/data/curation_set.jsonl`` (``benchmarks/curation_quality.py``), the safety gate's
  precision/recall, PII leaks, and whether other partition counts/batches/workers decide the same.
* DPO: the trainer's recipe on the configured base model, pairs/s and tokens/s (CUDA + bf16 when present).

Figures are ratios against the baselines (same machine, same run), written to
``benchmarks/results/latest.json`` and printed. Nothing here is asserted in tests.
"""

from __future__ import annotations

import json
import platform
import resource
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
from rich.console import Console
from rich.table import Table

from flywheel.benchmarks.curation_quality import LABELLED_SET, run_curation_quality
from flywheel.benchmarks.seed_baseline import consume_all, run_seed_baseline
from flywheel.benchmarks.toxicity_standalone import measure_batched_items_per_s, sample_texts
from flywheel.errors import ModelError
from flywheel.flows.runner import run_until_drained
from flywheel.infra.broker import ensure_topics, start_broker
from flywheel.operators.toxicity import build_backend
from flywheel.sample import SampleMix, produce, sample_events
from flywheel.settings import Settings, local_settings

RESULTS_DIR = Path("benchmarks/results")


def run_benchmarks(
    events: int = 20_000, gateway_seconds: float = 5.0, console: Console | None = None
) -> dict[str, Any]:
    """Run every measurement once and return the figures (also written to a JSON file)."""
    console = console or Console()
    root = Path(tempfile.mkdtemp(prefix="flywheel-bench-"))
    broker = start_broker(log_file=root / "broker.log")
    try:
        settings = local_settings(broker.bootstrap_servers, root)
        ensure_topics(settings.kafka, settings.topics)
        mix = SampleMix(edit=0.10, trivial_edit=0.0, bad=0.005)
        console.print(f"producing {events} events (~10% edits, 1-2 KB) to the local broker ...")
        produce(
            settings.kafka, settings.topics.interactions, sample_events(events, seed=11, mix=mix, pad_to_bytes=1200)
        )
        topic = settings.topics.interactions

        bare_count, bare_s = consume_all(settings, topic, _decode_only)
        seed_count, seed_s = run_seed_baseline(settings, topic, root / "dpo_gold_v1.jsonl")
        # Peak RSS is monotonic: read it before and after the flow, in this same process.
        baseline_rss_mb = _peak_rss_mb()

        flow_started = time.perf_counter()
        summary = run_until_drained(settings.flow_config())
        flow_s = time.perf_counter() - flow_started
        flow_rss_mb = _peak_rss_mb()

        backend = build_backend(settings.curation.toxicity)
        standalone = measure_batched_items_per_s(backend, sample_texts(2048), settings.curation.toxicity.batch_size)
        in_flow = summary.toxicity_items / summary.toxicity_seconds if summary.toxicity_seconds else 0.0

        results: dict[str, Any] = {
            "when": datetime.now(UTC).isoformat(),
            "machine": {"python": platform.python_version(), "cpu": platform.processor() or platform.machine()},
            "events": events,
            "bare_consumer_events_per_s": bare_count / bare_s,
            "seed_baseline_events_per_s": seed_count / seed_s,
            "flow_events_per_s": summary.events_read / flow_s,
            "flow_startup_s": flow_s - (summary.processing_seconds or flow_s),
            "flow_steady_events_per_s": summary.events_read / (summary.processing_seconds or flow_s),
            "flow_rows_written": summary.rows_written(),
            "safety_in_flow_items_per_s": in_flow,
            "safety_in_flow_items": summary.toxicity_items,
            "toxicity_standalone_batched_items_per_s": standalone,
            "toxicity_backend": backend.name,
            "peak_rss_mb_after_baselines": baseline_rss_mb,
            "peak_rss_mb_after_flow": flow_rss_mb,
            "flow_peak_rss_vs_baselines": flow_rss_mb / baseline_rss_mb,
        }
        results["flow_vs_bare_consumer"] = results["flow_events_per_s"] / results["bare_consumer_events_per_s"]
        results["flow_vs_seed_baseline"] = results["flow_events_per_s"] / results["seed_baseline_events_per_s"]
        results["flow_steady_vs_bare_consumer"] = (
            results["flow_steady_events_per_s"] / results["bare_consumer_events_per_s"]
        )
        results["flow_steady_vs_seed_baseline"] = (
            results["flow_steady_events_per_s"] / results["seed_baseline_events_per_s"]
        )
        results["safety_in_flow_vs_standalone"] = in_flow / standalone if standalone else 0.0
        results["gateway"] = _gateway(settings, gateway_seconds, console)
        results["dpo"] = _dpo(console)
    finally:
        broker.stop()
    _print(console, results)
    if LABELLED_SET.is_file():
        results["curation_quality"] = run_curation_quality(LABELLED_SET, console)
    else:
        console.print(f"[yellow]curation quality skipped: {LABELLED_SET} not found (run from the repo root)[/yellow]")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "latest.json").write_text(json.dumps(results, indent=2))
    console.print(f"written to {RESULTS_DIR / 'latest.json'}")
    return results


def _peak_rss_mb() -> float:
    """Peak resident memory of this process so far, MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


_decoder = msgspec.json.Decoder()


def _decode_only(value: bytes | None) -> object:
    """The bare consumer's whole job: decode the JSON, skipping what does not decode."""
    try:
        return _decoder.decode(value or b"")
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None


def _gateway(settings: Settings, seconds: float, console: Console) -> dict[str, Any]:
    try:
        from flywheel.benchmarks.gateway_bench import measure_gateway
    except ImportError as exc:  # the gateway extra is not installed
        console.print(f"[yellow]gateway bench skipped: {exc}[/yellow]")
        return {"skipped": str(exc)}
    result: dict[str, Any] = measure_gateway(settings, seconds=seconds)
    return result


def _dpo(console: Console) -> dict[str, Any]:
    try:
        from flywheel.benchmarks.dpo_bench import measure_dpo_throughput

        console.print("measuring DPO + LoRA throughput (a few optimizer steps of the trainer's recipe) ...")
        return measure_dpo_throughput()
    except (ImportError, ModelError) as exc:  # the train extra or the local model is missing
        console.print(f"[yellow]DPO bench skipped: {exc}[/yellow]")
        return {"skipped": str(exc)}


def _print(console: Console, results: dict[str, Any]) -> None:
    table = Table("measure", "value", "ratio", title="make bench (same run, same machine)")
    table.add_row("bare consumer (decode only)", f"{results['bare_consumer_events_per_s']:,.0f} events/s", "1.00")
    table.add_row(
        "seed baseline (Levenshtein + JSONL append)", f"{results['seed_baseline_events_per_s']:,.0f} events/s", ""
    )
    table.add_row(
        f"flow end to end (incl. {results['flow_startup_s']:.1f} s startup)",
        f"{results['flow_events_per_s']:,.0f} events/s",
        f"{results['flow_vs_bare_consumer']:.3f} x bare, {results['flow_vs_seed_baseline']:.2f} x seed",
    )
    table.add_row(
        "flow steady state (first event to drained)",
        f"{results['flow_steady_events_per_s']:,.0f} events/s",
        f"{results['flow_steady_vs_bare_consumer']:.3f} x bare, {results['flow_steady_vs_seed_baseline']:.2f} x seed",
    )
    table.add_row(
        f"toxicity standalone, batched ({results['toxicity_backend']})",
        f"{results['toxicity_standalone_batched_items_per_s']:,.0f} items/s",
        "1.00",
    )
    table.add_row(
        "safety stage inside the flow",
        f"{results['safety_in_flow_items_per_s']:,.0f} items/s",
        f"{results['safety_in_flow_vs_standalone']:.2f} x standalone",
    )
    table.add_row(
        "peak memory of the bench process",
        f"{results['peak_rss_mb_after_flow']:,.0f} MiB after the flow",
        f"{results['flow_peak_rss_vs_baselines']:.2f} x after the baselines",
    )
    gateway = results.get("gateway", {})
    if "single_requests_per_s" in gateway:
        table.add_row("gateway single posts", f"{gateway['single_requests_per_s']:,.0f} req/s", "")
        table.add_row(
            f"gateway batch posts ({gateway.get('batch_size')} events)",
            f"{gateway['batch_requests_per_s']:,.0f} req/s",
            f"{gateway.get('batch_events_per_s', 0):,.0f} events/s",
        )
    dpo = results.get("dpo", {})
    if "pairs_per_s" in dpo:
        table.add_row(
            f"DPO + LoRA ({dpo['device']}, {dpo['dtype']}, {dpo['pairs']} pairs)",
            f"{dpo['pairs_per_s']:,.2f} pairs/s",
            f"{dpo['tokens_per_s']:,.0f} tokens/s",
        )
    console.print(table)
