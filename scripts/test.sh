#!/usr/bin/env bash
# Sets everything up, then runs the linters and the whole test suite (unit + integration on
# real components). Extra arguments go to pytest, e.g. scripts/test.sh -k operator.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh
echo "==> ruff";  .venv/bin/ruff check . && .venv/bin/ruff format --check .
echo "==> mypy";  .venv/bin/mypy
echo "==> pytest"
set +e
.venv/bin/pytest "$@"
status=$?
set -e
# pytest's 5 means "no tests collected": that is a failure of the suite, not a pass
[ "$status" -eq 5 ] && echo "pytest collected no tests" >&2
exit "$status"
