"""The review app in a real browser (headless Chromium via Selenium): log in, filter, claim,
correct, and the correction lands in ``dpo_pairs`` with reviewer lineage through the real flow;
a hostile prompt is shown as text and runs no script; a scrubbed answer is marked, and its
placeholders are sent only when confirmed (then the flow drops the correction, as warned).

Set ``REVIEW_SCREENSHOT=docs/review-queue.png`` to save the queue page (the README's picture).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flywheel.flows.runner import run_until_drained
from flywheel.review.store import QueueFilter, ReviewStore
from flywheel.schemas.events import Signal
from flywheel.schemas.tables import DPO_PAIRS, REJECTIONS
from flywheel.settings import Settings
from tests.conftest import wait_for
from tests.support.browser import chromium, missing_browser, serving
from tests.support.flow_helpers import read_table
from tests.support.review_flow import ANSWER, BETTER, event, intake, password_of, produce, review_app

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(missing_browser() is not None, reason=missing_browser() or ""),
]

HOSTILE = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 1"> how do I reset it?'


@pytest.fixture
def review_url(review_settings: Settings, store: ReviewStore) -> Iterator[str]:
    """The review app over real HTTP, posting its events to the real gateway app (in-process)."""
    with review_app(review_settings, store) as app, serving(app) as url:
        yield url


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    with chromium(tmp_path / "chromium-profile") as driver:
        yield driver


def fill_queue(settings: Settings, store: ReviewStore) -> None:
    turns = [{"role": "user", "content": "My key leaked."}, {"role": "assistant", "content": "Which key?"}]
    produce(
        settings,
        [
            event("down", Signal.THUMBS_DOWN, comment="dangerous advice", metadata={"turns": turns}),
            event("down-free", Signal.THUMBS_DOWN, segment="free", model_version="v2"),
            event("escalate", Signal.ESCALATION, segment="free", comment="customer is angry"),
            event("rating", Signal.RATING, rating=1, model_version="v2"),
            event("hostile", Signal.THUMBS_DOWN, prompt=HOSTILE, comment=HOSTILE),
            event("toxic", Signal.EDIT, final_user_edit=ANSWER + " This shit is so damn slow."),
        ],
    )
    run_until_drained(settings.flow_config())
    intake(settings, store)


def click_and_load(browser: Any, element: Any) -> None:
    """Click something that loads a new page, and wait until the new page has finished loading.

    The old page is marked with a script variable before the click; a new document does not carry
    it. Chromedriver can answer any call made mid-navigation with "node does not belong to the
    document" or a destroyed execution context, so those answers mean "not yet", never a failure.
    """
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    browser.execute_script("window.__before_click = true;")
    try:
        element.click()
    except WebDriverException as exc:
        # the navigation the click started can win the race against chromedriver's own post-click
        # check; the wait below proves the page changed.
        if "does not belong to the document" not in str(exc):
            raise
    wait = WebDriverWait(browser, 30, ignored_exceptions=(WebDriverException,))
    wait.until(
        lambda driver: driver.execute_script(
            "return window.__before_click === undefined && document.readyState === 'complete'"
        )
    )


def log_in(browser: Any, url: str, password: str) -> None:
    from selenium.webdriver.common.by import By

    browser.find_element(By.ID, "login-reviewer").send_keys("alice")
    browser.find_element(By.ID, "login-password").send_keys(password)
    click_and_load(browser, browser.find_element(By.ID, "login-submit"))


def apply_filters(browser: Any, **values: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    for name, value in values.items():
        Select(browser.find_element(By.ID, f"filter-{name.replace('_', '-')}")).select_by_value(value)
    click_and_load(browser, browser.find_element(By.ID, "filter-apply"))


def rows(browser: Any) -> dict[str, Any]:
    from selenium.webdriver.common.by import By

    return {row.get_attribute("data-event-id"): row for row in browser.find_elements(By.CSS_SELECTOR, "tr.item")}


def test_a_reviewer_correction_becomes_a_trusted_pair(
    review_settings: Settings, store: ReviewStore, review_url: str, browser: Any
) -> None:
    from selenium.webdriver.common.by import By

    fill_queue(review_settings, store)
    browser.get(review_url + "/")
    assert browser.current_url.endswith("/login")  # no anonymous access
    log_in(browser, review_url, "wrong")
    assert "wrong password" in browser.find_element(By.ID, "error").text
    log_in(browser, review_url, password_of("alice"))
    assert browser.find_element(By.ID, "reviewer").text == "alice"
    assert set(rows(browser)) == {"down", "down-free", "escalate", "rating", "hostile", "toxic"}
    screenshot = os.environ.get("REVIEW_SCREENSHOT")
    if screenshot:
        browser.save_screenshot(screenshot)

    # filters: segment, reason, model version
    apply_filters(browser, segment="free")
    assert set(rows(browser)) == {"down-free", "escalate"}
    apply_filters(browser, segment="", reason="held:toxicity")
    assert set(rows(browser)) == {"toxic"}
    apply_filters(browser, reason="", model_version="v2")
    assert set(rows(browser)) == {"down-free", "rating"}
    apply_filters(browser, model_version="")

    # claim "down" from the list, see why it is queued and its earlier turns, write the answer
    click_and_load(browser, rows(browser)["down"].find_element(By.CSS_SELECTOR, "button.claim"))
    assert browser.find_element(By.ID, "item-status").text == "claimed by you"
    assert browser.find_element(By.ID, "item-reason").text == "thumbs_down"
    assert "Which key?" in browser.find_element(By.CSS_SELECTOR, ".turn:last-child").text
    assert browser.find_element(By.ID, "item-comment").text == "dangerous advice"
    answer = browser.find_element(By.ID, "answer")
    answer.clear()
    answer.send_keys(BETTER)
    click_and_load(browser, browser.find_element(By.ID, "submit-correction"))
    assert "Sent: correct" in browser.find_element(By.ID, "flash").text
    assert "down" not in rows(browser)

    # the event went through the gateway and Kafka; the flow makes it a trusted pair
    run_until_drained(review_settings.flow_config())
    pairs = wait_for(lambda: read_table(review_settings, DPO_PAIRS).to_pylist(), what="the reviewer's pair")
    [pair] = [p for p in pairs if p["source"] == "reviewer"]
    down = event("down", Signal.THUMBS_DOWN)
    assert (pair["prompt"], pair["chosen"], pair["rejected"]) == (down.prompt, BETTER, ANSWER)
    assert pair["reviewer_id"] == "alice" and pair["thread_id"] == down.thread_id
    [done] = store.list(QueueFilter(status="done"), 10)
    assert (done.item.event_id, done.resolved_by, done.action) == ("down", "alice", "correct")


def test_a_hostile_prompt_is_shown_as_text_and_runs_no_script(
    review_settings: Settings, store: ReviewStore, review_url: str, browser: Any
) -> None:
    from selenium.webdriver.common.by import By

    fill_queue(review_settings, store)
    browser.get(review_url + "/login")
    log_in(browser, review_url, password_of("alice"))
    hostile_row = rows(browser)["hostile"]
    assert "<script>window.__xss = 1</script>" in hostile_row.find_element(By.CSS_SELECTOR, ".prompt").text
    assert browser.execute_script("return typeof window.__xss") == "undefined"
    click_and_load(browser, hostile_row.find_element(By.LINK_TEXT, "Open"))
    assert browser.find_element(By.ID, "item-prompt").text == HOSTILE
    assert browser.find_element(By.ID, "item-comment").text == HOSTILE
    assert browser.find_elements(By.CSS_SELECTOR, "main script, main img") == []
    assert browser.execute_script("return typeof window.__xss") == "undefined"


def test_placeholders_kept_from_a_scrubbed_answer_are_sent_only_when_confirmed(
    review_settings: Settings, store: ReviewStore, review_url: str, browser: Any
) -> None:
    from selenium.webdriver.common.by import By

    produce(review_settings, [event("pii", Signal.THUMBS_DOWN, response=ANSWER + " Stuck? Mail jane.doe@corp.io.")])
    run_until_drained(review_settings.flow_config())
    intake(review_settings, store)
    browser.get(review_url + "/login")
    log_in(browser, review_url, password_of("alice"))
    click_and_load(browser, rows(browser)["pii"].find_element(By.CSS_SELECTOR, "button.claim"))
    scrubbed = ANSWER + " Stuck? Mail [EMAIL]."  # what the flow queued: the address masked
    assert browser.find_element(By.ID, "item-response").text == scrubbed
    assert browser.find_element(By.ID, "answer").get_attribute("value") == scrubbed
    warning = browser.find_element(By.ID, "masked-warning")
    assert "This text contains masked values: [EMAIL]." in warning.text and warning.is_displayed()

    # Corrected but the placeholder kept: refused, nothing posted, the typed text still in the editor.
    answer = browser.find_element(By.ID, "answer")
    answer.clear()
    answer.send_keys(BETTER + " Stuck? Mail [EMAIL].")
    click_and_load(browser, browser.find_element(By.ID, "submit-correction"))
    assert "Not sent: the answer still holds [EMAIL]." in browser.find_element(By.ID, "error").text
    assert browser.find_element(By.ID, "answer").get_attribute("value") == BETTER + " Stuck? Mail [EMAIL]."
    assert browser.find_element(By.ID, "item-status").text == "claimed by you"
    # Confirmed: sent as written, and the flow drops it as the warning says (default policy).
    browser.find_element(By.ID, "keep-placeholders").click()
    click_and_load(browser, browser.find_element(By.ID, "submit-correction"))
    assert "Sent: correct" in browser.find_element(By.ID, "flash").text
    run_until_drained(review_settings.flow_config())
    rejected = wait_for(
        lambda: [r for r in read_table(review_settings, REJECTIONS).to_pylist() if r["event_id"].startswith("review-")],
        what="the reviewer's dropped correction",
    )
    assert [r["reason"] for r in rejected] == ["pii_in_chosen:placeholder"]
    assert [p for p in read_table(review_settings, DPO_PAIRS).to_pylist() if p["source"] == "reviewer"] == []
