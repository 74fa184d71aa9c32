"""The review web app: ``create_app(config)``, server-rendered pages (FastAPI + Jinja2, no JavaScript).

Security, in the order a request meets it: a signed session cookie (``SameSite=Strict``,
HttpOnly) set only by a successful login with a configured reviewer id and password (no
anonymous access; passwords checked against scrypt hashes, failed logins throttled per client
address and per reviewer id: 429 with ``Retry-After``, concurrent guesses like sequential
ones), valid while its reviewer is configured and its session not logged out (sessions are
rows of the store, so logging out ends the session wherever its cookie was copied); a CSRF
token per session in every form, checked on every POST; texts
rendered by Jinja2 with autoescaping on for every template, and a Content-Security-Policy
that allows no script at all, so a hostile prompt is shown as text and cannot run.
"""

# No `from __future__ import annotations`: route signatures refer to values of create_app's scope.

import hmac
import json
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from importlib import resources
from typing import Annotated, Any
from urllib.parse import urlencode

import httpx
import jinja2
from fastapi import FastAPI, Form, Request, Response
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool
from starlette.middleware.sessions import SessionMiddleware

from flywheel.errors import RateLimited, ReviewDeliveryError, ReviewError
from flywheel.infra.body_limit import BodyLimit
from flywheel.review.actions import (
    Action,
    Decision,
    ReviewPoster,
    event_to_send,
    review_event_id,
    sent_decision,
    undelivered,
)
from flywheel.review.config import ReviewConfig
from flywheel.review.logins import LoginThrottle
from flywheel.review.metrics import ACTIONS, LOGINS_REFUSED, refresh_queue_gauges
from flywheel.review.passwords import dummy_hash, parse_password_hash
from flywheel.review.store import DONE, OPEN, QueueFilter, ReviewStore
from flywheel.review.stored import StoredItem
from flywheel.schemas.review import REVIEW_METADATA_KEY

CSRF_FIELD = "csrf_token"
RESEND = "resend"  # the action that posts again the event kept after an unconfirmed post
SESSION_FIELD = "session_id"  # the store's session (ReviewStore.open_session), in the signed cookie
_MAX_ID_CHARS = 200
# Age filter choices: name -> (older_than_s, newer_than_s), by event time.
AGES: dict[str, tuple[float | None, float | None]] = {
    "": (None, None),
    "lt1h": (None, 3600.0),
    "lt24h": (None, 86400.0),
    "gt24h": (86400.0, None),
    "gt7d": (7 * 86400.0, None),
}
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'none'; style-src 'self'; img-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class LoginRequired(Exception):
    """The request has no logged-in reviewer; answered with a redirect to the login page."""


class CsrfRejected(Exception):
    """A POST without the session's CSRF token; answered 403."""


