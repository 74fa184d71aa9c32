"""Every metric name the code can export, read from prometheus_client's registry after importing the modules."""

from __future__ import annotations

import importlib

from prometheus_client import REGISTRY

# Modules that define metrics, and the metric-name prefixes each one owns.
METRIC_MODULES: dict[str, tuple[str, ...]] = {
    "flywheel.metrics": ("flywheel_",),
    "flywheel.trainer.metrics": ("flywheel_training_", "flywheel_pairs_since_trigger"),
    "flywheel.gateway.metrics": ("flywheel_gateway_",),
    "flywheel.review.metrics": ("flywheel_review_",),
    "flywheel.serving.metrics": ("flywheel_serving_", "flywheel_impact_"),
}
# Series Prometheus or prometheus_client's default collectors provide.
BUILTIN: dict[str, set[str]] = {"up": set(), "process_start_time_seconds": set()}


def exported() -> tuple[dict[str, set[str]], list[str]]:
    """Sample names the code can export -> their label names; plus modules that failed to import."""
    missing_modules = []
    for module in METRIC_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError:
            missing_modules.append(module)
    names: dict[str, set[str]] = {k: set(v) for k, v in BUILTIN.items()}
    for collector, sample_names in list(REGISTRY._collector_to_names.items()):
        labels = set(getattr(collector, "_labelnames", ()))
        for sample in sample_names:
            names[sample] = labels | ({"le"} if sample.endswith("_bucket") else set())
    return names, missing_modules
