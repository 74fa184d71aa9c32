"""Promotion gates: evidence first, then the primary figure, then every degeneration guard.

Each reason starts with its kind, so a reader (and a test) can tell them apart:
``not enough evidence: ...``, ``no gain: ...``, ``guard <name>: ...``, ``gate <name>: ...``.
An empty list means promote. Every failing gate is listed, not just the first.
"""

from __future__ import annotations

from flywheel.trainer.config import GateSettings
from flywheel.trainer.events import Comparison, Interval, ModelFigures

EVIDENCE = "not enough evidence"
NO_GAIN = "no gain"
GUARD = "guard"


def _pct(value: float) -> str:
    return f"{value * 100:.0f}%"


def _rate(interval: Interval | None) -> str:
    return "-" if interval is None else _pct(interval.value)


def apply_gates(before: ModelFigures, after: ModelFigures, comparison: Comparison, gates: GateSettings) -> list[str]:
    """Reasons to reject the candidate; empty means promote."""
    reasons: list[str] = []
    if comparison.prompts < gates.min_eval_prompts:
        reasons.append(f"{EVIDENCE}: {comparison.prompts} held-out prompts < min_eval_prompts {gates.min_eval_prompts}")
    if comparison.forgetting_pct is None and gates.require_forgetting_check:
        reasons.append(
            f"{EVIDENCE}: no held-out positive examples, so forgetting was not measured "
            "(gates.require_forgetting_check=false accepts that)"
        )
    net = comparison.net_closer
    if net.low <= gates.min_net_closer:
        reasons.append(
            f"{NO_GAIN}: closer to users' corrections on {comparison.closer}/{comparison.prompts} prompts, farther on "
            f"{comparison.farther}; net {net.value:+.2f} (95% interval {net.low:+.2f}..{net.high:+.2f}) "
            f"does not clear {gates.min_net_closer:+.2f}"
        )
    rises = (
        ("repetition", "answers with a line repeated 3+ times", before.repeated_line_rate.value,
         after.repeated_line_rate.value, gates.max_repeated_line_rise),
        ("repetition", "repeated 4-grams", before.repeated_ngram_rate.value, after.repeated_ngram_rate.value,
         gates.max_repeated_ngram_rise),
        ("truncation", "empty or cut-off answers", before.empty_or_truncated_rate.value,
         after.empty_or_truncated_rate.value, gates.max_empty_or_truncated_rise),
    )  # fmt: skip
    for name, what, was, now, allowed in rises:
        if now - was > allowed:
            reasons.append(f"{GUARD} {name}: {what} {_pct(was)} -> {_pct(now)} (rise above {_pct(allowed)})")
    code = comparison.code_parse_change
    if code is not None and code.high < -gates.max_code_parse_drop:
        reasons.append(
            f"{GUARD} code: Python code that parses {_rate(before.code_parse_rate)} -> {_rate(after.code_parse_rate)}; "
            f"on the {comparison.code_prompts} prompts both answered with code {code.value:+.2f} "
            f"(95% interval {code.low:+.2f}..{code.high:+.2f}), a fall beyond {_pct(gates.max_code_parse_drop)}"
        )
    # Users who shorten (lengthen) answers ask for shorter (longer) ones: the bounds widen to follow them.
    floor = gates.min_length_ratio * min(1.0, comparison.users_length_ratio)
    ceiling = gates.max_length_ratio * max(1.0, comparison.users_length_ratio)
    if comparison.length_ratio > ceiling:
        reasons.append(f"{GUARD} length: answers x{comparison.length_ratio:.2f} the base's > x{ceiling:.2f}")
    if comparison.length_ratio < floor:
        reasons.append(f"{GUARD} length: answers x{comparison.length_ratio:.2f} the base's < x{floor:.2f}")
    if comparison.forgetting_pct is not None and comparison.forgetting_pct > gates.max_forgetting_pct:
        reasons.append(
            f"{GUARD} forgetting: held-out positives' log-likelihood fell {comparison.forgetting_pct:.2f}% "
            f"> {gates.max_forgetting_pct:.2f}%"
        )
    if gates.min_preference_accuracy_gain is not None:
        gain = after.logprob_accuracy_normalised.value - before.logprob_accuracy_normalised.value
        if gain < gates.min_preference_accuracy_gain:
            reasons.append(
                f"gate preference_accuracy: length-normalised gain {gain:+.4f} "
                f"< required {gates.min_preference_accuracy_gain:+.4f}"
            )
    if gates.min_reward_margin_gain is not None and comparison.dpo_reward_margin.value < gates.min_reward_margin_gain:
        reasons.append(
            f"gate reward_margin: DPO margin {comparison.dpo_reward_margin.value:+.4f} "
            f"< required {gates.min_reward_margin_gain:+.4f}"
        )
    return reasons
