#!/usr/bin/env bash
# Sets everything up, then measures the Task API through its real daprd and Redis and prints
# latency percentiles, throughput and memory (tools/bench/bench_taskapi.py).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh >/dev/null
exec .venv/bin/python tools/bench/bench_taskapi.py "$@"
