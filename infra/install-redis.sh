#!/usr/bin/env bash
# redis-server (Debian package) for the gateway's shared replay-cache tests
# (gateway.replay_cache.backend=redis); the tests start it on a free loopback port.
set -euo pipefail
exec bash "$(dirname "$0")/install-debian-packages.sh" "redis-server" redis-server
