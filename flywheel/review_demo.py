"""``make run``'s review step: a reviewer answers one thumbs-down in the review app, and the
correction flows through the gateway, Kafka and the curation flow into ``dpo_pairs`` as a
trusted pair, where the next training run reads it.

The review app is served in-process (``TestClient``: no extra port or process) and logs in with
a real scrypt hash; its action goes to a gateway over HTTP: the wheel's running gateway process
(``flywheel demo``), or the gateway app in-process (``httpx.ASGITransport``, ``--revolutions 0``).
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from fastapi.testclient import TestClient
from rich.console import Console

from flywheel.config import revised
from flywheel.flows.runner import run_until_drained
from flywheel.gateway.app import create_app as create_gateway
from flywheel.infra.catalog import open_catalog, resolve_snapshot, table_identifier
from flywheel.review.actions import review_event_id
from flywheel.review.app import create_app
from flywheel.review.items import ReviewItem
from flywheel.review.passwords import hash_password
from flywheel.review.queue import QueueConsumer
from flywheel.review.store import QueueFilter, ReviewStore
from flywheel.schemas.tables import DPO_PAIRS
from flywheel.settings import Settings
from flywheel.trainer.dataset import is_eval, prompt_key
from flywheel.trainer.registry import Registry

REVIEWER = "demo-reviewer"
REVIEW_KEY_ID = "review"  # in gateway.review_key_ids by default: the only key ids that may send review events
# What a reviewer writes for the sample stream's answers (flywheel/sample.py), by prompt.
CORRECTIONS = {
    "Explain quantum computing to a 5 year old.": "Imagine a coin spinning in the air: while it spins it is "
    "heads and tails at once. Quantum computers use tiny spinning coins like that to try many answers together.",
    "Write a python function that adds tax.": "def add_tax(amount: float, rate: float = 0.2) -> float:\n"
    "    return amount * (1 + rate)\n",
    "Summarise the meeting notes.": "Roadmap agreed, two hires approved, next quarter's budget unchanged. "
    "Action items are listed below.",
    "Draft a polite reminder email about the invoice.": "Dear customer, a friendly reminder that invoice #1042 "
    "is now past due. Could you settle it at your earliest convenience? Thank you!",
    "How do I reset my password?": "Open Settings, then Security, then Reset password. We email you a link "
    "that works for one hour; contact support if it does not arrive.",
    "Translate 'good morning' to French.": "Bonjour. (Good morning in French; say it until early afternoon.)",
}
# The reviewer's answer to an item, or None to leave it for another reviewer.
Writer = Callable[[ReviewItem], str | None]


@dataclass
class ReviewedPair:
    """One reviewer correction, followed from the queue to the training run that read it."""

    reviewer_id: str
    item_id: str
    queue_reason: str
    prompt: str
    event_id: str
    outcome: str
    pair_id: str | None = None  # its dpo_pairs row, once curated
    trained_by: str | None = None  # the run id whose snapshot holds it
    snapshot_id: int | None = None
    snapshot_tag: str | None = None
    split: str | None = None  # train | eval, by the trainer's split rule
    duration_s: float = 0.0  # the review step: queue intake, the app, the gateway, the flow


def with_reviewer(settings: Settings, review_key: str, **review: object) -> tuple[Settings, str]:
    """``settings`` with one reviewer (a fresh password, stored as its hash) posting with ``review_key``."""
    password = secrets.token_urlsafe(12)
    reviewers = {REVIEWER: hash_password(password)}
    return revised(settings, review={"reviewers": reviewers, "gateway_api_key": review_key, **review}), password


def correct_one(
    console: Console,
    settings: Settings,
    password: str,
    write: Writer,
    transport: httpx.AsyncBaseTransport | None = None,
) -> ReviewedPair | None:
    """Read the review topic into the queue; correct the first thumbs-down ``write`` answers, in the app."""
    config = settings.review_config()
    store = ReviewStore(config.review.store_location(config.state_dir), config.review.claim_ttl_s)
    try:
        intake = QueueConsumer(config, store).run(until_drained=True)
        console.print(
            f"review queue: {intake.stored} new items from {settings.topics.review}: {store.depth_by_reason()}"
        )
        queued = store.list(QueueFilter(reason="thumbs_down"), 200)
        chosen = next(((s.item, text) for s in queued if (text := write(s.item)) is not None), None)
        if chosen is None:
            console.print("no thumbs-down in the review queue that the reviewer could answer")
            return None
        item, text = chosen
        with TestClient(create_app(config, store, transport=transport)) as browser:
            login = browser.get("/login").text
            browser.post("/login", data={"reviewer": REVIEWER, "password": password, "csrf_token": _csrf(login)})
            claimed = browser.post(f"/items/{item.item_id}/claim", data={"csrf_token": _csrf(browser.get("/").text)})
            form = {"csrf_token": _csrf(claimed.text), "action": "correct", "answer": text}
            sent = browser.post(f"/items/{item.item_id}/answer", data=form)
    finally:
        store.close()
    flash = re.search(r'id="flash">([^<]*)<', sent.text)
    outcome = flash.group(1) if flash else f"HTTP {sent.status_code}"
    return ReviewedPair(REVIEWER, item.item_id, item.reason, item.prompt, review_event_id(item), outcome)


def curate(console: Console, settings: Settings, reviewed: ReviewedPair) -> None:
    """Run the flow over the review event; find its ``dpo_pairs`` row (``source=reviewer``)."""
    summary = run_until_drained(settings.flow_config())
    console.print(f"the flow curated {summary.events_read} new event(s): {summary.decisions}")
    table = open_catalog(settings.catalog).load_table(table_identifier(settings.catalog, DPO_PAIRS))
    columns = ("pair_id", "event_id", "source", "reviewer_id")
    rows = table.scan(selected_fields=columns).to_arrow().to_pylist()
    mine = [row for row in rows if row["event_id"] == reviewed.event_id and row["source"] == "reviewer"]
    if mine:
        reviewed.pair_id = mine[0]["pair_id"]
        console.print(f"dpo_pairs {reviewed.pair_id}: source=reviewer, reviewer_id={mine[0]['reviewer_id']}")
    else:
        console.print(f"no reviewer pair for {reviewed.event_id} in dpo_pairs (see the rejections table)")


def check_trained(settings: Settings, reviewed: ReviewedPair, run_id: str, snapshot_tag: str) -> bool:
    """Whether the snapshot the trainer tagged for ``run_id`` holds the reviewer pair; records where."""
    if reviewed.pair_id is None:
        return False
    table = open_catalog(settings.catalog).load_table(table_identifier(settings.catalog, DPO_PAIRS))
    snapshot = resolve_snapshot(table, snapshot_tag)  # the trainer's tag on exactly what it read
    scan = table.scan(snapshot_id=snapshot.snapshot_id, selected_fields=("pair_id", "prompt"))
    rows = [row for row in scan.to_arrow().to_pylist() if row["pair_id"] == reviewed.pair_id]
    if not rows:
        return False
    reviewed.trained_by, reviewed.snapshot_id, reviewed.snapshot_tag = run_id, snapshot.snapshot_id, snapshot_tag
    # The side the run put it on (its split record); a run before split records: the prompt's own draw.
    key = prompt_key(rows[0]["prompt"])
    record = Registry.from_settings(settings.trainer.registry_url, settings.state_dir).read_split(run_id)
    held_out = key in record.eval_keys if record is not None else is_eval(key, settings.trainer.eval_fraction)
    reviewed.split = "eval" if held_out else "train"
    return True


def review_in_wheel(
    console: Console, settings: Settings, gateway_url: str, review_key: str, write: Writer
) -> ReviewedPair | None:
    """The wheel's review step: a reviewer answers one thumbs-down (``write``), the flow curates it.

    The action is posted to the wheel's running gateway (``gateway_url``) with ``review_key``.
    """
    started = time.monotonic()
    settings, password = with_reviewer(settings, review_key, gateway_url=gateway_url)
    reviewed = correct_one(console, settings, password, write)
    if reviewed is not None:
        console.print(f"{REVIEWER} corrected a {reviewed.queue_reason} in the review app: {reviewed.outcome}")
        curate(console, settings, reviewed)
        reviewed.duration_s = round(time.monotonic() - started, 1)
        console.print(f"review step: {reviewed.duration_s:.0f}s")
    return reviewed


def trained_line(settings: Settings, reviewed: ReviewedPair, run_id: str | None, snapshot_tag: str | None) -> str:
    """Check the reviewer pair against a run's training snapshot (by its tag); one line saying what is true.

    The tracker cuts a trigger at the first snapshot that crossed the threshold, so a pair committed
    after that snapshot is not in that run's data: it counts toward the next trigger instead.
    """
    pair = f"reviewer pair {reviewed.pair_id} ({reviewed.reviewer_id})"
    if reviewed.pair_id is None:
        return f"review: {reviewed.event_id} made no reviewer pair"
    if run_id is None or snapshot_tag is None:
        return f"review: {pair} waits for the next trigger (no training run this revolution)"
    if not check_trained(settings, reviewed, run_id, snapshot_tag):
        return (
            f"review: {pair} is not in run {run_id}'s data: its trigger was cut at snapshot {snapshot_tag}, "
            "the first that crossed the threshold, committed before the review; the pair counts toward the next trigger"
        )
    return (
        f"review: {pair} is in dpo_pairs snapshot {reviewed.snapshot_id} (tag {snapshot_tag}) "
        f"that run {run_id} trained on ({reviewed.split} split)"
    )


def review_one(console: Console, settings: Settings) -> ReviewedPair | None:
    """Queue the review topic, answer one thumbs-down as a reviewer, curate it, show the pair."""
    key = secrets.token_urlsafe(16)
    settings, password = with_reviewer(revised(settings, gateway={"api_keys": {REVIEW_KEY_ID: key}}), key)
    gateway = create_gateway(settings.gateway_config())
    transport = httpx.ASGITransport(app=gateway)  # runs no lifespan: its publisher is closed below
    try:
        reviewed = correct_one(console, settings, password, sample_correction, transport)
    finally:
        gateway.state.publisher.close()
    if reviewed is None:
        return None
    console.print(f"{REVIEWER} corrected a thumbs-down on {reviewed.prompt[:60]!r}: {reviewed.outcome}")
    curate(console, settings, reviewed)
    table = open_catalog(settings.catalog).load_table(table_identifier(settings.catalog, DPO_PAIRS))
    rows = table.scan(selected_fields=("pair_id", "source")).to_arrow().to_pylist()
    snapshot = table.current_snapshot()
    console.print(
        f"dpo_pairs snapshot {snapshot.snapshot_id if snapshot else None} holds {len(rows)} pairs, "
        f"{sum(row['source'] == 'reviewer' for row in rows)} from a reviewer"
    )
    return reviewed


def sample_correction(item: ReviewItem) -> str | None:
    """The reviewer's answer to a thumbs-down of the sample stream (None: not one of its questions)."""
    # Sample prompts carry a ticket number (and sometimes context) after the question.
    return next((answer for question, answer in CORRECTIONS.items() if item.prompt.startswith(question)), None)


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    return found.group(1) if found else ""
