"""The vLLM backend without vLLM: its decisions as pure functions, and the backend behind the real server.

vLLM needs a CUDA GPU and cannot be installed next to this project's pins, so the engine itself is
``tests/support/vllm.py``'s test double of vLLM 0.33.0's documented interface; the tokenizer, the
registry, the engine, the app and the alias watcher are the real ones. Where vllm is importable,
the last tests check every call the backend makes against the real classes and signatures.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from flywheel.errors import ServingError
from flywheel.serving.app import ChatRequest, backend_for, create_app, generation_params
from flywheel.serving.backend import GenerationParams, render_prompt
from flywheel.serving.config import ServingConfig, ServingSettings, VllmSettings
from flywheel.serving.registry import BASE, RegistryView
from flywheel.serving.vllm_backend import (
    MISSING_VLLM,
    VLLM_VERSION,
    LoraSlots,
    VllmApi,
    VllmBackend,
    adapter_rank,
    completion_of,
    engine_args,
    lora_rank_for,
    prompt_ids,
    sampling_kwargs,
    supported_rank,
    vllm_available,
)
from tests.conftest import wait_for
from tests.support.serving import running_server
from tests.support.synthetic import build_tiny_model
from tests.support.vllm import CompletionOutputDouble, LLMDouble, RequestOutputDouble, vllm_double

CONVERSATION = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Please explain git"}]


@pytest.fixture(scope="module")
def tokenizers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny models (a tokenizer is all the backend loads itself): with a chat template, and without."""
    root = tmp_path_factory.mktemp("vllm-tokenizers")
    return {"chat": build_tiny_model(root / "chat", chat=True), "plain": build_tiny_model(root / "plain")}


def _adapter(directory: Path, rank: int, **extra: Any) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": rank, **extra}))
    return directory


def _registry(root: Path, ranks: dict[str, int]) -> RegistryView:
    for run, rank in ranks.items():
        _adapter(root / "runs" / run / "adapter", rank)
        (root / "runs" / run / "model_card.json").write_text(json.dumps({"run_id": run, "status": "promoted"}))
    return RegistryView(str(root))


def _config(model: Path, registry: Path, vllm: VllmSettings | None = None, **serving: Any) -> ServingConfig:
    options = {"backend": "vllm", "watch_interval_s": 0.05, "follow_promotions": False, **serving}
    return ServingConfig(
        serving=ServingSettings(**options, vllm=vllm or VllmSettings()),
        registry_url=str(registry),
        base_model=str(model),
        state_dir=registry.parent / "state",
    )


# --- engine arguments from the registry's adapters


def test_the_adapter_rank_is_the_largest_in_its_config() -> None:
    assert adapter_rank({"r": 16}) == 16
    assert adapter_rank({"r": 8, "rank_pattern": {"q_proj": 32, "v_proj": 4}}) == 32
    with pytest.raises(ServingError, match="no LoRA rank"):
        adapter_rank({"peft_type": "LORA"})


def test_max_lora_rank_is_a_rank_vllm_accepts_that_holds_every_adapter() -> None:
    assert [supported_rank(r) for r in (1, 2, 16, 17, 300, 512)] == [1, 8, 16, 32, 320, 512]
    with pytest.raises(ServingError, match="above vLLM's largest"):
        supported_rank(513)
    assert lora_rank_for(VllmSettings(), [8, 4], trainer_rank=16) == 16  # the trainer's rank is the floor
    assert lora_rank_for(VllmSettings(), [8, 48], trainer_rank=16) == 64
    assert lora_rank_for(VllmSettings(max_lora_rank=128), [8], trainer_rank=16) == 128  # set by hand: kept


