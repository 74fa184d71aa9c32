"""Structured JSON logs: one object a line, extras carried, user text never above DEBUG."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from flywheel.logs import REDACTED, configure_logging


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """Route the flywheel handler to a buffer; restore the root logger afterwards."""
    root = logging.getLogger()
    saved_level, saved_handlers = root.level, list(root.handlers)
    buffer = io.StringIO()
    yield buffer
    for handler in list(root.handlers):
        if handler not in saved_handlers:
            root.removeHandler(handler)
    root.setLevel(saved_level)


def _lines(buffer: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


def test_json_line_has_core_fields_and_extras(stream: io.StringIO) -> None:
    configure_logging("INFO", stream=stream)
    logging.getLogger("flows.sink").info(
        "committed %d rows", 3, extra={"table": "dpo_pairs", "event_id": "e-1", "trigger_id": "t-9"}
    )
    (line,) = _lines(stream)
    assert line["level"] == "INFO"
    assert line["logger"] == "flows.sink"
    assert line["message"] == "committed 3 rows"
    assert line["table"] == "dpo_pairs"
    assert line["event_id"] == "e-1"
    assert line["trigger_id"] == "t-9"
    assert str(line["ts"]).endswith("+00:00")
    assert "args" not in line and "msg" not in line


def test_level_from_config_filters_debug(stream: io.StringIO) -> None:
    configure_logging("warning", stream=stream)
    log = logging.getLogger("flywheel.test")
    log.info("hidden")
    log.warning("shown")
    assert [line["message"] for line in _lines(stream)] == ["shown"]


def test_text_fields_redacted_at_info(stream: io.StringIO) -> None:
    configure_logging("INFO", stream=stream)
    secret = "my private prompt about salaries"
    logging.getLogger("operators.safety").info(
        "edit rejected",
        extra={
            "event_id": "e-2",
            "prompt": secret,
            "final_user_edit": secret,
            "event": {"response": secret, "signal": "edit"},
        },
    )
    raw = stream.getvalue()
    assert secret not in raw
    (line,) = _lines(stream)
    assert str(line["prompt"]).startswith(REDACTED)
    assert line["event"] == {"response": f"{REDACTED} ({len(secret)} chars)", "signal": "edit"}
    assert line["event_id"] == "e-2"


def test_text_kept_at_debug_when_debug_enabled(stream: io.StringIO) -> None:
    configure_logging("DEBUG", stream=stream)
    log = logging.getLogger("operators.safety")
    log.debug("raw edit", extra={"final_user_edit": "visible text"})
    log.warning("warn", extra={"final_user_edit": "not visible"})
    lines = _lines(stream)
    assert lines[0]["final_user_edit"] == "visible text"
    assert "not visible" not in stream.getvalue()


def test_exception_is_serialised(stream: io.StringIO) -> None:
    configure_logging("INFO", stream=stream)
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("x").exception("failed", extra={"topic": "t"})
    (line,) = _lines(stream)
    assert "ValueError: boom" in str(line["exc_info"])
    assert line["topic"] == "t"


def test_configure_is_idempotent_and_rejects_bad_level(stream: io.StringIO) -> None:
    configure_logging("INFO", stream=stream)
    configure_logging("INFO", stream=stream)
    logging.getLogger("x").info("once")
    assert len(_lines(stream)) == 1
    with pytest.raises(ValueError):
        configure_logging("LOUD", stream=stream)


def test_plain_mode_is_not_json(stream: io.StringIO) -> None:
    configure_logging("INFO", json=False, stream=stream)
    logging.getLogger("x").info("hello", extra={"table": "t1", "prompt": "secret words"})
    out = stream.getvalue()
    assert "hello" in out and "table=t1" in out
    assert "secret words" not in out
    with pytest.raises(json.JSONDecodeError):
        json.loads(out.splitlines()[0])
