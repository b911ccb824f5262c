#!/usr/bin/env bash
# Builds the real control-plane and Dapr binaries the tests and the demo run, from the
# wrapper Go modules beside this script, into a cache outside the checkout.
#
# Usage: tools/binaries/build.sh [tool ...]
#        (tools: kubernetes etcd kwok dapr dapr-control-plane helm, the fake node's and the
#        tests' set, built by default; the real node's, built only when named:
#        kubernetes-node coredns dapr-kubernetes; and the GitOps tests': argocd kustomize)
# Prints, last, one line per tool: "<tool> <directory holding its binaries>".
#
# The cache key is a hash of the wrapper's go.mod/go.sum (+ sources) and the Go version, so
# a fresh clone (what CI uses) reuses a previous build and a version bump rebuilds.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache_root="${TASKAPI_BIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/taskapi-operator/bin}"
export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false CGO_ENABLED=0

log() { printf '%s build.sh] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

module_version() { # module version as required in the wrapper's go.mod
  (cd "$here/$1" && go list -m -f '{{.Version}}' "$2")
}

# A tool's wrapper module: its own directory, or the one its `wrapper` file names (kubelet and
# kube-proxy come from the same wrapper as kube-apiserver, so one go.sum pins them all).
wrapper_of() {
  if [ -f "$here/$1/wrapper" ]; then cat "$here/$1/wrapper"; else echo "$1"; fi
}

# A wrapper that needs a newer Go than the machine's names it in its `toolchain` file (Argo CD
# v3.6 needs Go 1.27); the go command fetches that toolchain from the module proxy. Every other
# build stays on the machine's Go.
toolchain_of() {
  if [ -f "$here/$1/toolchain" ]; then cat "$here/$1/toolchain"; else echo local; fi
}

cache_key() {
  if [ -f "$here/$1/wrapper" ]; then
    { (cd "$here/$(wrapper_of "$1")" && cat go.mod go.sum)
      (cd "$here/$1" && cat ./patches/* ./*.go ./*/* 2>/dev/null); go version; } | sha256sum | cut -c1-16
  else
    (cd "$here/$1" && cat go.mod go.sum ./*.go ./*/*.go ./patches/*.patch 2>/dev/null; go version) | sha256sum | cut -c1-16
  fi
}

build_kubernetes() {
  local out=$1 v
  v=$(module_version kubernetes k8s.io/kubernetes)
  local minor=${v#v1.}; minor=${minor%%.*}
  local pkg=k8s.io/component-base/version
  go build -trimpath -o "$out/" -ldflags "-s -w \
      -X $pkg.gitVersion=$v -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor \
      -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z" \
    k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler
}

# The real node's kubelet and kube-proxy, built from a copy of the k8s.io/kubernetes module with
# kubernetes-node/patches applied (the kubelet's kernel-tunable check warns instead of rewriting
# machine-wide sysctls); a go.work points the build at the copy, as for daprd. A patch that no
# longer applies fails the build. (go build -overlay cannot replace files of the module cache.)
build_kubernetes_node() {
  local out=$1 v src patchfile
  v=$(module_version kubernetes k8s.io/kubernetes)
  local minor=${v#v1.}; minor=${minor%%.*}
  local pkg=k8s.io/component-base/version
  src="$out/src/kubernetes"; mkdir -p "$out/src"
  cp -r "$(go list -m -f '{{.Dir}}' k8s.io/kubernetes)" "$src"; chmod -R u+w "$src"
  for patchfile in "$here"/kubernetes-node/patches/*.patch; do
    patch --quiet --forward --batch -p1 -d "$src" < "$patchfile"
  done
  printf 'go %s\n\nuse %s\n\nreplace k8s.io/kubernetes %s => %s\n' \
    "$(go mod edit -json | python3 -c 'import json,sys; print(json.load(sys.stdin)["Go"])')" \
    "$here/kubernetes" "$v" "$src" > "$out/src/go.work"
  GOWORK="$out/src/go.work" go build -trimpath -o "$out/" -ldflags "-s -w \
      -X $pkg.gitVersion=$v -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor \
      -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z" \
    k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy
  rm -rf "$out/src"
}

build_etcd() {
  go build -trimpath -ldflags "-s -w" -o "$1/etcd" go.etcd.io/etcd/server/v3
}

build_kwok() {
  local out=$1 v modir
  v=$(module_version kwok sigs.k8s.io/kwok)
  go build -trimpath -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$v" \
    -o "$out/kwok" sigs.k8s.io/kwok/cmd/kwok
  # kwok's controller ships no behaviour of its own: copy the stage files from its module.
  modir=$(go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
  mkdir -p "$out/stages"
  for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
           pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    cp "$modir/kustomize/stage/$f" "$out/stages/$(basename "$f")"
  done
  chmod -R u+w "$out/stages"
}

build_dapr() {
  local out=$1 v src cv contrib patchfile
  v=$(module_version dapr github.com/dapr/dapr)
  cv=$(module_version dapr github.com/dapr/components-contrib)
  # Without a build tag daprd's components package holds only a file that panics. Build from
  # a copy of the dapr module in which that file is swapped for ours (components/registry.go),
  # which registers just the components we use; a go.work points the build at the copy.
  # components-contrib is built from a copy too, with dapr/patches/*.patch applied (each
  # says why; one that no longer applies fails the build).
  go mod download github.com/dapr/dapr github.com/dapr/components-contrib
  src="$out/src/dapr"; contrib="$out/src/components-contrib"; mkdir -p "$out/src"
  cp -r "$(go list -m -f '{{.Dir}}' github.com/dapr/dapr)" "$src"; chmod -R u+w "$src"
  cp "$here/dapr/components/registry.go" "$src/cmd/daprd/components/zz_notag.go"
  cp -r "$(go list -m -f '{{.Dir}}' github.com/dapr/components-contrib)" "$contrib"
  chmod -R u+w "$contrib"
  for patchfile in "$here"/dapr/patches/*.patch; do
    [ -e "$patchfile" ] || continue
    patch --quiet --forward --batch -p1 -d "$contrib" < "$patchfile"
  done
  printf 'go %s\n\nuse %s\n\nreplace github.com/dapr/dapr %s => %s\n\nreplace github.com/dapr/components-contrib %s => %s\n' \
    "$(go mod edit -json | python3 -c 'import json,sys; print(json.load(sys.stdin)["Go"])')" \
    "$here/dapr" "$v" "$src" "$cv" "$contrib" > "$out/src/go.work"
  GOWORK="$out/src/go.work" go build -trimpath -o "$out/daprd" \
    -ldflags "-s -w -X github.com/dapr/dapr/pkg/buildinfo.version=${v#v}" .
  rm -rf "$out/src"
}

build_helm() {
  # The flags helm's own Makefile sets: its version, and the Kubernetes version it renders
  # .Capabilities with (client-go v0.N -> Kubernetes 1.N), so `helm version` and
  # `helm template` say what a release build would.
  local out=$1 v k8s minor
  v=$(module_version helm helm.sh/helm/v3)
  k8s=$(module_version helm k8s.io/client-go); minor=${k8s#v0.}; minor=${minor%%.*}
  local pkg=helm.sh/helm/v3
  go build -trimpath -o "$out/helm" -ldflags "-s -w \
      -X $pkg/internal/version.version=$v -X $pkg/internal/version.metadata= \
      -X $pkg/internal/version.gitTreeState=clean \
      -X $pkg/pkg/lint/rules.k8sVersionMajor=1 -X $pkg/pkg/lint/rules.k8sVersionMinor=$minor \
      -X $pkg/pkg/chartutil.k8sVersionMajor=1 -X $pkg/pkg/chartutil.k8sVersionMinor=$minor" \
    helm.sh/helm/v3/cmd/helm
}

# Argo CD: one binary that is the application-controller, the repo-server or the CLI by
# ARGOCD_BINARY_NAME (links beside it, as the image has), version stamped as its Makefile does.
build_argocd() {
  local out=$1 v pkg=github.com/argoproj/argo-cd/v3/common
  v=$(module_version argocd github.com/argoproj/argo-cd/v3)
  go build -trimpath -o "$out/argocd" -ldflags "-s -w -X $pkg.version=${v#v} \
      -X $pkg.buildDate=1970-01-01T00:00:00Z -X $pkg.gitTreeState=clean" \
    github.com/argoproj/argo-cd/v3/cmd
  local name
  for name in argocd-application-controller argocd-repo-server; do ln -sf argocd "$out/$name"; done
}

# kustomize, which Argo CD's repo-server execs for kustomization sources (deploy/argocd's).
# (`kustomize version` reads its version from the binary's build info.)
build_kustomize() {
  go build -trimpath -o "$1/kustomize" -ldflags "-s -w" sigs.k8s.io/kustomize/kustomize/v5
}

# Assets: data files from a tool's module, copied beside its binaries (cheap, so they are
# refreshed even when the binaries come from the cache).
# Argo CD's install manifests (its CRDs and base/config: argocd-cm, argocd-rbac-cm,
# argocd-secret, ...) and the repo-server's git-verify-wrapper.sh / gpg-wrapper.sh, which
# v3.6 execs from PATH for every manifest generation (the image has them in /usr/local/bin).
assets_argocd() {
  local out=$1 dir
  [ -d "$out/manifests" ] && [ -d "$out/scripts" ] && return 0
  dir="$(cd "$here/argocd" && go list -m -f '{{.Dir}}' github.com/argoproj/argo-cd/v3)"
  rm -rf "$out/manifests.tmp" "$out/scripts.tmp"; mkdir -p "$out/manifests.tmp" "$out/scripts.tmp"
  cp -r "$dir/manifests/crds" "$dir/manifests/base/config" "$out/manifests.tmp/"
  cp "$dir/hack/git-verify-wrapper.sh" "$dir/hack/gpg-wrapper.sh" "$out/scripts.tmp/"
  chmod -R u+w "$out/manifests.tmp" "$out/scripts.tmp"; chmod +x "$out"/scripts.tmp/*.sh
  mv "$out/manifests.tmp" "$out/manifests"; mv "$out/scripts.tmp" "$out/scripts"
}

# Dapr's own CRDs (Component, Configuration, ...), for the local cluster, and Dapr's Helm chart
# (charts/dapr of the same module), which the real node installs Dapr with.
assets_dapr() {
  local out=$1 dir
  [ -d "$out/crds" ] && [ -d "$out/chart" ] && return 0
  dir="$(cd "$here/dapr" && go list -m -f '{{.Dir}}' github.com/dapr/dapr)/charts/dapr"
  if [ ! -d "$out/crds" ]; then
    mkdir -p "$out/crds.tmp" && cp "$dir"/crds/*.yaml "$out/crds.tmp/" && chmod -R u+w "$out/crds.tmp"
    mv "$out/crds.tmp" "$out/crds"
  fi
  if [ ! -d "$out/chart" ]; then
    rm -rf "$out/chart.tmp"; cp -r "$dir" "$out/chart.tmp" && chmod -R u+w "$out/chart.tmp"
    mv "$out/chart.tmp" "$out/chart"
  fi
}

# Dapr's sentry and sidecar injector, run by the tests as processes against the harness
# apiserver, from the same dapr version as daprd (checked). Like daprd, they are built from a
# temporary copy of the dapr module, here with the patches in dapr-control-plane/patches
# applied: each adapts a v1.17.0 program to running as a local process under the loopback-only
# network rule (listen addresses, no DNS query, the token file its pod would have); see each
# file for why. A patch that no longer applies fails the build.
build_dapr_control_plane() {
  local out=$1 v daprd_v src patchfile
  v=$(module_version dapr-control-plane github.com/dapr/dapr)
  daprd_v=$(module_version dapr github.com/dapr/dapr)
  if [ "$v" != "$daprd_v" ]; then
    log "dapr-control-plane requires dapr $v but daprd is built from $daprd_v: align the wrappers"
    return 1
  fi
  go mod download github.com/dapr/dapr
  src="$out/src/dapr"; mkdir -p "$out/src"
  cp -r "$(go list -m -f '{{.Dir}}' github.com/dapr/dapr)" "$src"; chmod -R u+w "$src"
  for patchfile in "$here"/dapr-control-plane/patches/*.patch; do
    patch --quiet --forward --batch -p1 -d "$src" < "$patchfile"
  done
  printf 'go %s\n\nuse %s\n\nreplace github.com/dapr/dapr %s => %s\n' \
    "$(go mod edit -json | python3 -c 'import json,sys; print(json.load(sys.stdin)["Go"])')" \
    "$here/dapr-control-plane" "$v" "$src" > "$out/src/go.work"
  GOWORK="$out/src/go.work" go build -trimpath -o "$out/" \
    -ldflags "-s -w -X github.com/dapr/dapr/pkg/buildinfo.version=${v#v}" \
    github.com/dapr/dapr/cmd/sentry github.com/dapr/dapr/cmd/injector
  rm -rf "$out/src"
}

# Dapr's control plane as its chart runs it in Kubernetes (operator, sentry, sidecar injector),
# unpatched, for the real node's images; placement and scheduler are not built (the chart's
# values turn them off: the Task API uses no actors, jobs or workflows).
build_dapr_kubernetes() {
  local out=$1 v daprd_v
  v=$(module_version dapr-control-plane github.com/dapr/dapr)
  daprd_v=$(module_version dapr github.com/dapr/dapr)
  if [ "$v" != "$daprd_v" ]; then
    log "dapr-kubernetes requires dapr $v but daprd is built from $daprd_v: align the wrappers"
    return 1
  fi
  go build -trimpath -o "$out/" -ldflags "-s -w -X github.com/dapr/dapr/pkg/buildinfo.version=${v#v}" \
    github.com/dapr/dapr/cmd/operator github.com/dapr/dapr/cmd/sentry github.com/dapr/dapr/cmd/injector
}

# CoreDNS for the real node's cluster DNS: coredns/main.go with only the plugins it needs.
build_coredns() {
  local v
  v=$(module_version coredns github.com/coredns/coredns)
  go build -trimpath -ldflags "-s -w" -o "$1/coredns" .
  echo "$v" > "$1/VERSION"
}

build_one() {
  local tool=$1 key dir tmp start
  [ -f "$here/$(wrapper_of "$tool")/go.mod" ] || { log "unknown tool: $tool"; return 2; }
  key=$(cache_key "$tool")
  dir="$cache_root/$tool-$key"
  if [ -f "$dir/.complete" ]; then
    log "$tool: cached in $dir"
  else
    start=$(date +%s)
    log "$tool: building into $dir (first build takes minutes; Go downloads modules from its proxy)"
    tmp="$dir.tmp.$$"; rm -rf "$tmp"; mkdir -p "$tmp"
    trap "rm -rf '$tmp'" EXIT  # expanded now: \$tmp is out of scope when EXIT fires
    (cd "$here/$(wrapper_of "$tool")" && "build_${tool//-/_}" "$tmp")
    touch "$tmp/.complete"; rm -rf "$dir"; mv "$tmp" "$dir"; trap - EXIT
    log "$tool: built in $(( $(date +%s) - start ))s"
  fi
  if declare -F "assets_$tool" >/dev/null; then "assets_$tool" "$dir"; fi
  echo "$tool $dir"
}

tools=("$@"); [ ${#tools[@]} -gt 0 ] || tools=(etcd kwok kubernetes dapr dapr-control-plane helm)
for t in "${tools[@]}"; do (export GOTOOLCHAIN; GOTOOLCHAIN=$(toolchain_of "$t"); build_one "$t"); done
