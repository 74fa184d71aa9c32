"""Base vs candidate on the held-out prompts, in one run.

For each model (:func:`measure`): greedy answers to every held-out prompt, log-probs of every
held-out pair's chosen and rejected answer (tokenized as training tokenized them) and of the
held-out positives. :func:`compare` then pairs the two prompt by prompt:

* generation (the primary figure): is the candidate's answer closer to the users' corrections
  than the base's answer was; closer / farther / tie per prompt, net share with a paired bootstrap;
  and does it share more of their content words (F1, stop words aside): character similarity
  alone rewards any text of the users' length, filler and padding included;
* degeneration: repeated lines and 4-grams, empty or cut-off answers, length ratio, and Python
  code that parses (each model's share over its answers with code; the change paired on prompts
  where both answered with code);
* own-prompt match (``topic_match.py``): does each answer share more of its own prompt's
  corrections' words than of other prompts'? Surface similarity alone rewards an answer of the
  users' length and style whatever it says;
* DPO implicit reward accuracy and margin against the base (the reference, as TRL reports them);
* log-prob preference accuracy, raw (summed: length-biased, favours the shorter answer) and
  length-normalised (mean per token);
* forgetting: the per-token log-likelihood of held-out positives, before vs after.

Each held-out prompt carries its split group (:func:`flywheel.trainer.split.pair_groups`): linked
prompts (rewordings, one answer users give several prompts) are one observation, so every
bootstrap interval of a mean resamples groups and the sign test counts groups
(:mod:`flywheel.trainer.statistics`); with one prompt per group the figures are the per-prompt ones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flywheel.trainer import statistics
from flywheel.trainer.config import TrainerSettings
from flywheel.trainer.conversation import Formatting, Prompt, encode_completion, encode_pair
from flywheel.trainer.events import Comparison, ModelFigures, Sample
from flywheel.trainer.forgetting import forgetting_pct, per_token_likelihood, plain_answer, unseen_forgetting
from flywheel.trainer.generation import (
    Answer,
    content_overlap,
    greedy_answers,
    has_repeated_line,
    is_refusal,
    python_code_parses,
    repeated_ngram_share,
    similarity,
)
from flywheel.trainer.logprobs import sequence_logprobs
from flywheel.trainer.split import pair_groups, pair_prompt_key
from flywheel.trainer.topic_match import own_prompt_match

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase


@dataclass(frozen=True)
class HeldOutPrompt:
    """One held-out prompt with every user's correction of it and the answers they corrected."""

    key: str
    text: str
    prompt: Prompt
    corrections: list[str]
    corrected: list[str]
    # The split group of linked prompts it belongs to (None: its own, as for a prompt made by hand).
    group: str | None = None

    @property
    def cluster(self) -> str:
        """What the figures resample and the sign test counts: its group, or the prompt alone."""
        return self.key if self.group is None else self.group


