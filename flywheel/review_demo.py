"""``make run``'s review step: a reviewer answers one thumbs-down in the review app, and the
correction flows through the gateway, Kafka and the curation flow into ``dpo_pairs`` as a
trusted pair, where the next training run reads it.

Everything is real but the network: the review app and the gateway app are served in-process
(``TestClient`` and ``httpx.ASGITransport``), so the step needs no extra ports or processes.
"""

from __future__ import annotations

import re
import secrets

import httpx
from fastapi.testclient import TestClient
from rich.console import Console

from flywheel.config import revised
from flywheel.flows.runner import run_until_drained
from flywheel.gateway.app import create_app as create_gateway
from flywheel.infra.catalog import open_catalog, table_identifier
from flywheel.review.app import create_app
from flywheel.review.queue import QueueConsumer
from flywheel.review.store import QueueFilter, ReviewStore
from flywheel.schemas.tables import DPO_PAIRS
from flywheel.settings import Settings

REVIEWER = "demo-reviewer"
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


def review_one(console: Console, settings: Settings) -> None:
    """Queue the review topic, answer one thumbs-down as a reviewer, curate it, show the pair."""
    password, key = secrets.token_urlsafe(12), secrets.token_urlsafe(16)
    settings = revised(
        settings,
        gateway={"api_keys": {"review": key}},
        review={"reviewers": {REVIEWER: password}, "gateway_api_key": key},
    )
    config = settings.review_config()
    store = ReviewStore(config.review.store_location(config.state_dir), config.review.claim_ttl_s)
    intake = QueueConsumer(config, store).run(until_drained=True)
    console.print(f"review queue: {intake.stored} items from {settings.topics.review}: {store.depth_by_reason()}")
    # Sample prompts carry a ticket number (and sometimes context) after the question.
    queued = store.list(QueueFilter(reason="thumbs_down"), 200)
    candidates = [(s.item, q) for s in queued for q in CORRECTIONS if s.item.prompt.startswith(q)]
    if not candidates:
        console.print("no thumbs-down in the sample stream to review")
        return
    item, question = candidates[0]
    gateway = create_gateway(settings.gateway_config())
    transport = httpx.ASGITransport(app=gateway)  # runs no lifespan: its publisher is closed below
    with TestClient(create_app(config, store, transport=transport)) as browser:
        login = browser.get("/login").text
        browser.post("/login", data={"reviewer": REVIEWER, "password": password, "csrf_token": _csrf(login)})
        claimed = browser.post(f"/items/{item.item_id}/claim", data={"csrf_token": _csrf(browser.get("/").text)})
        form = {"csrf_token": _csrf(claimed.text), "action": "correct", "answer": CORRECTIONS[question]}
        sent = browser.post(f"/items/{item.item_id}/answer", data=form)
    gateway.state.publisher.close()
    flash = re.search(r'id="flash">([^<]*)<', sent.text)
    outcome = flash.group(1) if flash else f"HTTP {sent.status_code}"
    console.print(f"{REVIEWER} corrected a thumbs-down on {question!r}: {outcome}")
    summary = run_until_drained(settings.flow_config())
    console.print(f"the flow curated {summary.events_read} new event(s): {summary.decisions}")
    table = open_catalog(settings.catalog).load_table(table_identifier(settings.catalog, DPO_PAIRS))
    rows = table.scan(selected_fields=("pair_id", "source", "reviewer_id", "chosen")).to_arrow().to_pylist()
    reviewer_rows = [row for row in rows if row["source"] == "reviewer"]
    snapshot = table.current_snapshot()
    for row in reviewer_rows:
        console.print(f"dpo_pairs {row['pair_id']}: source=reviewer, reviewer_id={row['reviewer_id']}")
    console.print(
        f"dpo_pairs snapshot {snapshot.snapshot_id if snapshot else None} holds {len(rows)} pairs, "
        f"{len(reviewer_rows)} from a reviewer: the next training run reads this snapshot"
    )
    store.close()


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    return found.group(1) if found else ""
