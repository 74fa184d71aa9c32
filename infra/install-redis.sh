#!/usr/bin/env bash
# Install redis-server (Debian package `redis-server`) where missing.
#
# The gateway's shared replay cache (gateway.replay_cache.backend=redis) talks to any Redis;
# the tests start this binary on a free loopback port and skip, saying why, without it.
# Idempotent: does nothing when `redis-server` is already on PATH. Installs with apt-get
# (through sudo when not root); exits non-zero with a clear message when it cannot. Run by
# .ci/run (root); `make` never runs it.
set -euo pipefail

if command -v redis-server >/dev/null 2>&1; then
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-redis: apt-get not found; install redis-server by hand" >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "install-redis: not root and sudo is missing; run: apt-get install redis-server" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y --no-install-recommends redis-server; then
    echo "install-redis: apt-get install failed; retrying after apt-get update" >&2
    $SUDO apt-get update || true
    if ! $SUDO apt-get install -y --no-install-recommends redis-server; then
        echo "install-redis: could not install the 'redis-server' package" >&2
        exit 1
    fi
fi

# The package may start a system service where an init system exists; the tests start their
# own server on a free port, so a running service is left alone.
if ! command -v redis-server >/dev/null 2>&1; then
    echo "install-redis: package installed but redis-server is not on PATH" >&2
    exit 1
fi
echo "install-redis: $(redis-server --version | head -n1)"
