from __future__ import annotations

from collections.abc import Iterator

import pytest

from flywheel.operators.config import JudgeSettings
from flywheel.operators.judge import HttpJudge, JudgeItem, build_judge, check_verdict, parse_verdict
from tests.support.judge import UNPARSEABLE, JudgeHandler, serve_judge


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