def test_engine_args_enable_lora_on_the_base_model() -> None:
    settings = VllmSettings(max_loras=3, gpu_memory_utilization=0.5)
    args = engine_args("/models/smollm2", settings, max_lora_rank=32)
    assert args["model"] == "/models/smollm2"
    assert (args["enable_lora"], args["max_lora_rank"], args["max_loras"], args["max_cpu_loras"]) == (True, 32, 3, 3)
    assert args["gpu_memory_utilization"] == 0.5 and "max_model_len" not in args  # None: the model's own
    assert engine_args("m", VllmSettings(max_model_len=2048), 16)["max_model_len"] == 2048


def test_the_engine_starts_with_the_rank_of_the_largest_adapter_in_the_registry(
    tokenizers: dict[str, Path], tmp_path: Path
) -> None:
    registry = _registry(tmp_path / "registry", {"r1": 16, "r2": 64})
    (tmp_path / "registry" / "runs" / "unfinished" / "adapter").mkdir(parents=True)  # no card: not a run
    backend = VllmBackend(_config(tokenizers["chat"], tmp_path / "registry"), registry, api=vllm_double())
    backend.start()
    assert registry.runs() == ["r1", "r2"]
    assert isinstance(backend.llm, LLMDouble)
    assert backend.llm.engine_args == engine_args(str(tokenizers["chat"]), VllmSettings(), 64)


# --- adapter ids per model version


def test_every_version_keeps_one_adapter_id_across_unloads(tmp_path: Path) -> None:
    slots = LoraSlots()
    first = slots.assign("rA", tmp_path / "rA")
    second = slots.assign("rB", tmp_path / "rB")
    assert (first.lora_name, first.lora_int_id, first.lora_path) == ("rA", 1, str(tmp_path / "rA"))
    assert second.lora_int_id == 2
    assert slots.release("rA") == first and slots.release("rA") is None
    with pytest.raises(ServingError, match="not loaded"):
        slots.slot("rA")
    assert slots.assign("rC", tmp_path / "rC").lora_int_id == 3  # rA's id is not reused for another adapter
    assert slots.assign("rA", tmp_path / "rA") == first  # a rollback loads rA under its own id
    assert slots.slot(BASE) is None
    with pytest.raises(ServingError):
        slots.assign(BASE, tmp_path)


# --- requests and answers


def test_the_prompt_is_the_chat_template_the_transformers_backend_uses(tokenizers: dict[str, Path]) -> None:
    from transformers import AutoTokenizer

    chat = AutoTokenizer.from_pretrained(tokenizers["chat"])
    ids = prompt_ids(chat, CONVERSATION, max_prompt_tokens=1024)
    text, special = render_prompt(chat, CONVERSATION)
    assert not special and text.endswith("<|im_start|>assistant\n") and "Please explain git" in text
    assert ids == chat(text, add_special_tokens=False)["input_ids"]
    assert chat.decode(ids) == text
    plain = AutoTokenizer.from_pretrained(tokenizers["plain"])
    assert not getattr(plain, "chat_template", None)
    assert plain.decode(prompt_ids(plain, CONVERSATION, 1024), skip_special_tokens=True) == (
        "Be brief.\n\nPlease explain git"
    )
    # A long conversation keeps its latest tokens, as the transformers backend truncates from the left.
    assert prompt_ids(chat, CONVERSATION, max_prompt_tokens=5) == ids[-5:]


def test_the_openai_request_maps_to_vllm_sampling_params() -> None:
    settings = ServingSettings(max_new_tokens=64, max_new_tokens_limit=100, temperature=0.0)
    messages = [{"role": "user", "content": "hi"}]
    default = generation_params(ChatRequest.model_validate({"messages": messages}), settings)
    assert sampling_kwargs(default) == {"n": 1, "max_tokens": 64, "temperature": 0.0, "skip_special_tokens": True}
    asked = ChatRequest.model_validate(
        {"messages": messages, "max_tokens": 10, "max_completion_tokens": 20, "temperature": 0.7}
    )
    assert sampling_kwargs(generation_params(asked, settings)) == {
        "n": 1,
        "max_tokens": 20,  # OpenAI's newer field wins over the deprecated one
        "temperature": 0.7,
        "skip_special_tokens": True,
    }
    capped = ChatRequest.model_validate({"messages": messages, "max_tokens": 5000})
    assert sampling_kwargs(generation_params(capped, settings))["max_tokens"] == 100


