"""The review app's pages through HTTP: login, its throttle, sessions, CSRF, escaping, claims, answers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from httpx import Response
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

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


def test_a_form_over_the_body_limit_is_refused_before_it_is_parsed(store: ReviewStore) -> None:
    app = create_app(ReviewConfig(review=review_settings(max_request_bytes=64 * 1024)), store)
    with TestClient(app) as client:
        fields = {f"f{n}": "x" * 16 * 1024 for n in range(8)}  # 128 KiB of form, no login needed to send it
        refused = client.post("/login", data=fields)
        assert refused.status_code == 413 and "over the limit of 65536" in refused.text
        login(client)  # a form of ordinary size still goes through


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


# -- concurrency: logins, answers; sessions that must end -------------------------------------


async def until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """Poll ``condition`` until true; fail after ``timeout_s``."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


def review_client(app: Any, address: str = "198.51.100.7") -> httpx.AsyncClient:
    """A browser on ``app`` in this event loop, from ``address``; redirects not followed."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app, client=(address, 4000)), base_url="http://review")


async def guess(client: httpx.AsyncClient, reviewer: str, password: str, token: str) -> int:
    form = {"reviewer": reviewer, "password": password, "csrf_token": token}
    return (await client.post("/login", data=form)).status_code


def test_concurrent_wrong_logins_are_throttled_like_sequential_ones(store: ReviewStore) -> None:
    per_address = review_settings(
        failed_logins={"burst": 3, "refill_per_s": 0.001}, failed_logins_per_reviewer={"enabled": False}
    )
    per_id = review_settings(failed_logins={"enabled": False}, failed_logins_per_reviewer={"burst": 3})

    async def scenario() -> None:
        app = create_app(ReviewConfig(review=per_address), store)
        async with review_client(app) as guesser, review_client(app, "203.0.113.9") as other:
            token = csrf((await guesser.get("/login")).text)
            guesses = await asyncio.gather(*(guess(guesser, "alice", f"guess-{n}", token) for n in range(20)))
            assert sorted(guesses) == [401] * 3 + [429] * 17  # the burst, not one guess more
            assert await guess(guesser, "alice", "correct horse", token) == 429
            assert await guess(other, "alice", "correct horse", csrf((await other.get("/login")).text)) == 303

        app = create_app(ReviewConfig(review=per_id), store)
        async with review_client(app) as guesser:
            token = csrf((await guesser.get("/login")).text)
            guesses = await asyncio.gather(*(guess(guesser, "alice", f"guess-{n}", token) for n in range(20)))
            assert sorted(guesses) == [401] * 3 + [429] * 17
            assert await guess(guesser, "alice", "correct horse", token) == 429
            # Logins that are allowed still work, and right passwords take no token: bob, many times at once.
            logins = await asyncio.gather(*(guess(guesser, "bob", "battery staple", token) for _ in range(6)))
            assert logins == [303] * 6
            assert (await guesser.get("/")).status_code == 200

    asyncio.run(scenario())


class Gateway:
    """The gateway's ``POST /v1/events`` as seen by the review app: answers ``statuses`` in turn, then 202.

    Keeps the events it accepted; while ``gate`` is set to an unset event, answers wait for it.
    """

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        self.received = 0
        self.accepted: list[dict[str, Any]] = []
        self.bodies: list[bytes] = []  # every body received, as sent
        self.gate: asyncio.Event | None = None

    def app(self) -> Starlette:
        async def events(request: Request) -> JSONResponse:
            event = await request.json()
            self.bodies.append(await request.body())
            self.received += 1
            if self.gate is not None:
                await self.gate.wait()
            status = self.statuses.pop(0) if self.statuses else 202
            if status == 202:
                self.accepted.append(event)
            return JSONResponse({"accepted": status == 202}, status_code=status)

        return Starlette(routes=[Route("/v1/events", events, methods=["POST"])])


def test_two_answers_sent_at_once_post_one_event(store: ReviewStore) -> None:
    item = review_item(1)
    store.add([item])
    gateway = Gateway()
    answer_url = f"/items/{item.item_id}/answer"

    async def scenario() -> None:
        gateway.gate = asyncio.Event()
        transport = httpx.ASGITransport(gateway.app())
        app = create_app(ReviewConfig(review=review_settings()), store, transport=transport)
        async with review_client(app) as alice:
            assert await guess(alice, "alice", "correct horse", csrf((await alice.get("/login")).text)) == 303
            claim = {"csrf_token": csrf((await alice.get("/")).text)}
            page = await alice.post(f"/items/{item.item_id}/claim", data=claim, follow_redirects=True)
            token = csrf(page.text)
            correct = {"csrf_token": token, "action": "correct", "answer": "Rotate it with a grace period."}
            first = asyncio.create_task(alice.post(answer_url, data=correct, follow_redirects=True))
            await until(lambda: gateway.received == 1)  # the first answer is being posted ...
            dismiss = {"csrf_token": token, "action": "dismiss", "note": "duplicate"}
            # ... and a second one comes: answered at once (bounded: were it posted, it would wait at the gate)
            second = await asyncio.wait_for(alice.post(answer_url, data=dismiss, follow_redirects=True), 10)
            assert "another answer of yours to" in second.text and "this one was not sent" in second.text
            assert "an answer from you is being sent" in second.text and 'id="dismiss-form"' not in second.text
            assert gateway.received == 1  # refused before anything was posted
            gateway.gate.set()
            assert "Sent: correct" in (await asyncio.wait_for(first, 10)).text

    asyncio.run(scenario())
    assert gateway.received == 1
    assert [event["metadata"]["review"]["action"] for event in gateway.accepted] == ["correct"]
    stored = store.get(item.item_id)
    assert stored is not None and stored.status == "done" and stored.action == "correct"


def test_an_answer_the_gateway_refused_can_be_changed_or_sent_again(store: ReviewStore) -> None:
    item = review_item(1)
    store.add([item])
    gateway = Gateway(422)  # refused before anything was published
    app = create_app(ReviewConfig(review=review_settings()), store, transport=httpx.ASGITransport(gateway.app()))
    with TestClient(app) as client:
        login(client)
        page = client.post(f"/items/{item.item_id}/claim", data={"csrf_token": csrf(client.get("/").text)})
        form = {"csrf_token": csrf(page.text), "action": "dismiss", "note": "spam"}
        refused = client.post(f"/items/{item.item_id}/answer", data=form)
        assert "the gateway refused the review event (422)" in refused.text and "Nothing was sent" in refused.text
        assert "claimed by you" in refused.text and 'id="dismiss-form"' in refused.text  # answerable again
        stored = store.get(item.item_id)
        assert stored is not None and stored.status == "open" and stored.claimed_by == "alice"
        assert stored.sent_event is None
        correct = {"csrf_token": form["csrf_token"], "action": "correct", "answer": "A better answer."}
        assert "Sent: correct" in client.post(f"/items/{item.item_id}/answer", data=correct).text
    assert gateway.received == 2 and len(gateway.accepted) == 1
    stored = store.get(item.item_id)
    assert stored is not None and stored.status == "done" and stored.action == "correct"


def test_after_an_unconfirmed_post_only_the_same_answer_can_be_sent(store: ReviewStore) -> None:
    # A 503 from the gateway ("no delivery report in time; the event may still arrive"): the first
    # event may be on the topic, and the flow's dedup keeps the first event of an id.
    item = review_item(1)
    store.add([item])
    gateway = Gateway(503, 503)
    app = create_app(ReviewConfig(review=review_settings()), store, transport=httpx.ASGITransport(gateway.app()))
    url = f"/items/{item.item_id}/answer"
    with TestClient(app) as client:
        login(client)
        page = client.post(f"/items/{item.item_id}/claim", data={"csrf_token": csrf(client.get("/").text)})
        token = csrf(page.text)
        correct = {"csrf_token": token, "action": "correct", "answer": "A better answer."}
        unconfirmed = client.post(url, data=correct)
        assert "the gateway refused the review event (503)" in unconfirmed.text
        assert "may still have been published" in unconfirmed.text
        # The page offers only that answer again.
        assert 'id="resend-form"' in unconfirmed.text and 'id="dismiss-form"' not in unconfirmed.text
        assert "A better answer." in unconfirmed.text
        dismissed = client.post(url, data={"csrf_token": token, "action": "dismiss", "note": "spam"})
        assert "may already have been published" in dismissed.text and "this one was not sent" in dismissed.text
        assert gateway.received == 1  # refused before anything was posted
        # The same decision from its form posts the kept event; so does the resend button.
        assert "may still have been published" in client.post(url, data=correct).text
        assert "Sent: correct" in client.post(url, data={"csrf_token": token, "action": "resend"}).text
    assert gateway.received == 3 and len(gateway.bodies) == 3 and len(set(gateway.bodies)) == 1  # byte for byte
    assert [event["metadata"]["review"]["action"] for event in gateway.accepted] == ["correct"]
    stored = store.get(item.item_id)
    assert stored is not None and stored.status == "done" and stored.action == "correct"


SECRET = "a-session-secret-shared-by-the-apps-below"
COOKIE = "flywheel_review"


def test_a_session_of_a_reviewer_no_longer_configured_is_logged_out(store: ReviewStore) -> None:
    item = review_item(1)
    store.add([item])
    with TestClient(create_app(ReviewConfig(review=review_settings(session_secret=SECRET)), store)) as browser:
        login(browser)
        cookie = browser.cookies[COOKIE]
    # The same cookie on an app that still has alice: logged in (the secret and the session are good) ...
    with TestClient(create_app(ReviewConfig(review=review_settings(session_secret=SECRET)), store)) as same:
        same.cookies.set(COOKIE, cookie)
        assert same.get("/", follow_redirects=False).status_code == 200
    # ... and on one from which alice was removed: logged out, for pages and actions alike.
    without_alice = ReviewSettings(
        reviewers={"bob": REVIEWERS["bob"]},  # type: ignore[dict-item]
        session_secret=SECRET,  # type: ignore[arg-type]
    )
    with TestClient(create_app(ReviewConfig(review=without_alice), store)) as removed:
        removed.cookies.set(COOKIE, cookie)
        token = csrf(removed.get(f"/items/{item.item_id}", follow_redirects=True).text)  # the login page's
        removed.cookies.set(COOKIE, cookie)
        for response in (
            removed.get("/", follow_redirects=False),
            removed.post(f"/items/{item.item_id}/claim", data={"csrf_token": token}, follow_redirects=False),
        ):
            assert response.status_code == 303 and response.headers["location"] == "/login"
    stored = store.get(item.item_id)
    assert stored is not None and stored.claimed_by is None


def test_logging_out_ends_the_session_for_every_copy_of_its_cookie(store: ReviewStore) -> None:
    app = create_app(ReviewConfig(review=review_settings()), store)
    with TestClient(app) as browser, TestClient(app) as copy:
        login(browser)
        copy.cookies.set(COOKIE, browser.cookies[COOKIE])  # another tab, or a stolen cookie
        assert copy.get("/", follow_redirects=False).status_code == 200
        response = browser.post("/logout", data={"csrf_token": csrf(browser.get("/").text)}, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/login"
        assert copy.get("/", follow_redirects=False).status_code == 303
        assert browser.get("/", follow_redirects=False).status_code == 303
        login(browser)  # a new login is a new session
        assert browser.get("/", follow_redirects=False).status_code == 200
        assert copy.get("/", follow_redirects=False).status_code == 303
        # Logging in again from a logged-in browser ends the session it had.
        copy.cookies.set(COOKIE, browser.cookies[COOKIE])
        assert copy.get("/", follow_redirects=False).status_code == 200
        login(browser, "bob", "battery staple")
        assert copy.get("/", follow_redirects=False).status_code == 303
        assert browser.get("/", follow_redirects=False).status_code == 200
