#!/usr/bin/env bash
# Installs everything the tests and the demo need on a fresh machine, idempotently:
# Debian packages (redis-server, postgresql, podman, runc, debootstrap, uidmap, containerd,
# containernetworking-plugins), a Python venv from requirements/dev.lock with this project and
# its harness, and the Go-built binaries (helm and the real node's included).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf '==> %s\n' "$*"; }

# Debian packages: redis-server for the tests and the demo; postgresql, whose server binaries
# (initdb, postgres) the PostgreSQL state store's tests run directly (the package's own
# cluster service is not used); podman + runc (crun fails on this machine's cgroups),
# debootstrap (the images' stand-in base) and uidmap for scripts/images.sh.
apt_packages=()
command -v redis-server >/dev/null || apt_packages+=(redis-server)
command -v podman >/dev/null || apt_packages+=(podman)
command -v runc >/dev/null || apt_packages+=(runc)
command -v debootstrap >/dev/null || apt_packages+=(debootstrap)
command -v newuidmap >/dev/null || apt_packages+=(uidmap)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || apt_packages+=(postgresql)
# the real node: containerd (+ its runc shim), the CNI plugins (bridge, host-local, loopback)
command -v containerd >/dev/null || apt_packages+=(containerd)
[ -x /usr/lib/cni/bridge ] || apt_packages+=(containernetworking-plugins)
if [ ${#apt_packages[@]} -gt 0 ]; then
  say "installing Debian packages: ${apt_packages[*]}"
  export DEBIAN_FRONTEND=noninteractive
  sudo_cmd=(); [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq "${apt_packages[@]}" >/dev/null
fi
command -v kubectl >/dev/null || { echo "kubectl is required on PATH" >&2; exit 1; }
command -v go >/dev/null || { echo "Go is required to build the control-plane binaries" >&2; exit 1; }

python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  say "creating .venv with $("$python" --version)"
  "$python" -m venv .venv
fi
# The dev environment is requirements/dev.lock (every extra, pinned and hashed; made by
# scripts/lock.sh), so ruff, mypy and pytest are the same on any machine on any day; then the
# project itself, without dependencies. Reinstalled only when the lock or pyproject changes.
stamp=.venv/.installed-$(cat requirements/dev.lock pyproject.toml tools/harness/pyproject.toml | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
  say "installing requirements/dev.lock and the project into .venv"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q --require-hashes -r requirements/dev.lock
  .venv/bin/pip install -q --no-deps -e .
  # the development harness (tools/harness): tests, tools/demo and tools/bench import it
  .venv/bin/pip install -q --no-deps -e tools/harness
  # what an earlier install left that the lock does not hold (a stray newer redis, say)
  .venv/bin/python scripts/prune_venv.py requirements/dev.lock
  .venv/bin/pip check -q
  rm -f .venv/.installed-*; touch "$stamp"
fi

say "building (or finding cached) etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok, daprd, helm"
tools/binaries/build.sh
say "building (or finding cached) the real node's kubelet, kube-proxy, CoreDNS and Dapr's control plane"
tools/binaries/build.sh kubernetes-node dapr-kubernetes coredns
