"""Promotion gates: evidence first, then the primary figure, then every degeneration guard.

Each reason starts with its kind, so a reader (and a test) can tell them apart:
``not enough evidence: ...``, ``no gain: ...``, ``guard <name>: ...``, ``gate <name>: ...``.
An empty list means promote. Every failing gate is listed, not just the first.
"""

from __future__ import annotations

from flywheel.trainer import statistics
from flywheel.trainer.config import GateSettings
from flywheel.trainer.events import Comparison, Interval, ModelFigures

EVIDENCE = "not enough evidence"
NO_GAIN = "no gain"
WORSE_THAN_SERVED = "worse than served"
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
    elif comparison.answered_prompts is not None and comparison.answered_prompts < gates.min_eval_prompts:
        # Prompts neither model answered are ties that say nothing: they must not pad the count.
        reasons.append(
            f"{EVIDENCE}: {comparison.answered_prompts} of {comparison.prompts} held-out prompts answered by the base "
            f"or the candidate < min_eval_prompts {gates.min_eval_prompts}"
        )
    if comparison.groups is not None and comparison.groups < gates.min_eval_groups:
        # Linked prompts (rewordings, one answer users gave several prompts) are one observation.
        reasons.append(
            f"{EVIDENCE}: {comparison.prompts} held-out prompts in {comparison.groups} groups of linked prompts "
            f"< min_eval_groups {gates.min_eval_groups}"
        )
    reasons.extend(_forgetting_evidence(after, comparison, gates))
    net = comparison.net_closer
    if net.low <= gates.min_net_closer:
        reasons.append(
            f"{NO_GAIN}: closer to users' corrections on {comparison.closer}/{comparison.prompts} prompts, farther on "
            f"{comparison.farther}; net {net.value:+.2f} (95% interval {net.low:+.2f}..{net.high:+.2f}"
            f"{_resampled(comparison)}) does not clear {gates.min_net_closer:+.2f}"
        )
    elif comparison.sign_test_p is not None and comparison.sign_test_p >= gates.max_sign_test_p:
        reasons.append(
            f"{NO_GAIN}: closer on {_signs(comparison)}: sign test p = "
            f"{comparison.sign_test_p:.3f} >= {gates.max_sign_test_p:g}"
        )
    reasons.extend(worse_than_served(comparison, gates))
    similarity = comparison.similarity_gain
    if similarity.low <= gates.min_similarity_gain:
        # Closer on most prompts by a hair and far worse on the rest is no gain: the signs alone
        # cannot tell, the mean similarity can.
        reasons.append(
            f"{NO_GAIN}: similarity to users' corrections {before.similarity_to_users.value:.3f} -> "
            f"{after.similarity_to_users.value:.3f}, gain {similarity.value:+.3f} (95% interval "
            f"{similarity.low:+.3f}..{similarity.high:+.3f}{_resampled(comparison)}) does not clear "
            f"{gates.min_similarity_gain:+.3f}"
        )
    reasons.extend(_content(before, after, comparison, gates))
    rises: list[tuple[str, str, float, float, float]] = [
        ("repetition", "answers with a line repeated 3+ times", before.repeated_line_rate.value,
         after.repeated_line_rate.value, gates.max_repeated_line_rise),
        ("repetition", "repeated 4-grams", before.repeated_ngram_rate.value, after.repeated_ngram_rate.value,
         gates.max_repeated_ngram_rise),
        ("truncation", "empty or cut-off answers", before.empty_or_truncated_rate.value,
         after.empty_or_truncated_rate.value, gates.max_empty_or_truncated_rise),
    ]  # fmt: skip
    if before.empty_rate is not None and after.empty_rate is not None:
        rises.append(("empty", "answers with no text", before.empty_rate.value, after.empty_rate.value,
                      gates.max_empty_rise))  # fmt: skip
    for name, what, was, now, allowed in rises:
        if now - was > allowed:
            reasons.append(f"{GUARD} {name}: {what} {_pct(was)} -> {_pct(now)} (rise above {_pct(allowed)})")
    reasons += _refusal(before, after, comparison, gates)
    reasons += _collapse(before, after, comparison, gates)
    reasons += _code(before, after, comparison, gates)
    reasons += _off_topic(before, after, comparison, gates)
    # Users who shorten (lengthen) answers ask for shorter (longer) ones: the bounds widen to follow them.
    floor = gates.min_length_ratio * min(1.0, comparison.users_length_ratio)
    ceiling = gates.max_length_ratio * max(1.0, comparison.users_length_ratio)
    if comparison.length_ratio > ceiling:
        reasons.append(f"{GUARD} length: answers x{comparison.length_ratio:.2f} the base's > x{ceiling:.2f}")
    if comparison.length_ratio < floor:
        reasons.append(f"{GUARD} length: answers x{comparison.length_ratio:.2f} the base's < x{floor:.2f}")
    reasons += _forgetting(comparison, gates)
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


