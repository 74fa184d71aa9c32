"""A throwaway redis-server (Debian's ``redis-server``) on a free loopback port, for tests.

No persistence, no config file: the process is the whole state and dies with the test.
Tests that need it skip with the reason when the binary is not installed
(``infra/install-redis.sh`` installs it; ``.ci/run`` runs that).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis

from flywheel.infra.broker import free_port, stop_process
from tests.conftest import wait_for

SKIP_REASON = "redis-server is not installed (Debian package redis-server; run infra/install-redis.sh)"


def redis_server_binary() -> str | None:
    """The path of ``redis-server``, or None."""
    return shutil.which("redis-server")


@contextmanager
def running_redis(workdir: Path, password: str | None = None) -> Iterator[str]:
    """Start redis-server on a free port (asking for ``password`` if given); yields its URL; stops it on exit."""
    binary = redis_server_binary()
    if binary is None:
        pytest.skip(SKIP_REASON)
    port = free_port()
    log = open(workdir / "redis.log", "ab")  # noqa: SIM115 - owned by the child until it stops
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    if password is not None:
        command += ["--requirepass", password]
    server = subprocess.Popen([*command, "--dir", str(workdir)], stdout=log, stderr=subprocess.STDOUT)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url, password=password, socket_connect_timeout=0.5)

        def answers() -> bool:
            if server.poll() is not None:
                pytest.fail(f"redis-server exited with {server.returncode}; see {workdir / 'redis.log'}")
            try:
                return bool(client.ping())
            except redis.ConnectionError:
                return False

        wait_for(answers, timeout_s=15.0, what="redis-server to answer PING")
        client.close()
        yield url
    finally:
        stop_process(server)
        log.close()
