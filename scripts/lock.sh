#!/usr/bin/env bash
# Compiles the hashed lock files the images install from (requirements/*.lock), one per
# program extra of pyproject.toml plus the wheel-building tools. Run it after changing a
# dependency; tests/unit/deploy/test_locks.py fails while a lock disagrees with pyproject.
#
# The locks are universal (markers instead of one platform) and carry the hashes of every
# published file of each pinned version, so an image for another CPU installs from them too.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
uv=${UV:-.venv/bin/uv}
compile() { # output, inputs/options...
  local out=$1; shift
  "$uv" pip compile --quiet --universal --python-version 3.11 --generate-hashes \
    --no-header --annotation-style line --output-file "$out" "$@"
}
compile requirements/app.lock pyproject.toml --extra app
compile requirements/operator.lock pyproject.toml --extra operator
compile requirements/build.lock requirements/build.in
for f in requirements/*.lock; do printf '%s: %s pins\n' "$f" "$(grep -c '^[a-z0-9]' "$f")"; done