def test_outputs_map_to_answers_and_an_aborted_request_is_an_error() -> None:
    def output(reason: str | None) -> RequestOutputDouble:
        return RequestOutputDouble("1", [5, 6, 7], [CompletionOutputDouble(0, "def f(): pass", [1, 2], reason)])

    answer = completion_of(output("stop"))
    assert (answer.text, answer.prompt_tokens, answer.completion_tokens, answer.finish_reason) == (
        "def f(): pass",
        3,
        2,
        "stop",
    )
    assert completion_of(output("length")).finish_reason == "length"
    assert completion_of(output("repetition")).finish_reason == "stop"
    for reason in ("abort", "error"):
        with pytest.raises(ServingError, match=reason):
            completion_of(output(reason))


# --- the backend behind the real server


def test_the_server_swaps_vllm_adapters_on_promotion_and_rollback(tokenizers: dict[str, Path], tmp_path: Path) -> None:
    registry = _registry(tmp_path / "registry", {"rA": 8, "rB": 16})
    config = _config(tokenizers["chat"], tmp_path / "registry", max_batch_size=4)
    backend = VllmBackend(config, registry, api=vllm_double())
    answers: list[dict[str, Any]] = []
    failures: list[BaseException] = []
    stop = threading.Event()

    def user(index: int, url: str) -> None:
        with httpx.Client(base_url=url, timeout=60) as client:
            while not stop.is_set():
                body = {"messages": CONVERSATION, "max_tokens": 8, "user": f"user-{index}"}
                try:
                    response = client.post("/v1/chat/completions", json=body)
                    response.raise_for_status()
                    answers.append(response.json())
                except httpx.HTTPError as exc:
                    failures.append(exc)

    def served(version: str, since: int = 0) -> int:
        return sum(1 for answer in answers[since:] if answer["model_version"] == version)

    with running_server(create_app(config, backend=backend)) as url:
        users = [threading.Thread(target=user, args=(index, url)) for index in range(4)]
        for thread in users:
            thread.start()
        try:
            wait_for(lambda: served(BASE) >= 5, what="base answers")
            registry.promote("rA", trigger_id="tA")
            wait_for(lambda: served("rA") >= 5, what="answers after promoting rA")
            registry.promote("rB", trigger_id="tB")
            wait_for(lambda: served("rB") >= 5, what="answers after promoting rB")
            mark = len(answers)
            registry.rollback()
            wait_for(lambda: served("rA", since=mark) >= 5, what="answers after the rollback to rA")
        finally:
            stop.set()
            for thread in users:
                thread.join()

    assert not failures
    prompt_length = len(prompt_ids(backend.tokenizer, CONVERSATION, config.serving.max_prompt_tokens))
    for answer in answers:  # the adapter that answered is the one the label names
        assert answer["choices"][0]["message"]["content"].split()[:2] == [answer["model_version"], str(prompt_length)]
    engine = backend.llm.llm_engine
    # rA was added (id 1), then rB (id 2); rA left once no route or request used it; the rollback
    # added rA again under id 1, and rB left.
    calls = [(name, arg.lora_name if name == "add_lora" else arg) for name, arg in engine.calls]
    assert calls == [("add_lora", "rA"), ("add_lora", "rB"), ("remove_lora", 1), ("add_lora", "rA"), ("remove_lora", 2)]
    assert engine.list_loras() == {1}
    names = {lora.lora_name if lora else BASE for _, _, lora in backend.llm.batches}
    assert names == {BASE, "rA", "rB"}
    assert all(params.temperature == 0.0 and params.max_tokens == 8 for _, params, _ in backend.llm.batches)


