"""The real node: containerd + runc + the CNI bridge, the kubelet and kube-proxy, in a network
namespace of its own (harness.node_network), running real pods from images loaded locally.

What a kind node gives a CI job, built from this machine's parts: Debian's containerd, runc and
CNI plugins; the kubelet and kube-proxy built from the same wrapper module as kube-apiserver.
Everything the node writes lives under its run directory, its own cgroup subtree and its own
namespaces; ``stop()`` (and the start-up reaper, for a run that was killed) removes all of it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Self

from harness import binaries, node_network
from harness.lifecycle import Started
from harness.node_network import NodeAddresses
from harness.process import Process, ProcessError, log_tail

INIT_SCRIPT = Path(__file__).with_name("node-init.sh")
CGROUP_ROOT = Path("/sys/fs/cgroup")
PAUSE_IMAGE = "registry.k8s.io/pause:3.10"
CLUSTER_DOMAIN = "cluster.local"
# What the node needs from Debian (scripts/setup.sh installs it).
DEBIAN_TOOLS = {
    "containerd": "containerd",
    "containerd-shim-runc-v2": "containerd",
    "runc": "runc",
    "ctr": "containerd",
}
CNI_BIN = Path("/usr/lib/cni")


class NodeError(RuntimeError):
    """The node did not come up; the message carries the tail of the failing component's log."""


def unavailable_reason() -> str:
    """Why this machine cannot run the real node ("" when it can): root, namespaces, cgroups,
    the Debian tools."""
    if os.geteuid() != 0:
        return "the real node needs root (network and mount namespaces, cgroups)"
    for tool, package in DEBIAN_TOOLS.items():
        if shutil.which(tool) is None:
            return f"{tool} is missing (Debian package {package}; scripts/setup.sh installs it)"
    for plugin in ("bridge", "host-local", "loopback"):
        if not (CNI_BIN / plugin).exists():
            return f"{CNI_BIN / plugin} is missing (Debian package containernetworking-plugins)"
    if not (CGROUP_ROOT / "memory").is_dir():
        return "no cgroup v1 memory hierarchy under /sys/fs/cgroup"
    probe = subprocess.run(
        ["unshare", "--net", "--mount", "true"], capture_output=True, text=True, check=False
    )
    if probe.returncode != 0:
        return f"cannot create namespaces: {probe.stderr.strip()}"
    return ""


def cgroup_hierarchies() -> list[Path]:
    """The v1 hierarchies the kubelet's cgroupfs driver writes (every one mounted here)."""
    return sorted(
        p
        for p in CGROUP_ROOT.iterdir()
        if p.is_dir() and p.name != "unified" and not p.is_symlink()
    )


UNIX_PATH_MAX = 107  # sun_path's 108 bytes, the terminating NUL included


