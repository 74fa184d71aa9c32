#!/usr/bin/env bash
# The Prometheus server and promtool (Debian package `prometheus`) for the observability tests.
set -euo pipefail
exec bash "$(dirname "$0")/install-debian-packages.sh" "prometheus promtool" prometheus
