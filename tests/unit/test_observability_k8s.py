"""infra/k8s renders with kustomize, validates against the Kubernetes schemas, and is coherent.

Coherent: the flow's headless service and StatefulSet agree, every Bytewax process gets its
index and the full peer list, Prometheus annotations name a real container port, and every
FLYWHEEL_* variable in the ConfigMap is a setting the code accepts.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from pydantic import BaseModel

from flywheel.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "infra" / "k8s" / "base"
K8S_VERSION = "1.37.0"


@pytest.fixture(scope="module")
def docs() -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: cannot render the kustomize base")
    result = subprocess.run([kubectl, "kustomize", str(BASE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def _one(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    [doc] = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def test_every_resource_validates_strictly(docs: list[dict[str, Any]]) -> None:
    kinds = sorted((d["kind"], d["metadata"]["name"]) for d in docs)
    assert ("StatefulSet", "flywheel-flow") in kinds and ("Deployment", "flywheel-gateway") in kinds
    assert ("Deployment", "flywheel-trainer") in kinds and ("ConfigMap", "flywheel-config") in kinds
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "data-flywheel"


def test_validator_rejects_a_broken_manifest(docs: list[dict[str, Any]]) -> None:
    broken = yaml.safe_load(yaml.safe_dump(_one(docs, "Deployment", "flywheel-gateway")))
    broken["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_flow_statefulset_and_headless_service_agree(docs: list[dict[str, Any]]) -> None:
    flow = _one(docs, "StatefulSet", "flywheel-flow")
    service = _one(docs, "Service", flow["spec"]["serviceName"])
    assert service["spec"]["clusterIP"] == "None"
    pod_labels = flow["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert flow["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    container = flow["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["BYTEWAX_DATAFLOW_API_ENABLED"] == "true"
    assert int(env["FLOW_PROCESSES"]) == flow["spec"]["replicas"], "Bytewax cluster size must match replicas"
    claim = flow["spec"]["volumeClaimTemplates"][0]["metadata"]["name"]
    assert any(m["name"] == claim for m in container["volumeMounts"])


def test_flow_pod_passes_its_index_and_all_peers(docs: list[dict[str, Any]], tmp_path: Path) -> None:
    """Run the pod's start script with a stub ``flywheel`` that prints its arguments."""
    flow = _one(docs, "StatefulSet", "flywheel-flow")
    container = flow["spec"]["template"]["spec"]["containers"][0]
    stub = tmp_path / "flywheel"
    stub.write_text('#!/bin/sh\necho "$@"\n')
    stub.chmod(0o755)
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "FLOW_PROCESSES": "3", "POD_NAMESPACE": "ns"}
    env["POD_NAME"] = "flywheel-flow-2"
    result = subprocess.run(
        [*container["command"], *container["args"]], capture_output=True, text=True, env=env, timeout=10
    )
    assert result.returncode == 0, result.stderr
    peers = ";".join(f"flywheel-flow-{i}.flywheel-flow.ns.svc.cluster.local:2101" for i in range(3))
    assert result.stdout.split() == ["flow", "run", "-i", "2", "-a", peers]


def test_prometheus_annotations_name_a_container_port(docs: list[dict[str, Any]]) -> None:
    workloads = [d for d in docs if d["kind"] in {"Deployment", "StatefulSet"}]
    assert len(workloads) == 3
    for workload in workloads:
        template = workload["spec"]["template"]
        annotations = template["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        ports = {p["containerPort"] for c in template["spec"]["containers"] for p in c.get("ports", [])}
        assert int(annotations["prometheus.io/port"]) in ports, workload["metadata"]["name"]
        component = template["metadata"]["labels"]["app.kubernetes.io/component"]
        assert component in {"flow", "gateway", "trainer"}, "the scrape job name is derived from it"


def test_configmap_is_accepted_by_settings(
    docs: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    data = _one(docs, "ConfigMap", "flywheel-config")["data"]
    assert all(key.startswith("FLYWHEEL_") for key in data)
    for key, value in data.items():
        monkeypatch.setenv(key, value)
    # Secret files are mounted in the cluster; here, empty stand-ins.
    for key in ("FLYWHEEL_GATEWAY__API_KEYS_FILE", "FLYWHEEL_GATEWAY__HMAC_SECRETS_FILE"):
        path = tmp_path / key.lower()
        path.write_text("{}")
        monkeypatch.setenv(key, str(path))
    settings = Settings()
    assert settings.catalog.type == "rest"
    assert settings.metrics.host == "0.0.0.0"
    assert settings.kafka.bootstrap_servers == data["FLYWHEEL_KAFKA__BOOTSTRAP_SERVERS"]
    # pydantic-settings ignores unknown nested env keys, so check each path against the model.
    assert [key for key in data if not _is_setting(key)] == []
    assert not _is_setting("FLYWHEEL_CATALOG__WAREHOUS")


def _is_setting(env_key: str) -> bool:
    """Whether FLYWHEEL_A__B names a field path of Settings (a dict field accepts any subkey)."""
    model: Any = Settings
    for part in env_key.removeprefix("FLYWHEEL_").lower().split("__"):
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return True  # inside a dict-valued field
        field = model.model_fields.get(part)
        if field is None:
            return False
        model = field.annotation
    return True


def test_secrets_are_referenced_not_stored(docs: list[dict[str, Any]]) -> None:
    assert not [d for d in docs if d["kind"] == "Secret"], "secrets are created out of band"
    refs = 0
    for doc in docs:
        if doc["kind"] not in {"Deployment", "StatefulSet"}:
            continue
        pod = doc["spec"]["template"]["spec"]
        for container in pod["containers"]:
            for env in container.get("env", []):
                secret = env.get("valueFrom", {}).get("secretKeyRef")
                if secret:
                    refs += 1
                    assert secret["name"] == "flywheel-secrets"
                else:
                    assert "password" not in str(env.get("value", "")).lower()
        for volume in pod.get("volumes", []):
            if "secret" in volume:
                assert volume["secret"]["secretName"] == "flywheel-secrets"
    assert refs >= 6, "Kafka and catalog credentials come from the secret in every component"