def _unseen_enough(comparison: Comparison, gates: GateSettings) -> bool:
    """Whether forgetting was measured on ``min_unseen_positives`` positives the run did not train on or against."""
    unseen = comparison.positives_unseen
    return unseen is not None and unseen >= gates.min_unseen_positives and comparison.forgetting_pct_unseen is not None


def _forgetting_evidence(after: ModelFigures, comparison: Comparison, gates: GateSettings) -> list[str]:
    """Missing evidence of forgetting: no positives, or too few whose answer the run did not train on or against.

    A positive whose answer is a chosen or rejected answer of the training pairs is pushed by DPO
    on purpose: its likelihood says what the run was taught, not whether it forgot what users
    liked. Measured on those alone the check is skipped, and a skipped check must not pass.
    """
    if not gates.require_forgetting_check or _unseen_enough(comparison, gates):
        return []
    switch = "(gates.require_forgetting_check=false accepts that)"
    if comparison.forgetting_pct is None:
        return [f"{EVIDENCE}: no held-out positive examples, so forgetting was not measured {switch}"]
    total, unseen = after.eval_positives, comparison.positives_unseen
    if unseen is None:
        return [
            f"{EVIDENCE}: whether the run trained on or against the answers of its {total} held-out positives "
            f"was not checked, so forgetting was not measured {switch}"
        ]
    return [
        f"{EVIDENCE}: {unseen} of {total} held-out positives unseen (an answer the run did not train on or "
        f"against) < min_unseen_positives {gates.min_unseen_positives}; the other {total - unseen} are a chosen or "
        f"rejected answer of its training pairs, pushed on purpose, so forgetting was not measured {switch}"
    ]


def _forgetting(comparison: Comparison, gates: GateSettings) -> list[str]:
    """The unseen positives' per-token log-likelihood fell more than allowed (the pooled figure is only reported)."""
    if not _unseen_enough(comparison, gates):
        return []
    fall = comparison.forgetting_pct_unseen
    assert fall is not None  # _unseen_enough checked it
    if fall <= gates.max_forgetting_pct:
        return []
    interval = comparison.forgetting_unseen
    spread = "" if interval is None else f" (95% interval {interval.low:+.2f}..{interval.high:+.2f}%)"
    return [
        f"{GUARD} forgetting: the {comparison.positives_unseen} held-out positives whose answer the run did not "
        f"train on or against fell {fall:.2f}%{spread} > {gates.max_forgetting_pct:.2f}%"
    ]


def _content(before: ModelFigures, after: ModelFigures, comparison: Comparison, gates: GateSettings) -> list[str]:
    """No gain in the content words answers share with the users' corrections.

    Character similarity credits whatever lengthens a short answer towards a longer correction:
    generic filler, a sentence in another language, padding. Words carry what users changed.
    """
    gain = comparison.content_gain
    if gain is None or gain.low > gates.min_content_gain:
        return []
    was = "-" if before.content_overlap is None else f"{before.content_overlap.value:.3f}"
    now = "-" if after.content_overlap is None else f"{after.content_overlap.value:.3f}"
    return [
        f"{NO_GAIN}: content words shared with users' corrections (F1) {was} -> {now}, gain {gain.value:+.3f} "
        f"(95% interval {gain.low:+.3f}..{gain.high:+.3f}{_resampled(comparison)}) does not clear "
        f"{gates.min_content_gain:+.3f}"
    ]


