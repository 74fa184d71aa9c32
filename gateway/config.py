"""Configuration of the HTTP ingestion gateway, loaded as ``Settings.gateway``.

Environment overrides use ``__`` for nesting, e.g. ``FLYWHEEL_GATEWAY__PORT=8080`` or
``FLYWHEEL_GATEWAY__API_KEYS='{"team-a": "s3cret"}'``. Secrets never live in code: set them
by environment, or point ``api_keys_file`` / ``hmac_secrets_file`` at mounted secret files
(one ``key-id=secret`` a line, or a JSON object). Light on purpose: pydantic only.
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
    ValidationSettings,
    with_secret_files,
)
from flywheel.operators.config import DedupSettings

# The flow remembers an event_id for its dedup window of event time (curation.dedup.window_s).
DEDUP_WINDOW_S = float(DedupSettings.model_fields["window_s"].default)


class RateLimitSettings(Section):
    """Token bucket per API key id (in-process: each gateway replica enforces its own)."""

    enabled: bool = True
    requests_per_s: float = Field(default=200.0, gt=0)
    burst: int = Field(default=400, ge=1)


class ReplayCacheSettings(Section):
    """Where spent signatures are remembered, so a signed request is accepted once.

    ``memory`` (default) is per process: with several replicas or uvicorn workers a request
    replayed to another one is accepted again. ``redis`` shares one cache between all of
    them (``SET NX`` with an expiry; one round trip per signed request). When Redis cannot be
    reached, signed requests are refused with 503 rather than accepted unchecked.
    """

    backend: Literal["memory", "redis"] = "memory"
    # redis:// or rediss:// URL without the password; the password goes in `password`.
    url: str = "redis://127.0.0.1:6379/0"
    password: SecretStr | None = None
    key_prefix: str = "flywheel:gateway:signature:"
    timeout_s: float = Field(default=1.0, gt=0)


class GatewaySettings(Section):
    """Listen address, API keys, HMAC secrets, limits and producer behaviour."""

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    # Header carrying the API key; the key maps to a key id used for rate limits and logs.
    api_key_header: str = "X-API-Key"
    api_keys: dict[str, SecretStr] = Field(default_factory=dict)
    api_keys_file: Path | None = None
    # Local development only: accept requests without a key (key id "anonymous").
    allow_anonymous: bool = False
    # Webhook signatures: HMAC-SHA256 over "<timestamp>.<raw body>", hex, in
    # ``signature_header`` as "sha256=<hex>", timestamp (unix seconds) in ``timestamp_header``.
    # Required for every key id that has a secret here; for all keys if require_signatures.
    hmac_secrets: dict[str, SecretStr] = Field(default_factory=dict)
    hmac_secrets_file: Path | None = None
    require_signatures: bool = False
    signature_header: str = "X-Flywheel-Signature"
    timestamp_header: str = "X-Flywheel-Timestamp"
    timestamp_tolerance_s: float = Field(default=300.0, gt=0)
    # A correctly signed request is accepted once; its signature is remembered for twice the
    # tolerance (the whole time its timestamp could be accepted, on any replica's clock).
    replay_cache: ReplayCacheSettings = Field(default_factory=ReplayCacheSettings)
    failed_auth: FailedAuthSettings = Field(default_factory=FailedAuthSettings)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    batch_max_events: int = Field(default=500, ge=1)
    # An event older than this (occurred_at before the gateway's clock) is refused with 422: the
    # flow's dedup remembers an event_id for its window only, so a retry of an older event (after
    # an ambiguous 503) would be kept twice. Keep it at most curation.dedup.window_s; 0: no limit.
    max_past_s: float = Field(
        default=DEDUP_WINDOW_S,
        ge=0,
        description="how long before the gateway received it an event may have occurred (the dedup window)",
    )
    rate_limit: RateLimitSettings = Field(default_factory=RateLimitSettings)
    # Upper bound on the wait for the broker: transaction start, delivery and commit.
    produce_timeout_s: float = Field(default=10.0, gt=0)
    # Transactional producers kept open; one request holds one producer for its transaction.
    producer_pool_size: int = Field(default=4, ge=1)
    transactional_id_prefix: str = "flywheel-gateway"
    # Extra librdkafka settings for the gateway's producers (after kafka.client_config).
    producer_config: dict[str, str] = Field(default_factory=dict)
    readiness_timeout_s: float = Field(default=2.0, gt=0)
    candidates_max_page_size: int = Field(default=1000, ge=1)
    # Key ids allowed to send `review` events (the review app's key): a reviewer's answer becomes
    # a trusted pair exempt from quotas, so no other client may claim to be a reviewer.
    review_key_ids: tuple[str, ...] = ("review",)

    @model_validator(mode="before")
    @classmethod
    def _load_secret_files(cls, data: Any) -> Any:
        """Merge keys and HMAC secrets from the secret files, if set (files win on conflict)."""
        return with_secret_files(data, api_keys="api_keys_file", hmac_secrets="hmac_secrets_file")


class GatewayConfig(Section):
    """What the gateway reads: where to produce, the validation limits it shares with the flow, its section."""

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    topics: TopicSettings = Field(default_factory=TopicSettings)
    catalog: CatalogSettings = Field(default_factory=CatalogSettings)
    validation: ValidationSettings = Field(default_factory=ValidationSettings)
    gateway: GatewaySettings = Field(default_factory=GatewaySettings)