def test_an_adapter_above_the_engine_rank_or_unloadable_fails_the_swap_not_serving(
    tokenizers: dict[str, Path], tmp_path: Path
) -> None:
    registry = _registry(tmp_path / "registry", {"rA": 8})
    backend = VllmBackend(_config(tokenizers["chat"], tmp_path / "registry"), registry, api=vllm_double())
    backend.start()
    with pytest.raises(ServingError, match="FLYWHEEL_SERVING__VLLM__MAX_LORA_RANK=64"):
        backend.load("rBig", _adapter(tmp_path / "big", 64))  # promoted after the engine started
    with pytest.raises(ServingError, match="vLLM cannot load adapter rBad"):
        backend.load("rBad", _adapter(tmp_path / "broken", 8))
    assert backend.slots.loaded == {}
    with pytest.raises(ServingError, match="not loaded"):
        backend.generate("rBad", [CONVERSATION], GenerationParams(4))
    backend.load("rA", tmp_path / "registry" / "runs" / "rA" / "adapter")
    assert backend.generate("rA", [CONVERSATION, CONVERSATION], GenerationParams(4))[1].text.startswith("rA ")


# --- without vllm, and against the real vllm


@pytest.mark.skipif(vllm_available(), reason="vllm is installed here")
def test_without_vllm_the_server_says_what_to_install(tokenizers: dict[str, Path], tmp_path: Path) -> None:
    config = _config(tokenizers["chat"], tmp_path / "registry")
    with pytest.raises(ServingError) as raised:
        create_app(config)
    assert str(raised.value) == MISSING_VLLM
    assert f"vllm=={VLLM_VERSION}" in MISSING_VLLM and "FLYWHEEL_SERVING__BACKEND=transformers" in MISSING_VLLM
    with pytest.raises(ServingError, match="needs the vllm package"):
        VllmApi.load()
    with pytest.raises(ServingError, match="needs the vllm package"):
        backend_for(config, RegistryView(str(tmp_path / "registry")))


def test_the_backends_calls_match_the_pinned_vllm(tmp_path: Path) -> None:
    vllm = pytest.importorskip("vllm")
    from vllm.lora.request import LoRARequest
    from vllm.v1.engine.llm_engine import LLMEngine

    assert vllm.__version__ == VLLM_VERSION
    api = VllmApi.load()
    assert (api.llm, api.sampling_params, api.lora_request) == (vllm.LLM, vllm.SamplingParams, LoRARequest)
    args = engine_args("model", VllmSettings(max_model_len=1024), lora_rank_for(VllmSettings(), [8], 16))
    assert set(args) <= {f.name for f in dataclasses.fields(vllm.EngineArgs)}
    inspect.signature(vllm.LLM).bind(**args)  # LLM(**args) is a valid call: no missing or doubled keyword
    sampling = vllm.SamplingParams(**sampling_kwargs(GenerationParams(7, 0.0)))
    assert (sampling.n, sampling.max_tokens, sampling.temperature) == (1, 7, 0.0)
    slot = LoraSlots().assign("r1", tmp_path)
    request = LoRARequest(**slot.fields())
    assert (request.lora_name, request.lora_int_id, request.lora_path) == ("r1", 1, str(tmp_path))
    generate = inspect.signature(vllm.LLM.generate).parameters
    assert {"prompts", "sampling_params", "use_tqdm", "lora_request"} <= set(generate)
    assert generate["use_tqdm"].kind is generate["lora_request"].kind is inspect.Parameter.KEYWORD_ONLY
    assert set(inspect.signature(LLMEngine.add_lora).parameters) == {"self", "lora_request"}
    assert set(inspect.signature(LLMEngine.remove_lora).parameters) == {"self", "lora_id"}
    output = inspect.signature(vllm.CompletionOutput).parameters
    assert {"text", "token_ids", "finish_reason"} <= set(output)
    assert {"prompt_token_ids", "outputs"} <= set(inspect.signature(vllm.RequestOutput).parameters)
