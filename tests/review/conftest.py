"""Review fixtures: settings with a reviewer, and the queue store they point at."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from flywheel.infra.broker import LocalBroker
from flywheel.review.store import ReviewStore
from flywheel.settings import Settings
from tests.support.review_flow import open_store, reviewing_settings


@pytest.fixture
def review_settings(broker: LocalBroker, tmp_path: Path) -> Settings:
    """Isolated settings with one reviewer, alice, and the review app's gateway key."""
    return reviewing_settings(broker.bootstrap_servers, tmp_path, ["alice"])


@pytest.fixture
def store(review_settings: Settings) -> Iterator[ReviewStore]:
    """The review queue store of ``review_settings``, closed after the test."""
    opened = open_store(review_settings)
    yield opened
    opened.close()
