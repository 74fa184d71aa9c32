"""Prometheus metrics of the threshold tracker and the trainer (prometheus-client, default registry)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

PAIRS_SINCE_TRIGGER = Gauge(
    "flywheel_pairs_since_trigger",
    "Net-new DPO pairs committed since the last training trigger.",
)
TRIGGERS = Counter(
    "flywheel_training_triggers_total",
    "Training triggers emitted by the threshold tracker.",
)
RUNS = Counter(
    "flywheel_training_runs_total",
    "Training runs finished, by status (promoted, rejected, failed, skipped).",
    ["status"],
)
RUN_DURATION = Histogram(
    "flywheel_training_run_duration_seconds",
    "Wall time of one training run: load, train, evaluate, write registry.",
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400),
)
EVAL_PREFERENCE_ACCURACY = Gauge(
    "flywheel_training_eval_preference_accuracy",
    "Share of eval pairs where the model gives chosen a higher mean per-token log-probability than rejected.",
    ["phase"],
)
EVAL_REWARD_MARGIN = Gauge(
    "flywheel_training_eval_reward_margin",
    "Mean DPO implicit reward margin against the base model (0 before training: the base is the reference).",
    ["phase"],
)
EVAL_SIMILARITY_TO_USERS = Gauge(
    "flywheel_training_eval_similarity_to_users",
    "Mean similarity of greedy answers on held-out prompts to the users' corrections.",
    ["phase"],
)
EVAL_CLOSER_SHARE = Gauge(
    "flywheel_training_eval_closer_share",
    "Share of held-out prompts where the candidate's answer is closer to the users' corrections than the base's.",
)
