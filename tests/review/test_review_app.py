"""The review app's pages through HTTP (TestClient): login, its throttle, CSRF, escaping, claims."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from pydantic import ValidationError

from flywheel.review.app import create_app
from flywheel.review.config import ReviewConfig, ReviewSettings
from flywheel.review.store import ReviewStore
from tests.support.review import password_hash, review_item
from tests.support.review_flow import csrf

HOSTILE = '<script>window.__xss = 1</script><img src=x onerror="window.__xss=1">'


@pytest.fixture
def store(tmp_path: Path) -> ReviewStore:
    return ReviewStore(f"sqlite:///{tmp_path / 'queue.db'}", claim_ttl_s=600)


REVIEWERS = {"alice": password_hash("correct horse"), "bob": password_hash("battery staple")}


def review_settings(**changes: object) -> ReviewSettings:
    return ReviewSettings(
        reviewers=REVIEWERS,  # type: ignore[arg-type]
        gateway_url="http://127.0.0.1:9",  # nothing listens: actions fail to deliver
        gateway_timeout_s=1.0,
        **changes,  # type: ignore[arg-type]
    )


@pytest.fixture
def client(store: ReviewStore) -> Iterator[TestClient]:
    with TestClient(create_app(ReviewConfig(review=review_settings()), store)) as test_client:
        yield test_client


def login(client: TestClient, reviewer: str = "alice", password: str = "correct horse") -> None:
    token = csrf(client.get("/login").text)
    response = client.post("/login", data={"reviewer": reviewer, "password": password, "csrf_token": token})
    assert response.status_code == 200 and response.url.path == "/", response.text


def test_every_page_needs_a_login(client: TestClient, store: ReviewStore) -> None:
    store.add([review_item(1)])
    for path in ("/", f"/items/{review_item(1).item_id}"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/login"
    response = client.post(f"/items/{review_item(1).item_id}/claim", data={"csrf_token": "x"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"


def test_wrong_password_and_unknown_reviewer_are_refused(client: TestClient) -> None:
    token = csrf(client.get("/login").text)
    for reviewer, password in (("alice", "battery staple"), ("mallory", "correct horse"), ("alice", "")):
        response = client.post("/login", data={"reviewer": reviewer, "password": password, "csrf_token": token})
        assert response.status_code in (401, 422)
    assert client.get("/", follow_redirects=False).status_code == 303


def test_posts_without_the_session_token_are_refused(client: TestClient, store: ReviewStore) -> None:
    item = review_item(1)
    store.add([item])
    response = client.post("/login", data={"reviewer": "alice", "password": "correct horse", "csrf_token": "forged"})
    assert response.status_code == 403
    login(client)
    response = client.post(f"/items/{item.item_id}/claim", data={"csrf_token": "forged"})
    assert response.status_code == 403
    stored = store.get(item.item_id)
    assert stored is not None and stored.claimed_by is None


def test_hostile_text_is_escaped_and_no_script_may_run(client: TestClient, store: ReviewStore) -> None:
    item = review_item(1, prompt=HOSTILE, comment=HOSTILE, metadata={"turns": [{"role": "user", "content": HOSTILE}]})
    store.add([item])
    login(client)
    for path in ("/", f"/items/{item.item_id}"):
        response = client.get(path)
        assert "<script>window.__xss" not in response.text and "<img src=x" not in response.text
        assert "&lt;script&gt;window.__xss = 1&lt;/script&gt;" in response.text
        assert "script-src 'none'" in response.headers["content-security-policy"]


def test_claim_then_answer_needs_the_gateway(client: TestClient, store: ReviewStore) -> None:
    item = review_item(1)
    store.add([item])
    login(client)
    page = client.get("/")
    response = client.post(f"/items/{item.item_id}/claim", data={"csrf_token": csrf(page.text)})
    assert response.url.path == f"/items/{item.item_id}" and "claimed by you" in response.text
    token = csrf(response.text)
    response = client.post(
        f"/items/{item.item_id}/answer", data={"csrf_token": token, "action": "correct", "answer": "Better."}
    )
    assert "did not answer" in response.text  # the gateway is down: nothing recorded, the claim kept
    stored = store.get(item.item_id)
    assert stored is not None and stored.status == "open" and stored.claimed_by == "alice"


def test_a_claimed_item_cannot_be_taken_by_another_reviewer(client: TestClient, store: ReviewStore) -> None:
    item = review_item(1)
    store.add([item])
    store.claim(item.item_id, "bob")
    login(client)
    response = client.post(f"/items/{item.item_id}/claim", data={"csrf_token": csrf(client.get("/").text)})
    assert "claimed by bob" in response.text
    token = csrf(response.text)
    answer = {"csrf_token": token, "action": "dismiss", "note": "x"}
    response = client.post(f"/items/{item.item_id}/answer", data=answer)
    assert "claimed by bob" in response.text
    stored = store.get(item.item_id)
    assert stored is not None and stored.claimed_by == "bob" and stored.status == "open"


def attempt(client: TestClient, reviewer: str, password: str) -> Response:
    token = csrf(client.get("/login").text)
    return client.post("/login", data={"reviewer": reviewer, "password": password, "csrf_token": token})


def test_failed_logins_are_throttled_per_client_address(store: ReviewStore) -> None:
    settings = review_settings(
        failed_logins={"burst": 3, "refill_per_s": 0.01}, failed_logins_per_reviewer={"enabled": False}
    )
    app = create_app(ReviewConfig(review=settings), store)
    with (
        TestClient(app, client=("198.51.100.7", 4000)) as guesser,
        TestClient(app, client=("203.0.113.9", 4000)) as other,
    ):
        for guess in ("a", "b", "c"):
            assert attempt(guesser, "alice", guess).status_code == 401
        # Out of failures: refused before the password is looked at, so the right one is refused too.
        refused = attempt(guesser, "alice", "correct horse")
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 90
        assert "Too many failed logins" in refused.text
        assert guesser.get("/", follow_redirects=False).status_code == 303
        # Another address is not affected.
        assert attempt(other, "alice", "correct horse").url.path == "/"
        metrics = other.get("/metrics").text
    assert 'flywheel_review_logins_refused_total{reason="throttled"}' in metrics


def test_failed_logins_are_throttled_per_reviewer_id_across_addresses(store: ReviewStore) -> None:
    settings = review_settings(failed_logins={"enabled": False}, failed_logins_per_reviewer={"burst": 2})
    app = create_app(ReviewConfig(review=settings), store)
    addresses = [f"192.0.2.{host}" for host in range(1, 5)]
    clients = [TestClient(app, client=(address, 4000)) for address in addresses]
    with clients[0], clients[1], clients[2], clients[3]:
        assert attempt(clients[0], "alice", "x").status_code == 401
        assert attempt(clients[1], "alice", "y").status_code == 401
        refused = attempt(clients[2], "alice", "correct horse")  # a new address, the same id
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        assert attempt(clients[3], "bob", "battery staple").url.path == "/"  # other ids log in
        # Unknown ids have buckets too: spraying guesses at ids that do not exist is throttled alike.
        assert [attempt(clients[3], "mallory", guess).status_code for guess in "abc"] == [401, 401, 429]


def test_plain_passwords_in_settings_are_refused_by_name() -> None:
    with pytest.raises(ValidationError, match=r"reviewers\['alice'\]: not a password hash"):
        ReviewSettings(reviewers={"alice": "correct horse"})  # type: ignore[dict-item]
