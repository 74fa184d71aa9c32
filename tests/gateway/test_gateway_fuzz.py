"""Schemathesis fuzz of the gateway's OpenAPI document against the real broker: no 5xx, and
every response (status code, content type, body) is one the document declares."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from flywheel.gateway.app import create_app
from flywheel.infra.broker import LocalBroker, ensure_topics
from tests.conftest import make_settings

pytestmark = pytest.mark.integration

KEY = "fuzz-key"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@pytest.fixture
def gateway_schema(broker: LocalBroker, tmp_path: Path) -> Iterator[Any]:
    """The live OpenAPI document of a gateway on the real broker (broker up, no rate limits)."""
    gateway = {
        "api_keys": {"fuzz": KEY},
        "rate_limit": {"enabled": False},
        "failed_auth": {"enabled": False},
        "batch_max_events": 20,
    }
    config = make_settings(broker.bootstrap_servers, tmp_path, gateway=gateway)
    ensure_topics(config.kafka, config.topics)
    app = create_app(config.gateway_config())
    with TestClient(app):  # runs the lifespan: producers are closed at the end
        yield schemathesis.openapi.from_asgi("/openapi.json", app)


WITH_INPUT = [
    ("/v1/events", "POST"),
    ("/v1/feedback", "POST"),
    ("/v1/telemetry", "POST"),
    ("/v1/flywheel/training-candidates", "GET"),
]
WITHOUT_INPUT = [("/healthz", "GET"), ("/readyz", "GET"), ("/metrics", "GET")]
# Negative cases need an input to break; operations without parameters get positive ones only.
CASES = [
    *((path, method, mode) for path, method in WITH_INPUT for mode in GenerationMode),
    *((path, method, GenerationMode.POSITIVE) for path, method in WITHOUT_INPUT),
]


@pytest.mark.parametrize(("path", "method", "mode"), CASES, ids=lambda value: getattr(value, "value", value))
def test_no_server_errors_and_responses_match_the_spec(
    gateway_schema: Any, path: str, method: str, mode: GenerationMode
) -> None:
    """Positive and negative cases per operation (schemathesis' pytest plugin predates pytest 9)."""
    operation = gateway_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=30, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def fuzz(case: Any) -> None:
        # The real key replaces a generated one, except where a negative case dropped the required
        # header: adding it back would turn that case into a valid request.
        dropped = mode is GenerationMode.NEGATIVE and "X-API-Key" not in (case.headers or {})
        case.call_and_validate(headers={} if dropped else {"X-API-Key": KEY}, checks=CHECKS)

    fuzz()
