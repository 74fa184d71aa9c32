"""A run's result in words a person reads: the headline figure, the guards, the decision and why."""

from __future__ import annotations

from flywheel.trainer.events import Comparison, Interval, ModelFigures, TrainingResult


def _pct(value: float) -> str:
    return f"{value * 100:.0f}%"


def _with_interval(interval: Interval) -> str:
    """``89%, 95% CI 81-94%``: the ends as they are (a Wilson interval near 0 or 1 is not symmetric)."""
    return f"{_pct(interval.value)}, 95% CI {interval.low * 100:.0f}-{_pct(interval.high)}"


def _rate(interval: Interval | None) -> str:
    return "-" if interval is None else _pct(interval.value)


def _code_parses(before: ModelFigures, after: ModelFigures) -> str:
    """``code parses 86% -> 95%; `` when either model wrote Python code, else nothing."""
    if before.code_parse_rate is None and after.code_parse_rate is None:
        return ""
    return f"code parses {_rate(before.code_parse_rate)} -> {_rate(after.code_parse_rate)}; "


def headline(result: TrainingResult) -> str:
    """One line: closer share, repetition before -> after, code that parses, length ratio, decision."""
    decision = result.status.upper()
    comparison, before, after = result.comparison, result.before, result.after
    if comparison is None or before is None or after is None:
        return f"{decision}: {'; '.join(result.reasons)}"
    return (
        f"answers closer to users' corrections: {comparison.closer}/{comparison.prompts} held-out prompts "
        f"({_with_interval(comparison.closer_share)}); "
        f"repetition {_pct(before.repeated_line_rate.value)} -> {_pct(after.repeated_line_rate.value)}; "
        f"{_code_parses(before, after)}length x{comparison.length_ratio:.1f}; {decision}"
    )


def code_line(before: ModelFigures, after: ModelFigures, comparison: Comparison) -> str:
    """Python code that parses, each model's share with its interval, and the paired change."""
    if before.code_parse_rate is None and after.code_parse_rate is None:
        return "  Python code that parses: not measured (no held-out answer had a closed ```python block)"

    def rate(interval: Interval | None, answers: int) -> str:
        if interval is None:
            return "- (no answer with code)"
        return (
            f"{_pct(interval.value)} of {answers} answers with code (95% {_pct(interval.low)}..{_pct(interval.high)})"
        )

    line = f"  Python code that parses: {rate(before.code_parse_rate, before.code_answers)} -> "
    line += rate(after.code_parse_rate, after.code_answers)
    change = comparison.code_parse_change
    if change is not None:
        line += (
            f"; on {comparison.code_prompts} prompts both answered with code {change.value:+.2f} "
            f"(95% {change.low:+.2f}..{change.high:+.2f})"
        )
    return line


def content_line(before: ModelFigures, after: ModelFigures, comparison: Comparison) -> str:
    """Content words shared with the users' corrections (F1), before and after, and the paired gain."""
    gain = comparison.content_gain
    if gain is None or before.content_overlap is None or after.content_overlap is None:
        return "  content words shared with users' corrections: not measured (older card)"
    return (
        f"  content words shared with users' corrections (F1) {before.content_overlap.value:.3f} -> "
        f"{after.content_overlap.value:.3f} (gain {gain.value:+.3f}, 95% {gain.low:+.3f}..{gain.high:+.3f})"
    )


def own_prompt_line(before: ModelFigures, after: ModelFigures, comparison: Comparison) -> str:
    """How often answers are nearer their own prompt's corrections than other prompts' (0.5 is chance)."""
    change = comparison.own_prompt_match_change
    if change is None or before.own_prompt_match is None or after.own_prompt_match is None:
        return "  own-prompt match: not measured (no held-out prompts whose users wanted different answers)"
    return (
        f"  own-prompt match {_pct(before.own_prompt_match.value)} -> {_pct(after.own_prompt_match.value)} "
        f"(50% is chance; paired change {change.value:+.2f}, 95% {change.low:+.2f}..{change.high:+.2f})"
    )


def served_line(comparison: Comparison) -> str:
    """The candidate against the run users are served now (the other figures compare with the base)."""
    net, gain = comparison.served_net_closer, comparison.served_similarity_gain
    if comparison.served_version is None:
        return "  against the served run: none (users are served the base, which the figures above compare with)"
    if comparison.served_missing is not None:
        return f"  against the served run {comparison.served_version}: not compared ({comparison.served_missing})"
    if net is None or gain is None:
        return (
            f"  against the served run {comparison.served_version}: not compared (it trained on a prompt of every "
            "held-out group)"
        )
    return (
        f"  against the served run {comparison.served_version}{_served_prompts(comparison)}: closer / farther "
        f"{comparison.served_closer} / {comparison.served_farther}; net {net.value:+.2f} (95% {net.low:+.2f}.."
        f"{net.high:+.2f}); similarity gain "
        f"{gain.value:+.3f} (95% {gain.low:+.3f}..{gain.high:+.3f})" + _served_content(comparison.served_content_gain)
    )


