"""infra/k8s runs the model server on the trainer's registry and the review app on durable, secret-fed state.

For every overlay: the server's settings resolve its registry to the same claim and path as the
trainer's, on a claim that every server pod can mount next to the trainer (ReadWriteMany, or
scheduled onto the trainer's node); its probes hit its real health routes; production runs it
on GPU nodes. The review app keeps its SQLite queue on its own claim (one replica, Recreate),
takes reviewer passwords, session key and gateway key from the Secret, posts to the gateway's
Service, and is probed on its real routes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flywheel.review.config import ReviewConfig
from flywheel.review.passwords import hash_password
from flywheel.serving.config import ServingConfig
from tests.support.k8s import (
    TARGETS,
    Doc,
    claim_mounts,
    claim_of,
    effective_env,
    env,
    one,
    pod,
    render,
    secret_refs,
    settings_from,
)

PROBES = ("startupProbe", "livenessProbe", "readinessProbe")


@pytest.fixture(params=list(TARGETS))
def rendered(request: pytest.FixtureRequest) -> tuple[str, tuple[Doc, ...]]:
    return request.param, render(request.param)


def _serving_routes() -> set[str]:
    from flywheel.serving.app import create_app

    return set(create_app(ServingConfig(registry_url="registry", base_model="model")).openapi()["paths"])


def _review_routes(tmp_path: Path) -> set[str]:
    from flywheel.review.app import create_app

    app = create_app(ReviewConfig(state_dir=tmp_path))  # the store opens lazily: no I/O here
    return {route.path for route in app.routes if hasattr(route, "path")}


def _probe_paths(container: Doc) -> dict[str, str]:
    return {probe: container[probe]["httpGet"]["path"] for probe in PROBES if probe in container}


def _serves_http(docs: tuple[Doc, ...], name: str, port: int) -> None:
    """The Service ``name`` selects the pods and targets the container's named port ``port``."""
    deployment = one(docs, "Deployment", name)
    service = one(docs, "Service", name)
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert service["spec"]["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": port}, f"{name} listens on its settings' port"
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http"]


