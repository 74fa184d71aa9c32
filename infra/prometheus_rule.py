"""Render infra/prometheus/rules.yml as a Prometheus Operator ``PrometheusRule`` for infra/k8s.

Regenerate: ``python -m flywheel.infra.prometheus_rule >
infra/k8s/components/prometheus-operator/prometheusrule.yaml``; a test fails when they differ.
"""

from __future__ import annotations

from pathlib import Path

import yaml

RULES = Path(__file__).resolve().parent / "prometheus" / "rules.yml"
HEADER = (
    "# Generated from infra/prometheus/rules.yml; do not edit. Regenerate with:\n"
    "#   python -m flywheel.infra.prometheus_rule > infra/k8s/components/prometheus-operator/prometheusrule.yaml\n"
)


class _BlockDumper(yaml.SafeDumper):
    """Writes multi-line strings (PromQL, descriptions) as ``|`` blocks, as in the rule file."""


def _str(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|" if "\n" in text else None)


_BlockDumper.add_representer(str, _str)


def prometheus_rule(rules_yaml: str, name: str = "flywheel") -> str:
    """The PrometheusRule manifest whose spec is exactly the given rule file."""
    manifest = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/part-of": "data-flywheel"}},
        "spec": yaml.safe_load(rules_yaml),
    }
    return HEADER + yaml.dump(manifest, Dumper=_BlockDumper, sort_keys=False, width=120)


if __name__ == "__main__":
    print(prometheus_rule(RULES.read_text()), end="")
