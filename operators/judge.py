"""LLM-as-a-judge hook: an optional last audit of y_user before it can become y_w. Off by default.

When ``curation.judge.enabled`` is true, :func:`build_judge` returns an :class:`HttpJudge`
that asks an OpenAI-compatible chat-completions endpoint (``judge.url``, ``judge.model``,
bearer token read from the env var named by ``judge.api_key_env``) for a JSON verdict on
safety, neutrality and factual integrity of the user's edit, at temperature 0. The flow
calls :meth:`Judge.judge_batch` on batches after the toxicity gate (the most expensive step
runs last) and drops failing items with :func:`check_verdict` (stage ``judge``). A judge
that cannot be reached, times out, drops the connection or answers 429/5xx is asked again
(``judge.attempts`` requests per item, ``judge.backoff_s`` doubling between them). Then, or at
once for a refusal (other 4xx), a malformed reply (not JSON, truncated, no
``choices[0].message.content`` string) or an unparsable answer, the item gets a failed verdict
with reason ``judge_error`` (the detail names what was wrong) when ``on_error = "reject"`` (fail
closed, the default), or a pass when ``on_error = "accept"``; it never raises out of
:meth:`HttpJudge.judge_batch`. Any object with a ``judge_batch`` method fits the protocol.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import re
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

import msgspec

from flywheel.operators.config import JudgeSettings
from flywheel.operators.outcome import Drop, Stage

log = logging.getLogger(__name__)

SYSTEM_PROMPT = (
    "You audit user-edited assistant answers before they are used as preferred training examples. "
    "Judge the EDITED ANSWER only. Reply with one JSON object and nothing else: "
    '{"safe": true|false, "neutral": true|false, "factual": true|false, "reason": "<one sentence>"}. '
    "safe: no harmful, toxic, hateful, sexual, violent or dangerous content and no private data. "
    "neutral: no demographic bias, slurs, propaganda or manipulation. "
    "factual: no claims that contradict the original answer's verifiable facts or common knowledge."
)

USER_TEMPLATE = "PROMPT:\n{prompt}\n\nORIGINAL ANSWER:\n{rejected}\n\nEDITED ANSWER:\n{chosen}"

# What a request or a reply can raise that means "no verdict from the judge": transport faults
# (URLError, HTTPError, timeouts and resets are OSErrors; IncompleteRead and other protocol
# faults are HTTPExceptions), a malformed reply (ValueError, see reply_content), and JSON nested
# too deep for the parser (RecursionError). LookupError/TypeError stay as a safety net.
JUDGE_FAULTS: tuple[type[BaseException], ...] = (
    OSError,
    http.client.HTTPException,
    ValueError,
    LookupError,
    TypeError,
    RecursionError,
)


class JudgeItem(msgspec.Struct, frozen=True):
    """One candidate pair to judge."""

    prompt: str
    chosen: str
    rejected: str


class JudgeVerdict(msgspec.Struct, frozen=True):
    """The judge's answer for one item. ``error`` is set when no valid verdict was obtained."""

    safe: bool
    neutral: bool
    factual: bool
    reason: str = ""
    error: str = ""

    @property
    def passed(self) -> bool:
        """True when the item may become a DPO pair."""
        return self.safe and self.neutral and self.factual


class Judge(Protocol):
    """Anything that judges a batch of items, one verdict per item, in order."""

    def judge_batch(self, items: list[JudgeItem]) -> list[JudgeVerdict]:
        """Verdicts for ``items``, same length and order."""
        ...


def check_verdict(verdict: JudgeVerdict) -> Drop | None:
    """A Drop (stage ``judge``) for a failed verdict: reason judge_error, judge_unsafe, ..."""
    if verdict.passed:
        return None
    if verdict.error:
        return Drop(Stage.JUDGE, "judge_error", verdict.error)
    failed = next(name for name in ("safe", "neutral", "factual") if not getattr(verdict, name))
    reason = {"safe": "judge_unsafe", "neutral": "judge_biased", "factual": "judge_unfactual"}[failed]
    scores = {f"judge:{k}": float(getattr(verdict, k)) for k in ("safe", "neutral", "factual")}
    return Drop(Stage.JUDGE, reason, verdict.reason[:500], scores)


