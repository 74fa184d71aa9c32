"""Prometheus metrics of the model server (default registry, served on ``/metrics``).

``model_version`` labels are bounded: versions come from the registry's promoted runs (the
requests counters) or are capped to ``serving.impact_max_versions`` (the impact gauges).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

ANSWERS = Counter(
    "flywheel_serving_answers_total",
    "Chat completions answered, by model version and outcome (ok, error; cancelled: the caller gave up while queued).",
    ["model_version", "outcome"],
)
COMPLETION_TOKENS = Counter(
    "flywheel_serving_completion_tokens_total",
    "Tokens generated, by model version.",
    ["model_version"],
)
GENERATION_SECONDS = Histogram(
    "flywheel_serving_batch_seconds",
    "Wall time of one batched generation call.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
BATCH_SIZE = Histogram(
    "flywheel_serving_batch_size",
    "Requests generated together in one call.",
    buckets=(1, 2, 4, 8, 16, 32, 64),
)
REFUSED = Counter(
    "flywheel_serving_requests_refused_total",
    "Chat requests refused before generating, by reason: busy (max_queued requests waiting; 503 with "
    "Retry-After), too_large (body over max_request_bytes; 413), unauthorized (no or an unknown API key "
    "while serving.api_keys is set; 401), auth_throttled (too many failed keys from the address; 429).",
    ["reason"],
)
SWAPS = Counter(
    "flywheel_serving_swaps_total",
    "Routing changes applied (new current version, candidate or share), by outcome (ok, failed: each "
    "attempt, retried with a back-off while the alias asks for the same routes).",
    ["outcome"],
)
ALIAS_APPLIED = Gauge(
    "flywheel_serving_alias_applied",
    "1 when this replica serves the routes the registry alias asks for; 0 when a swap failed (an adapter "
    "it cannot load) and it still serves the previous routes (see /v1/flywheel/routes for why).",
)
ROUTED = Gauge(
    "flywheel_serving_routed_share",
    "Share of users routed to a model version (1 for current without a rollout); role = current or candidate.",
    ["model_version", "role"],
)
PROMOTIONS = Counter(
    "flywheel_serving_promotion_results_total",
    "Training results the promotion follower handled, by outcome: applied, unchanged (not a promotion, "
    "or already applied), skipped (undecodable, or its run cannot be served: committed, never retried), "
    "retried (the registry failed; read again after a back-off), commit_failed, consumer_failed.",
    ["outcome"],
)

# --- impact by model version, computed from the Iceberg tables (see serving/impact.py)
IMPACT_INTERACTIONS = Gauge(
    "flywheel_impact_interactions",
    "Interactions counted for a model version (stored reactions, positives weighted by 1/sampling rate).",
    ["model_version"],
)
IMPACT_UNATTRIBUTED = Gauge(
    "flywheel_impact_unattributed_interactions",
    "Interactions whose model version neither their event nor another reaction to the same answer says "
    "(model_version unknown): counted in no version's figures.",
)
IMPACT_ATTRIBUTED = Gauge(
    "flywheel_impact_attributed_interactions",
    "Interactions whose event said no model version, put on the version another reaction to the same "
    "answer (request_id) names.",
)
IMPACT_RATE = Gauge(
    "flywheel_impact_rate",
    "Share of a model version's interactions with a signal (edit, thumbs_up, thumbs_down, regenerate), or that "
    "are setbacks (setback: edit, regenerate, thumbs_down, abandon, escalation, rating of 1 or 2).",
    ["model_version", "signal"],
)
IMPACT_RATE_LOW = Gauge(
    "flywheel_impact_rate_lower",
    "Lower end of the 95% Wilson interval of flywheel_impact_rate.",
    ["model_version", "signal"],
)
IMPACT_RATE_HIGH = Gauge(
    "flywheel_impact_rate_upper",
    "Upper end of the 95% Wilson interval of flywheel_impact_rate.",
    ["model_version", "signal"],
)
IMPACT_EDIT_CHANGE = Gauge(
    "flywheel_impact_edit_rate_change",
    "A model version's edit rate minus that of the version it is compared with (against; design: "
    "concurrent, overlapping or sequential).",
    ["model_version", "against", "design"],
)
IMPACT_EDIT_CHANGE_LOW = Gauge(
    "flywheel_impact_edit_rate_change_lower",
    "Lower end of the 95% interval of flywheel_impact_edit_rate_change that holds at every refresh "
    "(a confidence sequence: read it as often as you like).",
    ["model_version", "against", "design"],
)
IMPACT_EDIT_CHANGE_HIGH = Gauge(
    "flywheel_impact_edit_rate_change_upper",
    "Upper end of the 95% interval of flywheel_impact_edit_rate_change that holds at every refresh.",
    ["model_version", "against", "design"],
)
IMPACT_SETBACK_CHANGE = Gauge(
    "flywheel_impact_setback_rate_change",
    "A model version's setback share (edits, regenerations, thumbs-down, abandons, escalations, ratings of 1 "
    "or 2, over all reactions) minus that of the version it is compared with, from the same comparison as "
    "flywheel_impact_edit_rate_change.",
    ["model_version", "against", "design"],
)
IMPACT_SETBACK_CHANGE_LOW = Gauge(
    "flywheel_impact_setback_rate_change_lower",
    "Lower end of the 95% interval of flywheel_impact_setback_rate_change that holds at every refresh.",
    ["model_version", "against", "design"],
)
IMPACT_SETBACK_CHANGE_HIGH = Gauge(
    "flywheel_impact_setback_rate_change_upper",
    "Upper end of the 95% interval of flywheel_impact_setback_rate_change that holds at every refresh.",
    ["model_version", "against", "design"],
)
ROLLOUT_DECISIONS = Counter(
    "flywheel_serving_rollout_decisions_total",
    "Rollouts the judge decided from live traffic (serving.rollout.decide), by action: complete (the candidate "
    "became current: its edit rate and setback share both fell), stop (its edit rate or setback share rose: "
    "everyone back on the current version), no_difference (none found within "
    "serving.rollout.max_reactions or max_age_days: everyone back on the current version).",
    ["action"],
)
