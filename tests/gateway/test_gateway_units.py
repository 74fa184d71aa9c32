"""Gateway rules without a broker: UUIDv7, API keys and signatures, replays, token buckets, secret files."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import KafkaError, KafkaException
from pydantic import SecretStr

from flywheel.config import KafkaSettings, read_secret_file
from flywheel.errors import ReplayedRequest
from flywheel.gateway.auth import Authenticator, RateLimited, RateLimiter, Unauthorized, sign
from flywheel.gateway.config import FailedAuthSettings, GatewaySettings, RateLimitSettings
from flywheel.gateway.ids import uuid7
from flywheel.gateway.normalise import EncodedEvent
from flywheel.gateway.publisher import BrokerUnavailable, EventPublisher
from flywheel.gateway.replay import MemoryReplayCache
from flywheel.infra.throttle import FailedAuthThrottle, TokenBuckets


def test_uuid7_has_version_variant_time_and_order() -> None:
    ids = [uuid7() for _ in range(5000)]
    assert all(value.version == 7 and value.variant == uuid.RFC_4122 for value in ids)
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    millis = ids[0].int >> 80
    assert abs(millis - time.time() * 1000) < 5000


def settings(**overrides: object) -> GatewaySettings:
    base: dict[str, object] = {"api_keys": {"a": "key-a", "w": "key-w"}, "hmac_secrets": {"w": "s3cret"}}
    return GatewaySettings(**{**base, **overrides})  # type: ignore[arg-type]


def test_api_key_resolves_to_its_id_and_unknown_keys_fail() -> None:
    auth = Authenticator(settings())
    assert auth.authenticate({"x-api-key": "key-a"}, b"{}") == "a"
    for headers in ({}, {"x-api-key": "nope"}, {"x-api-key": ""}):
        with pytest.raises(Unauthorized):
            auth.authenticate(headers, b"{}")
    assert Authenticator(settings(allow_anonymous=True)).authenticate({}, b"") == "anonymous"


def test_signature_is_checked_over_body_and_timestamp_within_tolerance() -> None:
    auth = Authenticator(settings(timestamp_tolerance_s=60))
    body, now = b'{"a": 1}', 1_800_000_000.0
    stamp = str(int(now))
    good = {"x-api-key": "key-w", "x-flywheel-timestamp": stamp, "x-flywheel-signature": sign("s3cret", stamp, body)}
    assert auth.authenticate(good, body, now=now) == "w"
    # Still inside the tolerance 59 s later (a second gateway that has not seen it yet).
    assert Authenticator(settings(timestamp_tolerance_s=60)).authenticate(good, body, now=now + 59) == "w"
    with pytest.raises(Unauthorized, match="tolerance"):
        auth.authenticate(good, body, now=now + 61)
    with pytest.raises(Unauthorized, match="does not match"):
        auth.authenticate(good, body + b" ", now=now)
    with pytest.raises(Unauthorized, match="required"):
        auth.authenticate({"x-api-key": "key-w"}, body, now=now)
    with pytest.raises(Unauthorized, match="required"):
        Authenticator(settings(require_signatures=True)).authenticate({"x-api-key": "key-a"}, body)


def signed(stamp: str, body: bytes, secret: str = "s3cret") -> dict[str, str]:
    # hmac directly, not sign(): sign() only takes ASCII timestamps and some cases here are not.
    digest = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"x-api-key": "key-w", "x-flywheel-timestamp": stamp, "x-flywheel-signature": "sha256=" + digest}


@pytest.mark.parametrize(
    "stamp",
    ["nan", "NaN", "inf", "-inf", "infinity", "1e999", "1.8e9", "-1800000000", "+1800000000", " 1800000000",
     "1800000000 ", "1_800_000_000", "0x6b49d200", "1800000000.", ".5", "\u0661\u0668\u0660\u0660", "9" * 13],
)  # fmt: skip
def test_non_finite_or_malformed_timestamps_are_refused(stamp: str) -> None:
    auth = Authenticator(settings(timestamp_tolerance_s=60))
    body = b'{"a": 1}'
    with pytest.raises(Unauthorized, match="unix seconds"):
        auth.authenticate(signed(stamp, body), body, now=1_800_000_000.0)


def test_empty_timestamp_is_refused_and_fractional_seconds_are_accepted() -> None:
    auth = Authenticator(settings(timestamp_tolerance_s=60))
    body, now = b"{}", 1_800_000_000.0
    with pytest.raises(Unauthorized, match="required"):
        auth.authenticate(signed("", body), body, now=now)
    assert auth.authenticate(signed("1800000000.250", body), body, now=now) == "w"


def test_a_signed_request_is_accepted_once_and_a_fresh_signature_again() -> None:
    auth = Authenticator(settings(timestamp_tolerance_s=60))
    body, now = b'{"a": 1}', 1_800_000_000.0
    first = signed(str(int(now)), body)
    assert auth.authenticate(first, body, now=now) == "w"
    with pytest.raises(ReplayedRequest, match="already received"):
        auth.authenticate(first, body, now=now + 30)
    assert auth.authenticate(signed(str(int(now) + 1), body), body, now=now + 1) == "w"
    # A refund (the request was refused before anything was produced) makes it usable once more.
    token = auth.verify("w", first, body, now=now)
    assert token is not None
    auth.refund(token)
    assert auth.authenticate(first, body, now=now) == "w"
    with pytest.raises(ReplayedRequest):
        auth.authenticate(first, body, now=now)


def test_a_bad_signature_spends_nothing() -> None:
    auth = Authenticator(settings(timestamp_tolerance_s=60))
    body, now = b'{"a": 1}', 1_800_000_000.0
    good = signed(str(int(now)), body)
    forged = {**good, "x-flywheel-signature": good["x-flywheel-signature"][:-1] + "0"}
    for _ in range(3):
        with pytest.raises(Unauthorized, match="does not match"):
            auth.authenticate(forged, b'{"a": 2}', now=now)
    assert auth.authenticate(good, body, now=now) == "w"


def test_memory_replay_cache_forgets_a_claim_when_it_expires() -> None:
    clock = [100.0]
    cache = MemoryReplayCache(clock=lambda: clock[0])
    assert cache.claim("t", ttl_s=10.0)
    assert not cache.claim("t", ttl_s=10.0)
    clock[0] = 109.9
    assert not cache.claim("t", ttl_s=10.0)
    cache.release("t")
    assert cache.claim("t", ttl_s=10.0)  # claimed again at 109.9, until 119.9
    clock[0] = 115.0  # the first claim's expiry (110.0) has passed; the second holds
    assert not cache.claim("t", ttl_s=10.0)
    clock[0] = 120.0
    assert cache.claim("t", ttl_s=10.0)
    for index in range(1000):
        cache.claim(f"other-{index}", ttl_s=1.0)
    clock[0] = 200.0
    cache.claim("late", ttl_s=1.0)
    assert len(cache) == 1  # expired claims do not accumulate


def test_failed_authentications_are_throttled_per_address() -> None:
    throttle = FailedAuthThrottle(FailedAuthSettings(burst=3, refill_per_s=0.5))
    for _ in range(3):
        throttle.check("198.51.100.7", now=10.0)
        throttle.failed("198.51.100.7", now=10.0)
    with pytest.raises(RateLimited, match="failed authentications") as limited:
        throttle.check("198.51.100.7", now=10.0)
    assert limited.value.retry_after_s == pytest.approx(2.0)
    throttle.check("203.0.113.9", now=10.0)  # per address
    throttle.check("198.51.100.7", now=12.0)  # one failure back after 1 / refill_per_s
    throttle.failed("198.51.100.7", now=12.0)
    with pytest.raises(RateLimited):
        throttle.check("198.51.100.7", now=12.0)
    off = FailedAuthThrottle(FailedAuthSettings(enabled=False, burst=1))
    for _ in range(5):
        off.failed("x", now=0.0)
    off.check("x", now=0.0)


def test_token_buckets_forget_full_buckets() -> None:
    buckets = TokenBuckets(rate=1.0, burst=2)
    for index in range(10_000):
        assert buckets.take(f"address-{index}", now=float(index)) == 0.0
    # Each name took one token at its own moment and refilled a second later: all but the
    # last few thousand since the last sweep are gone.
    assert len(buckets) <= TokenBuckets._SWEEP_EVERY


def test_token_bucket_allows_burst_then_refills_at_rate() -> None:
    limiter = RateLimiter(RateLimitSettings(requests_per_s=2.0, burst=3))
    for _ in range(3):
        limiter.acquire("k", now=100.0)
    with pytest.raises(RateLimited) as limited:
        limiter.acquire("k", now=100.0)
    assert limited.value.retry_after_s == pytest.approx(0.5)
    limiter.acquire("other", now=100.0)  # per key
    limiter.acquire("k", now=100.5)  # one token back after 1 / rate seconds
    with pytest.raises(RateLimited):
        limiter.acquire("k", now=100.5)


def test_secret_files_in_both_formats_merge_into_settings(tmp_path: Path) -> None:
    lines = tmp_path / "keys"
    lines.write_text("# team keys\nteam-a = alpha\n\nteam-b=beta\n")
    as_json = tmp_path / "hmac.json"
    as_json.write_text('{"team-a": "signing"}')
    loaded = GatewaySettings(api_keys_file=lines, hmac_secrets_file=as_json)
    assert {k: v.get_secret_value() for k, v in loaded.api_keys.items()} == {"team-a": "alpha", "team-b": "beta"}
    assert loaded.hmac_secrets["team-a"] == SecretStr("signing")
    assert "alpha" not in repr(loaded)
    (tmp_path / "bad").write_text("no-separator\n")
    with pytest.raises(ValueError, match="key-id=secret"):
        read_secret_file(tmp_path / "bad")


def test_gateway_settings_come_from_flywheel_env(monkeypatch: pytest.MonkeyPatch) -> None:
    from flywheel.settings import Settings

    monkeypatch.setenv("FLYWHEEL_GATEWAY__PORT", "9123")
    monkeypatch.setenv("FLYWHEEL_GATEWAY__API_KEYS", '{"ops": "from-env"}')
    monkeypatch.setenv("FLYWHEEL_GATEWAY__RATE_LIMIT__BURST", "7")
    loaded = Settings().gateway
    assert (loaded.port, loaded.rate_limit.burst) == (9123, 7)
    assert loaded.api_keys["ops"].get_secret_value() == "from-env"


def test_training_candidates_are_scrubbed_on_the_way_out() -> None:
    from flywheel.gateway.candidates import _scrubbed

    row = {
        "pair_id": "p",
        "prompt": "Mail jane.doe@example.com",
        "chosen": "Call +1 415 555 0134",
        "rejected": "ok",
        "segment": "jane.doe@example.com",  # not a free-text column: left as stored
    }
    out = _scrubbed(row)
    assert (out["prompt"], out["chosen"], out["rejected"]) == ("Mail [EMAIL]", "Call [PHONE]", "ok")
    assert out["segment"] == row["segment"] and out["pair_id"] == "p"
    assert out["conversation"] == []  # a single-turn pair, or a table from before the metadata column

    # Earlier turns are scrubbed again too (a row written before a detector existed), oldest first.
    said = [{"role": "user", "content": "I am jane.doe@example.com"}, {"role": "assistant", "content": "Hi"}]
    stored = json.dumps({"conversation": said})
    turns = _scrubbed({**row, "metadata": stored})
    assert turns["conversation"] == [
        {"role": "user", "content": "I am [EMAIL]"},
        {"role": "assistant", "content": "Hi"},
    ]
    assert "metadata" not in turns
    assert _scrubbed({**row, "metadata": '{"conversation": "not a list"}'})["conversation"] == []


class _FatallyBrokenProducer:
    """Stands in for a librdkafka producer after a fatal error (e.g. an idempotence sequence
    gap): it refuses every message. A real one cannot be put in that state on demand."""

    def produce(self, *_args: object, **_kwargs: object) -> None:
        raise KafkaException(KafkaError(KafkaError._FATAL, "out of order sequence", fatal=True))


def test_the_single_event_producer_is_recreated_after_a_fatal_error() -> None:
    publisher = EventPublisher(KafkaSettings(bootstrap_servers="127.0.0.1:9"), "topic", GatewaySettings())
    broken = _FatallyBrokenProducer()
    publisher._single = broken  # type: ignore[assignment]
    item = EncodedEvent(event=None, key=b"k", value=b"{}")  # type: ignore[arg-type]
    with pytest.raises(BrokerUnavailable, match="out of order sequence"):
        publisher.publish([item])
    assert publisher._single is None  # the next request builds a new producer, not the dead one
    # A non-fatal refusal keeps the producer.
    publisher._single = _RetriablyRefusingProducer()  # type: ignore[assignment]
    with pytest.raises(BrokerUnavailable):
        publisher.publish([item])
    assert isinstance(publisher._single, _RetriablyRefusingProducer)


class _RetriablyRefusingProducer:
    def produce(self, *_args: object, **_kwargs: object) -> None:
        raise KafkaException(KafkaError(KafkaError._TRANSPORT, "broker down", retriable=True))
