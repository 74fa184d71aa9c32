"""The model server over real HTTP with a tiny real model: hot swap, rollback, rollout, promotions."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from flywheel.infra.kafka import CheckedProducer
from flywheel.serving.app import VERSION_HEADER, create_app
from flywheel.serving.config import ServingConfig, ServingSettings
from flywheel.serving.follower import PromotionFollower
from flywheel.serving.registry import BASE, RegistryView
from flywheel.serving.rollout import Routes
from flywheel.settings import Settings
from flywheel.trainer.events import TrainingResult
from tests.conftest import wait_for
from tests.support.serving import add_run, forced_word_adapter, running_server
from tests.support.synthetic import build_tiny_model

pytestmark = pytest.mark.integration
PROMPT = "Please explain"
WORDS = {"rA": "kafka", "rB": "git"}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny random Llama and two adapters: rA always says 'kafka', rB always says 'git'."""
    root = tmp_path_factory.mktemp("serving-model")
    model = build_tiny_model(root / "model")
    adapters = {run: forced_word_adapter(model, root / run, word) for run, word in WORDS.items()}
    return {"model": model, **adapters}


def _config(tiny: dict[str, Path], registry: Path, **serving: Any) -> ServingConfig:
    registry.mkdir(parents=True, exist_ok=True)
    for run in WORDS:
        add_run(registry, run, tiny[run])
    options = {"watch_interval_s": 0.05, "follow_promotions": False, "max_batch_size": 4, "device": "cpu", **serving}
    return ServingConfig(
        serving=ServingSettings(**options),
        registry_url=str(registry),
        base_model=str(tiny["model"]),
        state_dir=registry.parent / "state",
    )


def _ask(client: httpx.Client, user: str) -> httpx.Response:
    return client.post(
        "/v1/chat/completions", json={"messages": [{"role": "user", "content": PROMPT}], "max_tokens": 4, "user": user}
    )


def test_hot_swap_and_rollback_under_concurrent_requests(tiny: dict[str, Path], tmp_path: Path) -> None:
    registry = RegistryView(str(tmp_path / "registry"))
    config = _config(tiny, tmp_path / "registry")
    answers: list[httpx.Response] = []
    failures: list[BaseException] = []
    stop = threading.Event()

    def user(index: int, url: str) -> None:
        with httpx.Client(base_url=url, timeout=60) as client:
            while not stop.is_set():
                try:
                    answers.append(_ask(client, f"user-{index}"))
                except httpx.HTTPError as exc:
                    failures.append(exc)

    def served(version: str, since: int = 0) -> int:
        return sum(1 for r in answers[since:] if r.headers.get(VERSION_HEADER) == version)

    with running_server(create_app(config)) as url:
        users = [threading.Thread(target=user, args=(i, url)) for i in range(6)]
        for thread in users:
            thread.start()
        try:
            wait_for(lambda: served(BASE) >= 10, what="base answers")
            registry.promote("rA", trigger_id="tA")
            wait_for(lambda: served("rA") >= 10, what="answers after promoting rA")
            registry.promote("rB", trigger_id="tB")
            wait_for(lambda: served("rB") >= 10, what="answers after promoting rB")
            mark = len(answers)
            registry.rollback()
            wait_for(lambda: served("rA", since=mark) >= 10, what="answers after the rollback to rA")
            routes = httpx.get(f"{url}/v1/flywheel/routes").json()
        finally:
            stop.set()
            for thread in users:
                thread.join()

    assert not failures
    served_routes = {"current": "rA", "candidate": None, "candidate_share": 0.0}
    assert routes == {**served_routes, "alias_applied": True, "alias": served_routes, "error": None}
    assert [r.status_code for r in answers] == [200] * len(answers)
    base_texts = set()
    for response in answers:
        body = response.json()
        version = body["model_version"]
        assert response.headers[VERSION_HEADER] == version
        assert response.headers["X-Request-Id"] == body["request_id"]
        text = body["choices"][0]["message"]["content"]
        if version == BASE:
            base_texts.add(text)
        else:  # the adapter that answered is the one the label names
            assert text.split() == [WORDS[version]] * 4, (version, text)
    assert len(base_texts) == 1 and not set(next(iter(base_texts)).split()) & set(WORDS.values())
    assert len({r.json()["request_id"] for r in answers}) == len(answers)


def test_rollout_splits_users_by_stable_hash(tiny: dict[str, Path], tmp_path: Path) -> None:
    registry = RegistryView(str(tmp_path / "registry"))
    config = _config(tiny, tmp_path / "registry", max_new_tokens=1)
    registry.promote("rA", trigger_id="tA")
    registry.promote("rB", trigger_id="tB", share=0.3)
    expected = Routes("rA", "rB", 0.3)
    users = [f"user-{index}" for index in range(150)]
    with running_server(create_app(config)) as url, httpx.Client(base_url=url, timeout=60) as client:
        versions = {user: _ask(client, user).json()["model_version"] for user in users}
        again = {user: _ask(client, user).json()["model_version"] for user in users[:20]}
        models = client.get("/v1/models").json()["data"][0]
    assert versions == {user: expected.pick(user) for user in users}
    assert again == {user: versions[user] for user in users[:20]}
    share = sum(v == "rB" for v in versions.values()) / len(users)
    assert 0.3 - 0.15 < share < 0.3 + 0.15  # 4 sigma of a binomial(150, 0.3)
    assert (models["model_version"], models["candidate"], models["candidate_share"]) == ("rA", "rB", 0.3)


def _result(run_id: str, status: str) -> bytes:
    return (
        TrainingResult(
            trigger_id=f"trigger-{run_id}",
            run_id=run_id,
            status=status,
            snapshot_id=1,
            snapshot_tag=f"train-{run_id}",
            base_model="tiny",
            adapter_uri=None,
            model_card_uri=None,
            train_pairs=1,
            eval_pairs=1,
            before=None,
            after=None,
            forgetting_pct=None,
            duration_s=1.0,
            finished_at=datetime.now(UTC),
        )
        .model_dump_json()
        .encode()
    )


def test_promotions_on_the_results_topic_move_the_alias(settings: Settings, tmp_path: Path) -> None:
    root = tmp_path / "registry"
    for run in ("rA", "rB"):
        (root / "runs" / run / "adapter").mkdir(parents=True)
        (root / "runs" / run / "adapter" / "adapter_config.json").write_text("{}")
        (root / "runs" / run / "model_card.json").write_text("{}")
    registry = RegistryView(str(root))
    follower = PromotionFollower(settings.kafka, settings.topics.training_results, "serving-test", registry)
    producer = CheckedProducer(settings.kafka)
    follower.start()
    try:
        topic = settings.topics.training_results
        producer.send(topic, _result("rB", "rejected"), key=b"trigger-rB")
        producer.send(topic, _result("rA", "promoted"), key=b"trigger-rA")
        producer.send(topic, _result("rA", "promoted"), key=b"trigger-rA")  # redelivered
        producer.flush()
        wait_for(lambda: registry.read_alias().current == "rA", what="the alias to follow the promotion")
    finally:
        follower.stop()
    history = registry.read_alias().history
    assert [(c.action, c.current, c.trigger_id) for c in history] == [("promote", "rA", "trigger-rA")]
