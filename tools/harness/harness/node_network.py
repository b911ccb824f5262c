"""The real node's network: a namespace of its own, one veth pair to the host, and routes that
keep every packet on this machine.

Rules (DESIGN.md, "Network rule"): pods and Services take addresses from 198.18.0.0/15
(RFC 2544's benchmarking range), one /24 of pods and one /25 of Services per cluster number;
the node's namespace has no default route; the host routes the cluster's ranges into the
node's veth and holds an ``unreachable 198.18.0.0/15`` guard, so a packet for a cluster that
is gone fails here instead of leaving through the host's uplink. Before anything starts,
``ip route get`` of a pod address must name the veth, else the run stops. Nothing here writes
the host's sysctls or iptables: the node's own namespace gets the forwarding and bridge
netfilter switches its kube-proxy needs.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

GUARD = "198.18.0.0/15"
NETNS_PREFIX = "taskapi-node-"
NETNS_DIR = Path("/var/run/netns")


class NodeNetworkError(RuntimeError):
    """The node's network could not be made safe; nothing was started on it."""


@dataclass(frozen=True)
class NodeAddresses:
    """Every address of cluster number ``number`` (1..250), derived in one place."""

    number: int

    def __post_init__(self) -> None:
        if not 1 <= self.number <= 250:
            raise ValueError(f"cluster number {self.number} is outside 1..250")

    @property
    def pod_cidr(self) -> str:
        return f"198.18.{self.number}.0/24"

    @property
    def service_cidr(self) -> str:
        return f"198.19.{self.number}.0/25"

    @property
    def kubernetes_service_ip(self) -> str:  # the first address of the Service range
        return f"198.19.{self.number}.1"

    @property
    def dns_ip(self) -> str:  # kube-dns's ClusterIP, as kubeadm picks the tenth
        return f"198.19.{self.number}.10"

    @property
    def host_ip(self) -> str:  # the host's end of the veth: the apiserver listens here
        return f"198.19.{self.number}.129"

    @property
    def node_ip(self) -> str:  # the node's end: the kubelet's InternalIP
        return f"198.19.{self.number}.130"

    @property
    def link_prefix(self) -> int:
        return 30

    @property
    def netns(self) -> str:
        return f"{NETNS_PREFIX}{self.number}"

    @property
    def host_veth(self) -> str:
        return f"tkh{self.number}"

    @property
    def node_veth(self) -> str:  # its name inside the node's namespace
        return "eth0"


def ip(*args: str, netns: str | None = None, check: bool = True) -> str:
    argv = ["ip", *(["-n", netns] if netns else []), *args]
    result = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30)
    if check and result.returncode != 0:
        raise NodeNetworkError(f"{' '.join(argv)}: {result.stderr.strip()}")
    return result.stdout


def in_netns(netns: str, *argv: str, check: bool = True) -> str:
    """Run a command inside the node's network namespace (only there)."""
    full = ["ip", "netns", "exec", netns, *argv]
    result = subprocess.run(full, capture_output=True, text=True, check=False, timeout=30)
    if check and result.returncode != 0:
        raise NodeNetworkError(f"{' '.join(full)}: {result.stderr.strip()}")
    return result.stdout


def ensure_guard() -> None:
    """The host's ``unreachable 198.18.0.0/15``: left in place on purpose (it is the guard)."""
    if "unreachable" not in ip("route", "show", "type", "unreachable", GUARD):
        ip("route", "replace", "unreachable", GUARD)


def route_device(address: str) -> str:
    """The device the host would send a packet for ``address`` out of ("" if unreachable)."""
    result = subprocess.run(
        ["ip", "-o", "route", "get", address], capture_output=True, text=True, check=False
    )
    words = result.stdout.split()
    if result.returncode != 0 or "unreachable" in words or "dev" not in words:
        return ""
    return words[words.index("dev") + 1]


def create(addr: NodeAddresses) -> None:
    """Namespace, veth, addresses and routes; refuses to return unless every cluster address
    routes into the veth (and a neighbouring cluster's into the guard)."""
    ensure_guard()
    ip("netns", "add", addr.netns)
    try:
        ip("link", "add", addr.host_veth, "type", "veth", "peer", "name", addr.node_veth,
           "netns", addr.netns)  # fmt: skip
        ip("addr", "add", f"{addr.host_ip}/{addr.link_prefix}", "dev", addr.host_veth)
        ip("link", "set", addr.host_veth, "up")
        ip("addr", "add", f"{addr.node_ip}/{addr.link_prefix}", "dev", addr.node_veth,
           netns=addr.netns)  # fmt: skip
        ip("link", "set", addr.node_veth, "up", netns=addr.netns)
        ip("link", "set", "lo", "up", netns=addr.netns)
        # the node forwards between its veth and the pods' bridge (its namespace only), and
        # bridged pod traffic passes its iptables so kube-proxy's DNAT is undone on replies
        in_netns(addr.netns, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
        in_netns(addr.netns, "sysctl", "-q", "-w", "net.bridge.bridge-nf-call-iptables=1")
        for cidr in (addr.pod_cidr, addr.service_cidr):
            ip("route", "add", cidr, "via", addr.node_ip, "dev", addr.host_veth)
        check_routes(addr)
    except BaseException:
        delete(addr)
        raise


def check_routes(addr: NodeAddresses) -> None:
    pod = addr.pod_cidr.replace(".0/24", ".2")
    service = addr.kubernetes_service_ip
    for address in (pod, service):
        device = route_device(address)
        if device != addr.host_veth:
            raise NodeNetworkError(
                f"ip route get {address} names {device or 'no device'}, not {addr.host_veth}: "
                "refusing to start a node whose traffic could leave this machine"
            )
    other = f"198.18.{(addr.number % 250) + 1}.77" if addr.number != 250 else "198.18.1.77"
    device = route_device(other)
    if device and not device.startswith("tkh"):
        raise NodeNetworkError(f"{other} routes out of {device}: the {GUARD} guard is missing")
    default = in_netns(addr.netns, "ip", "route", "show", "default")
    if default.strip():
        raise NodeNetworkError(f"the node's namespace has a default route: {default.strip()}")


def delete(addr: NodeAddresses) -> None:
    """Removing the namespace removes the veth pair and the host routes through it."""
    if (NETNS_DIR / addr.netns).exists():
        ip("netns", "del", addr.netns, check=False)
    ip("link", "del", addr.host_veth, check=False)


def pids(netns: str) -> list[int]:
    out = subprocess.run(
        ["ip", "netns", "pids", netns], capture_output=True, text=True, check=False
    )
    return [int(p) for p in out.stdout.split() if p.isdigit()]


def existing() -> list[int]:
    """Cluster numbers whose node namespace exists (running, or left by a killed run)."""
    numbers = []
    for path in NETNS_DIR.glob(f"{NETNS_PREFIX}*") if NETNS_DIR.exists() else []:
        suffix = path.name.removeprefix(NETNS_PREFIX)
        if suffix.isdigit():
            numbers.append(int(suffix))
    return sorted(numbers)
