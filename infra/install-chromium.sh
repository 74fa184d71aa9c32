#!/usr/bin/env bash
# Install headless Chromium and its WebDriver (Debian packages `chromium`, `chromium-driver`)
# where missing: the review app's browser tests drive them through Selenium.
#
# Idempotent: does nothing when both are on PATH. Otherwise installs them with apt-get
# (through sudo when not root). Exits non-zero with a clear message when it cannot; the
# browser tests then skip, saying that Chromium is not installed.
set -euo pipefail

if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-chromium: apt-get not found; install chromium and chromium-driver by hand" >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "install-chromium: not root and sudo is missing; run: apt-get install chromium chromium-driver" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y --no-install-recommends chromium chromium-driver; then
    echo "install-chromium: apt-get install failed; retrying after apt-get update" >&2
    $SUDO apt-get update || true
    $SUDO apt-get install -y --no-install-recommends chromium chromium-driver
fi
echo "install-chromium: $(chromium --version 2>/dev/null | head -n1)"
