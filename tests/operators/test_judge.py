from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from flywheel.operators.config import JudgeSettings
from flywheel.operators.judge import HttpJudge, JudgeItem, build_judge, check_verdict, parse_verdict
from tests.support.judge import UNPARSEABLE, JudgeHandler, serve_judge

GOOD_VERDICT = {"safe": True, "neutral": True, "factual": True, "reason": "fine"}


def _reply(content: object) -> bytes:
    return json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}).encode()


# Malformed chat-completions replies, keyed by the edited answer that makes the server send them:
# (raw HTTP body, words the error verdict must name). "truncated" announces more bytes than it sends.
MALFORMED: dict[str, tuple[bytes, str]] = {
    "empty-choices": (b'{"choices": []}', "no choices"),
    "no-choices": (b'{"error": {"message": "overloaded"}}', "no choices"),
    "choices-not-a-list": (b'{"choices": "abc"}', "no choices"),
    "choice-without-message": (b'{"choices": [{"index": 0}]}', "no message object"),
    "message-not-an-object": (b'{"choices": [{"message": "hi"}]}', "no message object"),
    "missing-content": (b'{"choices": [{"message": {"role": "assistant"}}]}', "no string content"),
    "null-content": (_reply(None), "no string content"),
    "content-not-a-string": (_reply({"safe": True}), "no string content"),
    "non-json": (b"<html>502 Bad Gateway</html>", "not JSON"),
    "empty-body": (b"", "not JSON"),
    "not-utf8": (b"\xff\xfe\xfa", "not JSON"),
    "json-array": (b"[1, 2]", "not an object"),
    "nested-too-deep": (b"[" * 100_000, "RecursionError"),
    "truncated": (_reply(json.dumps(GOOD_VERDICT)), "IncompleteRead"),
    # A passing verdict, but 2 MB of it: over judge.max_reply_bytes (1 MiB), never read whole.
    "oversized": (_reply(json.dumps({**GOOD_VERDICT, "reason": "x" * 2_000_000})), "over judge.max_reply_bytes"),
    # The same without a Content-Length (the body runs until the server closes): cut at the limit.
    "oversized-unannounced": (
        _reply(json.dumps({**GOOD_VERDICT, "reason": "x" * 2_000_000})),
        "over judge.max_reply_bytes",
    ),
}


class MalformedJudgeHandler(BaseHTTPRequestHandler):
    """Sends the MALFORMED body named by the edited answer, or a valid passing verdict."""

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        edited = body["messages"][-1]["content"].split("EDITED ANSWER:\n", 1)[1]
        data = MALFORMED[edited][0] if edited in MALFORMED else _reply(json.dumps(GOOD_VERDICT))
        length = len(data) + 100 if edited == "truncated" else len(data)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if edited != "oversized-unannounced":
            self.send_header("Content-Length", str(length))
        self.end_headers()
        # The judge client hangs up on an oversized reply, as it should.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(data[: len(data) // 2] if edited == "truncated" else data)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def malformed_url() -> Iterator[str]:
    with serve_judge(MalformedJudgeHandler) as url:
        yield url


@pytest.fixture()
def judge_url() -> Iterator[str]:
    with serve_judge() as url:
        yield url


def test_off_by_default() -> None:
    assert JudgeSettings().enabled is False
    assert build_judge(JudgeSettings()) is None