class RealNode(Started):
    """``RealNode(addr, workdir, ...).start()`` brings the node to Ready; ``stop()`` removes it.

    The network namespace must exist already (the apiserver listens on its veth's host end).
    """

    def __init__(
        self,
        addr: NodeAddresses,
        workdir: Path,
        *,
        kubelet_kubeconfig: Path,
        kube_proxy_kubeconfig: Path,
        client_ca: Path,
        images: Sequence[Path] = (),
        is_ready: Callable[[], bool],
    ) -> None:
        self.addr = addr
        self.name = addr.netns
        self.run = workdir
        self.logs = workdir / "logs"
        self.socket = workdir / "containerd.sock"
        self.cgroup = f"/{addr.netns}"
        self._kubelet_kubeconfig = kubelet_kubeconfig
        self._kube_proxy_kubeconfig = kube_proxy_kubeconfig
        self._client_ca = client_ca
        self._images = list(images)
        self._is_ready = is_ready
        self._init: Process | None = None
        self.phase_seconds: dict[str, float] = {}

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> Self:
        longest = self.run / "containerd.sock.ttrpc"  # the longest unix socket path under it
        if len(str(longest).encode()) > UNIX_PATH_MAX:
            raise NodeError(
                f"the node's directory {self.run} is too deep: {longest} would exceed a unix "
                f"socket path's {UNIX_PATH_MAX} bytes (use a shorter work directory)"
            )
        try:
            self._write_configuration()
            make_cgroups(self.cgroup)
            began = time.monotonic()
            self._init = Process(
                "node",
                [
                    "nsenter",
                    f"--net={node_network.NETNS_DIR / self.addr.netns}",
                    "unshare",
                    "--mount",
                    "--propagation",
                    "slave",
                    "bash",
                    INIT_SCRIPT,
                    self.run,
                ],
                self.logs / "node.log",
            ).start()
            self._wait((self.run / "containerd.ready").exists, 60, "containerd")
            self.load_images(self._images)
            self.phase_seconds["containerd + images"] = time.monotonic() - began
            began = time.monotonic()
            (self.run / "start-kubelet").touch()
            self._wait(self._is_ready, 120, "the node Ready (kubelet)")
            self.phase_seconds["kubelet Ready"] = time.monotonic() - began
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        init, self._init = self._init, None
        if init is not None:
            init.stop(timeout=20)
        teardown(self.addr, self.cgroup, keep_netns=True)

    # -- images --------------------------------------------------------------------------

    def ctr(self, *args: str, input_path: Path | None = None, timeout: float = 300) -> str:
        argv = ["ctr", "--address", str(self.socket), "--namespace", "k8s.io", *args]
        with input_path.open("rb") if input_path else open(os.devnull, "rb") as stdin:
            result = subprocess.run(
                argv, stdin=stdin, capture_output=True, check=False, timeout=timeout
            )
        if result.returncode != 0:
            raise NodeError(f"{' '.join(argv)}: {result.stderr.decode(errors='replace').strip()}")
        return result.stdout.decode()

    def load_images(self, archives: Sequence[Path]) -> None:
        """Import image archives (docker-archive tars, names kept) into the node's containerd:
        nothing is ever pulled (the node's namespace has no route out)."""
        for archive in archives:
            self.ctr("images", "import", "-", input_path=archive)

    # -- configuration -------------------------------------------------------------------

    def _write_configuration(self) -> None:
        run = self.run
        for sub in ("logs", "cni-conf", "cni-ipam", "registry", "pod-logs", "volumes"):
            (run / sub).mkdir(parents=True, exist_ok=True)
        (run / "resolv.conf").write_text("")  # pods get only the cluster's DNS
        env = {
            "CONTAINERD": shutil.which("containerd") or "containerd",
            "KUBELET": str(binaries.find("kubelet")),
            "KUBE_PROXY": str(binaries.find("kube-proxy")),
            "NODE_NAME": self.name,
            "NODE_IP": self.addr.node_ip,
        }
        (run / "node.env").write_text("".join(f"{k}={v}\n" for k, v in env.items()))
        (run / "containerd.toml").write_text(_containerd_config(run))
        (run / "cni-conf" / "10-taskapi-bridge.conflist").write_text(
            json.dumps(_cni_config(self.addr, run), indent=2)
        )
        (run / "kubelet.yaml").write_text(
            _kubelet_config(self.addr, run, self.cgroup, self._client_ca)
        )
        shutil.copy(self._kubelet_kubeconfig, run / "kubelet.kubeconfig")
        (run / "kube-proxy.yaml").write_text(
            _kube_proxy_config(self.addr, self.name, self._kube_proxy_kubeconfig)
        )

    def _wait(self, ready: Callable[[], bool], timeout: float, what: str) -> None:
        assert self._init is not None
        try:
            self._init.wait_until(ready, timeout, what)
        except ProcessError as exc:
            raise NodeError(f"{exc}\n{self.explain()}") from None

    def explain(self) -> str:
        """The tails of the node components' logs, for an error message."""
        parts = []
        for name in ("containerd", "kubelet", "kube-proxy"):
            path = self.logs / f"{name}.log"
            if path.exists():
                parts.append(f"--- {path} (tail)\n{log_tail(path, 25)}")
        return "\n".join(parts)


def _containerd_config(run: Path) -> str:
    return f"""\
version = 2
root = "{run}/containerd/root"
state = "{run}/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "{run}/containerd.sock"
[ttrpc]
  address = "{run}/containerd.sock.ttrpc"
[debug]
  level = "info"
[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "{run}/containerd/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  # no CAP_SYS_RESOURCE here: containers may not lower their oom_score_adj below ours
  restrict_oom_score_adj = true
  # pod network namespaces under the state directory, not the machine's /var/run/netns
  netns_mounts_under_state_dir = true
  disable_apparmor = true
  enable_selinux = false
  max_container_log_line_size = 16384
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "{run}/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{CNI_BIN}"
    conf_dir = "{run}/cni-conf"
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".registry]
    # an empty registry configuration: a pull has nowhere to go (and no route out)
    config_path = "{run}/registry"
"""


def _cni_config(addr: NodeAddresses, run: Path) -> dict[str, object]:
    return {
        "cniVersion": "1.0.0",
        "name": "taskapi-node",
        "plugins": [
            {
                "type": "bridge",
                "bridge": "cni0",
                "isGateway": True,
                "ipMasq": False,  # nothing to masquerade to: the node has no way out
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": addr.pod_cidr}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": str(run / "cni-ipam"),
                },
            }
        ],
    }


