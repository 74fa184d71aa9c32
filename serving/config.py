"""Configuration of the model server, loaded as ``Settings.serving`` (``FLYWHEEL_SERVING__*``).

``ServingConfig`` is what the server takes. Its ``registry_url``, ``base_model`` and ``lora_rank``
are not set by hand: ``Settings.serving_config()`` copies them from the trainer's section, so the
server serves exactly the registry the trainer writes (``trainer.registry_url``, default
``<state_dir>/registry``) on top of the base model the trainer trained on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator

from flywheel.config import (
    CatalogSettings,
    FailedAuthSettings,
    KafkaSettings,
    Section,
    TopicSettings,
    with_secret_files,
)
from flywheel.serving.impact_statistics import PLANNED_REACTIONS


class RolloutSettings(Section):
    """How a promotion reaches users."""

    # 0 switches everyone to a promoted run at once; e.g. 0.1 makes it the candidate for 10% of
    # users (by a stable hash of user_id) while the current version keeps the other 90%.
    promotion_share: float = Field(default=0.0, ge=0.0, le=1.0)
    # Let the server end a rollout from live traffic (``serving/rollout_judge.py``): after each impact
    # refresh, complete it when the candidate's edit rate and setback share are both lower at every
    # look's 95% interval, stop it when either is higher. Off: a rollout runs until an operator ends it.
    decide: bool = False
    # Two equally good versions never move the interval off 0, so the rule above alone never ends
    # their rollout. Past either limit, with no difference found, the judge ends it and keeps the
    # current version (the conservative choice: a candidate not shown better is not promoted).
    # Reactions per arm in the concurrent comparison (both arms past it): 5,000 is 5x the
    # interval's planned reactions (impact_planned_reactions), where at a 45% edit rate it is about
    # +-3 points wide (before widening for users' clustering), so what is left unfound is a change
    # too small to wait longer for. None: no limit.
    max_reactions: int | None = Field(default=5000, ge=1)
    # Days since the rollout began (its first alias change naming the candidate): ends a rollout
    # too little traffic reaches, with or without a comparison yet. None: no limit.
    max_age_days: float | None = Field(default=28.0, gt=0)


class VllmSettings(Section):
    """The vLLM engine (``backend = "vllm"``): ``vllm.EngineArgs`` fields, by their vLLM names."""

    # Adapters held on the GPU at once: the current version, a rollout's candidate, and one more
    # that in-flight requests still use while a swap completes.
    max_loras: int = Field(default=4, ge=1)
    # 0 sizes it from the registry: the largest rank of any adapter there and the trainer's LoRA
    # rank, rounded up to a rank vLLM supports. An adapter above it is refused at swap time.
    max_lora_rank: Literal[0, 1, 8, 16, 32, 64, 128, 256, 320, 512] = 0
    gpu_memory_utilization: float = Field(default=0.9, gt=0.0, le=1.0)
    # None: the model's own context length.
    max_model_len: int | None = Field(default=None, ge=8)
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = "auto"
    enforce_eager: bool = False
    seed: int = 0


class ServingSettings(Section):
    """Listen address, backend, generation defaults, batching, and how the server follows the registry."""

    host: str = "127.0.0.1"
    port: int = Field(default=8100, ge=0, le=65535)
    # "transformers" runs anywhere (CPU/CUDA/MPS); "vllm" needs the vllm package and a GPU.
    backend: Literal["transformers", "vllm"] = "transformers"
    # The `model` id answered on /v1/models and in every completion.
    served_model_name: str = "flywheel"
    # "" serves the trainer's base model (trainer.base_model), resolved by the entry point.
    base_model: str = ""
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    # Defaults for requests that do not say: greedy decoding keeps answers reproducible.
    max_new_tokens: int = Field(default=128, ge=1)
    max_new_tokens_limit: int = Field(default=1024, ge=1)
    temperature: float = Field(default=0.0, ge=0.0)
    max_prompt_tokens: int = Field(default=1024, ge=8)
    # Requests for the same version are generated together, up to this many at once.
    max_batch_size: int = Field(default=8, ge=1)
    # How long the first request of a batch waits for others to join it (0 = start at once).
    batch_window_ms: float = Field(default=20.0, ge=0.0)
    # Requests waiting for generation; past it a request is refused at once (503, Retry-After)
    # rather than queued behind minutes of work its client will not wait for.
    max_queued: int = Field(default=256, ge=1)
    # A chat request body past this is refused (413) before it is read whole.
    max_request_bytes: int = Field(default=1024 * 1024, ge=1024)
    # API keys by key id: when any is set, /v1/* needs ``Authorization: Bearer <key>`` (what
    # OpenAI clients send as their api_key); /healthz, /readyz and /metrics stay open for probes
    # and Prometheus. None set: open, for a laptop or a server behind an authenticating ingress.
    # By environment (``FLYWHEEL_SERVING__API_KEYS='{"app": "s3cret"}'``) or a mounted file
    # (``api_keys_file``: ``key-id=key`` lines or a JSON object; the file wins).
    api_keys: dict[str, SecretStr] = Field(default_factory=dict)
    api_keys_file: Path | None = None
    failed_auth: FailedAuthSettings = Field(default_factory=FailedAuthSettings)
    # Merge the version being answered into the base weights (LoRA then costs nothing per layer:
    # greedy generation ~25% faster on CPU); switching versions unmerges, a rounding error of about
    # one unit in the last place per switch. None: merge in float32 only (CPU), not in bf16 (CUDA).
    merge_adapters: bool | None = None
    # How often the registry's current alias is read (a change swaps adapters without a restart).
    watch_interval_s: float = Field(default=1.0, gt=0)
    # Consume training results and move the alias on every promotion the trainer's gates made.
    follow_promotions: bool = True
    consumer_group: str = "flywheel-serving"
    rollout: RolloutSettings = Field(default_factory=RolloutSettings)
    vllm: VllmSettings = Field(default_factory=VllmSettings)

    @model_validator(mode="before")
    @classmethod
    def _load_secret_files(cls, data: Any) -> Any:
        """Merge the API keys of ``api_keys_file``, if set (the file wins on conflict)."""
        return with_secret_files(data, api_keys="api_keys_file")

    def client_headers(self) -> dict[str, str]:
        """What a client of this server sends: its first API key as a bearer token (none set: nothing)."""
        first = next(iter(self.api_keys.values()), None)
        return {"Authorization": f"Bearer {first.get_secret_value()}"} if first is not None else {}

    # Impact gauges (edit rate etc. by model_version) on /metrics: refresh period (0 = off) and cap.
    impact_refresh_s: float = Field(default=0.0, ge=0.0)
    impact_max_versions: int = Field(default=8, ge=1)
    # Reactions per version the change's interval that holds at every look is tuned for (narrowest near it).
    impact_planned_reactions: int = Field(default=PLANNED_REACTIONS, ge=1)


class ServingConfig(Section):
    """What the server reads: its section, the registry and base model of the trainer, topics, catalog."""

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    topics: TopicSettings = Field(default_factory=TopicSettings)
    catalog: CatalogSettings = Field(default_factory=CatalogSettings)
    serving: ServingSettings = Field(default_factory=ServingSettings)
    registry_url: str = Field(description="local path or fsspec URL of the trainer's registry")
    base_model: str = Field(description="loadable base model reference (local folder or hub id)")
    lora_rank: int = Field(default=16, ge=1, description="the LoRA rank the trainer trains adapters with")
    state_dir: Path = Path(".flywheel")
