"""Render infra/k8s with ``kubectl kustomize`` and read the rendered objects (tests of infra/k8s)."""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from flywheel.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "infra" / "k8s"
TARGETS = {"base": K8S / "base", "local": K8S / "overlays" / "local", "production": K8S / "overlays" / "production"}
WORKLOADS = {"Deployment", "StatefulSet"}
# Settings read from mounted secret files: the file must exist when Settings() loads.
SECRET_FILE_SETTINGS = ("FLYWHEEL_GATEWAY__API_KEYS_FILE", "FLYWHEEL_GATEWAY__HMAC_SECRETS_FILE")

Doc = dict[str, Any]


@cache
def render(target: str) -> tuple[Doc, ...]:
    """Every object ``kubectl kustomize`` renders for a target (skips without kubectl)."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: cannot render the kustomize overlays")
    result = subprocess.run([kubectl, "kustomize", str(TARGETS[target])], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def one(docs: tuple[Doc, ...], kind: str, name: str) -> Doc:
    """The single object of ``kind`` named ``name``."""
    [doc] = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def pod_specs(docs: tuple[Doc, ...]) -> list[tuple[str, Doc]]:
    """(workload name, pod spec) of every Deployment, StatefulSet and CronJob."""
    specs = [(d["metadata"]["name"], d["spec"]["template"]["spec"]) for d in docs if d["kind"] in WORKLOADS]
    specs += [
        (d["metadata"]["name"], d["spec"]["jobTemplate"]["spec"]["template"]["spec"])
        for d in docs
        if d["kind"] == "CronJob"
    ]
    return specs


def pod(docs: tuple[Doc, ...], name: str) -> Doc:
    """The pod spec of the Deployment ``name``."""
    spec: Doc = one(docs, "Deployment", name)["spec"]["template"]["spec"]
    return spec


def env(container: Doc) -> dict[str, str | None]:
    """The container's own env entries: name -> literal value (None when from a reference)."""
    return {e["name"]: e.get("value") for e in container.get("env", [])}


def config(docs: tuple[Doc, ...]) -> dict[str, str]:
    """The flywheel-config ConfigMap's data."""
    return dict(one(docs, "ConfigMap", "flywheel-config")["data"])


def effective_env(docs: tuple[Doc, ...], container: Doc) -> dict[str, str]:
    """The literal FLYWHEEL_* environment the container sees: the ConfigMap, overridden by its env."""
    merged = config(docs)
    merged.update({k: v for k, v in env(container).items() if v is not None})
    return {k: v for k, v in merged.items() if k.startswith("FLYWHEEL_")}


def secret_refs(container: Doc) -> dict[str, Doc]:
    """Env name -> its secretKeyRef, for the container's secret-backed variables."""
    return {
        e["name"]: e["valueFrom"]["secretKeyRef"]
        for e in container.get("env", [])
        if "secretKeyRef" in e.get("valueFrom", {})
    }


def claim_mounts(pod_spec: Doc, container: Doc) -> dict[str, str]:
    """Mount path -> PersistentVolumeClaim name, for the container's claim-backed mounts."""
    claims = {
        v["name"]: v["persistentVolumeClaim"]["claimName"]
        for v in pod_spec.get("volumes", [])
        if "persistentVolumeClaim" in v
    }
    return {m["mountPath"]: claims[m["name"]] for m in container.get("volumeMounts", []) if m["name"] in claims}


def claim_of(path: str, mounts: dict[str, str]) -> tuple[str, str] | None:
    """(claim, path inside it) of the deepest claim mount holding ``path``; None when on no claim."""
    for mount in sorted(mounts, key=len, reverse=True):
        if path == mount or path.startswith(mount.rstrip("/") + "/"):
            return mounts[mount], path[len(mount) :].lstrip("/")
    return None


def settings_from(variables: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Settings:
    """Settings loaded from exactly these FLYWHEEL_* variables (secret files replaced by empty stand-ins)."""
    for key in [k for k in os.environ if k.startswith("FLYWHEEL_")]:
        monkeypatch.delenv(key)
    for key, value in variables.items():
        monkeypatch.setenv(key, value)
    for key in SECRET_FILE_SETTINGS:
        if key in variables:
            path = tmp_path / key.lower()
            path.write_text("{}")
            monkeypatch.setenv(key, str(path))
    return Settings()


def is_setting(env_key: str) -> bool:
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
