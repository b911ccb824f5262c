#!/usr/bin/env bash
# The real node's init: runs inside the node's network namespace and a private mount namespace
# (harness.node starts it with nsenter + unshare), so containerd, the kubelet, runc and the
# pods' volume mounts all see one mount table, and nothing mounted here reaches the host.
# Usage: node-init.sh RUN_DIR   (RUN_DIR/node.env names the binaries and configuration)
set -euo pipefail
run=$1
# shellcheck source=/dev/null
. "$run/node.env"

# Paths the kubelet, containerd and libcni hard-code: a per-run directory over each, so two
# runs at once never share them and the host's own stay untouched. The kubelet's root dir is
# the per-run /var/lib/kubelet, not a path under RUN_DIR: it holds unix sockets (pod-resources,
# plugins), whose paths may not exceed 107 bytes, and RUN_DIR can be deep (a test's tmp dir).
for path in /run/containerd /var/lib/kubelet /var/log/containers /var/lib/cni; do
  mkdir -p "$path" "$run/binds$path"
  mount --bind "$run/binds$path" "$path"
done

children=()
stop() {
  # the kubelet first, so it restarts nothing while the rest goes
  for pid in "${children[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait || true
  exit 0
}
trap stop TERM INT

"$CONTAINERD" --config "$run/containerd.toml" >> "$run/logs/containerd.log" 2>&1 &
containerd_pid=$!
for _ in $(seq 1 300); do
  [ -S "$run/containerd.sock" ] && break
  kill -0 "$containerd_pid" 2>/dev/null || { echo "containerd exited" >&2; exit 1; }
  sleep 0.1
done
[ -S "$run/containerd.sock" ] || { echo "containerd made no socket in 30 s" >&2; exit 1; }
touch "$run/containerd.ready"

# the harness loads the images, then asks for the node
while [ ! -e "$run/start-kubelet" ]; do
  kill -0 "$containerd_pid" 2>/dev/null || { echo "containerd exited" >&2; exit 1; }
  sleep 0.1
done

"$KUBELET" --config="$run/kubelet.yaml" --kubeconfig="$run/kubelet.kubeconfig" \
  --root-dir=/var/lib/kubelet --cert-dir="$run/kubelet-pki" --hostname-override="$NODE_NAME" \
  --node-ip="$NODE_IP" --v=2 >> "$run/logs/kubelet.log" 2>&1 &
kubelet_pid=$!
"$KUBE_PROXY" --config="$run/kube-proxy.yaml" --v=1 >> "$run/logs/kube-proxy.log" 2>&1 &
proxy_pid=$!
children=("$kubelet_pid" "$proxy_pid" "$containerd_pid")
wait -n "$kubelet_pid" "$proxy_pid" "$containerd_pid" || true
echo "a node component exited; stopping the node" >&2
stop
