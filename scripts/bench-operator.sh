#!/usr/bin/env bash
# Measures the operator at scale on the real harness (tools/bench/bench_operator.py):
#   scripts/bench-operator.sh N [NOISE_PODS] [--user-apply] [--api-qps Q] [--api-burst B]
# N TaskApis of 1 replica, created at once (optionally after NOISE_PODS unrelated pods);
# prints seconds until all Ready and what the operator did meanwhile, then writes, API
# requests by verb and resource, probes, CPU and RSS over a steady window that starts the
# operator's longest periodic interval after the last Ready. --user-apply: the TaskApis come
# from a user's kubectl apply of files of 100, timed without the operator and beside it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[ $# -ge 1 ] || { echo "usage: $0 N [NOISE_PODS]" >&2; exit 2; }
scripts/setup.sh >/dev/null
exec .venv/bin/python tools/bench/bench_operator.py "$@"