def create_app(
    config: ReviewConfig, store: ReviewStore | None = None, transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    """The review app for ``config``; the store opens lazily, the gateway client at first action.

    ``transport`` replaces the network between this app and the gateway (tests serve the real
    gateway app in-process through ``httpx.ASGITransport``).
    """
    settings = config.review
    store = store or ReviewStore(settings.store_location(config.state_dir), settings.claim_ttl_s)
    poster = ReviewPoster(settings, transport)
    hashes = {
        reviewer: parse_password_hash(secret.get_secret_value()) for reviewer, secret in settings.reviewers.items()
    }
    # Unknown ids are checked against a hash as costly as the dearest configured one: same timing.
    nobody = dummy_hash(max(hashes.values(), key=lambda known: known.n * known.r * known.p, default=None))
    failed_logins = LoginThrottle(settings.failed_logins, settings.failed_logins_per_reviewer)
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("flywheel.review", "templates"),
        autoescape=True,  # every template, whatever its name: texts come from users
        undefined=jinja2.StrictUndefined,
    )
    environment.filters["age"] = _age
    templates = Jinja2Templates(env=environment)
    stylesheet = resources.files("flywheel.review").joinpath("templates/review.css").read_text(encoding="utf-8")

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await poster.close()
        store.close()

    app = FastAPI(title="Data Flywheel review", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    # Before any handler parses (and buffers) a form, the login's included.
    app.add_middleware(BodyLimit, max_bytes=settings.max_request_bytes)
    secret = settings.session_secret.get_secret_value() or secrets.token_urlsafe(32)
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret,
        session_cookie="flywheel_review",
        max_age=settings.session_max_age_s,
        same_site="strict",
        https_only=settings.secure_cookies,
    )

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        for name, value in _SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    def page(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        context = {
            "reviewer": request.session.get("reviewer"),
            "csrf_token": _csrf_token(request),
            "flash": request.session.pop("flash", None),
            "error": context.pop("error", None),
            **context,
        }
        return templates.TemplateResponse(request, name, context, status_code=status_code)

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, _: Exception) -> Response:
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(CsrfRejected)
    async def csrf_rejected(request: Request, _: Exception) -> Response:
        return page(request, "error.html", 403, error="The form expired or did not come from this site; reload it.")

    @app.get("/login", response_class=HTMLResponse)
    async def login_form(request: Request) -> Response:
        return page(request, "login.html")

    @app.post("/login", response_class=HTMLResponse)
    async def login(
        request: Request,
        reviewer: Annotated[str, Form()],
        password: Annotated[str, Form()],
        csrf_token: Annotated[str, Form()] = "",
    ) -> Response:
        _check_csrf(request, csrf_token)
        address = request.client.host if request.client else "unknown"
        name = reviewer[:_MAX_ID_CHARS]  # the throttle's key: bounded, whatever is typed
        expected = hashes.get(reviewer)

        async def verify() -> bool:
            # Unknown ids are checked too (against the dummy), so timing does not tell which ids exist.
            matches = await run_in_threadpool((expected or nobody).verify, password)
            return expected is not None and matches

        try:
            # Checked before the password is looked at: while throttled, a right guess cannot be told apart.
            verified = await failed_logins.attempt(address, name, verify)
        except RateLimited as exc:
            LOGINS_REFUSED.labels("throttled").inc()
            retry = str(max(1, round(exc.retry_after_s + 0.5)))
            refused = page(request, "login.html", 429, error=f"Too many failed logins; try again in {retry} s.")
            refused.headers["Retry-After"] = retry
            return refused
        if not verified:
            LOGINS_REFUSED.labels("credentials").inc()
            return page(request, "login.html", 401, error="Unknown reviewer or wrong password.")
        previous = request.session.get(SESSION_FIELD)
        if isinstance(previous, str):  # logging in again from the same browser: the old session ends
            await run_in_threadpool(store.end_session, previous)
        session_id = await run_in_threadpool(store.open_session, reviewer, settings.session_max_age_s)
        request.session.clear()
        request.session["reviewer"] = reviewer
        request.session[SESSION_FIELD] = session_id
        _csrf_token(request)  # a new token for the new session
        return RedirectResponse("/", status_code=303)

    @app.post("/logout")
    async def logout(request: Request, csrf_token: Annotated[str, Form()] = "") -> Response:
        _check_csrf(request, csrf_token)
        session_id = request.session.get(SESSION_FIELD)
        if isinstance(session_id, str):
            # Server-side too: a copy of this cookie (another tab, a stolen one) is logged out as well.
            await run_in_threadpool(store.end_session, session_id)
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    async def logged_in(request: Request) -> str:
        """The session's reviewer; :class:`LoginRequired` (and the session cleared) unless it still may review.

        The signed cookie alone is not enough: its reviewer must still be configured (one removed
        from ``review.reviewers`` is logged out at once) and its session not logged out.
        """
        reviewer = request.session.get("reviewer")
        session_id = request.session.get(SESSION_FIELD)
        if (
            isinstance(reviewer, str)
            and reviewer in hashes
            and isinstance(session_id, str)
            and await run_in_threadpool(store.session_reviewer, session_id) == reviewer
        ):
            return reviewer
        request.session.clear()
        raise LoginRequired()

    @app.get("/", response_class=HTMLResponse)
    async def queue(
        request: Request,
        reason: str = "",
        segment: str = "",
        model_version: str = "",
        age: str = "",
        status: str = OPEN,
    ) -> Response:
        reviewer = await logged_in(request)
        older, newer = AGES.get(age, (None, None))
        query = QueueFilter(reason, segment, model_version, older, newer, status, reviewer)
        items = await run_in_threadpool(store.list, query, settings.page_size)
        total = await run_in_threadpool(store.count, query)
        facets = await run_in_threadpool(store.facets)
        filters = {"reason": reason, "segment": segment, "model_version": model_version, "age": age, "status": status}
        return page(
            request,
            "queue.html",
            items=items,
            total=total,
            facets=facets,
            filters=filters,
            here="/?" + urlencode({k: v for k, v in filters.items() if v}),
            ages=list(AGES),
            now=time.time(),
        )

    def item_view(
        request: Request, stored: StoredItem, reviewer: str, draft: str | None = None, **context: Any
    ) -> Response:
        """The item page; ``draft``: the answer in the editor (the item's own text when None)."""
        now = time.time()
        draft = stored.item.draft if draft is None else draft
        return page(
            request,
            "item.html",
            draft=draft,
            masked=stored.item.masked_in(draft),
            stored=stored,
            item=stored.item,
            mine=stored.status == OPEN and stored.claim_active(now) and stored.claimed_by == reviewer,
            taken=stored.claimed_by_other(reviewer, now),
            sending=stored.answering(now),
            claimable=stored.claimable_by(reviewer, now),
            done=stored.status == DONE,
            now=now,
            review_event_id=review_event_id(stored.item),
            sent=sent_decision(stored.sent_event),
            **context,
        )

    @app.get("/items/{item_id}", response_class=HTMLResponse)
    async def item_page(request: Request, item_id: str) -> Response:
        reviewer = await logged_in(request)
        stored = await run_in_threadpool(store.get, item_id)
        if stored is None:
            return page(request, "error.html", 404, error=f"No review item {item_id}.")
        return item_view(request, stored, reviewer)

    @app.post("/items/{item_id}/claim")
    async def claim(request: Request, item_id: str, csrf_token: Annotated[str, Form()] = "") -> Response:
        reviewer = await logged_in(request)
        _check_csrf(request, csrf_token)
        try:
            await run_in_threadpool(store.claim, item_id, reviewer)
        except ReviewError as exc:
            request.session["flash"] = str(exc)
            return RedirectResponse("/", status_code=303)
        return RedirectResponse(f"/items/{item_id}", status_code=303)

    @app.post("/items/{item_id}/release")
    async def release(request: Request, item_id: str, csrf_token: Annotated[str, Form()] = "") -> Response:
        reviewer = await logged_in(request)
        _check_csrf(request, csrf_token)
        await run_in_threadpool(store.release, item_id, reviewer)
        request.session["flash"] = "Claim released."
        return RedirectResponse("/", status_code=303)

    @app.post("/items/{item_id}/answer")
    async def answer(
        request: Request,
        item_id: str,
        action: Annotated[str, Form()],
        csrf_token: Annotated[str, Form()] = "",
        answer: Annotated[str, Form()] = "",
        note: Annotated[str, Form()] = "",
        keep_placeholders: Annotated[bool, Form()] = False,
    ) -> Response:
        reviewer = await logged_in(request)
        _check_csrf(request, csrf_token)
        stored = await run_in_threadpool(store.get, item_id)
        if stored is None:
            return page(request, "error.html", 404, error=f"No review item {item_id}.")
        decision: Decision | None = None  # None: send again the event kept (RESEND)
        if action != RESEND:
            try:
                decision = Decision(Action(action), reviewer, answer=answer, note=note.strip() or None)
            except ValueError:
                return page(request, "error.html", 422, error=f"Unknown action {action!r}.")
        try:
            body = event_to_send(stored.item, stored.sent_event, decision)
            kept = stored.item.masked_in(answer) if decision and decision.action == Action.CORRECT else []
            if kept and not keep_placeholders:
                # Refused before anything is held or posted, the typed answer kept in the editor.
                error = f"Not sent: the answer still holds {', '.join(kept)}. Rewrite it, or confirm below."
                return item_view(request, stored, reviewer, answer, status_code=422, error=error)
            # The item moves to "answering" first (one winner), its claim renewed for a whole TTL:
            # nobody else can take it, and a second answer sent at the same time is refused here,
            # before anything is posted, as is a different answer after an unconfirmed post. It is
            # marked answered once the gateway accepted the event.
            await run_in_threadpool(store.hold, item_id, reviewer, body)
            try:
                await poster.post(body)
            except ReviewDeliveryError as exc:
                # Open again: the reviewer may retry, only with this very event if it may have arrived.
                await run_in_threadpool(store.unhold, item_id, reviewer, exc.maybe_delivered)
                raise
            except BaseException:
                await run_in_threadpool(store.unhold, item_id, reviewer, True)  # unknown: it may have arrived
                raise
            event = json.loads(body)
            sent_action = event["metadata"][REVIEW_METADATA_KEY]["action"]
            await run_in_threadpool(store.resolve, item_id, reviewer, sent_action, event["comment"], event["event_id"])
        except ReviewDeliveryError as exc:
            request.session["flash"] = undelivered(exc)
            return RedirectResponse(f"/items/{item_id}", status_code=303)
        except ReviewError as exc:
            request.session["flash"] = str(exc)
            return RedirectResponse(f"/items/{item_id}", status_code=303)
        ACTIONS.labels(sent_action).inc()
        await run_in_threadpool(refresh_queue_gauges, store)
        request.session["flash"] = f"Sent: {sent_action} ({event['event_id']})."
        return RedirectResponse("/", status_code=303)

    @app.get("/review.css")
    async def css() -> Response:
        return Response(stylesheet, media_type="text/css")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics", response_class=PlainTextResponse)
    async def metrics() -> Response:
        await run_in_threadpool(refresh_queue_gauges, store)
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app


def _csrf_token(request: Request) -> str:
    token = request.session.get(CSRF_FIELD)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session[CSRF_FIELD] = token
    return token


def _check_csrf(request: Request, submitted: str) -> None:
    expected = request.session.get(CSRF_FIELD)
    if not isinstance(expected, str) or not hmac.compare_digest(expected.encode(), submitted.encode()):
        raise CsrfRejected()


def _age(timestamp: float | datetime, now: float | None = None) -> str:
    """A short human age: 45s, 12m, 3h, 5d."""
    then = timestamp.timestamp() if isinstance(timestamp, datetime) else timestamp
    seconds = max((now if now is not None else time.time()) - then, 0.0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"
