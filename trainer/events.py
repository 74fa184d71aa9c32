"""Messages on the training topics: a trigger (tracker -> trainer) and a result (trainer -> anyone).

Both are JSON, keyed by ``trigger_id`` so every message about one threshold crossing lands on
the same partition. ``schema_version`` lets consumers reject messages they do not understand.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

TRIGGER_SCHEMA_VERSION = 1
RESULT_SCHEMA_VERSION = 2


def trigger_id_for(table_uuid: str, snapshot_id: int) -> str:
    """The trigger id of a crossing: a pure function of the table and the snapshot that crossed."""
    return hashlib.sha256(f"{table_uuid}:{snapshot_id}".encode()).hexdigest()[:20]


def run_id_for(trigger_id: str) -> str:
    """The run id of a trigger: deterministic, so a retrained run reuses its tag and registry path."""
    return f"r{trigger_id[:12]}"


class TrainingTrigger(BaseModel):
    """``N`` net-new DPO pairs were committed: train on exactly ``snapshot_id``."""

    schema_version: int = TRIGGER_SCHEMA_VERSION
    trigger_id: str
    table: str = Field(description="namespace.table of the DPO pairs")
    table_uuid: str
    snapshot_id: int
    snapshot_committed_at: datetime
    previous_snapshot_id: int | None = Field(description="snapshot of the previous trigger, if any")
    positives_table: str
    positives_snapshot_id: int | None = Field(description="positives snapshot current at the crossing")
    threshold: int
    new_pairs: int = Field(description="net-new pairs since the previous trigger")
    total_pairs: int
    sequence: int = Field(description="1 for the table's first trigger, then 2, 3, ...")


class Interval(BaseModel):
    """A figure with its 95% interval (Wilson for shares, percentile bootstrap for means)."""

    value: float
    low: float
    high: float


class ModelFigures(BaseModel):
    """Figures of one model (the base before, the candidate after) on the held-out prompts."""

    # Generation-based: greedy answers compared with the users' corrections.
    similarity_to_users: Interval = Field(description="mean normalised Levenshtein similarity to y_user")
    content_overlap: Interval | None = Field(
        None, description="mean F1 of the content words answers share with y_user (None: older cards)"
    )
    repeated_line_rate: Interval = Field(
        description="share of answers with a line (not of punctuation alone) repeated 3+ times"
    )
    repeated_ngram_rate: Interval = Field(description="mean share of word 4-grams repeating an earlier one")
    empty_or_truncated_rate: Interval = Field(description="share of answers empty or cut at the token budget")
    empty_rate: Interval | None = Field(None, description="share of answers with no text (None: older cards)")
    refusal_rate: Interval | None = Field(
        None, description="share of answers opening with a refusal (I'm sorry, but I can't...); None: older cards"
    )
    distinct_answer_share: float | None = Field(
        None,
        description="distinct answers (whitespace and case aside) over distinct answers per group of linked "
        "prompts (older cards: over answers; None: older still)",
    )
    mean_answer_chars: float
    code_parse_rate: Interval | None = Field(
        None,
        description="share of answers with Python code (closed ```python blocks) whose every block parses; "
        "None: no answer had any",
    )
    code_answers: int = Field(0, description="answers with Python code: the parse rate's denominator")
    own_prompt_match: Interval | None = Field(
        None,
        description="mean share of other held-out prompts (whose users wanted a different answer) whose "
        "corrections an answer is farther from than its own prompt's; ties half: 0.5 is chance, 1 always "
        "closer to its own (None: no such prompts, or older cards)",
    )
    # Log-prob preference accuracy on the held-out pairs: chosen scored above rejected.
    logprob_accuracy_length_biased: Interval = Field(description="summed log-probs: favours the shorter answer")
    logprob_accuracy_normalised: Interval = Field(description="mean per-token log-probs")
    positives_log_likelihood: float | None = Field(None, description="mean per-token log p of held-out positives")
    eval_prompts: int
    eval_pairs: int
    eval_positives: int = 0


class Sample(BaseModel):
    """One held-out prompt: what users wanted, what the base and the candidate answer."""

    prompt: str
    users: str
    base: str
    candidate: str


class Comparison(BaseModel):
    """Candidate against base on the same held-out prompts, paired prompt by prompt."""

    prompts: int
    closer: int = Field(description="prompts where the candidate's answer is closer to y_user than the base's")
    farther: int
    ties: int
    closer_share: Interval = Field(
        description="closer / prompts: Wilson interval, or a bootstrap resampling groups where some hold "
        "several prompts"
    )
    net_closer: Interval = Field(
        description="(closer - farther) / prompts, paired bootstrap resampling groups: the primary figure"
    )
    similarity_gain: Interval = Field(description="mean similarity to y_user, candidate minus base")
    groups: int | None = Field(
        None,
        description="groups of linked held-out prompts (the split's): what every bootstrap interval resamples and "
        "the sign test counts (None: older cards, whose figures counted prompts)",
    )
    closer_groups: int | None = Field(None, description="groups whose prompts' mean net is closer (None: older cards)")
    farther_groups: int | None = Field(None, description="groups whose prompts' mean net is farther")
    content_gain: Interval | None = Field(
        None, description="mean content-word F1 with y_user, candidate minus base, paired (None: older cards)"
    )
    length_ratio: float = Field(description="candidate's mean answer length over the base's")
    users_length_ratio: float = Field(description="users' corrections' mean length over the answers they edited")
    dpo_reward_accuracy: Interval = Field(description="share of pairs with implicit reward chosen > rejected")
    dpo_reward_margin: Interval = Field(description="mean beta * (log-ratio chosen - log-ratio rejected)")
    forgetting_pct: float | None = Field(description="fall of the positives' log-likelihood, percent")
    positives_unseen: int | None = Field(
        None,
        description="held-out positives whose answer is no chosen or rejected answer the run trained on "
        "(None: older cards)",
    )
    forgetting_pct_unseen: float | None = Field(
        None, description="forgetting_pct on those positives alone (None: none, or older cards)"
    )
    forgetting_unseen: Interval | None = Field(
        None,
        description="forgetting_pct_unseen with its 95% interval, resampling groups of positives that share an "
        "answer (None: no unseen positive, or older cards)",
    )
    positive_groups_unseen: int | None = Field(
        None, description="distinct answers among the unseen positives: the groups the interval resamples"
    )
    code_parse_change: Interval | None = Field(
        None,
        description="on prompts where both answers have Python code: mean of candidate parses minus base "
        "parses (paired bootstrap); None: no such prompt",
    )
    code_prompts: int = Field(0, description="prompts where both answers have Python code")
    code_expected: int = Field(
        0, description="prompts where the users' corrections and the base's answer have Python code"
    )
    code_dropped: int = Field(0, description="of code_expected, prompts where the candidate's answer has none")
    own_prompt_match_change: Interval | None = Field(
        None, description="own_prompt_match, candidate minus base, paired by prompt (None: not measured)"
    )
    own_prompt_match_prompts: int = Field(0, description="prompts own_prompt_match_change is paired on")
    served_version: str | None = Field(
        None, description="the run users were served when this one was judged (None: the base, so no second comparison)"
    )
    served_closer: int = Field(0, description="prompts where the candidate's answer is closer than the served run's")
    served_farther: int = Field(0, description="prompts where it is farther than the served run's")
    served_net_closer: Interval | None = Field(None, description="net closer, candidate against the served run")
    served_similarity_gain: Interval | None = Field(
        None, description="mean similarity to y_user, candidate minus the served run (paired bootstrap)"
    )
    served_content_gain: Interval | None = Field(
        None, description="mean content-word F1 with y_user, candidate minus the served run (paired bootstrap)"
    )
    served_prompts: int | None = Field(
        None, description="held-out prompts the served comparison is on (None: no served run, or older cards)"
    )
    served_missing: str | None = Field(
        None,
        description="why the run users are served could not be answered with (its adapter is not in the registry); "
        "None: it was, or users get the base",
    )
    served_excluded_prompts: int | None = Field(
        None,
        description="held-out prompts left out of the served comparison: their group holds a prompt on the served "
        "run's train side (None: its split is not recorded, so none could be left out; or no served run, older cards)",
    )
    answered_prompts: int | None = Field(
        None, description="prompts where the base or the candidate said something (None: older cards)"
    )
    sign_test_p: float | None = Field(
        None,
        description="two-sided exact sign test of closer_groups against farther_groups, ties left out (older cards: "
        "of prompts; None: older still)",
    )
    users_refusal_share: float | None = Field(
        None, description="share of the users' corrections opening with a refusal (None: older cards)"
    )
    users_distinct_share: float | None = Field(
        None,
        description="distinct first corrections over distinct first corrections per group (older cards: over "
        "prompts): how alike users want the answers",
    )
    samples: list[Sample] = Field(default_factory=list)


class TrainingResult(BaseModel):
    """What one training run did, and whether its adapter was promoted."""

    schema_version: int = RESULT_SCHEMA_VERSION
    trigger_id: str
    run_id: str
    status: Literal["promoted", "rejected", "failed"]
    reasons: list[str] = Field(default_factory=list)
    snapshot_id: int
    snapshot_tag: str
    base_model: str
    adapter_uri: str | None
    model_card_uri: str | None
    train_pairs: int
    eval_pairs: int
    eval_prompts: int = 0
    before: ModelFigures | None
    after: ModelFigures | None
    comparison: Comparison | None = None
    forgetting_pct: float | None
    duration_s: float
    finished_at: datetime