def _refusal(before: ModelFigures, after: ModelFigures, comparison: Comparison, gates: GateSettings) -> list[str]:
    """More answers open with a refusal than the base's and the users' own, by more than allowed.

    A refusal is far from the users' correction on its prompt, but a candidate perfect elsewhere
    still clears the primary figure with 8 refusals in 40 answers: only this guard sees them.
    """
    was, now = before.refusal_rate, after.refusal_rate
    if was is None or now is None:
        return []
    users = comparison.users_refusal_share if comparison.users_refusal_share is not None else 0.0
    allowed = max(was.value, users)
    if now.value - allowed <= gates.max_refusal_rise:
        return []
    return [
        f"{GUARD} refusal: answers opening with a refusal {_pct(was.value)} -> {_pct(now.value)} (users' own "
        f"corrections {_pct(users)}), a rise above {_pct(allowed)} of more than {_pct(gates.max_refusal_rise)}"
    ]


def _collapse(before: ModelFigures, after: ModelFigures, comparison: Comparison, gates: GateSettings) -> list[str]:
    """A few answers whatever is asked: the distinct-answer share fell below the base's and the users' own.

    Each share counts an answer repeated within one group of linked prompts once
    (:func:`flywheel.trainer.evaluate.distinct_share`): users who correct every rewording of a
    question alike would otherwise set a floor below one answer to every prompt.
    """
    was, now = before.distinct_answer_share, after.distinct_answer_share
    if was is None or now is None:
        return []
    wanted = min(was, comparison.users_distinct_share if comparison.users_distinct_share is not None else was)
    if now >= wanted - gates.max_distinct_drop:
        return []
    return [
        f"{GUARD} collapse: distinct answers {_pct(was)} -> {_pct(now)}{_per_group(comparison)}, below "
        f"{_pct(wanted)} (the lower of the base's and the users' own) by more than {_pct(gates.max_distinct_drop)}"
    ]


def _linked(comparison: Comparison) -> bool:
    """Whether some group holds more than one held-out prompt (else every figure is the per-prompt one)."""
    return comparison.groups is not None and comparison.groups < comparison.prompts


def _resampled(comparison: Comparison) -> str:
    """``, resampling 16 groups of linked prompts`` where groups hold several prompts, else nothing."""
    return f", resampling {comparison.groups} groups of linked prompts" if _linked(comparison) else ""


def _per_group(comparison: Comparison) -> str:
    """How the distinct answers were counted."""
    if _linked(comparison):
        return f" (an answer repeated within one of {comparison.groups} groups of linked prompts counted once)"
    return " of the prompts"


def _signs(comparison: Comparison) -> str:
    """What the sign test counted: groups of linked prompts where some hold several, else prompts."""
    if _linked(comparison):
        return (
            f"{comparison.closer_groups}, farther on {comparison.farther_groups} of {comparison.groups} groups of "
            f"linked prompts (by their prompts' mean net; the rest ties; {comparison.closer} / {comparison.farther} "
            f"of {comparison.prompts} prompts)"
        )
    return f"{comparison.closer}, farther on {comparison.farther} of {comparison.prompts} prompts (the rest ties)"


