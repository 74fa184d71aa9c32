"""infra/k8s renders for every overlay, validates against the Kubernetes schemas, and keeps its invariants.

Invariants: no state on an emptyDir (or hostPath), requests and limits on every container,
non-root pods, probes on every long-running container, the flow's cluster size equal to its
replicas, the trainer a long-running GPU consumer (production) with its registry on a volume
claim, the tracker and the maintenance CronJob present, secrets referenced and never stored
(no secret-looking ConfigMap key), every FLYWHEEL_* variable a setting the code reads, and the
Prometheus Operator objects scraping every job the alert rules name (the model server and the
review app: tests/infra/test_k8s_serving_review.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from flywheel.infra.prometheus_rule import RULES, prometheus_rule
from tests.support.k8s import (
    K8S,
    TARGETS,
    WORKLOADS,
    Doc,
    effective_env,
    is_setting,
    one,
    pod_specs,
    render,
    secret_refs,
    settings_from,
)
from tests.support.k8s import config as _config
from tests.support.k8s import env as _env

K8S_VERSION = "1.37.0"
NAMESPACE = "data-flywheel"
OPERATOR_GROUP = "monitoring.coreos.com/v1"
# Every job the alert rules name, and the scrape objects that must produce it.
SCRAPED_JOBS = {"flywheel-flow", "flywheel-trainer", "flywheel-tracker", "flywheel-gateway"}
SCRAPED_JOBS |= {"flywheel-serving", "flywheel-review"}
# ConfigMap keys must not look like secrets (paths to mounted secret files, *_FILE, are fine).
SECRET_LOOKING = re.compile(
    r"(?:^|_)(?:PASSWORD|SECRET|TOKEN|CREDENTIAL|API_KEY|REVIEWERS|STORE_URL|CLIENT_CONFIG|PROPERTIES)$"
)


@pytest.fixture(params=list(TARGETS))
def rendered(request: pytest.FixtureRequest) -> tuple[str, tuple[Doc, ...]]:
    return request.param, render(request.param)


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
    expected |= {("Deployment", "flywheel-serving"), ("Service", "flywheel-serving")}
    expected |= {("Deployment", "flywheel-review"), ("Service", "flywheel-review")}
    expected |= {("PersistentVolumeClaim", "flywheel-review")}
    if target == "production":
        expected |= {("PodDisruptionBudget", "flywheel-serving")}
    assert expected <= kinds, f"{target}: missing {expected - kinds}"
    for doc in docs:
        if doc["apiVersion"] != OPERATOR_GROUP:  # CRDs: not in the Kubernetes schemas, checked below
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == NAMESPACE, f"{target}: {doc['kind']} {doc['metadata']['name']}"


def test_validator_rejects_a_broken_manifest() -> None:
    broken = yaml.safe_load(yaml.safe_dump(one(render("base"), "Deployment", "flywheel-gateway")))
    broken["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_no_state_on_ephemeral_volumes(rendered: tuple[str, tuple[Doc, ...]]) -> None:
    target, docs = rendered
    for name, pod in pod_specs(docs):
        for volume in pod.get("volumes", []):
            assert "emptyDir" not in volume and "hostPath" not in volume, f"{target}: {name} volume {volume['name']}"
    config = _config(docs)
    state_dir = config["FLYWHEEL_STATE_DIR"]
    trainer = one(docs, "Deployment", "flywheel-trainer")["spec"]["template"]["spec"]
    mounts = {m["mountPath"]: m["name"] for m in trainer["containers"][0]["volumeMounts"]}
    claims = {
        v["name"]: v["persistentVolumeClaim"]["claimName"] for v in trainer["volumes"] if "persistentVolumeClaim" in v
    }
    assert claims.get(mounts.get(state_dir, "")) == "flywheel-registry", "the registry (state_dir) is on a volume claim"
    flow = one(docs, "StatefulSet", "flywheel-flow")
    recovery_mount = {m["mountPath"] for m in flow["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]}
    assert any(config["FLYWHEEL_RECOVERY__DIRECTORY"].startswith(path) for path in recovery_mount)
    assert [t["metadata"]["name"] for t in flow["spec"]["volumeClaimTemplates"]] == ["recovery"]


def test_every_container_has_resources_probes_and_no_root(rendered: tuple[str, tuple[Doc, ...]]) -> None:
    target, docs = rendered
    long_running = {d["metadata"]["name"] for d in docs if d["kind"] in WORKLOADS}
    for name, pod in pod_specs(docs):
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
    flow = one(docs, "StatefulSet", "flywheel-flow")
    service = one(docs, "Service", flow["spec"]["serviceName"])
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
    trainer = one(docs, "Deployment", "flywheel-trainer")
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
    tracker = one(docs, "Deployment", "flywheel-tracker")["spec"]["template"]["spec"]["containers"][0]
    assert tracker["command"] == ["flywheel", "trainer", "track", "--loop"]
    assert {p["containerPort"] for p in tracker["ports"]} == {int(config["FLYWHEEL_METRICS__TRACKER_PORT"])}


def test_gateway_scales_and_survives_disruptions(rendered: tuple[str, tuple[Doc, ...]]) -> None:
    _, docs = rendered
    gateway = one(docs, "Deployment", "flywheel-gateway")
    hpa = one(docs, "HorizontalPodAutoscaler", "flywheel-gateway")
    pdb = one(docs, "PodDisruptionBudget", "flywheel-gateway")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "flywheel-gateway"}
    labels = gateway["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"], "a PDB at minReplicas would block every drain"
    assert hpa["spec"]["minReplicas"] <= gateway["spec"]["replicas"] <= hpa["spec"]["maxReplicas"]


def test_maintenance_runs_on_a_schedule(rendered: tuple[str, tuple[Doc, ...]]) -> None:
    _, docs = rendered
    cron = one(docs, "CronJob", "flywheel-maintain")
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    [container] = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["flywheel", "data", "maintain"]


def test_operator_objects_select_what_the_rules_expect() -> None:
    docs = render("production")
    rule = one(docs, "PrometheusRule", "flywheel")
    assert rule["spec"] == yaml.safe_load(RULES.read_text()), "regenerate: python -m flywheel.infra.prometheus_rule"
    committed = (K8S / "components" / "prometheus-operator" / "prometheusrule.yaml").read_text()
    assert committed == prometheus_rule(RULES.read_text())
    jobs = {expr.split('job="')[1].split('"')[0] for expr in _rule_exprs() if 'job="' in expr}
    pod_monitor = one(docs, "PodMonitor", "flywheel")
    [endpoint] = pod_monitor["spec"]["podMetricsEndpoints"]
    scraped = {}  # job -> what scrapes it
    for doc in docs:
        if doc["kind"] in WORKLOADS and _selects(pod_monitor["spec"]["selector"], doc["spec"]["template"]["metadata"]):
            ports = {p["name"] for c in doc["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])}
            assert endpoint["port"] in ports, doc["metadata"]["name"]
            scraped[doc["spec"]["template"]["metadata"]["labels"][pod_monitor["spec"]["jobLabel"]]] = "PodMonitor"
    service_monitor = one(docs, "ServiceMonitor", "flywheel")
    [http] = service_monitor["spec"]["endpoints"]
    for service in (d for d in docs if d["kind"] == "Service"):
        if _selects(service_monitor["spec"]["selector"], service["metadata"]):
            assert http["port"] in {p["name"] for p in service["spec"]["ports"]}, service["metadata"]["name"]
            job = service["metadata"]["labels"][service_monitor["spec"]["jobLabel"]]
            assert job not in scraped, f"{job} scraped twice"
            scraped[job] = "ServiceMonitor"
    assert set(scraped) == SCRAPED_JOBS, scraped
    assert jobs == SCRAPED_JOBS, f"a down alert per scraped job; rules name {sorted(jobs)}"
    for doc in (rule, pod_monitor, service_monitor):
        assert doc["metadata"]["labels"]["release"], "the Operator selects by label"


def _selects(selector: Doc, metadata: Doc) -> bool:
    """Whether a label selector (matchLabels, In expressions) selects an object with this metadata."""
    labels = metadata.get("labels", {})
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    return all(labels.get(e["key"]) in e["values"] for e in selector.get("matchExpressions", []))


def _rule_exprs() -> list[str]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule["expr"] for group in groups for rule in group["rules"]]


def test_local_overlay_needs_no_operator() -> None:
    assert not [d for d in render("local") if d["apiVersion"] == OPERATOR_GROUP]


def test_configmap_is_accepted_by_settings(
    rendered: tuple[str, tuple[Doc, ...]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _, docs = rendered
    data = _config(docs)
    assert all(key.startswith("FLYWHEEL_") for key in data)
    settings = settings_from(data, monkeypatch, tmp_path)  # secret files: empty stand-ins
    assert settings.catalog.type == "rest"
    assert settings.metrics.host == "0.0.0.0"
    assert settings.kafka.bootstrap_servers == data["FLYWHEEL_KAFKA__BOOTSTRAP_SERVERS"]
    # pydantic-settings ignores unknown nested env keys, so check each path against the model,
    # for the ConfigMap and for every variable a container sets itself (secret-backed ones too).
    assert [key for key in data if not is_setting(key)] == []
    assert not is_setting("FLYWHEEL_CATALOG__WAREHOUS")
    own = {name for _, spec in pod_specs(docs) for c in spec["containers"] for name in _env(c)}
    named_by_settings = {settings.curation.judge.api_key_env}  # env vars whose name is itself a setting
    unknown = [n for n in sorted(own - named_by_settings) if n.startswith("FLYWHEEL_") and not is_setting(n)]
    assert unknown == [], "the code reads no such setting"
    for _, spec in pod_specs(docs):
        for container in spec["containers"]:
            settings_from(effective_env(docs, container), monkeypatch, tmp_path)  # each loads as a whole


def test_secrets_are_referenced_not_stored(rendered: tuple[str, tuple[Doc, ...]]) -> None:
    _, docs = rendered
    assert not [d for d in docs if d["kind"] == "Secret"], "secrets are created out of band"
    assert [key for key in _config(docs) if SECRET_LOOKING.search(key)] == [], "these belong in the Secret"
    assert SECRET_LOOKING.search("FLYWHEEL_REVIEW__SESSION_SECRET") and not SECRET_LOOKING.search("X__MAX_TOKENS")
    refs = 0
    for _, pod in pod_specs(docs):
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
    assert refs >= 16, "Kafka and catalog credentials, the review app's secrets come from the Secret"
    review = one(docs, "Deployment", "flywheel-review")["spec"]["template"]["spec"]["containers"][0]
    from_secret = secret_refs(review)
    for name in ("FLYWHEEL_REVIEW__REVIEWERS", "FLYWHEEL_REVIEW__SESSION_SECRET", "FLYWHEEL_REVIEW__GATEWAY_API_KEY"):
        assert name in from_secret and not from_secret[name].get("optional"), name
