#!/usr/bin/env bash
# Measures the operator at scale on the real harness (tools/bench/bench_operator.py):
#   scripts/bench-operator.sh N [NOISE_PODS]
# N TaskApis of 1 replica, created at once (optionally after NOISE_PODS unrelated pods);
# prints seconds until all Ready, then writes, API requests by verb, probes, CPU and RSS
# over a 60 s steady window.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[ $# -ge 1 ] || { echo "usage: $0 N [NOISE_PODS]" >&2; exit 2; }
scripts/setup.sh >/dev/null
exec .venv/bin/python tools/bench/bench_operator.py "$@"
