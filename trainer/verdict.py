"""A run's result in words a person reads: the headline figure, the guards, the decision and why."""

from __future__ import annotations

from flywheel.trainer.events import Interval, TrainingResult


def _pct(value: float) -> str:
    return f"{value * 100:.0f}%"


def _plus_minus(interval: Interval) -> str:
    return f"{_pct(interval.value)} +- {_pct((interval.high - interval.low) / 2)}"


def headline(result: TrainingResult) -> str:
    """One line: closer share, repetition before -> after, length ratio, decision."""
    decision = result.status.upper()
    comparison, before, after = result.comparison, result.before, result.after
    if comparison is None or before is None or after is None:
        return f"{decision}: {'; '.join(result.reasons)}"
    return (
        f"answers closer to users' corrections: {comparison.closer}/{comparison.prompts} held-out prompts "
        f"({_plus_minus(comparison.closer_share)}); "
        f"repetition {_pct(before.repeated_line_rate.value)} -> {_pct(after.repeated_line_rate.value)}; "
        f"length x{comparison.length_ratio:.1f}; {decision}"
    )


def detail_lines(result: TrainingResult) -> list[str]:
    """The headline, then every figure with its interval, the reasons and the adapter location."""
    lines = [
        f"run {result.run_id} on snapshot {result.snapshot_id} ({result.snapshot_tag}): {result.train_pairs} train "
        f"pairs; {result.eval_prompts} held-out prompts ({result.eval_pairs} pairs)",
        headline(result),
    ]
    comparison, before, after = result.comparison, result.before, result.after
    if comparison is not None and before is not None and after is not None:
        net, gain = comparison.net_closer, comparison.similarity_gain
        lines += [
            f"  closer / farther / same: {comparison.closer} / {comparison.farther} / {comparison.ties}; "
            f"net {net.value:+.2f} (95% {net.low:+.2f}..{net.high:+.2f})",
            f"  similarity to users' corrections {before.similarity_to_users.value:.3f} -> "
            f"{after.similarity_to_users.value:.3f} (gain {gain.value:+.3f}, 95% {gain.low:+.3f}..{gain.high:+.3f})",
            f"  repeated 4-grams {_pct(before.repeated_ngram_rate.value)} -> {_pct(after.repeated_ngram_rate.value)}; "
            f"empty or cut off {_pct(before.empty_or_truncated_rate.value)} -> "
            f"{_pct(after.empty_or_truncated_rate.value)}; "
            f"users' own length ratio x{comparison.users_length_ratio:.2f}",
            f"  DPO reward accuracy {_plus_minus(comparison.dpo_reward_accuracy)}, margin "
            f"{comparison.dpo_reward_margin.value:+.3f}",
            f"  log-prob preference accuracy: length-normalised {_pct(before.logprob_accuracy_normalised.value)} -> "
            f"{_pct(after.logprob_accuracy_normalised.value)}; summed (length-biased) "
            f"{_pct(before.logprob_accuracy_length_biased.value)} -> "
            f"{_pct(after.logprob_accuracy_length_biased.value)}",
            (
                f"  forgetting {comparison.forgetting_pct:+.2f}% on {after.eval_positives} held-out positives"
                if comparison.forgetting_pct is not None
                else "  forgetting: not measured (no held-out positives)"
            ),
        ]
        for sample in comparison.samples:
            lines += [
                f"  sample prompt: {_clip(sample.prompt)}",
                f"    users wrote: {_clip(sample.users)}",
                f"    base:        {_clip(sample.base)}",
                f"    candidate:   {_clip(sample.candidate)}",
            ]
    lines.extend(f"  reason: {reason}" for reason in result.reasons)
    if result.adapter_uri:
        lines.append(f"  adapter: {result.adapter_uri}")
    return lines


def _clip(text: str, width: int = 100) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 3] + "..."
