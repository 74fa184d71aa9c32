"""``GET /v1/flywheel/training-candidates`` at its edges, on a real SQLite catalog (no broker needed):
times with no UTC equivalent, cursors this endpoint did not issue, and a catalog that cannot be
reached. Each is a 422 naming the parameter, or a 503 saying what is down; never a 500."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from flywheel.gateway.app import create_app
from flywheel.infra.broker import free_port
from flywheel.infra.catalog import ensure_tables, open_catalog
from flywheel.schemas.tables import DPO_PAIRS
from flywheel.settings import Settings
from tests.conftest import make_settings
from tests.support.synthetic import append_rows, pair_rows

pytestmark = pytest.mark.integration

KEY = "candidates-key"
AUTH = {"X-API-Key": KEY}
PATH = "/v1/flywheel/training-candidates"
OUT_OF_RANGE = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"]


def settings_for(root: Path, **catalog: Any) -> Settings:
    # The candidates route never produces: a broker address nobody listens on is enough.
    overrides: dict[str, Any] = {"gateway": {"api_keys": {"reader": KEY}}}
    if catalog:
        overrides["catalog"] = catalog
    return make_settings(f"127.0.0.1:{free_port()}", root, **overrides)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    """A gateway over a dpo_pairs table holding 4 pairs, one a minute from 2026-01-01T00:00Z."""
    settings = settings_for(tmp_path)
    pairs = ensure_tables(open_catalog(settings.catalog), settings.catalog)[DPO_PAIRS]
    append_rows(pairs, pair_rows(4))
    with TestClient(create_app(settings.gateway_config())) as test_client:
        yield test_client


def cursor_of(fields: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(fields).encode()).decode().rstrip("=")


def sample(metrics: str, series: str) -> float:
    lines = [line for line in metrics.splitlines() if line.startswith(series + " ")]
    return float(lines[0].rsplit(" ", 1)[1]) if lines else 0.0


def loc_of(response: Any) -> list[Any]:
    return [error["loc"] for error in response.json()["detail"]]


def test_since_with_no_utc_equivalent_is_422(client: TestClient) -> None:
    for since in OUT_OF_RANGE:
        response = client.get(PATH, params={"since": since}, headers=AUTH)
        assert response.status_code == 422, response.text
        assert loc_of(response) == [["query", "since"]]
    # The extremes that do exist in UTC are ordinary bounds.
    earliest = client.get(PATH, params={"since": "0001-01-01T00:00:00+00:00"}, headers=AUTH)
    assert earliest.status_code == 200, earliest.text
    assert earliest.json()["count"] == 4
    latest = client.get(PATH, params={"since": "9999-12-31T23:59:59+00:00"}, headers=AUTH)
    assert latest.status_code == 200 and latest.json()["count"] == 0


def test_crafted_cursors_are_422_and_an_issued_one_pages_on(client: TestClient) -> None:
    first = client.get(PATH, params={"limit": 2}, headers=AUTH).json()
    issued = first["next_cursor"]
    fields = json.loads(base64.urlsafe_b64decode(issued + "=" * (-len(issued) % 4)))
    assert set(fields) == {"s", "t", "p"}
    crafted = [
        *({**fields, "t": moment} for moment in OUT_OF_RANGE),
        {**fields, "t": "2026-01-01T00:01:00"},  # no offset
        {**fields, "t": 1767225660},
        {**fields, "s": True},
        {**fields, "s": 2**64},
        {**fields, "s": str(fields["s"])},
        {**fields, "p": 7},
        {**fields, "p": "\ud800"},
        {**fields, "extra": 1},
        {"s": fields["s"], "t": fields["t"]},
        [fields["s"], fields["t"], fields["p"]],
    ]
    tokens = [cursor_of(value) for value in crafted]
    tokens += [cursor_of("[" * 5000 + "]" * 5000), "not base64 !", "w6k", issued + "é"]
    for token in tokens:
        response = client.get(PATH, params={"cursor": token}, headers=AUTH)
        assert response.status_code == 422, (token, response.text)
        assert loc_of(response) == [["query", "cursor"]], response.text
    # The issued cursor, and the same position written in another offset, give the same next page.
    shifted = cursor_of({**fields, "t": "2026-01-01T02:01:00+02:00"})
    assert fields["t"].startswith("2026-01-01T00:01:00")
    pages = [client.get(PATH, params={"cursor": token, "limit": 2}, headers=AUTH) for token in (issued, shifted)]
    assert [page.status_code for page in pages] == [200, 200]
    assert pages[0].json() == pages[1].json()
    seen = [c["pair_id"] for c in first["candidates"]] + [c["pair_id"] for c in pages[0].json()["candidates"]]
    assert len(set(seen)) == 4


def test_unreachable_catalog_is_503_saying_so(tmp_path: Path) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    settings = settings_for(tmp_path, type="rest", uri=nowhere)
    retries = f'flywheel_catalog_retries_total{{operation="read",table="{DPO_PAIRS}"}}'
    with TestClient(create_app(settings.gateway_config())) as client:
        before = sample(client.get("/metrics").text, retries)
        started = time.monotonic()
        response = client.get(PATH, headers=AUTH)
        waited = time.monotonic() - started
        assert response.status_code == 503 and response.headers["Retry-After"] == "5", response.text
        detail = response.json()["detail"]
        assert nowhere in detail and "catalog" in detail and "retry" in detail, detail
        assert 0.9 <= waited < 10, waited  # a short bounded retry (about a second), not a hang
        assert sample(client.get("/metrics").text, retries) >= before + 2  # each failed attempt counted
        spec = client.get("/openapi.json").json()
        assert "503" in spec["paths"][PATH]["get"]["responses"]


def test_pages_walk_every_row_once_in_order_across_ties_and_days(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    pairs = ensure_tables(open_catalog(settings.catalog), settings.catalog)[DPO_PAIRS]
    rows = pair_rows(30).to_pylist()
    base = rows[0]["occurred_at"]
    for index, row in enumerate(rows):
        # Ten rows share one moment (a page boundary falls inside them), the rest spread over 3 days.
        row["occurred_at"] = base + timedelta(hours=5) if 10 <= index < 20 else base + timedelta(hours=3 * index)
    for start in range(0, 30, 7):  # several commits: several files per day
        pairs.append(pa.Table.from_pylist(rows[start : start + 7], schema=pairs.schema().as_arrow()))
    expected = [r["pair_id"] for r in sorted(rows, key=lambda r: (r["occurred_at"], r["pair_id"]))]
    with TestClient(create_app(settings.gateway_config())) as client:
        walked: list[str] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 4, **({"cursor": cursor} if cursor else {})}
            page = client.get(PATH, params=params, headers=AUTH).json()
            assert len(page["candidates"]) == 4 or page["next_cursor"] is None
            walked.extend(c["pair_id"] for c in page["candidates"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert walked == expected
        # A filter pages the same way: only its rows, in order.
        pro = client.get(PATH, params={"limit": 100, "segment": "pro"}, headers=AUTH).json()["candidates"]
        assert [c["pair_id"] for c in pro] == [
            p for p in expected if next(r for r in rows if r["pair_id"] == p)["segment"] == "pro"
        ]
