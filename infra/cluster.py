"""Where a flow process sits in its Bytewax cluster, derived from a StatefulSet pod's identity.

A StatefulSet names its pods ``<set>-0 .. <set>-(N-1)`` and gives each a stable DNS name
``<pod>.<headless service>.<namespace>.svc.<cluster domain>``. Process ``i`` of the flow is pod
``i``, and every process lists every peer in ordinal order, so the whole cluster agrees on the
address list without any coordination. ``FLOW_PROCESSES`` must equal the StatefulSet's replicas
(a Bytewax cluster has a fixed size); see infra/k8s/README.md for scaling out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from flywheel.errors import ConfigError

POD_NAME = re.compile(r"^(?P<set>[a-z0-9]([-a-z0-9]*[a-z0-9])?)-(?P<ordinal>\d+)$")


@dataclass(frozen=True)
class ClusterPlace:
    """This process's index and the ``host:port`` of every process, in index order."""

    process_id: int
    addresses: list[str]


def place_from_pod(
    pod_name: str,
    processes: int,
    namespace: str,
    service: str | None = None,
    port: int = 2101,
    cluster_domain: str = "cluster.local",
) -> ClusterPlace:
    """Derive the Bytewax ``-i`` and ``-a`` of a StatefulSet pod from its name and the cluster size."""
    match = POD_NAME.match(pod_name)
    if match is None:
        raise ConfigError(f"POD_NAME={pod_name!r} is not a StatefulSet pod name (<name>-<ordinal>)")
    if processes < 1:
        raise ConfigError(f"FLOW_PROCESSES={processes} must be at least 1")
    ordinal = int(match.group("ordinal"))
    if ordinal >= processes:
        raise ConfigError(
            f"pod {pod_name} has ordinal {ordinal} but FLOW_PROCESSES={processes}: "
            "set FLOW_PROCESSES to the StatefulSet's replicas"
        )
    stateful_set = match.group("set")
    domain = f"{service or stateful_set}.{namespace}.svc.{cluster_domain}"
    return ClusterPlace(ordinal, [f"{stateful_set}-{i}.{domain}:{port}" for i in range(processes)])


def place_from_env(env: Mapping[str, str]) -> ClusterPlace:
    """:func:`place_from_pod` from ``POD_NAME``, ``POD_NAMESPACE``, ``FLOW_PROCESSES`` (+ optional overrides)."""
    missing = [key for key in ("POD_NAME", "POD_NAMESPACE", "FLOW_PROCESSES") if not env.get(key)]
    if missing:
        raise ConfigError(f"--peers-from-pod needs {', '.join(missing)} in the environment (downward API)")
    try:
        processes, port = int(env["FLOW_PROCESSES"]), int(env.get("FLOW_PORT", "2101"))
    except ValueError as exc:
        raise ConfigError(f"FLOW_PROCESSES and FLOW_PORT must be integers: {exc}") from exc
    return place_from_pod(
        env["POD_NAME"],
        processes,
        env["POD_NAMESPACE"],
        service=env.get("FLOW_SERVICE") or None,
        port=port,
        cluster_domain=env.get("CLUSTER_DOMAIN", "cluster.local"),
    )
