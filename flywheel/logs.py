"""Structured JSON logging for every flywheel process (stdlib only).

``configure_logging(level)`` installs one handler on the root logger that writes one JSON
object per line::

    {"ts": "2025-01-01T00:00:00.000Z", "level": "INFO", "logger": "flows.sink",
     "message": "committed", "table": "dpo_pairs", "rows": 120}

Fields passed with ``extra={...}`` (event_id, trigger_id, table, topic, partition, ...) are
carried as top-level keys. User text is personal data and training material, not telemetry:
known text fields (prompt, response, final_user_edit, chosen, rejected, comment, ...) are
dropped from records below DEBUG by :class:`TextRedactionFilter`, and a record whose
*message* is one of those texts cannot be detected, so code must log ids, never text.
"""

from __future__ import annotations

import json as jsonlib
import logging
import sys
from datetime import UTC, datetime
from typing import IO, Any

# Keys of a LogRecord that the stdlib sets itself; everything else came from ``extra=``.
_RESERVED = frozenset(
    vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None)).keys() | {"message", "asctime", "taskName"}
)

# Field names that carry user or model text. Never logged above DEBUG.
TEXT_KEYS = frozenset(
    {
        "prompt",
        "response",
        "final_user_edit",
        "original_llm_output",
        "user_query",
        "ai_response",
        "user_correction",
        "chosen",
        "rejected",
        "comment",
        "text",
        "raw",
        "payload",
        "body",
    }
)
REDACTED = "[redacted]"

_HANDLER_MARK = "_flywheel_handler"


class TextRedactionFilter(logging.Filter):
    """Drop user-text extras from records logged above DEBUG.

    At DEBUG the text is kept (a developer asked for it explicitly by lowering the level
    *and* logging at debug); at INFO and above the key stays, with the value replaced by a
    marker and its length, so a reader can still see that the field was there.
    Nested dicts in extras (e.g. ``extra={"event": {...}}``) are redacted one level deep.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact in place; never suppresses the record."""
        if record.levelno <= logging.DEBUG:
            return True
        for key in list(vars(record)):
            if key in _RESERVED:
                continue
            value = getattr(record, key)
            if key in TEXT_KEYS:
                setattr(record, key, _redacted(value))
            elif isinstance(value, dict):
                setattr(record, key, {k: _redacted(v) if k in TEXT_KEYS else v for k, v in value.items()})
        return True


def _redacted(value: Any) -> str:
    """A marker that keeps only the length of the hidden text."""
    if isinstance(value, str | bytes):
        return f"{REDACTED} ({len(value)} chars)"
    return REDACTED


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, extras, exc_info."""

    def format(self, record: logging.LogRecord) -> str:
        """Serialise the record; values that are not JSON become their ``str()``."""
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            out["stack_info"] = self.formatStack(record.stack_info)
        return jsonlib.dumps(out, default=str, ensure_ascii=False)


class _PlainFormatter(logging.Formatter):
    """Human-readable lines for a terminal, extras appended as key=value."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        """The classic line followed by the extras."""
        line = super().format(record)
        extras = [f"{k}={v}" for k, v in vars(record).items() if k not in _RESERVED and not k.startswith("_")]
        return f"{line} {' '.join(extras)}" if extras else line


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at emit time, not at configuration time.

    Test runners and CLI runners swap and close stderr; a handler bound to the old object
    would then fail on every record.
    """

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> IO[str]:
        return sys.stderr

    @stream.setter
    def stream(self, _value: IO[str]) -> None:
        pass


def configure_logging(level: str = "INFO", json: bool = True, stream: IO[str] | None = None) -> None:
    """Install the flywheel handler on the root logger (idempotent: replaces a previous one).

    ``level`` is a level name (``settings.log_level``). ``json=False`` gives plain lines for
    a terminal. ``stream`` defaults to stderr. Other handlers (pytest's, for instance) are
    left in place; the redaction filter is attached to the handler, so it applies to
    everything this handler writes, from any logger.
    """
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}")
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, _HANDLER_MARK, False):
            root.removeHandler(existing)
            existing.close()
    handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    setattr(handler, _HANDLER_MARK, True)
    handler.setFormatter(JsonFormatter() if json else _PlainFormatter())
    handler.addFilter(TextRedactionFilter())
    root.addHandler(handler)
    root.setLevel(numeric)
    # Chatty libraries stay at WARNING unless the flywheel itself is at DEBUG.
    quiet = logging.DEBUG if numeric <= logging.DEBUG else logging.WARNING
    for name in ("kafka", "urllib3", "httpx", "botocore", "pyiceberg.io"):
        logging.getLogger(name).setLevel(max(quiet, numeric))
