"""Every HTTP route and metric name the docs mention exists in the code.

Routes come from the FastAPI apps' OpenAPI documents (plus the endpoints served outside
FastAPI: prometheus_client's ``/metrics`` and Bytewax's dataflow API); metric names from the
prometheus_client registry after importing the metric modules, the recording rules, and, for
Bytewax's own series, the names compiled into the Bytewax extension module.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.support.metric_names import exported

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "infra").rglob("README.md"))]
CODE_SPAN = re.compile(r"`([^`\n]+)`")
ROUTE = re.compile(r"^(?:(?:GET|POST|PUT|PATCH|DELETE) )?(?:https?://[^/\s]+)?(/[A-Za-z0-9_{}./-]*)$")
# Paths on disk, not routes.
FILESYSTEM = ("/var/", "/etc/", "/tmp/", "/usr/", "/opt/", "/home/", "/root/", "/work/", "/dev/")
# Routes of other servers the docs describe (an OpenAI-compatible judge endpoint).
EXTERNAL_ROUTES = {"/v1/chat/completions"}
# Served outside FastAPI: prometheus_client's HTTP server, and Bytewax's dataflow API.
NON_FASTAPI_ROUTES = {"/metrics", "/dataflow"}
PREFIXED_METRIC = re.compile(r"^(?:flywheel|bytewax|process|python)_[a-z0-9_]+$")
RECORDED_METRIC = re.compile(r"^flywheel:[a-z0-9_:]+$")
# A bare name shaped like a metric (counter, histogram series, seconds): it must be an exported one.
METRIC_SHAPED = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*_(?:total|count|bucket|sum|seconds)$")
SAMPLE_SUFFIXES = ("_total", "_bucket", "_count", "_sum", "")


def _spans() -> Iterator[tuple[str, str]]:
    for doc in DOCS:
        for span in CODE_SPAN.findall(doc.read_text(encoding="utf-8")):
            yield doc.relative_to(ROOT).as_posix(), span.strip()


def _routes_in_docs() -> set[tuple[str, str]]:
    found = set()
    for doc, span in _spans():
        match = ROUTE.match(span)
        if match and len(match.group(1)) > 1 and not match.group(1).startswith(FILESYSTEM):
            found.add((doc, match.group(1).rstrip(".")))
    return found


def _served_routes() -> set[str]:
    from flywheel.gateway.app import create_app
    from flywheel.gateway.config import GatewayConfig
    from flywheel.serving.app import create_app as create_server
    from flywheel.serving.config import ServingConfig

    gateway = set(create_app(GatewayConfig()).openapi()["paths"])
    server = set(create_server(ServingConfig(registry_url="registry", base_model="model")).openapi()["paths"])
    return gateway | server | NON_FASTAPI_ROUTES


def _bytewax_extension() -> bytes:
    """Bytewax's compiled extension: its metric names (exported as ``bytewax_<name>[_total]``) are strings in it."""
    spec = importlib.util.find_spec("bytewax._bytewax")
    assert spec is not None and spec.origin is not None
    return Path(spec.origin).read_bytes()


def _metric_problem(name: str, exported_names: set[str], recorded: set[str], bytewax: bytes) -> str | None:
    if RECORDED_METRIC.match(name):
        return None if name in recorded else f"{name!r} is not recorded by infra/prometheus/rules.yml"
    if name.startswith("bytewax_"):
        core = name.removeprefix("bytewax_")
        for suffix in (s for s in SAMPLE_SUFFIXES if core.endswith(s)):
            base = core.removesuffix(suffix) if suffix else core
            if (
                base.count("_") >= 2
                and base.encode() in bytewax
                and not (base.endswith("_count") and suffix != "_total")
            ):
                return None
        return f"{name!r} is not a Bytewax metric (counters end in _total, e.g. bytewax_item_out_count_total)"
    if name in exported_names or name.startswith("python_"):
        return None
    return f"{name!r} is not exported by the code"


def _metric_problems(spans: list[tuple[str, str]]) -> list[str]:
    names, missing = exported()
    assert not missing, f"metric modules failed to import: {missing}"
    rules = yaml.safe_load((ROOT / "infra" / "prometheus" / "rules.yml").read_text())
    recorded = {r["record"] for g in rules["groups"] for r in g["rules"] if "record" in r}
    bytewax = _bytewax_extension()
    problems = []
    for doc, span in spans:
        name = span.split("{")[0]
        if PREFIXED_METRIC.match(name) or RECORDED_METRIC.match(name) or METRIC_SHAPED.match(name):
            problem = _metric_problem(name, set(names), recorded, bytewax)
            if problem:
                problems.append(f"{doc}: {problem}")
    return problems


def test_every_route_in_the_docs_is_served() -> None:
    pytest.importorskip("fastapi")
    served = _served_routes() | EXTERNAL_ROUTES
    mentioned = _routes_in_docs()
    assert {"/readyz", "/v1/events", "/metrics"} <= {route for _, route in mentioned}, "the checker finds routes"
    unknown = sorted(f"{doc}: {route}" for doc, route in mentioned if route not in served)
    assert unknown == [], f"routes the docs mention but no app serves: {unknown}"


def test_every_metric_in_the_docs_is_exported() -> None:
    pytest.importorskip("fastapi")  # the gateway's metrics module needs it
    spans = list(_spans())
    assert sum(1 for _, span in spans if span.startswith("flywheel_")) >= 20, "the checker finds metric names"
    assert _metric_problems(spans) == []


def test_checker_catches_wrong_names() -> None:
    """The checks can fail: a bare Bytewax name, a counter without _total, a typo, an unknown route."""
    bad = [("doc", "item_inp_count"), ("doc", "bytewax_item_out_count"), ("doc", "flywheel_events_consumd_total")]
    good = [("doc", "bytewax_item_out_count_total"), ("doc", "bytewax_inp_part_next_batch_duration_seconds_bucket")]
    assert len(_metric_problems(bad)) == 3
    assert _metric_problems(good) == []
    assert ROUTE.match("http://<host>:8000/ready") and "/ready" not in _served_routes()
