"""Run the gateway as a child process (uvicorn), configured from a Settings object.

Used by ``flywheel demo`` (``make run``) and ``make bench``: the gateway gets its own
process, as in production, so callers measure and exercise the real HTTP stack.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from flywheel.config import revised
from flywheel.errors import ProcessStartError
from flywheel.infra.broker import free_port, stop_process
from flywheel.settings import CONFIG_FILE_ENV, ENV_PREFIX, Settings, split_secrets


def child_configuration(
    settings: Settings, api_keys: dict[str, str], port: int, **gateway: Any
) -> tuple[dict[str, Any], dict[str, str]]:
    """The child gateway's config file content (no secret in it) and the environment carrying its secrets.

    ``api_keys`` replace the configured keys (and their HMAC secrets); ``gateway`` revises the
    rest of the gateway section. Secrets travel as their real values in the environment, never
    in the file: the file would hold ``SecretStr``'s mask instead (a Redis password or a
    reviewer's hash that no longer works).
    """
    child = revised(
        settings,
        gateway={"host": "127.0.0.1", "port": port, "api_keys": api_keys, "hmac_secrets": {}, **gateway},
    )
    return split_secrets(child)


@contextlib.contextmanager
def running_gateway(
    settings: Settings, api_keys: dict[str, str], log_file: Path | None = None, **gateway: Any
) -> Iterator[str]:
    """Start the gateway on a free loopback port; yields its base URL; stops it on exit."""
    port = free_port()
    config, secrets = child_configuration(settings, api_keys, port, **gateway)
    with tempfile.TemporaryDirectory() as scratch:
        config_file = Path(scratch) / "gateway.yaml"
        config_file.write_text(yaml.safe_dump(config), encoding="utf-8")
        # Configured by ``settings`` alone: the caller's FLYWHEEL_* variables would override the file.
        inherited = {name: value for name, value in os.environ.items() if not name.startswith(ENV_PREFIX)}
        env = {**inherited, **secrets, CONFIG_FILE_ENV: str(config_file)}
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "flywheel.gateway_cli:asgi_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
        output = open(log_file, "ab") if log_file else subprocess.DEVNULL  # noqa: SIM115 - owned by the child
        server = subprocess.Popen(
            [*command, "--log-level", "warning"], env=env, stdout=output, stderr=subprocess.STDOUT
        )
        try:
            base_url = f"http://127.0.0.1:{port}"
            wait_until_serving(base_url, server)
            yield base_url
        finally:
            stop_process(server)


def wait_until_serving(base_url: str, server: subprocess.Popen[bytes], timeout_s: float = 30.0) -> None:
    """Poll ``/healthz`` until it answers 200; fail fast if the process exits."""
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise ProcessStartError(f"gateway exited with code {server.returncode} before serving")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise ProcessStartError(f"gateway did not serve within {timeout_s}s")
