#!/usr/bin/env bash
# Builds Dockerfile.app and Dockerfile.operator with podman + runc (no Docker, no registry),
# runs each image the way deploy/ runs it (non-root, read-only root filesystem) and checks:
#   - both run as uid 10001, not root;
#   - `taskapi` serves GET /health on a loopback port (host network, TASKAPI_HOST=127.0.0.1);
#   - the operator's entrypoint starts and exits with a clear message when no cluster is
#     reachable (network none, no kubeconfig, no service account);
# and prints both image sizes. tests/integration/deploy/test_images.py runs it when podman
# is installed; scripts/setup.sh installs podman, runc, debootstrap and uidmap from Debian.
#
# Base image: $BASE_IMAGE if set (e.g. the pinned official python image where a registry is
# reachable); otherwise a stand-in built here once from `debootstrap --variant=minbase
# bookworm` + Debian's python3 (3.11) and python3-venv, which gives the Dockerfiles the same
# layout as the official image (python3 on PATH, the venv module; the program in /opt/venv).
#
# Cache: podman's own storage under ~/.cache/taskapi-operator/podman (not the machine's
# /var/lib/containers), so layers survive between runs and fresh clones: the lock-install
# layer is reused until requirements/*.lock change, the project layer until app/, operator/,
# pyproject.toml or README.md change. TASKAPI_PODMAN_ROOT moves it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf '==> %s\n' "$*"; }
fail() { printf 'images.sh: %s\n' "$*" >&2; exit 1; }

cache="${TASKAPI_PODMAN_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/taskapi-operator/podman}"
mkdir -p "$cache/storage" "$cache/run"
# crun fails on this machine's cgroup v1 hierarchy; runc works. cgroupfs: no systemd here.
podman=(podman --root "$cache/storage" --runroot "$cache/run" --runtime runc
        --cgroup-manager cgroupfs --events-backend none)
# The package index is reached through a TLS proxy whose CA is in the host's bundle.
ca=/etc/ssl/certs/ca-certificates.crt
# Raising rlimits is not permitted here, so containers get lower ones than the default.
limits=(--ulimit nofile=4096:4096 --ulimit nproc=4096:4096)
tag=${TASKAPI_IMAGE_TAG:-0.1.0}
app_image=localhost/taskapi:$tag
operator_image=localhost/taskapi-operator:$tag
uid=10001

for tool in podman runc; do
  command -v "$tool" >/dev/null || fail "$tool is required (scripts/setup.sh installs it)"
done

stand_in_base() { # prints the image name of the debootstrap base, building it when absent
  local suite=bookworm packages=python3,python3-venv
  local name
  name="localhost/taskapi-base:$suite-$(printf '%s %s' "$suite" "$packages" | sha256sum | cut -c1-12)"
  if ! "${podman[@]}" image exists "$name"; then
    command -v debootstrap >/dev/null || fail "debootstrap is required to build the stand-in base"
    local root start
    root=$(mktemp -d "${TMPDIR:-/tmp}/taskapi-base.XXXXXX")
    # shellcheck disable=SC2064  # expand $root now
    trap "rm -rf '$root'" EXIT
    start=$(date +%s)
    say "building the stand-in base $name (debootstrap --variant=minbase $suite + $packages)" >&2
    debootstrap --variant=minbase --include="$packages" "$suite" "$root" \
      "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" > "$cache/debootstrap.log" 2>&1 \
      || { tail -20 "$cache/debootstrap.log" >&2; fail "debootstrap failed (log: $cache/debootstrap.log)"; }
    # what an image does not need at run time: package caches and lists, docs, man pages
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
      "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/var/log/*
    tar --numeric-owner -C "$root" -c . | "${podman[@]}" import \
      --change 'CMD ["python3"]' --change 'ENV LANG=C.UTF-8' - "$name" >/dev/null
    rm -rf "$root"; trap - EXIT
    say "stand-in base built in $(( $(date +%s) - start ))s" >&2
  fi
  echo "$name"
}

