"""Configuration of the review queue and its web app, loaded as ``Settings.review``.

Environment overrides use ``__`` for nesting, e.g. ``FLYWHEEL_REVIEW__PORT=8010`` or
``FLYWHEEL_REVIEW__REVIEWERS='{"alice": "scrypt:32768:8:1$..."}'``. Secrets (reviewer password
hashes, the cookie signing key, the gateway API key) are set by environment or config file, never in
code. Reviewer passwords are stored only as scrypt hashes (``flywheel review hash-password``); a
plain password is refused when the settings load, naming the reviewer.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator

from flywheel.config import FailedAuthSettings, KafkaSettings, Section, TopicSettings, ValidationSettings
from flywheel.review.passwords import parse_password_hash


class ReviewSettings(Section):
    """The queue store, the queue consumer, logins and sessions, and where actions are posted."""

    host: str = "127.0.0.1"
    port: int = Field(default=8010, ge=0, le=65535)
    # SQLAlchemy URL of the queue store; empty means SQLite at <state_dir>/review/queue.db.
    # Claims need row-level compare-and-set, which an SQL database gives and Iceberg does not.
    store_url: str = ""
    consumer_group: str = "flywheel-review"
    # The queue consumer's group session (as the trainer's): a short one also makes the first join
    # quick (the bundled broker took 23 s to assign partitions at librdkafka's 45 s default, 3 s at 6 s).
    session_timeout_ms: int = Field(default=6_000, ge=1_000)
    # `review serve` also runs the queue consumer (a background thread) when true.
    consume: bool = True
    poll_timeout_s: float = Field(default=0.5, gt=0)
    batch_size: int = Field(default=500, ge=1)
    # A claim lets one reviewer answer an item; after this long without an answer anyone may take it.
    claim_ttl_s: float = Field(default=900.0, gt=0)
    page_size: int = Field(default=50, ge=1, le=1000)
    # Reviewer id -> password hash (`flywheel review hash-password`). No anonymous access: with
    # none configured nobody can log in. Plain passwords are refused (see _hashes_only).
    reviewers: dict[str, SecretStr] = Field(default_factory=dict)
    # Failed logins are throttled per client address and per reviewer id (the id typed, known or
    # not): guessing stays slow from one address and when spread over many. 429 + Retry-After.
    failed_logins: FailedAuthSettings = Field(default_factory=FailedAuthSettings)
    failed_logins_per_reviewer: FailedAuthSettings = Field(
        default_factory=lambda: FailedAuthSettings(burst=10, refill_per_s=1 / 30)
    )
    # Signs the session cookie; a random key per process when empty (sessions end on restart).
    session_secret: SecretStr = SecretStr("")
    session_max_age_s: int = Field(default=8 * 3600, ge=60)
    # Send the session cookie over HTTPS only (set behind TLS).
    secure_cookies: bool = False
    # Actions become `review` events posted to the gateway's POST /v1/events with this key.
    gateway_url: str = "http://127.0.0.1:8000"
    gateway_api_key: SecretStr = SecretStr("")
    gateway_api_key_header: str = "X-API-Key"
    # Above the gateway's worst case (its produce timeout, 10 s, plus 5 s for the delivery report):
    # a post given up on while the gateway still accepts it would reopen an item already answered.
    gateway_timeout_s: float = Field(default=20.0, gt=0)
    # A form body past this is refused (413) before it is parsed: a correction is at most
    # validation.max_text_bytes (64 KiB), up to 3x that URL-encoded.
    max_request_bytes: int = Field(default=1024 * 1024, ge=1024)
    # The HMAC secret the gateway holds for the review app's key (gateway.hmac_secrets): set it
    # when the gateway requires signatures, and every post is signed (timestamp + signature).
    gateway_hmac_secret: SecretStr = SecretStr("")
    gateway_signature_header: str = "X-Flywheel-Signature"
    gateway_timestamp_header: str = "X-Flywheel-Timestamp"

    @field_validator("reviewers")
    @classmethod
    def _hashes_only(cls, reviewers: dict[str, SecretStr]) -> dict[str, SecretStr]:
        """Every reviewer's value must be a password hash; a plain password is refused, by name."""
        for reviewer, secret in reviewers.items():
            try:
                parse_password_hash(secret.get_secret_value())
            except ValueError as exc:
                raise ValueError(
                    f"review.reviewers[{reviewer!r}]: {exc}; run `flywheel review hash-password` and store its output"
                ) from None
        return reviewers

    def store_location(self, state_dir: Path) -> str:
        """The store's SQLAlchemy URL: ``store_url``, else SQLite under ``state_dir``."""
        if self.store_url:
            return self.store_url
        return f"sqlite:///{(state_dir / 'review' / 'queue.db').resolve()}"


class ReviewConfig(Section):
    """What the review component reads: the broker, the review topic, its own section, event limits, the state dir."""

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    topics: TopicSettings = Field(default_factory=TopicSettings)
    review: ReviewSettings = Field(default_factory=ReviewSettings)
    validation: ValidationSettings = Field(default_factory=ValidationSettings)  # the flow's limits
    state_dir: Path = Path(".flywheel")