def _served_prompts(comparison: Comparison) -> str:
    """On how many held-out prompts, and why some are left out (nothing for older cards)."""
    if comparison.served_prompts is None:
        return ""
    if comparison.served_excluded_prompts is None:
        return (
            f" on all {comparison.served_prompts} held-out prompts (its split is not recorded: some may be prompts "
            "it trained on, which favours it)"
        )
    total = comparison.served_prompts + comparison.served_excluded_prompts
    if not comparison.served_excluded_prompts:
        return f" on all {total} held-out prompts (it trained on none of their groups)"
    return (
        f" on {comparison.served_prompts} of {total} held-out prompts ({comparison.served_excluded_prompts} left out: "
        "the served run trained on their group)"
    )


def _served_content(gain: Interval | None) -> str:
    return "" if gain is None else f"; content-word gain {gain.value:+.3f} (95% {gain.low:+.3f}..{gain.high:+.3f})"


def groups_line(comparison: Comparison) -> str:
    """The groups of linked prompts the intervals resampled and the sign test counted (nothing for older cards)."""
    if comparison.groups is None or comparison.closer_groups is None or comparison.farther_groups is None:
        return ""
    same = comparison.groups - comparison.closer_groups - comparison.farther_groups
    p = "-" if comparison.sign_test_p is None else f"{comparison.sign_test_p:.2g}"
    return (
        f"; in {comparison.groups} groups of linked prompts (what the intervals resample): closer / farther / same "
        f"{comparison.closer_groups} / {comparison.farther_groups} / {same}, sign test p = {p}"
    )


def forgetting_line(comparison: Comparison, positives: int) -> str:
    """Forgetting on every held-out positive, and on those whose answer the run did not train on or against."""
    if comparison.forgetting_pct is None:
        return "  forgetting: not measured (no held-out positives)"
    line = f"  forgetting {comparison.forgetting_pct:+.2f}% on {positives} held-out positives"
    unseen = comparison.positives_unseen
    if unseen is None:
        return line
    if comparison.forgetting_pct_unseen is None:
        return line + "; every one's answer is a chosen or rejected answer the run trained on"
    interval = comparison.forgetting_unseen
    spread = "" if interval is None else f" (95% {interval.low:+.2f}..{interval.high:+.2f}%"
    answers = comparison.positive_groups_unseen
    if spread and answers is not None and answers < (unseen or 0):
        spread += f", resampling their {answers} distinct answers"
    return (
        line + f"; {comparison.forgetting_pct_unseen:+.2f}%{spread}{')' if spread else ''} on the {unseen} whose "
        f"answer the run did not train on or against ({positives - unseen} it did)"
    )


def detail_lines(result: TrainingResult) -> list[str]:
    """The headline, then every figure with its interval, the reasons and the adapter location."""
    lines = [
        f"run {result.run_id} on snapshot {result.snapshot_id} ({result.snapshot_tag}): {result.train_pairs} train "
        f"pairs; {result.eval_prompts} held-out prompts ({result.eval_pairs} pairs); {result.duration_s:.0f}s",
        headline(result),
    ]
    comparison, before, after = result.comparison, result.before, result.after
    if comparison is not None and before is not None and after is not None:
        net, gain = comparison.net_closer, comparison.similarity_gain
        lines += [
            f"  closer / farther / same: {comparison.closer} / {comparison.farther} / {comparison.ties}; "
            f"net {net.value:+.2f} (95% {net.low:+.2f}..{net.high:+.2f}){groups_line(comparison)}",
            f"  similarity to users' corrections {before.similarity_to_users.value:.3f} -> "
            f"{after.similarity_to_users.value:.3f} (gain {gain.value:+.3f}, 95% {gain.low:+.3f}..{gain.high:+.3f})",
            content_line(before, after, comparison),
            f"  repeated 4-grams {_pct(before.repeated_ngram_rate.value)} -> {_pct(after.repeated_ngram_rate.value)}; "
            f"empty or cut off {_pct(before.empty_or_truncated_rate.value)} -> "
            f"{_pct(after.empty_or_truncated_rate.value)}; "
            f"users' own length ratio x{comparison.users_length_ratio:.2f}",
            code_line(before, after, comparison),
            own_prompt_line(before, after, comparison),
            served_line(comparison),
            f"  DPO reward accuracy {_with_interval(comparison.dpo_reward_accuracy)}, margin "
            f"{comparison.dpo_reward_margin.value:+.3f}",
            f"  log-prob preference accuracy: length-normalised {_pct(before.logprob_accuracy_normalised.value)} -> "
            f"{_pct(after.logprob_accuracy_normalised.value)}; summed (length-biased) "
            f"{_pct(before.logprob_accuracy_length_biased.value)} -> "
            f"{_pct(after.logprob_accuracy_length_biased.value)}",
            forgetting_line(comparison, after.eval_positives),
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