def test_http_judge_against_a_local_server(judge_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_JUDGE_KEY", "s3cret")
    judge = build_judge(JudgeSettings(enabled=True, url=judge_url, model="m1", api_key_env="TEST_JUDGE_KEY"))
    assert isinstance(judge, HttpJudge)
    items = [
        JudgeItem("q", "A fine answer.", "an answer"),
        JudgeItem("q", "Add poison to the soup.", "Add salt."),
        JudgeItem("q", "They are always lazy.", "People differ."),
        JudgeItem("q", "The earth is flat.", "The earth is round."),
        JudgeItem("q", UNPARSEABLE, "x"),
    ]
    verdicts = judge.judge_batch(items)
    assert [v.passed for v in verdicts] == [True, False, False, False, False]
    drops = [check_verdict(v) for v in verdicts]
    assert drops[0] is None
    assert [d.reason for d in drops[1:] if d] == ["judge_unsafe", "judge_biased", "judge_unfactual", "judge_error"]
    assert all(d.stage == "judge" for d in drops[1:] if d)
    assert len(JudgeHandler.requests) == len(items)
    request = JudgeHandler.requests[0]
    assert request["auth"] == "Bearer s3cret"
    assert request["body"]["model"] == "m1" and request["body"]["temperature"] == 0
    assert judge.judge_batch([]) == []


def test_unreachable_judge_fails_closed_or_open(judge_url: str) -> None:
    dead = judge_url.replace("/v1/chat/completions", "/nowhere")
    closed = HttpJudge(JudgeSettings(enabled=True, url=dead, timeout_s=5))
    verdict = closed.judge_batch([JudgeItem("q", "a", "b")])[0]
    assert not verdict.passed and "404" in verdict.error
    opened = HttpJudge(JudgeSettings(enabled=True, url=dead, timeout_s=5, on_error="accept"))
    assert opened.judge_batch([JudgeItem("q", "a", "b")])[0].passed


def test_parse_verdict_errors() -> None:
    assert parse_verdict('{"safe": true, "neutral": true, "factual": false}').factual is False
    with pytest.raises(ValueError, match="no JSON"):
        parse_verdict("nope")
    with pytest.raises(ValueError, match="boolean `neutral`"):
        parse_verdict('{"safe": true, "neutral": "yes", "factual": true}')


def test_bad_url_rejected() -> None:
    with pytest.raises(ValueError, match="http"):
        build_judge(JudgeSettings(enabled=True, url="ftp://x"))


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_reply_is_a_judge_error_not_a_crash(malformed_url: str, case: str) -> None:
    closed = HttpJudge(JudgeSettings(enabled=True, url=malformed_url, timeout_s=5))
    [verdict] = closed.judge_batch([JudgeItem("q", case, "orig")])
    assert not verdict.passed
    assert MALFORMED[case][1] in verdict.error
    drop = check_verdict(verdict)
    assert drop is not None and drop.stage == "judge" and drop.reason == "judge_error"
    opened = HttpJudge(JudgeSettings(enabled=True, url=malformed_url, timeout_s=5, on_error="accept"))
    [accepted] = opened.judge_batch([JudgeItem("q", case, "orig")])
    assert accepted.passed and not accepted.error


def test_malformed_replies_do_not_stop_the_rest_of_a_batch(malformed_url: str) -> None:
    judge = HttpJudge(JudgeSettings(enabled=True, url=malformed_url, timeout_s=5, max_concurrency=4))
    names = ["fine-before", *MALFORMED, "fine-after"]
    verdicts = judge.judge_batch([JudgeItem("q", name, "orig") for name in names])
    assert [v.passed for v in verdicts] == [True] + [False] * len(MALFORMED) + [True]
    for name, verdict in zip(names[1:-1], verdicts[1:-1], strict=True):
        assert MALFORMED[name][1] in verdict.error, (name, verdict.error)


class FlakyJudgeHandler(JudgeHandler):
    """Answers 503 to the first ``failures`` requests, then as the keyword judge."""

    failures = 0
    seen = 0

    def do_POST(self) -> None:
        FlakyJudgeHandler.seen += 1
        if FlakyJudgeHandler.seen <= FlakyJudgeHandler.failures:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_error(503, "overloaded")
            return
        super().do_POST()


@pytest.fixture
def flaky_url() -> Iterator[str]:
    with serve_judge(FlakyJudgeHandler) as url:
        yield url


def test_an_overloaded_judge_is_asked_again_with_backoff(flaky_url: str) -> None:
    FlakyJudgeHandler.failures, FlakyJudgeHandler.seen = 2, 0
    judge = HttpJudge(JudgeSettings(enabled=True, url=flaky_url, attempts=3, backoff_s=0.01))

    verdict = judge.judge_batch([JudgeItem("q", "a", "b")])[0]

    assert verdict.passed and verdict.error == "" and FlakyJudgeHandler.seen == 3

    FlakyJudgeHandler.failures, FlakyJudgeHandler.seen = 10, 0
    failed = judge.judge_batch([JudgeItem("q", "a", "b")])[0]
    assert not failed.passed and FlakyJudgeHandler.seen == 3
    assert failed.error.startswith("judge failed after 3 attempts: HTTPError: HTTP Error 503")
