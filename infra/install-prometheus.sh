#!/usr/bin/env bash
# Install the Prometheus server and promtool (Debian package `prometheus`) where missing.
#
# Idempotent: does nothing when `promtool` is already on PATH. Otherwise installs the
# package with apt-get (through sudo when not root). Exits non-zero with a clear message
# when it cannot install. Run by .ci/run (root); `make` never runs it. Without Prometheus the
# tests that need it skip and say why.
set -euo pipefail

if command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1; then
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-prometheus: apt-get not found; install Prometheus (server + promtool) by hand" >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "install-prometheus: not root and sudo is missing; run: apt-get install prometheus" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y --no-install-recommends prometheus; then
    echo "install-prometheus: apt-get install failed; retrying after apt-get update" >&2
    $SUDO apt-get update || true
    if ! $SUDO apt-get install -y --no-install-recommends prometheus; then
        echo "install-prometheus: could not install the 'prometheus' package" >&2
        exit 1
    fi
fi

# The Debian package starts a system service where an init system exists; the project only
# needs the binaries, started on loopback by the tests, so a running service is left alone.
if ! command -v promtool >/dev/null 2>&1; then
    echo "install-prometheus: package installed but promtool is not on PATH" >&2
    exit 1
fi
echo "install-prometheus: $(promtool --version 2>&1 | head -n1)"