def held_out_groups(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Each held-out pair's split group: pairs linked by prompt, chosen answer, thread or exchange are one.

    The held-out side is whole groups (:func:`flywheel.trainer.split.split_pairs`), so linking its
    pairs among themselves finds the very groups the split held out.
    """
    names = [""] * len(rows)
    for name, members in pair_groups(list(rows)).items():
        for index in members:
            names[index] = name
    return names


def held_out_prompts(rows: Sequence[dict[str, Any]], formatting: Formatting) -> list[HeldOutPrompt]:
    """Group eval pairs by what they answer (prompt after its conversation), ordered by key (stable across runs)."""
    prompts: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        prompts.setdefault(pair_prompt_key(row), []).append(row)
    group_of = {pair_prompt_key(row): name for row, name in zip(rows, held_out_groups(rows), strict=True)}
    return [
        HeldOutPrompt(
            key=key,
            text=pairs[0]["prompt"],
            prompt=formatting.prompt(pairs[0]["prompt"], pairs[0].get("turns") or ()),
            corrections=[row["chosen"] for row in pairs],
            corrected=[row["rejected"] for row in pairs],
            group=group_of[key],
        )
        for key, pairs in sorted(prompts.items())
    ]


@dataclass(frozen=True)
class Measurement:
    """What one model did on the held-out data (raw, per prompt and per pair)."""

    answers: list[Answer]
    pair_logprobs: list[tuple[float, int, float, int]]  # chosen sum, chosen tokens, rejected sum, rejected tokens
    positives_log_likelihood: float | None
    eval_pairs: int
    eval_positives: int
    positive_logprobs: tuple[tuple[float, int], ...] = ()  # per positive: log-prob sum, tokens

    def only(self, prompts: Sequence[bool], pairs: Sequence[bool]) -> Measurement:
        """This measurement on the prompts and pairs flagged True, without the positives."""
        return Measurement(
            answers=[answer for answer, keep in zip(self.answers, prompts, strict=True) if keep],
            pair_logprobs=[scored for scored, keep in zip(self.pair_logprobs, pairs, strict=True) if keep],
            positives_log_likelihood=None,
            eval_pairs=sum(bool(keep) for keep in pairs),
            eval_positives=0,
        )


def measure(
    model: Any,
    tokenizer: PreTrainedTokenizerBase,
    formatting: Formatting,
    prompts: Sequence[HeldOutPrompt],
    pairs: Sequence[dict[str, Any]],
    positives: Sequence[dict[str, str]],
    settings: TrainerSettings,
) -> Measurement:
    """Greedy answers, pair log-probs and positives' log-likelihood of one model."""
    answers = greedy_answers(
        model,
        tokenizer,
        [p.prompt for p in prompts],
        max_prompt_length=settings.max_prompt_length,
        max_new_tokens=settings.eval_max_new_tokens,
        batch_size=settings.eval_batch_size,
    )
    encoded = [encode_pair(tokenizer, formatting.example(row), settings.max_length) for row in pairs]
    flat = [sequence for pair in encoded for sequence in pair]
    scored = sequence_logprobs(model, tokenizer, flat, settings.eval_batch_size)
    pair_logprobs = [(*scored[i], *scored[i + 1]) for i in range(0, len(scored), 2)]
    likelihood = None
    if positives:
        sequences = [
            encode_completion(
                tokenizer, formatting.prompt(p["prompt"]), formatting.completion(p["response"]), settings.max_length
            )
            for p in positives
        ]
        results = sequence_logprobs(model, tokenizer, sequences, settings.eval_batch_size)
        likelihood = per_token_likelihood(results)
    return Measurement(
        answers=answers,
        pair_logprobs=pair_logprobs,
        positives_log_likelihood=likelihood,
        eval_pairs=len(pairs),
        eval_positives=len(positives),
        positive_logprobs=tuple(results) if positives else (),
    )


def _mean_similarity(answer: Answer, prompt: HeldOutPrompt) -> float:
    return _mean_over_corrections(similarity, answer, prompt)


def _mean_content(answer: Answer, prompt: HeldOutPrompt) -> float:
    return _mean_over_corrections(content_overlap, answer, prompt)


def _mean_over_corrections(measure: Callable[[str, str], float], answer: Answer, prompt: HeldOutPrompt) -> float:
    """``measure`` of the answer against each of the prompt's corrections, averaged."""
    return sum(measure(answer.text, target) for target in prompt.corrections) / len(prompt.corrections)


def _wanted(prompts: Sequence[HeldOutPrompt]) -> list[str]:
    """What users wanted on each prompt: its corrections as one text."""
    return ["\n".join(p.corrections) for p in prompts]


def figures(measurement: Measurement, prompts: Sequence[HeldOutPrompt], settings: TrainerSettings) -> ModelFigures:
    """The model's figures with their intervals (means resampled by group; shares of answers Wilson)."""
    resamples, seed, groups = settings.bootstrap_resamples, settings.seed, [p.cluster for p in prompts]
    answers = measurement.answers
    pairs = measurement.pair_logprobs
    judged = [verdict for verdict in (python_code_parses(a.text) for a in answers) if verdict is not None]
    matched = own_prompt_match([a.text for a in answers], _wanted(prompts))
    matches, match_groups = _measured(matched, groups)
    return ModelFigures(
        similarity_to_users=statistics.mean(
            [_mean_similarity(a, p) for a, p in zip(answers, prompts, strict=True)], resamples, seed, groups
        ),
        content_overlap=statistics.mean(
            [_mean_content(a, p) for a, p in zip(answers, prompts, strict=True)], resamples, seed, groups
        ),
        repeated_line_rate=statistics.shares([has_repeated_line(a.text) for a in answers]),
        repeated_ngram_rate=statistics.mean([repeated_ngram_share(a.text) for a in answers], resamples, seed, groups),
        empty_or_truncated_rate=statistics.shares([a.empty_or_truncated for a in answers]),
        empty_rate=statistics.shares([not a.text.strip() for a in answers]),
        refusal_rate=statistics.shares([is_refusal(a.text) for a in answers]),
        distinct_answer_share=distinct_share([a.text for a in answers], groups),
        mean_answer_chars=sum(len(a.text) for a in answers) / len(answers) if answers else 0.0,
        code_parse_rate=statistics.shares(judged) if judged else None,
        code_answers=len(judged),
        own_prompt_match=statistics.mean(matches, resamples, seed, match_groups) if matches else None,
        logprob_accuracy_length_biased=statistics.shares([c > r for c, _, r, _ in pairs]),
        logprob_accuracy_normalised=statistics.shares([c / max(cn, 1) > r / max(rn, 1) for c, cn, r, rn in pairs]),
        positives_log_likelihood=measurement.positives_log_likelihood,
        eval_prompts=len(prompts),
        eval_pairs=measurement.eval_pairs,
        eval_positives=measurement.eval_positives,
    )


def compare(
    base: Measurement,
    candidate: Measurement,
    prompts: Sequence[HeldOutPrompt],
    settings: TrainerSettings,
    unseen: Sequence[bool] | None = None,
    pair_groups: Sequence[str] | None = None,
    positive_groups: Sequence[str] | None = None,
) -> Comparison:
    """Candidate against base, prompt by prompt and pair by pair; intervals and the sign test by group.

    ``unseen``: per held-out positive, whether the run's training texts lack its answer
    (:func:`unseen_positives`); forgetting is then also measured on those alone, with an interval
    resampling ``positive_groups`` (:func:`positive_groups`; None: every positive its own).
    ``pair_groups``: each held-out pair's group (:func:`held_out_groups`; None: every pair its
    own), for the margin.
    """
    resamples, seed, groups = settings.bootstrap_resamples, settings.seed, [p.cluster for p in prompts]
    gains = [
        _mean_similarity(c, p) - _mean_similarity(b, p)
        for b, c, p in zip(base.answers, candidate.answers, prompts, strict=True)
    ]
    content_gains = [
        _mean_content(c, p) - _mean_content(b, p)
        for b, c, p in zip(base.answers, candidate.answers, prompts, strict=True)
    ]
    closer = sum(g > 0 for g in gains)
    farther = sum(g < 0 for g in gains)
    signs = [float((g > 0) - (g < 0)) for g in gains]
    rewards = [
        settings.beta * ((cc - bc) - (cr - br))
        for (bc, _, br, _), (cc, _, cr, _) in zip(base.pair_logprobs, candidate.pair_logprobs, strict=True)
    ]
    # Per prompt, whether the base's and the candidate's Python code parses (None: no code).
    verdicts = [
        (python_code_parses(b.text), python_code_parses(c.text))
        for b, c in zip(base.answers, candidate.answers, strict=True)
    ]
    # Paired on prompts where both wrote Python code: +1 fixed, -1 broken, 0 alike (both parse or neither does).
    code_changes, code_groups = _measured(
        [None if before is None or after is None else float(after) - float(before) for before, after in verdicts],
        groups,
    )
    # Where users and the base wrote Python code, an answer without any (untagged, or prose) lost it.
    expected = [
        after is None
        for (before, after), p in zip(verdicts, prompts, strict=True)
        if before is not None and any(python_code_parses(t) is not None for t in p.corrections)
    ]
    wanted = _wanted(prompts)
    match_changes, match_groups = _measured(
        [
            None if before is None or after is None else after - before
            for before, after in zip(
                own_prompt_match([a.text for a in base.answers], wanted),
                own_prompt_match([a.text for a in candidate.answers], wanted),
                strict=True,
            )
        ],
        groups,
    )
    # A group of linked prompts is one observation: closer or farther by its prompts' mean net.
    closer_groups, farther_groups = statistics.group_signs(signs, groups)
    base_chars = sum(len(a.text) for a in base.answers)
    corrected_chars = sum(len(text) for p in prompts for text in p.corrected)
    samples = [
        Sample(prompt=p.text, users=p.corrections[0], base=b.text, candidate=c.text)
        for b, c, p in list(zip(base.answers, candidate.answers, prompts, strict=True))[: settings.eval_samples]
    ]
    return Comparison(
        prompts=len(prompts),
        closer=closer,
        farther=farther,
        ties=len(prompts) - closer - farther,
        closer_share=statistics.grouped_shares([gain > 0 for gain in gains], resamples, seed, groups),
        net_closer=statistics.mean(signs, resamples, seed, groups),
        similarity_gain=statistics.mean(gains, resamples, seed, groups),
        content_gain=statistics.mean(content_gains, resamples, seed, groups),
        groups=len(set(groups)),
        closer_groups=closer_groups,
        farther_groups=farther_groups,
        length_ratio=sum(len(a.text) for a in candidate.answers) / base_chars if base_chars else 1.0,
        users_length_ratio=(
            sum(len(text) for p in prompts for text in p.corrections) / corrected_chars if corrected_chars else 1.0
        ),
        dpo_reward_accuracy=statistics.shares([reward > 0 for reward in rewards]),
        dpo_reward_margin=statistics.mean(rewards, resamples, seed, pair_groups),
        forgetting_pct=forgetting_pct(base.positives_log_likelihood, candidate.positives_log_likelihood),
        **unseen_forgetting(base.positive_logprobs, candidate.positive_logprobs, unseen, positive_groups, settings),
        code_parse_change=statistics.mean(code_changes, resamples, seed, code_groups) if code_changes else None,
        code_prompts=len(code_changes),
        code_expected=len(expected),
        code_dropped=sum(expected),
        own_prompt_match_change=(
            statistics.mean(match_changes, resamples, seed, match_groups) if match_changes else None
        ),
        own_prompt_match_prompts=len(match_changes),
        answered_prompts=sum(
            bool(b.text.strip() or c.text.strip()) for b, c in zip(base.answers, candidate.answers, strict=True)
        ),
        sign_test_p=statistics.sign_test(closer_groups, farther_groups),
        users_distinct_share=distinct_share([p.corrections[0] for p in prompts], groups),
        users_refusal_share=(
            sum(is_refusal(t) for p in prompts for t in p.corrections) / sum(len(p.corrections) for p in prompts)
            if prompts
            else None
        ),
        samples=samples,
    )


def distinct_share(texts: Sequence[str], groups: Sequence[str] | None = None) -> float:
    """Distinct texts (case and whitespace aside) over distinct texts per group; 1.0 for none.

    ``groups``: each text's group of linked prompts (None: each its own, and this is distinct texts
    over texts). A text repeated within one group counts once: users who correct six rewordings
    of a question to one answer want one answer, not a sixth of the distinct answers, and counted
    per prompt their share put the collapse guard's floor below any collapse. One answer to every
    prompt: 1 / groups.
    """
    if not texts:
        return 1.0
    plain = [plain_answer(text) for text in texts]
    if groups is None:
        return len(set(plain)) / len(texts)
    return len(set(plain)) / len(set(zip(groups, plain, strict=True)))


def _measured(values: Sequence[float | None], groups: Sequence[str]) -> tuple[list[float], list[str]]:
    """The values that were measured (not None) and their prompts' groups, in order."""
    kept = [(value, group) for value, group in zip(values, groups, strict=True) if value is not None]
    return [value for value, _ in kept], [group for _, group in kept]
