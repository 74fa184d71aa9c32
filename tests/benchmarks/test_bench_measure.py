"""The benchmark's steady-state arithmetic and its generated README block (no broker, no timing asserts)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from flywheel.benchmarks.dpo_bench import bf16_peak_tflops
from flywheel.benchmarks.measure import (
    Measured,
    ResourceSampler,
    cpu_between,
    merged_progress,
    peak_rss_mib,
    rss_at_share,
    sampled_rss_peak,
    window,
)
from flywheel.benchmarks.readme import BEGIN, END, render_markdown, write_readme
from flywheel.errors import ReadmeBlockMissing


def _run(marks: list[tuple[int, float]], cpu_per_s: float = 1.0) -> Measured:
    """A process that handled events at the given marks, spending ``cpu_per_s`` CPU per wall second."""
    samples = [(float(t), t * cpu_per_s, 100.0 + t) for t in range(0, 101)]
    return Measured(marks[-1][0], [(count, at, at * cpu_per_s) for count, at in marks], samples, 200.0)


def test_window_excludes_a_slow_start_and_a_slow_drain() -> None:
    # 10 s of start-up for the first 100 events, then 100 events/s, then a 20 s drain for the last 100.
    marks = [(100, 10.0)] + [(100 + 100 * i, 10.0 + i) for i in range(1, 9)] + [(1000, 38.0)]
    steady = window([_run(marks)])
    assert steady.events_per_s == pytest.approx(100.0)
    assert steady.cpu_seconds == pytest.approx(steady.seconds)
    assert window([_run(marks)], 0.0, 1.0).events_per_s < 40.0


def test_two_processes_merge_into_one_timeline() -> None:
    first = _run([(500, 1.0), (1000, 2.0), (1500, 3.0), (2000, 4.0)], cpu_per_s=1.0)
    second = _run([(500, 1.5), (1000, 2.5), (1500, 3.5), (2000, 4.5)], cpu_per_s=0.5)
    assert merged_progress([first.progress, second.progress])[-1] == (4000, 4.5)
    steady = window([first, second])
    assert steady.events_per_s == pytest.approx(1000.0)
    # Both processes' CPU counts: 1.0 + 0.5 CPU-seconds per wall second.
    assert steady.cpu_seconds == pytest.approx(1.5 * steady.seconds)


def test_window_of_too_few_marks_is_empty_and_bad_shares_raise() -> None:
    assert window([_run([(10, 1.0)])]).events_per_s == 0.0
    with pytest.raises(ValueError, match="start < end"):
        window([_run([(10, 1.0), (20, 2.0)])], 0.9, 0.1)


def test_cpu_between_interpolates_between_samples() -> None:
    samples = [(0.0, 0.0, 1.0), (10.0, 5.0, 1.0)]
    assert cpu_between(samples, 2.0, 4.0) == pytest.approx(1.0)
    assert cpu_between(samples, -5.0, 20.0) == pytest.approx(5.0)


def test_rss_at_share_reads_the_sample_after_that_share() -> None:
    run = _run([(100, 10.0), (200, 20.0), (300, 30.0)])
    assert rss_at_share(run, 0.5) == pytest.approx(120.0)


def test_sampled_rss_peak_says_how_high_and_when() -> None:
    run = _run([(100, 10.0), (200, 20.0), (400, 40.0)])
    run.samples[25] = (25.0, 25.0, 900.0)  # a spike between the 200th and the 400th event
    assert sampled_rss_peak(run) == (900.0, pytest.approx(0.5))
    assert sampled_rss_peak(_run([(100, 10.0)]))[0] == pytest.approx(200.0)  # the last sample


def test_sampler_records_this_process() -> None:
    with ResourceSampler(every_s=0.01) as sampler:
        sum(range(100_000))
    assert len(sampler.samples) >= 2
    assert sampler.samples[-1][1] >= sampler.samples[0][1]


def _results() -> dict[str, Any]:
    figures = {
        "events": 1000,
        "events_per_s": 500.0,
        "events_per_cpu_s": 600.0,
        "vs_bare_consumer": 0.5,
        "vs_bare_consumer_per_cpu_s": 0.25,
        "peak_rss_mib": 300.0,
        "steady_seconds": 1.6,
        "steady_cpu_seconds": 1.2,
        "cpu_seconds_per_1k_events": 1.5,
    }
    iceberg = {"rows": 90, "snapshots": 4, "data_files_written": 4}
    flow = dict(figures, wall_seconds_with_startup=9.0, first_event_to_drained_events_per_s=450.0, iceberg=iceberg)
    flow["iceberg"]["tables"] = {"dpo_pairs": {}, "rejections": {}}
    return {
        "when": "2026-12-02T08:00:00+00:00",
        "machine": {"cpu": "Test CPU", "cores": 2, "python": "3.11", "load_average_before": [8.0, 0, 0]}
        | {"load_average_after": [7.0, 0, 0]},
        "config": {"events": 1000, "edit_events": 100, "partitions": 4, "steady_window": [0.1, 0.9]},
        "contestants": {"bare_consumer": figures, "flow_mix": flow},
        "flow_vs_seed_logger": 0.25,
        "stages": {
            "edits": 10,
            "us_per_edit": {"policy_pii": 400.0},
            "toxicity_backend": "profanity",
            "toxicity_batch_size": 64,
            "toxicity_items_per_s_by_batch": {"1": 100.0},
        },
        "scale_out": {
            "cores": 2,
            "partitions": 4,
            "one_process_one_worker": figures,
            "one_process_two_workers": figures | {"events_per_s_vs_one": 0.9, "cpu_per_event_vs_one": 1.1},
            "two_processes_one_worker": figures | {"events_per_s_vs_one": 1.7, "cpu_per_event_vs_one": 1.05},
        },
        "long_run": {"skipped": "not asked"},
        "gateway": {"skipped": "not asked"},
        "dpo": {"device": "cpu", "dtype": "float32", "pairs": 8, "pairs_per_s": 0.019, "tokens_per_s": 3.0},
    }


def test_rendered_block_states_machine_load_and_ratios() -> None:
    block = render_markdown(_results())
    assert "Test CPU, 2 cores" in block
    assert "load average 8.0 before and 7.0 after" in block
    assert "| 0.500 | 600 | 0.250 |" in block  # the flow as ratios to the bare consumer
    assert "| 2 processes x 1 worker (`-i/-a`) | 500 | 1.70 |" in block
    assert "independent" not in block  # a file from before that layout was measured
    assert "Long run: not measured in this run (not asked)" in block
    assert "DPO + LoRA (cpu, float32, 8 pairs): 0.019 pairs/s, 3 tokens/s." in block  # an older file's figures


def test_rendered_block_sets_the_cluster_beside_two_independent_processes() -> None:
    results = _results()
    scale = results["scale_out"]
    scale["two_independent_processes"] = scale["one_process_one_worker"] | {
        "events_per_s": 1000.0,
        "events_per_s_vs_one": 1.95,
        "cpu_seconds_per_1k_events": 1.9,
        "cpu_per_event_vs_one": 0.93,
    }
    block = render_markdown(results)
    assert "| 2 independent processes, nothing crossing (each all events) | 1,000 | 1.95 | 1.90 | 0.93 |" in block


def test_rendered_block_states_the_mix_s_cpu_against_the_target_s_allowance() -> None:
    results = _results()
    results["config"]["mix_edit_share"] = 0.1
    bare = results["contestants"]["bare_consumer"] | {"events_per_cpu_s": 100_000.0}
    views = results["contestants"]["flow_mix"] | {"events_per_cpu_s": 20_000.0}
    mix = results["contestants"]["flow_mix"] | {"events_per_cpu_s": 5_000.0}
    results["contestants"] |= {"bare_consumer": bare, "flow_views": views, "flow_mix": mix}
    results["stages"]["us_per_edit"] = {"distance": 100.0, "policy_pii": 300.0, "toxicity": 150.0}
    block = render_markdown(results)
    # 0.25 x 100k events per CPU-s: 40 us per event; 5k: 200 us; 10% of 550 us per edit: 55 us.
    assert "allows 40 CPU microseconds; the flow spends 200." in block
    assert "add up to 550 per edit, so the mix's 10% edits alone take 55 per event of the mix" in block
    assert "(1.4x the allowance)" in block
    assert "a view costs 50 in the views-only run" in block
    assert "allows" not in render_markdown(_results())  # absent from older results files


def test_write_readme_replaces_only_the_marked_block(tmp_path: Path) -> None:
    results = tmp_path / "latest.json"
    results.write_text(json.dumps(_results()))
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\nbefore\n{BEGIN}\nold figures\n{END}\nafter\n")
    write_readme(readme, results)
    text = readme.read_text()
    assert "old figures" not in text
    assert text.startswith("# Title\n\nbefore\n")
    assert text.endswith(f"{END}\nafter\n")
    once = text
    write_readme(readme, results)
    assert readme.read_text() == once  # idempotent: regenerating changes nothing


def test_write_readme_without_markers_says_what_to_add(tmp_path: Path) -> None:
    results = tmp_path / "latest.json"
    results.write_text(json.dumps(copy.deepcopy(_results())))
    readme = tmp_path / "README.md"
    readme.write_text("# no block here\n")
    with pytest.raises(ReadmeBlockMissing, match="bench:begin"):
        write_readme(readme, results)


def test_rendered_long_run_reports_start_end_and_memory() -> None:
    results = _results()
    results["long_run"] = {
        "events": 1_000_000,
        "event_time_span_h": 24,
        "produce_seconds": 60.0,
        "flow_seconds": 300.0,
        "start_events_per_s": 5000.0,
        "end_events_per_s": 4500.0,
        "end_vs_start": 0.9,
        "start_events_per_cpu_s": 6000.0,
        "end_events_per_cpu_s": 5400.0,
        "end_vs_start_per_cpu_s": 0.9,
        "rss_mib_at_10pct": 400.0,
        "rss_mib_at_end": 900.0,
        "peak_rss_mib": 950.0,
        "iceberg": {"snapshots": 40},
    }
    block = render_markdown(results)
    assert "Long run: 1,000,000 events inside one 24 h dedup window" in block
    assert "5,000 events/s at the start (5-15%), 4,500 at the end (85-95%), 0.90x" in block
    assert "RSS 400 MiB at 10%, 900 MiB at the end, peak 950 MiB" in block


def test_rendered_block_states_the_pii_stage_as_ratios() -> None:
    us = {"edit": 700.0, "feedback": 300.0, "per_event_of_the_mix": 140.0}
    results = _results() | {
        "pii_stage": {
            "when": "2026-12-02T11:00:00+00:00",
            "load_average_before_after": [6.0, 7.0],
            "events": {"edit": 2, "feedback": 4, "positive": 4, "view": 10},
            "rounds": 3,
            "us_per_event": {
                "reference": us,
                "current": {kind: value / 5 for kind, value in us.items()},
                "current_cold": {kind: value / 4 for kind, value in us.items()},
            },
            "reference_vs_current": {kind: 5.0 for kind in us},
            "reference_vs_current_cold": {kind: 4.0 for kind in us},
            "identical": True,
        }
    }
    block = render_markdown(results)
    assert "edit 700 -> 140 (5.0x; 4.0x with no text shared between events)" in block
    assert "per event of the mix 140 -> 28 (5.0x" in block
    assert "identical outputs" in block and "load average 6.0 -> 7.0" in block
    assert "PII + policy" not in render_markdown(_results())  # absent from older results files


def _dpo(**changes: Any) -> dict[str, Any]:
    """DPO bench figures as ``measure_dpo_throughput`` returns them (CPU unless changed)."""
    figures = {
        "when": "2026-12-02T14:30:00+00:00",
        "load_average_before_after": [3.0, 4.0],
        "base_model": "local:smollm2-135m-instruct",
        "parameters": 134_515_008,
        "device": "cpu",
        "device_name": "cpu x 2 threads",
        "dtype": "float32",
        "steps": 4,
        "measured_steps": 3,
        "pairs": 12,
        "tokens": 4800,
        "tokens_per_pair": 400.0,
        "seconds": 60.0,
        "pairs_per_s": 0.2,
        "tokens_per_s": 80.0,
        "first_step_seconds": 25.0,
        "setup_seconds": 4.0,
        "whole_seconds": 89.0,
        "model_tflops_per_s": 6 * 134_515_008 * 80.0 / 1e12,
        "recipe": {"batch_size": 4, "gradient_accumulation_steps": 1, "max_length": 512},
    }
    return figures | changes


def test_rendered_dpo_states_the_steady_rate_and_what_was_measured() -> None:
    block = render_markdown(_results() | {"dpo": _dpo()})
    assert "DPO + LoRA, the trainer's recipe (local:smollm2-135m-instruct, cpu x 2 threads, float32" in block
    assert "batch 4 x 1, max_length 512; 12 pairs, 4,800 tokens over 3 optimizer steps after a warm-up step" in block
    assert "load average 3.0 -> 4.0): 0.200 pairs/s, 80 tokens/s, about 0.065 model TFLOP/s" in block
    assert "(6 x 135M parameters per token); set-up 4 s and the first step 25 s not counted." in block
    assert "bf16 peak" not in block  # on a CPU there is no GPU peak to compare with
    checkpointed = _dpo(recipe=_dpo()["recipe"] | {"gradient_checkpointing": True})
    assert "gradient checkpointing on" in render_markdown(_results() | {"dpo": checkpointed})


def test_rendered_dpo_states_what_precomputing_the_reference_saved() -> None:
    precompute = {
        "pairs": 16,
        "epochs": 2.0,
        "device": "cpu",
        "per_step": {"seconds": 90.2, "cpu_seconds": 164.8, "losses": [1.49, 0.79]},
        "precomputed": {"seconds": 71.9, "cpu_seconds": 130.0, "losses": [1.49, 0.79]},
        "wall_ratio": 71.9 / 90.2,
        "cpu_ratio": 130.0 / 164.8,
        "steps_compared": 2,
        "largest_loss_difference": 0.00004,
    }
    block = render_markdown(_results() | {"dpo": _dpo(reference_precompute=precompute | {"rounds": 2})})
    assert (
        "2 alternating rounds of whole runs of 2 epochs over 16 pairs, the precompute timed in (totals): 90 -> 72 s"
        in block
    )
    assert "(0.80x)" in block
    first = render_markdown(_results() | {"dpo": _dpo(reference_precompute=precompute)})
    assert "two whole runs of 2 epochs" in first  # the first of these files: one run each
    assert "165 -> 130 CPU-s (0.79x); 2 steps' losses compared, largest loss difference 0.0000." in block
    assert "precompute_ref_log_probs" not in render_markdown(_results() | {"dpo": _dpo()})  # older files


def test_rendered_dpo_on_cuda_states_the_share_of_the_bf16_peak() -> None:
    gpu = _dpo(device="cuda", device_name="NVIDIA H100 80GB HBM3", dtype="bfloat16", model_tflops_per_s=9.894)
    block = render_markdown(_results() | {"dpo": gpu | {"bf16_peak_tflops": 989.4, "vs_bf16_peak": 0.01}})
    assert (
        "9.894 model TFLOP/s (6 x 135M parameters per token), 1.00% of the GPU's dense bf16 peak (989 TFLOP/s)" in block
    )
    unknown = render_markdown(_results() | {"dpo": gpu | {"bf16_peak_tflops": None, "vs_bf16_peak": None}})
    assert "(this GPU's bf16 peak is not in the bench's table)" in unknown


def test_rendered_dpo_reads_older_placeholders_and_skips() -> None:
    older = {key: value for key, value in _results().items() if key != "dpo"}
    pending = render_markdown(older | {"training": {"pending": "added by the trainer's benchmark"}})
    assert "DPO: not measured (added by the trainer's benchmark)." in pending
    skipped = render_markdown(_results() | {"dpo": {"skipped": "no module named trl"}})
    assert "DPO: not measured (no module named trl)." in skipped


def test_bf16_peaks_match_the_most_specific_gpu_name() -> None:
    assert bf16_peak_tflops("NVIDIA H100 PCIe") == 756.0
    assert bf16_peak_tflops("NVIDIA H100 80GB HBM3") == 989.4
    assert bf16_peak_tflops("NVIDIA L40S") == 362.05  # not the L4's
    assert bf16_peak_tflops("Some Future GPU") is None


def test_peak_rss_is_this_program_s_own_not_a_spawning_parent_s() -> None:
    import subprocess
    import sys

    # A parent holding ~300 MiB spawns (fork, then exec) a small Python: the child's peak must be
    # its own, not the parent's size at the fork (which getrusage's ru_maxrss would report).
    ballast = bytearray(300 * 2**20)
    ballast[::4096] = b"x" * len(ballast[::4096])  # touch every page: resident, not just mapped
    code = "from flywheel.benchmarks.measure import peak_rss_mib; print(peak_rss_mib())"
    child_peak = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert peak_rss_mib() >= 300
    assert 0 < child_peak < 200
    del ballast
