"""The gateway as a child process gets the real secrets: in its environment, never in its config file."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import yaml

from flywheel.config import revised
from flywheel.gateway_process import child_configuration, running_gateway
from flywheel.settings import CONFIG_FILE_ENV, Settings, load_settings
from tests.gateway.test_gateway import event
from tests.support.gateway import signed_headers
from tests.support.redis_server import running_redis
from tests.support.review import password_hash

REDIS_PASSWORD = "redis-pass-7f3a"
SESSION_SECRET = "session-secret-91c2"
API_KEY = "child-api-key"
HMAC_SECRET = "child-hmac-secret"


def with_secrets(settings: Settings, redis_url: str = "redis://127.0.0.1:6379/0") -> Settings:
    """``settings`` with a Redis replay cache behind a password and a review section holding secrets."""
    return revised(
        settings,
        gateway={"replay_cache": {"backend": "redis", "url": redis_url, "password": REDIS_PASSWORD}},
        review={"reviewers": {"alice": password_hash("alice-password")}, "session_secret": SESSION_SECRET},
    )


def test_secrets_reach_the_child_by_environment_and_stay_out_of_its_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = with_secrets(Settings(state_dir=tmp_path))
    hmac = {"hmac_secrets": {"webhook": HMAC_SECRET}}
    config, environment = child_configuration(settings, {"webhook": API_KEY}, 8123, **hmac)

    written = yaml.safe_dump(config)
    reviewer_hash = settings.review.reviewers["alice"].get_secret_value()
    for secret in (REDIS_PASSWORD, SESSION_SECRET, API_KEY, HMAC_SECRET, reviewer_hash, "**********"):
        assert secret not in written
    assert all(name.startswith("FLYWHEEL_") for name in environment)
    assert json.loads(environment["FLYWHEEL_GATEWAY__API_KEYS"]) == {"webhook": API_KEY}

    # The child's own loading: the file, with the environment over it.
    config_file = tmp_path / "gateway.yaml"
    config_file.write_text(written, encoding="utf-8")
    monkeypatch.setenv(CONFIG_FILE_ENV, str(config_file))
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    loaded = load_settings()
    gateway = loaded.gateway
    assert gateway.port == 8123 and gateway.replay_cache.backend == "redis"
    assert gateway.replay_cache.password is not None
    assert gateway.replay_cache.password.get_secret_value() == REDIS_PASSWORD
    assert {key: value.get_secret_value() for key, value in gateway.api_keys.items()} == {"webhook": API_KEY}
    assert gateway.hmac_secrets["webhook"].get_secret_value() == HMAC_SECRET
    assert loaded.review.reviewers["alice"].get_secret_value() == reviewer_hash
    assert loaded.review.session_secret.get_secret_value() == SESSION_SECRET


@pytest.mark.integration
def test_a_child_gateway_uses_the_real_redis_password(settings: Settings, tmp_path: Path) -> None:
    with running_redis(tmp_path, password=REDIS_PASSWORD) as redis_url:
        child = with_secrets(settings, redis_url)
        body = json.dumps(event(event_id="child-1")).encode()
        headers = signed_headers(API_KEY, HMAC_SECRET, body)
        hmac = {"hmac_secrets": {"webhook": HMAC_SECRET}}
        with running_gateway(child, {"webhook": API_KEY}, log_file=tmp_path / "gateway.log", **hmac) as base_url:
            # A signed request claims its signature in Redis: a masked password would answer 503.
            accepted = httpx.post(f"{base_url}/v1/events", content=body, headers=headers, timeout=30)
            assert accepted.status_code == 202, accepted.text
            replayed = httpx.post(f"{base_url}/v1/events", content=body, headers=headers, timeout=30)
            assert replayed.status_code == 401 and "already received" in replayed.text
