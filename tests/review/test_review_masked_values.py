"""A scrubbed item in the review app: the editor warns of its placeholders, and keeping one needs a confirm.

The flow queues items scrubbed (``[EMAIL]``, ``[PHONE]``, ...: ``operators/pii.py``); a correction
that keeps a placeholder is dropped by the default policy (``pii_in_chosen:placeholder``) or, where
kept, teaches the model to print it. Through HTTP here; in a real browser in ``test_review_browser.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from flywheel.review.app import create_app
from flywheel.review.config import ReviewConfig
from flywheel.review.store import ReviewStore
from tests.review.test_review_app import login, review_settings
from tests.support.review import review_item
from tests.support.review_flow import csrf


@pytest.fixture
def store(tmp_path: Path) -> ReviewStore:
    return ReviewStore(f"sqlite:///{tmp_path / 'queue.db'}", claim_ttl_s=600)


@pytest.fixture
def client(store: ReviewStore) -> Iterator[TestClient]:
    with TestClient(create_app(ReviewConfig(review=review_settings()), store)) as test_client:
        yield test_client


SCRUBBED = "Answer 1: mail [EMAIL] or call [PHONE] to reset it."  # as the flow queues it: PII masked


def test_a_scrubbed_answer_is_marked_and_kept_placeholders_need_a_confirm(
    client: TestClient, store: ReviewStore
) -> None:
    item = review_item(1, response=SCRUBBED)
    plain = review_item(2)
    template = review_item(3, prompt="Write a signup mail template with [EMAIL] in it.", response="Hi [EMAIL]!")
    other = review_item(4, response=SCRUBBED)
    store.add([item, plain, template, other])
    login(client)
    for queued in (item, plain, template, other):
        store.claim(queued.item_id, "alice")
    page = client.get(f"/items/{item.item_id}")
    assert 'id="masked-warning"' in page.text and '<span id="masked-values">[EMAIL], [PHONE]</span>' in page.text
    assert 'id="masked-warning"' not in client.get(f"/items/{plain.item_id}").text
    # A placeholder the prompt asks for is what the answer should hold: no warning.
    assert 'id="masked-warning"' not in client.get(f"/items/{template.item_id}").text

    # Sent as pre-filled, the placeholders kept: refused before anything is held or posted, the text kept.
    kept = "Mail [EMAIL] to reset it, then rotate the key."
    answer = {"csrf_token": csrf(page.text), "action": "correct", "answer": kept}
    response = client.post(f"/items/{item.item_id}/answer", data=answer)
    assert response.status_code == 422
    assert "Not sent: the answer still holds [EMAIL]." in response.text
    assert f">{kept}</textarea>" in response.text and '<span id="masked-values">[EMAIL]</span>' in response.text
    stored = store.get(item.item_id)
    assert stored is not None and (stored.status, stored.sent_event, stored.claimed_by) == ("open", None, "alice")
    # Confirmed: it goes on to the gateway (down here: not delivered, so nothing recorded).
    response = client.post(f"/items/{item.item_id}/answer", data={**answer, "keep_placeholders": "true"})
    assert response.status_code == 200 and "did not answer" in response.text
    # Rewritten without them: no confirm asked.
    rewritten = {**answer, "answer": "Use the reset link in your account settings, then rotate the key."}
    response = client.post(f"/items/{other.item_id}/answer", data=rewritten)
    assert "Not sent" not in response.text and "did not answer" in response.text
