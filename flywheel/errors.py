"""Every error the flywheel raises on purpose, in one hierarchy.

The CLI prints any :class:`FlywheelError` as one line and exits with code 2; anything else
is a bug and keeps its traceback. Subclasses that were ``ValueError`` before keep that base
too, so pydantic validators and older ``except ValueError`` callers still see them.
"""

from __future__ import annotations

from typing import Any


class FlywheelError(Exception):
    """Base class: an error with a message meant for the person running the flywheel."""


# --- configuration and input


class ConfigError(FlywheelError, ValueError):
    """A setting, option or file cannot be used as given."""


class PolicyError(ConfigError):
    """A policy file that cannot be loaded; the message names the file, key and rule."""


class ToxicityError(ConfigError):
    """A toxicity backend that cannot be built (unknown name, missing files, missing extra)."""


class ModelError(ConfigError):
    """The configured base model cannot be found or loaded."""


class RegistryError(ConfigError):
    """The registry location is unusable (unreadable, unwritable, unknown protocol)."""


class PortInUse(ConfigError):
    """A port another process already listens on; the message names the setting that chose it."""

    @classmethod
    def for_setting(cls, setting: str, host: str, port: int) -> PortInUse:
        """The error for ``setting`` (e.g. ``metrics.trainer_port``) naming its environment variable."""
        env = "FLYWHEEL_" + setting.upper().replace(".", "__")
        return cls(f"{host}:{port} is already in use; set {setting} ({env}) to a free port, or 0 to turn it off")


class RecoveryStateExists(ConfigError):
    """A start-position override was asked for while recovery state would take precedence."""


class RecoveryStateDamaged(FlywheelError):
    """Recovery state references something that is no longer there (a dedup journal segment)."""


# --- Kafka


class BrokerError(FlywheelError):
    """The broker could not be started, reached or read (a missing topic included)."""


class BrokerUnreachable(BrokerError):
    """No broker answered within ``kafka.connect_timeout_s``; the message names the address and setting."""


class OffsetsAheadOfTopic(BrokerError):
    """The catalog resumes past a topic's end: a new or reset broker; the message says how to reset."""


class DeliveryError(BrokerError):
    """The broker did not acknowledge a message."""


class BrokerUnavailable(BrokerError):
    """The broker did not acknowledge the request's events; none are visible to consumers."""


class MessageTooLarge(BrokerError):
    """The producer or broker refused a message for its size; the transaction was aborted."""


# --- Iceberg


class CatalogError(FlywheelError):
    """The catalog refused or failed an operation that retries did not fix."""


class CatalogUnreachable(CatalogError):
    """The catalog did not answer within ``catalog.connect_timeout_s``; the message names the URI and setting."""


class CatalogUnavailable(CatalogError):
    """The catalog stayed busy or unreachable for longer than ``sink.catalog_outage_s``."""


class CommitFailed(CatalogError):
    """An Iceberg commit still failed after every attempt."""


class DatasetError(CatalogError, ValueError):
    """A revert or quarantine that cannot be done as asked."""


class BranchExists(CatalogError):
    """Replays go into a new branch; an existing one would mix two runs."""


class TagConflictError(CatalogError):
    """A tag already exists and points at a different snapshot."""


# --- gateway (answered as HTTP errors, never shown as tracebacks)


class GatewayError(FlywheelError):
    """A gateway request refused before anything was produced."""


class Unauthorized(GatewayError):
    """Missing or wrong API key, or a missing, stale, malformed or wrong signature."""


class ReplayedRequest(Unauthorized):
    """A correctly signed request whose signature was already spent within the tolerance window."""


class ReplayCacheUnavailable(GatewayError):
    """The shared cache of spent signatures cannot be reached; signed requests are refused."""


class RateLimited(FlywheelError):
    """A token bucket is empty; ``retry_after_s`` until the next token.

    The gateway's per-key rate limit, and failed authentications (gateway keys and signatures,
    review logins) per client address or reviewer id; both answer 429 with ``Retry-After``.
    """

    def __init__(self, retry_after_s: float, reason: str = "rate limit exceeded") -> None:
        super().__init__(f"{reason}; retry after {retry_after_s:.3f}s")
        self.retry_after_s = retry_after_s


class BodyTooLarge(GatewayError):
    """The request body exceeds ``gateway.max_body_bytes``."""


class InvalidCursor(GatewayError, ValueError):
    """The cursor is not one this endpoint issued."""


class InvalidEvent(GatewayError):
    """The flow's decoder rejects a normalised event; carries field-level errors."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors)
        self.errors = errors


class ProcessStartError(FlywheelError):
    """A child process (gateway, broker) exited or did not answer in time."""


# --- human review


class ReviewError(FlywheelError):
    """A review action that cannot be done as asked."""


class ClaimError(ReviewError):
    """The item is claimed by someone else, already answered, or the reviewer's claim expired."""


class ReviewDeliveryError(ReviewError):
    """The gateway did not accept a review event; the item is not marked answered, the reviewer can retry.

    ``maybe_delivered`` is True when the event may still reach the topic (no answer, or a 5xx such
    as the gateway's "no delivery report in time"): then only that same event may be sent again.
    """

    def __init__(self, message: str, maybe_delivered: bool) -> None:
        super().__init__(message)
        self.maybe_delivered = maybe_delivered


# --- serving


class AliasError(ConfigError):
    """The registry's current alias cannot be read or moved as asked (unknown run, nothing to roll back to)."""


class ServingError(FlywheelError):
    """The model server cannot answer (the model is not loaded, a version failed to load)."""


class ServingUnauthorized(ServingError):
    """A model server request without a valid API key (``serving.api_keys`` is set): 401."""


class ServingBusy(ServingError):
    """The model server has ``max_queued`` requests waiting already: ask again shortly (503, Retry-After)."""


# --- benchmarks


class ReadmeBlockMissing(FlywheelError):
    """The README lacks the generated benchmark block's begin/end markers."""
