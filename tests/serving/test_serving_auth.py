"""The model server's API keys: with ``serving.api_keys`` set, ``/v1/*`` needs a bearer key.

Over real HTTP (uvicorn on a free port) with the in-memory ``GatedBackend``; probes and
``/metrics`` stay open. Failed keys are throttled per client address, as the gateway's are.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from prometheus_client import REGISTRY
from pydantic import SecretStr

from flywheel.config import FailedAuthSettings
from flywheel.serving.app import create_app
from flywheel.serving.config import ServingConfig, ServingSettings
from tests.support.serving import WAIT_S, GatedBackend, running_server

KEY = "s3cret-key-for-the-chat-app"


def _config(tmp_path: Path, **serving: object) -> ServingConfig:
    return ServingConfig(
        serving=ServingSettings(follow_promotions=False, watch_interval_s=0.05, batch_window_ms=0.0, **serving),
        registry_url=str(tmp_path / "registry"),
        base_model="unused: the backend is given",
        state_dir=tmp_path / "state",
    )


def _refused(reason: str) -> float:
    return REGISTRY.get_sample_value("flywheel_serving_requests_refused_total", {"reason": reason}) or 0.0


def _chat(client: httpx.Client, text: str, key: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    return client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": text}]}, headers=headers)


def test_with_api_keys_only_a_known_bearer_key_is_answered(tmp_path: Path) -> None:
    config = _config(tmp_path, api_keys={"chat-app": KEY}, failed_auth=FailedAuthSettings(burst=4, refill_per_s=0.001))
    unauthorized, throttled = _refused("unauthorized"), _refused("auth_throttled")
    with (
        running_server(create_app(config, backend=GatedBackend())) as url,
        httpx.Client(base_url=url, timeout=WAIT_S) as client,
    ):
        # Probes and Prometheus need no key.
        assert client.get("/healthz").status_code == 200 and client.get("/readyz").status_code == 200
        assert client.get("/metrics").status_code == 200

        answered = _chat(client, "hello", KEY)
        assert answered.status_code == 200 and answered.json()["choices"][0]["message"]["content"] == "hello"
        assert client.get("/v1/models", headers=config.serving.client_headers()).status_code == 200

        missing = _chat(client, "no key")
        assert missing.status_code == 401 and missing.headers["WWW-Authenticate"] == "Bearer"
        assert missing.json()["error"]["code"] == "invalid_api_key"
        assert "missing Authorization" in missing.json()["error"]["message"]
        wrong = _chat(client, "wrong key", "not-the-key")
        assert wrong.status_code == 401 and wrong.json()["error"]["message"] == "unknown API key"
        assert client.get("/v1/flywheel/routes").status_code == 401
        assert client.get("/v1/models", headers={"Authorization": KEY}).status_code == 401  # no scheme
        assert _refused("unauthorized") == unauthorized + 4

        # Four failures from this address: even the right key waits now, so a guess cannot be told apart.
        blocked = _chat(client, "right key, too late", KEY)
        assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) >= 1
        assert _refused("auth_throttled") == throttled + 1


def test_api_keys_come_from_a_mounted_file_and_the_client_sends_the_first(tmp_path: Path) -> None:
    keys = tmp_path / "serving-api-keys.json"
    keys.write_text(json.dumps({"chat-app": KEY}))
    settings = ServingSettings(api_keys={"old": SecretStr("replaced")}, api_keys_file=keys)
    assert {key_id: key.get_secret_value() for key_id, key in settings.api_keys.items()} == {
        "old": "replaced",
        "chat-app": KEY,
    }
    assert ServingSettings(api_keys={"chat-app": KEY}).client_headers() == {"Authorization": f"Bearer {KEY}"}
    assert ServingSettings().client_headers() == {}
    assert KEY not in repr(settings)  # masked wherever settings are printed