def _code(before: ModelFigures, after: ModelFigures, comparison: Comparison, gates: GateSettings) -> list[str]:
    """Python code that parses fell: paired on prompts both answered with code, or over every answer with code."""
    reasons = []
    code = comparison.code_parse_change
    if code is not None and code.high < -gates.max_code_parse_drop:
        reasons.append(
            f"{GUARD} code: Python code that parses {_rate(before.code_parse_rate)} -> {_rate(after.code_parse_rate)}; "
            f"on the {comparison.code_prompts} prompts both answered with code {code.value:+.2f} "
            f"(95% interval {code.low:+.2f}..{code.high:+.2f}), a fall beyond {_pct(gates.max_code_parse_drop)}"
        )
    # A candidate writing code where the base did not is not paired at all: its own parse rate,
    # at the upper end of its interval, must not fall below the base's by more than allowed.
    was, now = before.code_parse_rate, after.code_parse_rate
    if not reasons and was is not None and now is not None and now.high < was.value - gates.max_code_parse_drop:
        reasons.append(
            f"{GUARD} code: Python code that parses {_pct(was.value)} of {before.code_answers} answers with code -> "
            f"{_pct(now.value)} of {after.code_answers} (95% interval {_pct(now.low)}..{_pct(now.high)}), "
            f"a fall beyond {_pct(gates.max_code_parse_drop)}"
        )
    # Answers without the code users and the base wrote: untagged (not judged) or prose instead.
    expected, dropped = comparison.code_expected, statistics.share(comparison.code_dropped, comparison.code_expected)
    if expected and dropped.low > gates.max_code_parse_drop:
        reasons.append(
            f"{GUARD} code: no Python code on {comparison.code_dropped} of the {expected} prompts where users and "
            f"the base wrote some ({_pct(dropped.value)}, 95% interval {_pct(dropped.low)}..{_pct(dropped.high)}), "
            f"beyond {_pct(gates.max_code_parse_drop)}"
        )
    return reasons


def _off_topic(before: ModelFigures, after: ModelFigures, comparison: Comparison, gates: GateSettings) -> list[str]:
    """Answers no longer about their own prompt: closer to other prompts' corrections than the base's were."""
    change = comparison.own_prompt_match_change
    if change is None or change.high >= -gates.max_own_prompt_match_drop:
        return []
    return [
        f"{GUARD} off-topic: answers closer to their own prompt's corrections than to other prompts' "
        f"{_rate(before.own_prompt_match)} -> {_rate(after.own_prompt_match)} of the time; on "
        f"{comparison.own_prompt_match_prompts} prompts {change.value:+.2f} (95% interval {change.low:+.2f}.."
        f"{change.high:+.2f}), a fall beyond {_pct(gates.max_own_prompt_match_drop)}"
    ]


def worse_than_served(comparison: Comparison, gates: GateSettings) -> list[str]:
    """Reasons to reject a candidate not shown to be as good as the run users are served now.

    The gates compare with the base; a later run trained from the base can beat the base and still
    lose to the run it would replace. A non-inferiority test: the lower end of the 95% interval of
    the net closer share, of the mean similarity gain and of the content-word gain, candidate minus
    the served run, must lie above minus its margin (``gates.max_served_*_loss``). A comparison too
    small to see a loss cannot pass it by saying nothing: on fewer than ``min_eval_prompts`` prompts,
    or none at all (the served run's adapter missing, every held-out prompt one it trained on), the
    reason is ``not enough evidence``.
    """
    version = comparison.served_version
    if version is None:
        return []
    if comparison.served_missing is not None:
        return [
            f"{EVIDENCE}: users are served {version}, which could not be compared with ({comparison.served_missing}); "
            "trainer.compare_with_served=false judges against the base alone"
        ]
    net, gain = comparison.served_net_closer, comparison.served_similarity_gain
    content = comparison.served_content_gain
    compared = comparison.served_prompts if comparison.served_prompts is not None else comparison.prompts
    if net is None or gain is None or compared < gates.min_eval_prompts:
        left_out = comparison.served_excluded_prompts
        why = "" if not left_out else f" ({left_out} left out: their group holds a prompt {version} trained on)"
        return [
            f"{EVIDENCE}: compared with {version}, the run users are served now, on {compared} held-out prompts"
            f"{why} < min_eval_prompts {gates.min_eval_prompts}"
        ]
    short = [
        f"{what} {value.value:+.{digits}f} (95% {value.low:+.{digits}f}..{value.high:+.{digits}f}) below -{margin:g}"
        for what, value, margin, digits in (
            ("net closer", net, gates.max_served_net_loss, 2),
            ("similarity gain", gain, gates.max_served_similarity_loss, 3),
            ("content-word gain", content, gates.max_served_content_loss, 3),
        )
        if value is not None and value.low <= -margin
    ]
    if not short:
        return []
    return [
        f"{WORSE_THAN_SERVED}: not shown as good as {version}, the run users are served now: closer on "
        f"{comparison.served_closer} prompts and farther on {comparison.served_farther} of {compared}; "
        + "; ".join(short)
    ]
