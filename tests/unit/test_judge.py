from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from flywheel.operators.config import JudgeSettings
from flywheel.operators.judge import HttpJudge, JudgeItem, build_judge, check_verdict, parse_verdict


class _JudgeHandler(BaseHTTPRequestHandler):
    """A tiny OpenAI-compatible chat endpoint whose verdict depends on the edited answer."""

    requests: list[dict] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _JudgeHandler.requests.append({"body": body, "auth": self.headers.get("Authorization")})
        if self.path != "/v1/chat/completions":
            self.send_error(404)
            return
        user = body["messages"][-1]["content"]
        edited = user.split("EDITED ANSWER:\n", 1)[1]
        if "garbage" in edited:
            content = "I cannot answer in JSON, sorry."
        else:
            verdict = {
                "safe": "poison" not in edited,
                "neutral": "always lazy" not in edited,
                "factual": "flat" not in edited,
                "reason": f"judged {len(edited)} chars",
            }
            content = "```json\n" + json.dumps(verdict) + "\n```"
        payload = {"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture()
def judge_url() -> Iterator[str]:
    _JudgeHandler.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _JudgeHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1/chat/completions"
    server.shutdown()
    server.server_close()


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
        JudgeItem("q", "garbage", "x"),
    ]
    verdicts = judge.judge_batch(items)
    assert [v.passed for v in verdicts] == [True, False, False, False, False]
    drops = [check_verdict(v) for v in verdicts]
    assert drops[0] is None
    assert [d.reason for d in drops[1:] if d] == ["judge_unsafe", "judge_biased", "judge_unfactual", "judge_error"]
    assert all(d.stage == "judge" for d in drops[1:] if d)
    assert len(_JudgeHandler.requests) == len(items)
    request = _JudgeHandler.requests[0]
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
