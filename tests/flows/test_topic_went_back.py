"""A topic whose offsets went back under a running flow stops it with one line, never skipping input.

Kafka offsets only grow. A topic deleted and created again (here: the in-memory broker restarted
empty under the flow) starts again at 0; the client, finding the flow's offset out of range,
resets to the earliest. Read on, its messages would be dropped by the sink as already committed
(the tables' offsets name other messages now), or the first ones skipped: the flow must stop and
say what happened and what to do.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from flywheel.config import revised
from flywheel.infra.broker import LocalBroker, ensure_topics, start_broker
from flywheel.schemas.tables import DPO_PAIRS
from flywheel.settings import Settings
from tests.conftest import wait_for
from tests.flows.test_flow_backbone import as_message, edit_event
from tests.support.flow_helpers import produce_raw, start_flow_process, total_records, write_config

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[list[LocalBroker]]:
    """This test's broker (a list: the test replaces it with a fresh one on the same port)."""
    brokers = [start_broker(log_file=tmp_path / "broker.log")]
    yield brokers
    for broker in brokers:
        broker.stop()


def test_offsets_that_went_back_stop_the_flow_with_one_line(
    settings: Settings, own_broker: list[LocalBroker], tmp_path: Path
) -> None:
    first = own_broker[0]
    settings = revised(
        settings,
        kafka={"bootstrap_servers": first.bootstrap_servers},
        sink={"commit_interval_s": 0.2, "progress_commit_interval_s": 0.2},
    )
    ensure_topics(settings.kafka, settings.topics)
    produce_raw(settings, [(b"one-key", as_message(edit_event(i))[1]) for i in range(5)])
    log = tmp_path / "flow.log"
    process = start_flow_process(write_config(settings, tmp_path / "flow.yaml"), log_path=log)
    wait_for(lambda: total_records(settings, DPO_PAIRS) == 5, timeout_s=120, what="the first five rows")

    # The broker comes back empty on the same address; two new messages arrive.
    first.stop()
    own_broker.append(start_broker(port=first.port, log_file=tmp_path / "broker-again.log"))
    ensure_topics(settings.kafka, settings.topics)
    produce_raw(settings, [(b"one-key", as_message(edit_event(100 + i))[1]) for i in range(2)])

    wait_for(lambda: process.poll() is not None, timeout_s=180, what="the flow to stop")
    output = log.read_text()
    assert process.returncode not in (0, None), output[-3000:]
    assert re.search(r"(delivered|ends at) offset [0-2] where the flow reads 5 next", output), output[-3000:]
    assert "flywheel stack reset --yes" in output
    assert "Traceback" not in output, output[-3000:]
    assert total_records(settings, DPO_PAIRS) == 5  # nothing of the new topic was taken for the old
