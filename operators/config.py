"""Configuration of the curation chain, loaded as ``Settings.curation``.

Environment overrides use ``__`` for nesting, e.g. ``FLYWHEEL_CURATION__DISTANCE__MIN_SIMILARITY=0.2``
or ``FLYWHEEL_CURATION__TOXICITY__BACKEND=detoxify``. Light on purpose: pydantic only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from flywheel.config import Section

# The rules file shipped inside the package; used when ``policy.file`` is not set.
DEFAULT_POLICY_FILE = Path(__file__).parent / "policies" / "default-v12.toml"

# Per-label toxicity thresholds: a score >= threshold drops the pair. Labels a backend
# does not produce are ignored; labels without a threshold are recorded but never drop.
DEFAULT_TOXICITY_THRESHOLDS: dict[str, float] = {
    "profanity": 0.8,  # alt-profanity-check
    "toxicity": 0.5,  # detoxify labels from here on
    "severe_toxicity": 0.2,
    "obscene": 0.5,
    "threat": 0.3,
    "insult": 0.5,
    "identity_attack": 0.3,
    "sexual_explicit": 0.5,
}


class DedupSettings(Section):
    """Windowed, event-time deduplication of event ids and normalised content."""

    window_s: int = Field(default=24 * 3600, ge=1, description="a key is remembered this long, event time")
    buckets: int = Field(default=64, ge=1, description="hash buckets the stateful step is keyed by")
    content: bool = Field(default=True, description="also drop repeats of (prompt, chosen, rejected)")
    hold_s: int = Field(
        default=120,
        ge=1,
        description="event-time slot and lateness allowed within a partition: duplicates in one slot are "
        "decided together (canonical text, then earliest occurred_at, then smallest event_id wins)",
    )
    seal_at: int = Field(
        default=1024,
        ge=1,
        description="winners a bucket's recovery snapshot carries before they are sealed into the dedup "
        "journal beside the recovery store: snapshots stay this small however full the window is",
    )
    near_duplicate: bool = Field(default=False, description="MinHash near-duplicate edits of one prompt")
    near_duplicate_threshold: float = Field(default=0.9, gt=0.0, le=1.0, description="estimated Jaccard")
    near_duplicate_num_perm: int = Field(default=64, ge=8, le=1024)
    near_duplicate_shingle_size: int = Field(default=5, ge=1, le=32)


class DistanceSettings(Section):
    """When an edit is a rewrite (too little kept) or trivial (nothing substantive changed).

    Trivial edits are found by token alignment (``operators/edit_kind.py``), not by a
    similarity ceiling. ``min_token_similarity`` sits between the measured distributions on
    ``tests/data/curation_set.jsonl`` (rewrites <= 0.20, good edits >= 0.52) and on the held-out
    ``tests/data/curation_holdout.jsonl`` (rewrites <= 0.22, good edits not kept whole >= 0.80;
    see README).
    """

    min_similarity: float = Field(default=0.10, ge=0.0, le=1.0, description="character-level floor")
    max_similarity: float = Field(
        default=1.0, ge=0.0, le=1.0, description="character-level ceiling; 1.0 = only the token check decides"
    )
    min_token_similarity: float = Field(
        default=0.35, ge=0.0, le=1.0, description="2*LCS/(n+m) over words; below = rewrite"
    )
    min_containment: float = Field(
        default=0.9, ge=0.0, le=1.0, description="LCS/min(n,m): a text kept whole is an edit, not a rewrite"
    )

    @model_validator(mode="after")
    def _ordered(self) -> DistanceSettings:
        if self.min_similarity > self.max_similarity:
            raise ValueError(f"min_similarity {self.min_similarity} is above max_similarity {self.max_similarity}")
        return self


class PolicySettings(Section):
    """Which versioned rules file the policy engine loads."""

    file: Path | None = Field(default=None, description="rules file; None = the packaged default-v12")

    def path(self) -> Path:
        """The rules file to load: the configured one or the packaged default."""
        return self.file if self.file is not None else DEFAULT_POLICY_FILE


class ToxicitySettings(Section):
    """The toxicity backend and the per-label thresholds applied to the user's edit."""

    backend: Literal["profanity", "detoxify"] = "profanity"
    # detoxify only: a Detoxify checkpoint (torch file with "config" and "state_dict") and a
    # folder holding the Hugging Face config.json and tokenizer files of its architecture.
    checkpoint: Path | None = None
    config_dir: Path | None = None
    device: str = "cpu"
    # None: the backend's own (``toxicity.DEFAULT_BATCH_SIZES``), sized by measurement.
    batch_size: int | None = Field(default=None, ge=1, description="texts per score_batch call in the flow")
    segment_max_words: int = Field(
        default=24, ge=0, description="score sentences / windows of this many words, max over them; 0 = whole text"
    )
    thresholds: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_TOXICITY_THRESHOLDS))


