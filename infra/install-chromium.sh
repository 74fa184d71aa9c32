#!/usr/bin/env bash
# Headless Chromium and its WebDriver (Debian packages) for the review app's browser tests.
set -euo pipefail
exec bash "$(dirname "$0")/install-debian-packages.sh" "chromium chromedriver" chromium chromium-driver
