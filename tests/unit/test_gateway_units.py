"""Gateway rules without a broker: UUIDv7, API keys and signatures, token buckets, secret files."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from pydantic import SecretStr

from flywheel.gateway.auth import Authenticator, RateLimited, RateLimiter, Unauthorized, sign
from flywheel.gateway.config import GatewaySettings, RateLimitSettings, read_secret_file
from flywheel.gateway.ids import uuid7


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
    assert auth.authenticate(good, body, now=now + 59) == "w"
    with pytest.raises(Unauthorized, match="tolerance"):
        auth.authenticate(good, body, now=now + 61)
    with pytest.raises(Unauthorized, match="does not match"):
        auth.authenticate(good, body + b" ", now=now)
    with pytest.raises(Unauthorized, match="required"):
        auth.authenticate({"x-api-key": "key-w"}, body, now=now)
    with pytest.raises(Unauthorized, match="required"):
        Authenticator(settings(require_signatures=True)).authenticate({"x-api-key": "key-a"}, body)


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