class LearnedSafetySettings(Section):
    """The learned safety classifier (operators/learned_safety.py) over the sentences the user added."""

    enabled: bool = Field(default=False, description="drop edits the classifier scores at or above threshold")
    model: Path | None = Field(default=None, description="trusted model file; None = the packaged one")
    threshold: float | None = Field(default=None, ge=0.0, le=1.0, description="None = the model file's own")


class JudgeSettings(Section):
    """LLM-as-a-judge hook (OpenAI-compatible chat endpoint). Off by default."""

    enabled: bool = False
    url: str = "http://127.0.0.1:8000/v1/chat/completions"
    model: str = "judge"
    api_key_env: str = Field(
        default="FLYWHEEL_JUDGE_API_KEY", description="name of the env var holding the bearer token"
    )
    timeout_s: float = Field(default=30.0, gt=0)
    max_concurrency: int = Field(default=4, ge=1)
    batch_size: int = Field(default=16, ge=1)
    # A judge that is down, overloaded (429, 5xx) or drops the connection is asked again, waiting
    # backoff_s, then twice that, ...; a refusal (4xx) or a malformed reply is not.
    attempts: int = Field(default=3, ge=1, description="requests per item before on_error decides")
    backoff_s: float = Field(default=0.5, ge=0.0)
    # A verdict is a few hundred bytes; a reply past this is an error verdict, not read into memory.
    max_reply_bytes: int = Field(default=1024 * 1024, ge=1024)
    on_error: Literal["reject", "accept"] = Field(
        default="reject", description="what an unreachable judge or unparsable answer means"
    )


class QuotaSettings(Section):
    """Caps on accepted pairs per event-time day (UTC). None disables a cap."""

    per_user_per_day: int | None = Field(default=50, ge=1)
    per_segment_per_day: int | None = Field(default=5000, ge=1)
    allowed_lateness_days: int = Field(
        default=1, ge=0, description="days behind the newest day seen still counted; older ones rejected"
    )


class SamplingSettings(Section):
    """Stratified, hash-decided sampling of unedited positive feedback."""

    default_rate: float = Field(default=0.01, ge=0.0, le=1.0)
    rates: dict[str, float] = Field(default_factory=dict, description="per-stratum overrides")
    stratum_keys: list[str] = Field(default_factory=lambda: ["segment", "model_version"], min_length=1)
    min_rating: int = Field(default=4, ge=1, le=5, description="rating events at or above are positive")
    salt: str = Field(default="", description="change to draw a different (still deterministic) sample")

    @model_validator(mode="after")
    def _valid(self) -> SamplingSettings:
        allowed = {"segment", "model_version", "model_id", "signal"}
        unknown = [key for key in self.stratum_keys if key not in allowed]
        if unknown:
            raise ValueError(f"unknown stratum key(s) {unknown}; allowed: {sorted(allowed)}")
        bad = {stratum: rate for stratum, rate in self.rates.items() if not 0.0 <= rate <= 1.0}
        if bad:
            raise ValueError(f"sampling rates must be within [0, 1]: {bad}")
        return self


class CurationSettings(Section):
    """Thresholds, windows, quotas and sampling rates of the curation chain."""

    dedup: DedupSettings = Field(default_factory=DedupSettings)
    distance: DistanceSettings = Field(default_factory=DistanceSettings)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    toxicity: ToxicitySettings = Field(default_factory=ToxicitySettings)
    learned_safety: LearnedSafetySettings = Field(default_factory=LearnedSafetySettings)
    judge: JudgeSettings = Field(default_factory=JudgeSettings)
    quota: QuotaSettings = Field(default_factory=QuotaSettings)
    sampling: SamplingSettings = Field(default_factory=SamplingSettings)
    # Edits dropped by these gates also go to the human review queue ("stage" or "stage:reason");
    # the model-based gates by default, whose verdicts a reviewer may overturn.
    hold_for_review: tuple[str, ...] = ("toxicity", "judge")