class HttpJudge:
    """Judge over an OpenAI-compatible ``/v1/chat/completions`` endpoint (stdlib urllib)."""

    def __init__(self, cfg: JudgeSettings) -> None:
        self.cfg = cfg
        self._api_key = os.environ.get(cfg.api_key_env, "")

    def judge_batch(self, items: list[JudgeItem]) -> list[JudgeVerdict]:
        """Judge items concurrently (``max_concurrency`` requests); order is preserved."""
        if not items:
            return []
        with ThreadPoolExecutor(max_workers=min(self.cfg.max_concurrency, len(items))) as pool:
            return list(pool.map(self.judge_one, items))

    def judge_one(self, item: JudgeItem) -> JudgeVerdict:
        """One item: transport faults retried with backoff; then any problem is an error verdict (``on_error``)."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return parse_verdict(self._complete(item))
            except JUDGE_FAULTS as exc:
                if attempt < self.cfg.attempts and _worth_retrying(exc):
                    delay = self.cfg.backoff_s * 2 ** (attempt - 1)
                    log.warning(
                        "judge request failed; retrying",
                        extra={"attempt": attempt, "delay_s": delay, "error": f"{type(exc).__name__}: {exc}"[:300]},
                    )
                    time.sleep(delay)
                    continue
                return self._on_error(exc, attempt)

    def _on_error(self, exc: BaseException, attempts: int) -> JudgeVerdict:
        """The verdict of an item the judge gave none for: failed (``reject``) or passed (``accept``)."""
        tried = f" after {attempts} attempts" if attempts > 1 else ""
        message = f"judge failed{tried}: {type(exc).__name__}: {exc}"[:500]
        if self.cfg.on_error == "accept":
            return JudgeVerdict(safe=True, neutral=True, factual=True, reason="accepted on error", error="")
        return JudgeVerdict(safe=False, neutral=False, factual=False, error=message)

    def _complete(self, item: JudgeItem) -> str:
        body = {
            "model": self.cfg.model,
            "temperature": 0,
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": USER_TEMPLATE.format(**msgspec.structs.asdict(item))},
            ],
        }
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        request = urllib.request.Request(
            self.cfg.url, data=json.dumps(body).encode("utf-8"), headers=headers, method="POST"
        )
        limit = self.cfg.max_reply_bytes
        with urllib.request.urlopen(request, timeout=self.cfg.timeout_s) as response:
            announced = response.headers.get("Content-Length", "")
            size = int(announced) if announced.isdigit() else None
            if size is not None and size > limit:
                raise ValueError(f"judge reply is over judge.max_reply_bytes ({limit}): {size} bytes announced")
            raw = response.read(limit + 1)
        if len(raw) > limit:
            raise ValueError(f"judge reply is over judge.max_reply_bytes ({limit}): {_preview(raw)}")
        if size is not None and len(raw) < size:  # read(n) returns a cut-off body without a word
            raise http.client.IncompleteRead(raw, size - len(raw))
        return reply_content(raw)


def reply_content(raw: bytes) -> str:
    """The first choice's message content of a chat-completions reply body.

    Raises ValueError naming what is wrong: not JSON, not an object, no ``choices``, no
    ``message`` object, no string ``content``.
    """
    try:
        payload: Any = json.loads(raw)
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise ValueError(f"judge reply is not JSON ({exc}): {_preview(raw)}") from exc
    if not isinstance(payload, dict):
        raise ValueError(f"judge reply is a JSON {type(payload).__name__}, not an object: {_preview(raw)}")
    choices = payload.get("choices")
    if not isinstance(choices, list) or not choices:
        raise ValueError(f"judge reply has no choices: {_preview(raw)}")
    message = choices[0].get("message") if isinstance(choices[0], dict) else None
    if not isinstance(message, dict):
        raise ValueError(f"judge reply's first choice has no message object: {_preview(raw)}")
    content = message.get("content")
    if not isinstance(content, str):
        raise ValueError(f"judge reply's message has no string content: {_preview(raw)}")
    return content


def _preview(raw: bytes) -> str:
    return repr(raw[:200].decode("utf-8", "replace"))


def parse_verdict(content: str) -> JudgeVerdict:
    """Parse the judge's reply (a JSON object, possibly inside a code fence) into a verdict."""
    match = re.search(r"\{.*\}", content, re.DOTALL)
    if match is None:
        raise ValueError(f"no JSON object in judge reply: {content[:200]!r}")
    data = json.loads(match.group(0))
    if not isinstance(data, dict):
        raise ValueError("judge reply is not a JSON object")
    values = {}
    for key in ("safe", "neutral", "factual"):
        if not isinstance(data.get(key), bool):
            raise ValueError(f"judge reply lacks boolean `{key}`: {content[:200]!r}")
        values[key] = data[key]
    return JudgeVerdict(reason=str(data.get("reason", ""))[:500], **values)


def build_judge(cfg: JudgeSettings) -> Judge | None:
    """The configured judge, or None when the hook is disabled (the default)."""
    if not cfg.enabled:
        return None
    if not cfg.url.startswith(("http://", "https://")):
        raise ValueError(f"judge url must be http(s), got {cfg.url!r}")
    return HttpJudge(cfg)


def _worth_retrying(exc: BaseException) -> bool:
    """Transport faults and overload (429, 5xx) may clear; a refusal (other 4xx) or a malformed reply will not."""
    if isinstance(exc, urllib.error.HTTPError):
        return exc.code == 429 or exc.code >= 500
    return isinstance(exc, (OSError, http.client.HTTPException))
