"""infra/k8s renders for every overlay, validates against the Kubernetes schemas, and keeps its invariants.

Invariants: no state on an emptyDir (or hostPath), requests and limits on every container,
non-root pods, probes on every long-running container, the flow's cluster size equal to its
replicas, the trainer a long-running GPU consumer (production) with its registry on a volume
claim, the tracker and the maintenance CronJob present, secrets referenced and never stored,
and the Prometheus Operator objects selecting what the alert rules expect.
"""

from __future__ import annotations

import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from pydantic import BaseModel

from flywheel.infra.prometheus_rule import RULES, prometheus_rule
from flywheel.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "infra" / "k8s"
TARGETS = {"base": K8S / "base", "local": K8S / "overlays" / "local", "production": K8S / "overlays" / "production"}
K8S_VERSION = "1.37.0"
NAMESPACE = "data-flywheel"
OPERATOR_GROUP = "monitoring.coreos.com/v1"
WORKLOADS = {"Deployment", "StatefulSet"}

Doc = dict[str, Any]


@cache
def _render(target: str) -> tuple[Doc, ...]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: cannot render the kustomize overlays")
    result = subprocess.run([kubectl, "kustomize", str(TARGETS[target])], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


@pytest.fixture(params=list(TARGETS))
def rendered(request: pytest.FixtureRequest) -> tuple[str, tuple[Doc, ...]]:
    return request.param, _render(request.param)


def _one(docs: tuple[Doc, ...], kind: str, name: str) -> Doc:
    [doc] = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def _pod_specs(docs: tuple[Doc, ...]) -> list[tuple[str, Doc]]:
    specs = [(d["metadata"]["name"], d["spec"]["template"]["spec"]) for d in docs if d["kind"] in WORKLOADS]
    specs += [
        (d["metadata"]["name"], d["spec"]["jobTemplate"]["spec"]["template"]["spec"])
        for d in docs
        if d["kind"] == "CronJob"
    ]
    return specs


def _env(container: Doc) -> dict[str, str | None]:
    return {e["name"]: e.get("value") for e in container.get("env", [])}


def _config(docs: tuple[Doc, ...]) -> dict[str, str]:
    return dict(_one(docs, "ConfigMap", "flywheel-config")["data"])


def test_every_resource_validates_strictly(rendered: tuple[str, tuple[Doc, ...]]) -> None:
    target, docs = rendered
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    expected = {
        ("StatefulSet", "flywheel-flow"),
        ("Deployment", "flywheel-gateway"),
        ("Deployment", "flywheel-trainer"),
    }
    expected |= {("Deployment", "flywheel-tracker"), ("CronJob", "flywheel-maintain"), ("ConfigMap", "flywheel-config")}
    expected |= {("HorizontalPodAutoscaler", "flywheel-gateway"), ("PodDisruptionBudget", "flywheel-gateway")}
    expected |= {("PersistentVolumeClaim", "flywheel-registry")}
    assert expected <= kinds, f"{target}: missing {expected - kinds}"
    for doc in docs:
        if doc["apiVersion"] != OPERATOR_GROUP:  # CRDs: not in the Kubernetes schemas, checked below
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == NAMESPACE, f"{target}: {doc['kind']} {doc['metadata']['name']}"


def test_validator_rejects_a_broken_manifest() -> None:
    broken = yaml.safe_load(yaml.safe_dump(_one(_render("base"), "Deployment", "flywheel-gateway")))
    broken["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_no_state_on_ephemeral_volumes(rendered: tuple[str, tuple[Doc, ...]]) -> None:
    target, docs = rendered
    for name, pod in _pod_specs(docs):
        for volume in pod.get("volumes", []):
            assert "emptyDir" not in volume and "hostPath" not in volume, f"{target}: {name} volume {volume['name']}"
    config = _config(docs)
    state_dir = config["FLYWHEEL_STATE_DIR"]
    trainer = _one(docs, "Deployment", "flywheel-trainer")["spec"]["template"]["spec"]
    mounts = {m["mountPath"]: m["name"] for m in trainer["containers"][0]["volumeMounts"]}
    claims = {
        v["name"]: v["persistentVolumeClaim"]["claimName"] for v in trainer["volumes"] if "persistentVolumeClaim" in v
    }
    assert claims.get(mounts.get(state_dir, "")) == "flywheel-registry", "the registry (state_dir) is on a volume claim"
    flow = _one(docs, "StatefulSet", "flywheel-flow")
    recovery_mount = {m["mountPath"] for m in flow["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]}
    assert any(config["FLYWHEEL_RECOVERY__DIRECTORY"].startswith(path) for path in recovery_mount)
    assert [t["metadata"]["name"] for t in flow["spec"]["volumeClaimTemplates"]] == ["recovery"]


def test_every_container_has_resources_probes_and_no_root(rendered: tuple[str, tuple[Doc, ...]]) -> None:
    target, docs = rendered
    long_running = {d["metadata"]["name"] for d in docs if d["kind"] in WORKLOADS}
    for name, pod in _pod_specs(docs):
        assert pod["securityContext"]["runAsNonRoot"] is True, f"{target}: {name}"
        for container in pod["containers"]:
            resources = container["resources"]
            for section in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(resources.get(section, {})), f"{target}: {name} {section}"
            image = container["image"]
            if target != "base":  # the base names images logically; overlays pin them
                assert ":" in image and not image.endswith(":latest"), f"{target}: {name} image {image}"
            if name in long_running:
                assert {"readinessProbe", "livenessProbe"} <= set(container), f"{target}: {name} probes"
                ports = {p["name"] for p in container.get("ports", [])}
                for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                    if probe in container:
                        assert container[probe]["httpGet"]["port"] in ports, f"{target}: {name} {probe}"


def test_flow_cluster_matches_its_replicas(rendered: tuple[str, tuple[Doc, ...]]) -> None:
    _, docs = rendered
    flow = _one(docs, "StatefulSet", "flywheel-flow")
    service = _one(docs, "Service", flow["spec"]["serviceName"])
    assert service["spec"]["clusterIP"] == "None"
    pod_labels = flow["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    container = flow["spec"]["template"]["spec"]["containers"][0]
    env = _env(container)
    assert container["command"] == ["flywheel", "flow", "run", "--peers-from-pod"]
    assert int(env["FLOW_PROCESSES"] or 0) == flow["spec"]["replicas"], "Bytewax cluster size must match replicas"
    assert env["FLOW_SERVICE"] == service["metadata"]["name"]
    assert {"POD_NAME", "POD_NAMESPACE"} <= set(env)
    assert env["BYTEWAX_DATAFLOW_API_ENABLED"] == "true"
    partitions = int(_config(docs)["FLYWHEEL_TOPICS__PARTITIONS"])
    assert flow["spec"]["replicas"] <= partitions, "more processes than partitions would idle"


def test_trainer_is_a_long_running_consumer(rendered: tuple[str, tuple[Doc, ...]]) -> None:
    target, docs = rendered
    config = _config(docs)
    trainer = _one(docs, "Deployment", "flywheel-trainer")
    pod = trainer["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["command"][:4] == ["flywheel", "trainer", "run", "--forever"]
    assert trainer["spec"]["replicas"] == 1 and trainer["spec"]["strategy"]["type"] == "Recreate"
    assert {p["containerPort"] for p in container["ports"]} == {int(config["FLYWHEEL_METRICS__TRAINER_PORT"])}
    gpu = {section: container["resources"][section].get("nvidia.com/gpu") for section in ("requests", "limits")}
    if target == "local":
        assert gpu == {"requests": None, "limits": None} and not pod.get("nodeSelector")
        assert _env(container)["FLYWHEEL_TRAINER__DEVICE"] == "cpu"
    else:
        assert gpu == {"requests": "1", "limits": "1"}
        assert pod["nodeSelector"] and any(t["key"] == "nvidia.com/gpu" for t in pod["tolerations"])
        assert container["image"].endswith("-cuda")
    tracker = _one(docs, "Deployment", "flywheel-tracker")["spec"]["template"]["spec"]["containers"][0]
    assert tracker["command"] == ["flywheel", "trainer", "track", "--loop"]
    assert {p["containerPort"] for p in tracker["ports"]} == {int(config["FLYWHEEL_METRICS__TRACKER_PORT"])}


def test_gateway_scales_and_survives_disruptions(rendered: tuple[str, tuple[Doc, ...]]) -> None:
    _, docs = rendered
    gateway = _one(docs, "Deployment", "flywheel-gateway")
    hpa = _one(docs, "HorizontalPodAutoscaler", "flywheel-gateway")
    pdb = _one(docs, "PodDisruptionBudget", "flywheel-gateway")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "flywheel-gateway"}
    labels = gateway["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"], "a PDB at minReplicas would block every drain"
    assert hpa["spec"]["minReplicas"] <= gateway["spec"]["replicas"] <= hpa["spec"]["maxReplicas"]


def test_maintenance_runs_on_a_schedule(rendered: tuple[str, tuple[Doc, ...]]) -> None:
    _, docs = rendered
    cron = _one(docs, "CronJob", "flywheel-maintain")
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    [container] = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["flywheel", "data", "maintain"]


def test_operator_objects_select_what_the_rules_expect() -> None:
    docs = _render("production")
    rule = _one(docs, "PrometheusRule", "flywheel")
    assert rule["spec"] == yaml.safe_load(RULES.read_text()), "regenerate: python -m flywheel.infra.prometheus_rule"
    committed = (K8S / "components" / "prometheus-operator" / "prometheusrule.yaml").read_text()
    assert committed == prometheus_rule(RULES.read_text())
    jobs = {expr.split('job="')[1].split('"')[0] for expr in _rule_exprs() if 'job="' in expr}
    pod_monitor = _one(docs, "PodMonitor", "flywheel")
    selector = pod_monitor["spec"]["selector"]
    [endpoint] = pod_monitor["spec"]["podMetricsEndpoints"]
    scraped = set()
    for doc in docs:
        if doc["kind"] not in WORKLOADS:
            continue
        labels = doc["spec"]["template"]["metadata"]["labels"]
        component_ok = labels["app.kubernetes.io/component"] in selector["matchExpressions"][0]["values"]
        if selector["matchLabels"].items() <= labels.items() and component_ok:
            ports = {p["name"] for c in doc["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])}
            assert endpoint["port"] in ports, doc["metadata"]["name"]
            scraped.add(labels[pod_monitor["spec"]["jobLabel"]])
    service_monitor = _one(docs, "ServiceMonitor", "flywheel-gateway")
    gateway_service = _one(docs, "Service", "flywheel-gateway")
    assert service_monitor["spec"]["selector"]["matchLabels"].items() <= gateway_service["metadata"]["labels"].items()
    assert service_monitor["spec"]["endpoints"][0]["port"] in {p["name"] for p in gateway_service["spec"]["ports"]}
    scraped.add(gateway_service["metadata"]["labels"][service_monitor["spec"]["jobLabel"]])
    assert scraped == {"flywheel-flow", "flywheel-trainer", "flywheel-tracker", "flywheel-gateway"}
    assert jobs <= scraped, f"rules use jobs nothing scrapes: {jobs - scraped}"
    for doc in (rule, pod_monitor, service_monitor):
        assert doc["metadata"]["labels"]["release"], "the Operator selects by label"


def _rule_exprs() -> list[str]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule["expr"] for group in groups for rule in group["rules"]]


def test_local_overlay_needs_no_operator() -> None:
    assert not [d for d in _render("local") if d["apiVersion"] == OPERATOR_GROUP]


def test_configmap_is_accepted_by_settings(
    rendered: tuple[str, tuple[Doc, ...]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _, docs = rendered
    data = _config(docs)
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


def test_secrets_are_referenced_not_stored(rendered: tuple[str, tuple[Doc, ...]]) -> None:
    _, docs = rendered
    assert not [d for d in docs if d["kind"] == "Secret"], "secrets are created out of band"
    refs = 0
    for _, pod in _pod_specs(docs):
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
    assert refs >= 10, "Kafka and catalog credentials come from the secret in every component"
