#!/usr/bin/env bash
# Install Debian packages where the commands they provide are missing; what CI (.ci/run, as
# root) uses for the test suite's system tools. `make` never runs it.
#
# Usage: install-debian-packages.sh "cmd1 cmd2" pkg1 [pkg2 ...]
# Idempotent: does nothing when every command is on PATH. Otherwise installs the packages with
# apt-get (through sudo when not root), retrying once after `apt-get update`. Exits non-zero
# with a clear message when it cannot; the tests that need the tools then skip, saying why.
# A system service the package may start is left alone: the tests start their own servers.
set -euo pipefail

commands=$1
shift
packages=("$@")
name="install(${packages[*]})"

have_all() {
    for cmd in $commands; do
        command -v "$cmd" >/dev/null 2>&1 || return 1
    done
}

have_all && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
    echo "$name: apt-get not found; install ${packages[*]} by hand" >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "$name: not root and sudo is missing; run: apt-get install ${packages[*]}" >&2
        exit 1
    fi
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y --no-install-recommends "${packages[@]}"; then
    echo "$name: apt-get install failed; retrying after apt-get update" >&2
    $SUDO apt-get update || true
    if ! $SUDO apt-get install -y --no-install-recommends "${packages[@]}"; then
        echo "$name: could not install ${packages[*]}" >&2
        exit 1
    fi
fi
if ! have_all; then
    echo "$name: installed, but one of '$commands' is not on PATH" >&2
    exit 1
fi
echo "$name: ok ($commands on PATH)"
