"""A StatefulSet pod's place in the Bytewax cluster: index from the ordinal, every peer in order."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from flywheel.cli import app
from flywheel.errors import ConfigError
from flywheel.infra.cluster import place_from_env, place_from_pod


def test_ordinal_is_the_index_and_every_pod_lists_the_same_peers() -> None:
    places = [place_from_pod(f"flywheel-flow-{i}", 3, "ns") for i in range(3)]
    assert [p.process_id for p in places] == [0, 1, 2]
    peers = [f"flywheel-flow-{i}.flywheel-flow.ns.svc.cluster.local:2101" for i in range(3)]
    assert all(p.addresses == peers for p in places)


def test_service_port_and_domain_can_differ_from_the_defaults() -> None:
    place = place_from_pod("flow-12", 13, "data", service="flow-peers", port=2200, cluster_domain="corp.internal")
    assert place.process_id == 12
    assert place.addresses[0] == "flow-0.flow-peers.data.svc.corp.internal:2200"
    assert len(place.addresses) == 13


@pytest.mark.parametrize(
    ("pod", "processes", "message"),
    [
        ("flywheel-flow", 3, "not a StatefulSet pod name"),
        ("flywheel-flow-3", 3, "ordinal 3 but FLOW_PROCESSES=3"),
        ("Flow-0", 1, "not a StatefulSet pod name"),
        ("flow-0", 0, "at least 1"),
    ],
)
def test_inconsistent_identity_is_a_clear_error(pod: str, processes: int, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        place_from_pod(pod, processes, "ns")


def test_from_env_names_what_is_missing_or_malformed() -> None:
    with pytest.raises(ConfigError, match="POD_NAMESPACE, FLOW_PROCESSES"):
        place_from_env({"POD_NAME": "flow-0"})
    with pytest.raises(ConfigError, match="integers"):
        place_from_env({"POD_NAME": "flow-0", "POD_NAMESPACE": "ns", "FLOW_PROCESSES": "three"})
    place = place_from_env({"POD_NAME": "flywheel-flow-1", "POD_NAMESPACE": "ns", "FLOW_PROCESSES": "2"})
    assert place.process_id == 1 and place.addresses[1].startswith("flywheel-flow-1.flywheel-flow.ns.")


def test_flow_run_refuses_a_bad_pod_identity_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POD_NAME", "flywheel-flow-5")
    monkeypatch.setenv("POD_NAMESPACE", "ns")
    monkeypatch.setenv("FLOW_PROCESSES", "3")
    result = CliRunner().invoke(app, ["flow", "run", "--peers-from-pod"])
    assert result.exit_code == 2
    assert "FLOW_PROCESSES=3" in result.output and "Traceback" not in result.output