def _kubelet_config(addr: NodeAddresses, run: Path, cgroup: str, client_ca: Path) -> str:
    config = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": addr.node_ip,
        "port": 10250,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": 10248,
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(client_ca)},
        },
        "authorization": {"mode": "Webhook"},
        "containerRuntimeEndpoint": f"unix://{run}/containerd.sock",
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": cgroup,
        "cgroupsPerQOS": True,
        "failCgroupV1": False,
        "failSwapOn": False,
        "makeIPTablesUtilChains": False,  # iptables are kube-proxy's, in the node's netns
        "oomScoreAdj": 0,
        "protectKernelDefaults": False,
        "clusterDNS": [addr.dns_ip],
        "clusterDomain": CLUSTER_DOMAIN,
        "resolvConf": str(run / "resolv.conf"),
        "podLogsDir": str(run / "pod-logs"),
        "volumePluginDir": str(run / "volumes"),
        "serializeImagePulls": False,
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "evictionHard": {
            "memory.available": "200Mi",
            "nodefs.available": "1%",
            "imagefs.available": "1%",
            "nodefs.inodesFree": "1%",
        },
        "maxPods": 110,
        "shutdownGracePeriod": "0s",
        "nodeStatusReportFrequency": "1m",
        "registerNode": True,
        "syncFrequency": "10s",
        "staticPodPath": "",
        "localStorageCapacityIsolation": True,
    }
    return json.dumps(config, indent=2)


def _kube_proxy_config(addr: NodeAddresses, node: str, kubeconfig: Path) -> str:
    config = {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": str(kubeconfig)},
        "mode": "iptables",
        "hostnameOverride": node,
        "clusterCIDR": addr.pod_cidr,
        "bindAddress": addr.node_ip,
        "healthzBindAddress": "127.0.0.1:10256",
        "metricsBindAddress": "127.0.0.1:10249",
        "nodePortAddresses": [f"{addr.node_ip}/32"],
        # the conntrack table's limits are machine-wide: leave them as they are
        "conntrack": {
            "maxPerCore": 0,
            "min": 0,
            "tcpEstablishedTimeout": "0s",
            "tcpCloseWaitTimeout": "0s",
        },
        "iptables": {"localhostNodePorts": False, "masqueradeAll": False},
    }
    return json.dumps(config, indent=2)


# -- cgroups and teardown -----------------------------------------------------------------


def make_cgroups(cgroup: str) -> None:
    """The node's cgroup subtree in every hierarchy (the kubelet's cgroupRoot must pre-exist);
    cpuset's values are copied from the parent, as a new cpuset starts empty."""
    for hierarchy in cgroup_hierarchies():
        path = hierarchy / cgroup.lstrip("/")
        path.mkdir(exist_ok=True)
        if hierarchy.name == "cpuset":
            for knob in ("cpuset.cpus", "cpuset.mems"):
                (path / knob).write_text((hierarchy / knob).read_text())


def _written_hierarchies() -> list[Path]:
    """Where a run's cgroups can be: every v1 hierarchy, and the hybrid layout's cgroup2 mount
    ``unified``, where runc mirrors each container's cgroup (seen left behind by a run)."""
    unified = CGROUP_ROOT / "unified"
    return cgroup_hierarchies() + ([unified] if unified.is_dir() else [])


def _cgroup_pids(cgroup: str) -> set[int]:
    found: set[int] = set()
    for hierarchy in _written_hierarchies():
        top = hierarchy / cgroup.lstrip("/")
        if not top.is_dir():
            continue
        for procs in top.rglob("cgroup.procs"):
            try:
                found.update(int(p) for p in procs.read_text().split())
            except OSError:
                continue
    return found


def _remove_cgroups(cgroup: str) -> list[str]:
    left = []
    for hierarchy in _written_hierarchies():
        top = hierarchy / cgroup.lstrip("/")
        if not top.is_dir():
            continue
        for path in sorted(top.rglob("*"), key=lambda p: len(p.parts), reverse=True):
            if path.is_dir():
                try:
                    path.rmdir()
                except OSError:
                    left.append(str(path))
        try:
            top.rmdir()
        except OSError:
            left.append(str(top))
    return left


def teardown(addr: NodeAddresses, cgroup: str, *, keep_netns: bool = False) -> None:
    """Kill every process of the node (in its netns, in its cgroup tree: container processes
    outlive their shims), then remove the cgroups and, unless kept, the namespace."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        pids = set(node_network.pids(addr.netns)) | _cgroup_pids(cgroup)
        pids.discard(os.getpid())
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                continue
        time.sleep(0.2)
    left = _remove_cgroups(cgroup)
    if not keep_netns:
        node_network.delete(addr)
    if left:
        raise NodeError(f"cgroups left after the node stopped: {left[:5]}")


def reap(number: int) -> None:
    """Clear what a killed run of cluster ``number`` left: processes, cgroups, namespace."""
    addr = NodeAddresses(number)
    teardown(addr, f"/{addr.netns}")
