#!/usr/bin/env bash
# Sets everything up, then compares this Task API (Redis and PostgreSQL state stores), the
# seed lesson's app and FastAPI + redis-py on one redis-server and one daprd build, on
# loopback, and prints the numbers (tools/bench/bench_taskapi.py; every loop bounded).
# Default: the sustained mode, 8 clients for 60 s each, in 2 rounds of alternating order,
# end to end at notification-service (--duration S, --clients N, --rounds R, --only c,a,b,d);
# --burst adds the short burst phases.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh >/dev/null
# redis-py is the benchmark's baseline only (the "bench" extra), never a dependency of app/
.venv/bin/python -c "import redis" 2>/dev/null || .venv/bin/pip install -q -e ".[bench]"
exec nice -n 5 .venv/bin/python tools/bench/bench_taskapi.py "$@"
