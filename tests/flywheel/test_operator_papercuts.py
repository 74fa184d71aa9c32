"""What an operator meets first: `flywheel config` masks secrets, ports are distinct and a clash reads clearly."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flywheel.cli import app
from flywheel.config import MASK, MetricsSettings, masked
from flywheel.errors import ConfigError, PortInUse
from flywheel.gateway.config import GatewaySettings
from flywheel.gateway_cli import _check_port_free
from flywheel.metrics import serve

SECRETS = {
    "FLYWHEEL_CATALOG__PROPERTIES": json.dumps(
        {"credential": "client:hunter2-cat", "token": "hunter2-tok", "s3.secret-access-key": "hunter2-s3"}
        | {"s3.endpoint": "http://minio:9000"}
    ),
    "FLYWHEEL_KAFKA__CLIENT_CONFIG": json.dumps(
        {"sasl.password": "hunter2-kafka", "sasl.username": "flywheel", "ssl.key.location": "/etc/tls/key.pem"}
    ),
    "FLYWHEEL_GATEWAY__API_KEYS": json.dumps({"team-a": "hunter2-gw"}),
    "FLYWHEEL_CATALOG__URI": "postgresql://iceberg:hunter2-db@db:5432/catalog",
}


@pytest.fixture
def listening() -> Iterator[int]:
    """A port some other socket already listens on."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


def test_config_json_masks_every_secret_and_keeps_the_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in SECRETS.items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(app, ["config", "--json"])
    assert result.exit_code == 0, result.output
    assert "hunter2" not in result.output
    dumped = json.loads(result.output)
    properties = dumped["catalog"]["properties"]
    assert properties == {"credential": MASK, "token": MASK, "s3.secret-access-key": MASK} | {
        "s3.endpoint": "http://minio:9000"
    }
    client = dumped["kafka"]["client_config"]
    assert client == {"sasl.password": MASK, "sasl.username": "flywheel", "ssl.key.location": "/etc/tls/key.pem"}
    assert dumped["catalog"]["uri"] == f"postgresql://iceberg:{MASK}@db:5432/catalog"
    assert dumped["gateway"]["api_keys"]["team-a"] != "hunter2-gw"
    assert dumped["metrics"]["port"] == 9464, "non-secret settings are printed as they are"


def test_config_table_masks_too(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in SECRETS.items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(app, ["config"])
    assert result.exit_code == 0, result.output
    assert "hunter2" not in result.output and "minio" in result.output


def test_masking_spares_numbers_pointers_and_headers() -> None:
    dumped = {"max_tokens": 512, "api_key_env": "FLYWHEEL_JUDGE_API_KEY", "api_key_header": "X-API-Key"}
    assert masked(dumped) == dumped
    assert masked({"hmac_secrets": {"a": "x"}, "nested": [{"password": "p"}]}) == {
        "hmac_secrets": {"a": MASK},
        "nested": [{"password": MASK}],
    }


def test_every_component_has_its_own_default_port() -> None:
    metrics = MetricsSettings()
    ports = [metrics.port, metrics.trainer_port, metrics.tracker_port, GatewaySettings().port]
    assert len(set(ports)) == len(ports), ports


def test_a_taken_metrics_port_names_the_setting(listening: int) -> None:
    with pytest.raises(PortInUse, match=r"metrics\.trainer_port \(FLYWHEEL_METRICS__TRAINER_PORT\)") as caught:
        serve("127.0.0.1", listening, "metrics.trainer_port")
    assert isinstance(caught.value, ConfigError)
    assert str(listening) in str(caught.value)


def test_a_taken_gateway_port_names_the_setting(listening: int) -> None:
    with pytest.raises(PortInUse, match=r"gateway\.port \(FLYWHEEL_GATEWAY__PORT\)"):
        _check_port_free("127.0.0.1", listening)


def test_trainer_cli_exits_2_in_one_line_on_a_taken_port(listening: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLYWHEEL_METRICS__TRACKER_PORT", str(listening))
    result = CliRunner().invoke(app, ["trainer", "track", "--loop"])
    assert result.exit_code == 2
    assert "FLYWHEEL_METRICS__TRACKER_PORT" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", [["gateway", "serve"], ["review", "serve"], ["serve"]])
def test_servers_refuse_a_client_config_librdkafka_refuses_in_one_line(
    command: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Before: the gateway started, and every readiness probe answered 500 with a traceback; the
    # review app's queue consumer and the model server's promotion follower failed in their threads.
    from flywheel.infra.broker import free_port

    for port in ("FLYWHEEL_GATEWAY__PORT", "FLYWHEEL_REVIEW__PORT", "FLYWHEEL_SERVING__PORT"):
        monkeypatch.setenv(port, str(free_port()))
    monkeypatch.setenv("FLYWHEEL_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("FLYWHEEL_KAFKA__CLIENT_CONFIG", json.dumps({"sasl.pasword": "hunter2-kafka"}))
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 2, result.output
    assert 'FLYWHEEL_KAFKA__CLIENT_CONFIG): No such configuration property: "sasl.pasword"' in result.output
    assert "Traceback" not in result.output and "hunter2" not in result.output


def test_make_installs_nothing_system_wide_and_ci_installs_prometheus() -> None:
    root = Path(__file__).resolve().parents[2]
    lines = (root / "Makefile").read_text().splitlines()
    makefile = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
    for word in ("apt-get", "sudo", "install-prometheus", "systemctl"):
        assert word not in makefile, f"make must not run {word}"
    ci = (root / ".ci" / "run").read_text().splitlines()
    steps = [line.strip() for line in ci if line.strip() and not line.startswith("#")]
    assert steps.index("bash infra/install-prometheus.sh") < steps.index("make test")