def test_model_server_reads_the_trainers_registry(
    rendered: tuple[str, tuple[Doc, ...]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    target, docs = rendered
    server_pod, trainer_pod = pod(docs, "flywheel-serving"), pod(docs, "flywheel-trainer")
    [server], [trainer] = server_pod["containers"], trainer_pod["containers"]
    assert server["command"] == ["flywheel", "serve"]
    server_settings = settings_from(effective_env(docs, server), monkeypatch, tmp_path)
    registry = server_settings.serving_config().registry_url
    trainer_settings = settings_from(effective_env(docs, trainer), monkeypatch, tmp_path)
    trainer_registry = trainer_settings.trainer.registry_url or str((trainer_settings.state_dir / "registry").resolve())
    assert registry == trainer_registry, "the server serves the registry the trainer writes"
    on_server = claim_of(registry, claim_mounts(server_pod, server))
    assert on_server is not None and on_server == claim_of(trainer_registry, claim_mounts(trainer_pod, trainer))
    assert on_server[0] == "flywheel-registry"
    # Listens on all interfaces at its settings' port, behind a Service.
    assert server_settings.serving.host == "0.0.0.0"
    _serves_http(docs, "flywheel-serving", server_settings.serving.port)
    # The claim is shared with the trainer: RWX, or the server runs on the trainer's node.
    modes = one(docs, "PersistentVolumeClaim", "flywheel-registry")["spec"]["accessModes"]
    if "ReadWriteMany" not in modes:
        affinity = server_pod.get("affinity", {}).get("podAffinity", {})
        terms = affinity.get("requiredDuringSchedulingIgnoredDuringExecution", [])
        assert len(terms) == 1, f"{target}: a ReadWriteOnce registry needs the server on the trainer's node"
        [term] = terms
        trainer_labels = one(docs, "Deployment", "flywheel-trainer")["spec"]["template"]["metadata"]["labels"]
        assert term["labelSelector"]["matchLabels"].items() <= trainer_labels.items()
        assert term["topologyKey"] == "kubernetes.io/hostname", f"{target}: a ReadWriteOnce claim is per node"
    replicas = one(docs, "Deployment", "flywheel-serving")["spec"]["replicas"]
    assert replicas == 1 or "ReadWriteMany" in modes


def test_model_server_probes_hit_its_health_routes(rendered: tuple[str, tuple[Doc, ...]]) -> None:
    _, docs = rendered
    [server] = pod(docs, "flywheel-serving")["containers"]
    paths = _probe_paths(server)
    assert paths == {"startupProbe": "/healthz", "livenessProbe": "/healthz", "readinessProbe": "/readyz"}
    assert set(paths.values()) <= _serving_routes()
    startup = server["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 300, "room to load the base model"


def test_model_server_on_gpu_in_production(rendered: tuple[str, tuple[Doc, ...]]) -> None:
    target, docs = rendered
    server_pod = pod(docs, "flywheel-serving")
    [server] = server_pod["containers"]
    gpu = {section: server["resources"][section].get("nvidia.com/gpu") for section in ("requests", "limits")}
    if target == "production":
        assert gpu == {"requests": "1", "limits": "1"}
        assert server_pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
        assert any(t["key"] == "nvidia.com/gpu" for t in server_pod["tolerations"])
        assert server["image"].endswith("-cuda") and env(server)["FLYWHEEL_SERVING__DEVICE"] == "cuda"
        pdb = one(docs, "PodDisruptionBudget", "flywheel-serving")
        assert pdb["spec"]["minAvailable"] < one(docs, "Deployment", "flywheel-serving")["spec"]["replicas"]
    else:
        assert gpu == {"requests": None, "limits": None} and not server_pod.get("nodeSelector")
        assert not server["image"].endswith("-cuda")


def test_review_queue_is_durable_and_single_writer(
    rendered: tuple[str, tuple[Doc, ...]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _, docs = rendered
    review_pod = pod(docs, "flywheel-review")
    [review] = review_pod["containers"]
    assert review["command"] == ["flywheel", "review", "serve"]
    settings = settings_from(effective_env(docs, review), monkeypatch, tmp_path)
    config = settings.review_config()
    assert config.review.store_url == "", "a store URL carries a password: only from the Secret"
    store = config.review.store_location(config.state_dir)
    assert store.startswith("sqlite:///")
    on_claim = claim_of(store.removeprefix("sqlite:///"), claim_mounts(review_pod, review))
    assert on_claim == ("flywheel-review", "review/queue.db")
    claim = one(docs, "PersistentVolumeClaim", "flywheel-review")
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    deployment = one(docs, "Deployment", "flywheel-review")
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"]["type"] == "Recreate"
    assert config.review.consume, "the app reads the review topic into the queue"
    assert config.review.host == "0.0.0.0"
    _serves_http(docs, "flywheel-review", config.review.port)


def test_review_app_secrets_gateway_and_probes(
    rendered: tuple[str, tuple[Doc, ...]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    target, docs = rendered
    [review] = pod(docs, "flywheel-review")["containers"]
    refs = secret_refs(review)
    required = {"FLYWHEEL_REVIEW__REVIEWERS", "FLYWHEEL_REVIEW__SESSION_SECRET", "FLYWHEEL_REVIEW__GATEWAY_API_KEY"}
    assert required <= {name for name, ref in refs.items() if not ref.get("optional")}
    assert refs["FLYWHEEL_REVIEW__STORE_URL"].get("optional") is True, "SQLite unless a URL is in the Secret"
    assert {ref["name"] for ref in refs.values()} == {"flywheel-secrets"}
    # Loaded with stand-ins for the secrets, the values parse as the settings expect.
    variables = effective_env(docs, review) | {
        "FLYWHEEL_REVIEW__REVIEWERS": json.dumps({"alice": hash_password("correct horse battery staple")}),
        "FLYWHEEL_REVIEW__SESSION_SECRET": "s" * 32,
        "FLYWHEEL_REVIEW__GATEWAY_API_KEY": "k" * 32,
    }
    review_settings = settings_from(variables, monkeypatch, tmp_path).review
    assert set(review_settings.reviewers) == {"alice"}
    # Actions go to the gateway's Service (port 80 -> the gateway's http port).
    gateway = one(docs, "Service", "flywheel-gateway")
    assert review_settings.gateway_url == f"http://{gateway['metadata']['name']}"
    assert [p["port"] for p in gateway["spec"]["ports"]] == [80]
    assert review_settings.secure_cookies is (target == "production"), "HTTPS-only cookies behind TLS"
    paths = _probe_paths(review)
    assert {"livenessProbe", "readinessProbe"} <= set(paths)
    assert set(paths.values()) <= _review_routes(tmp_path)
