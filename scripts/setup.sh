#!/usr/bin/env bash
# Installs everything the tests and the demo need on a fresh machine, idempotently:
# Debian's redis-server and postgresql, a Python venv with this project, and the Go-built binaries.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf '==> %s\n' "$*"; }

if ! command -v redis-server >/dev/null; then
  say "installing redis-server (Debian package)"
  export DEBIAN_FRONTEND=noninteractive
  sudo_cmd=(); [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq redis-server >/dev/null
fi
# The PostgreSQL state store's tests run Debian's server binaries (initdb, postgres) directly;
# the package's own cluster service is not used.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  say "installing postgresql (Debian package)"
  export DEBIAN_FRONTEND=noninteractive
  sudo_cmd=(); [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq postgresql >/dev/null
fi
command -v kubectl >/dev/null || { echo "kubectl is required on PATH" >&2; exit 1; }
command -v go >/dev/null || { echo "Go is required to build the control-plane binaries" >&2; exit 1; }

python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  say "creating .venv with $("$python" --version)"
  "$python" -m venv .venv
fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  say "installing the project and its dev dependencies into .venv"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e ".[dev]"
  rm -f .venv/.installed-*; touch "$stamp"
fi

say "building (or finding cached) etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok, daprd"
tools/binaries/build.sh
