#!/usr/bin/env bash
# Sets everything up, then runs the local demo: a real control plane on loopback, the
# operator managing a sample TaskApi, and the Task API + notification-service with their
# daprd sidecars on a local Redis. Ctrl-C stops everything. --exit-after-walkthrough makes
# it stop by itself (what the test of the demo uses).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh
exec .venv/bin/python tools/demo/demo.py "$@"
