"""The answer's ``request_id`` (the lineage id feedback links back with) is a short token, never any header echoed.

Before, any ``X-Request-Id`` a client sent came back as the ``request_id``: 6,000 characters, or
characters no id should hold. A valid one is kept (a proxy's trace id); others are replaced.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from flywheel.serving.app import create_app
from flywheel.serving.config import ServingConfig, ServingSettings
from tests.support.serving import WAIT_S, GatedBackend, running_server

SERVER_ID = re.compile(r"[0-9a-f]{32}")  # uuid4().hex, the engine's own ids


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("request-id")
    config = ServingConfig(
        serving=ServingSettings(
            follow_promotions=False, watch_interval_s=0.05, batch_window_ms=0.0, impact_refresh_s=0
        ),
        registry_url=str(root / "registry"),
        base_model="unused: the backend is given",
        state_dir=root / "state",
    )
    with running_server(create_app(config, backend=GatedBackend())) as url:
        yield url


def _answer(url: str, request_id: str | bytes | None) -> httpx.Response:
    headers = {} if request_id is None else {"X-Request-Id": request_id}
    response = httpx.post(
        f"{url}/v1/chat/completions",
        json={"messages": [{"role": "user", "content": "hi"}]},
        headers=headers,
        timeout=WAIT_S,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert response.headers["X-Request-Id"] == body["request_id"] and body["id"] == f"chatcmpl-{body['request_id']}"
    return response


@pytest.mark.parametrize("request_id", ["trace-1", "a.b_c:d-E9", "x" * 128])
def test_a_valid_client_request_id_is_kept(server: str, request_id: str) -> None:
    assert _answer(server, request_id).json()["request_id"] == request_id


@pytest.mark.parametrize(
    "request_id",
    ["x" * 129, "x" * 6000, "two words", "a/b", "id;drop", "\u00e9t\u00e9".encode(), ""],
    ids=["129-chars", "6000-chars", "space", "slash", "semicolon", "non-ascii", "empty"],
)
def test_an_invalid_client_request_id_is_replaced_by_the_servers_own(server: str, request_id: str | bytes) -> None:
    assert SERVER_ID.fullmatch(_answer(server, request_id).json()["request_id"])


def test_two_requests_with_one_invalid_id_get_different_ids(server: str) -> None:
    assert _answer(server, "x" * 6000).json()["request_id"] != _answer(server, "x" * 6000).json()["request_id"]


def test_without_a_client_request_id_each_answer_gets_its_own(server: str) -> None:
    ids = {_answer(server, None).json()["request_id"] for _ in range(3)}
    assert len(ids) == 3 and all(SERVER_ID.fullmatch(i) for i in ids)