base=${BASE_IMAGE:-$(stand_in_base)}
say "base image: $base"

build() { # dockerfile image
  local start; start=$(date +%s)
  say "building $2 from $1"
  local args=(build --quiet --network host --layers -v "$ca:$ca:ro" --build-arg "BASE_IMAGE=$base"
              -f "$1" .)
  "${podman[@]}" "${args[@]}" -t "$2" >/dev/null
  # Tag the build stage too (all its steps are cached by now): it holds the lock-install
  # layer, and an untagged stage would be dangling, i.e. pruned below.
  "${podman[@]}" "${args[@]}" --target build -t "${2%:*}-build:${2##*:}" >/dev/null
  say "built $2 in $(( $(date +%s) - start ))s"
}
build Dockerfile.app "$app_image"
build Dockerfile.operator "$operator_image"
# What earlier builds left untagged: the cache keeps only what the current images are made of.
"${podman[@]}" image prune --force >/dev/null

# --read-only-tmpfs=false: not even /tmp is writable, so a program that writes anywhere fails
# --passwd=false: podman would add an /etc/passwd entry for the user; a kubelet does not
run=("${podman[@]}" run --rm --read-only --read-only-tmpfs=false --passwd=false "${limits[@]}")

for image in "$app_image" "$operator_image"; do
  got=$("${run[@]}" --network none --entrypoint id "$image" -u)
  [ "$got" = "$uid" ] || fail "$image runs as uid $got, expected $uid"
  # even root cannot write: the programs below run on a truly read-only root filesystem
  if "${run[@]}" --network none --user 0 --entrypoint sh "$image" -c ': > /probe' 2>/dev/null; then
    fail "$image: the root filesystem is writable under --read-only"
  fi
  # kopf (and anything calling getpass.getuser()) needs the uid in /etc/passwd
  user=$("${run[@]}" --network none --entrypoint python3 "$image" -c 'import getpass; print(getpass.getuser())') \
    || fail "$image: uid $uid has no /etc/passwd entry (getpass.getuser() fails)"
  say "$image runs as uid $uid ($user); its root filesystem is read-only"
done

# taskapi on a free loopback port of the host network: /health answers without a sidecar
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
name=taskapi-images-sh-$$
"${run[@]}" -d --name "$name" --network host -e TASKAPI_HOST=127.0.0.1 -e TASKAPI_PORT="$port" \
  "$app_image" >/dev/null
cleanup_app() { "${podman[@]}" rm -f "$name" >/dev/null 2>&1 || true; }
trap cleanup_app EXIT
body=""
for _ in $(seq 1 120); do  # up to about 60 s on a loaded machine
  body=$(python3 - "$port" <<'EOF' 2>/dev/null
import sys, urllib.request
with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/health", timeout=2) as r:
    print(r.status, r.read().decode())
EOF
) && break
  "${podman[@]}" container exists "$name" || break
  sleep 0.5
done
[ -n "$body" ] || { "${podman[@]}" logs "$name" >&2 || true; fail "taskapi did not serve /health on 127.0.0.1:$port"; }
say "taskapi serves /health on 127.0.0.1:$port under --read-only: $body"
cleanup_app; trap - EXIT

# the operator with no cluster: exits (bounded) and says why
set +e
out=$(timeout 120 "${run[@]}" --network none "$operator_image" 2>&1)
code=$?
set -e
[ "$code" -ne 0 ] || fail "the operator exited 0 without a cluster"
[ "$code" -ne 124 ] || fail "the operator did not exit within 120 s without a cluster:
$out"
message=$(printf '%s\n' "$out" | grep -iE 'login|credential|kubeconfig|cluster' | tail -1)
[ -n "$message" ] || fail "the operator failed without a clear message (exit $code):
$out"
say "the operator without a cluster exits $code: $message"

size() { "${podman[@]}" image inspect --format '{{.Size}}' "$1" | awk '{printf "%.0f MB", $1/1e6}'; }
say "image sizes: $app_image $(size "$app_image"), $operator_image $(size "$operator_image"), base $base $(size "$base")"
