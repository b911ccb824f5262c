"""A real local Kubernetes control plane: etcd, kube-apiserver (RBAC on), and on request
kube-controller-manager, kube-scheduler and a node: the fake one (kwok, on loopback) or the
real one (harness.node: kubelet + containerd in a network namespace of its own).

On the fake node pods of a Deployment become Running/Ready without a kubelet: kwok plays the
node and gives pods IPs from a 127.0.0.0/8 CIDR, so anything that dials a pod IP stays on this
machine. On the real node pods run, with addresses from 198.18.0.0/15 routed into the node's
veth (harness.node_network); the apiserver then listens on the veth's host end.
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import yaml

from harness import binaries, cluster_dns, kubeconfig, node, node_images, node_network, numbers, pki
from harness.lifecycle import Started
from harness.ports import LOOPBACK, free_port
from harness.process import Process
from harness.repo import REPO
from harness.waiting import eventually

# Pod IPs handed out by kwok: inside loopback, by rule (see DESIGN.md, "Network rule"). Each
# running cluster claims its own 127.N.0.0/16 (harness.numbers), so clusters of concurrent
# runs on one machine never hand out the same pod IP (pods' processes listen on it).
# ClusterIPs are allocated from here (65k addresses: scale runs need thousands of Services);
# nothing ever connects to them, so every cluster may share the range.
SERVICE_CIDR = "127.2.0.0/16"
FAKE_NODE = "kwok-node-0"
# Stage files of our own, besides kwok's (tools/binaries/kwok/stages: readiness true to the
# containers after the node-lifecycle controller marked pods NotReady).
OWN_KWOK_STAGES = REPO / "tools" / "binaries" / "kwok" / "stages"

# Settings that hold scale (thousands of pods on one fake node, on 2 loaded cores):
# - controller-manager and scheduler default to 20 (50) API requests/s: with N Deployments
#   applied at once that, not the operator, would set the pace; raised well above need.
# - the node-lifecycle controller marks the node NotReady (and every pod on it Ready=False)
#   when the node Lease is not renewed within its grace period; kwok renews it every ~10 s,
#   but a load spike can starve it. 120 s tolerates that; nothing here dies silently.
# - kwok plays 4 pod stages in parallel by default: too few for a burst of thousands of pods.
CLIENT_QPS, CLIENT_BURST = 400, 800
NODE_MONITOR_GRACE = "120s"
CONTROLLER_SYNCS = 20
_KWOK_CONFIG = """\
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokConfiguration
options:  # kwok applies no defaults to a file's options: every one it needs is spelled out
  podPlayStageParallelism: 16
  nodePlayStageParallelism: 4
  nodeLeaseParallelism: 4
  nodeLeaseDurationSeconds: 40
  podsOnNodeSyncParallelism: 1
  enablePodsOnNodeSyncListPager: true
  enablePodsOnNodeSyncStreamWatch: false
  enableDebuggingHandlers: true
  enableProfilingHandler: false
  enableContentionProfiling: false
"""

_KWOK_CONTROLLERS = ",".join(
    (
        "*",
        "-endpoints-controller",
        "-endpointslice-controller",
        "-endpointslice-mirroring-controller",
    )
)

_AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:{every_request_of}
  - level: Metadata
    verbs: ["create", "update", "patch", "delete", "deletecollection"]
  - level: None
"""


@dataclass(frozen=True)
class ClusterOptions:
    """What to start besides etcd + kube-apiserver."""

    workloads: bool = True  # controller-manager + scheduler + kwok + one fake node
    audit: bool = True  # log every write request (tests count them)
    # The apiserver reaches a Service-referenced webhook through the Service's EndpointSlice
    # (--enable-aggregator-routing) instead of its ClusterIP, which nothing here serves. Dapr's
    # sidecar injector needs it: its serving certificate names only its Service's DNS name.
    endpoint_routing: bool = False
    # The ServiceAccount admission plugin, on in real clusters: pods get serviceAccountName
    # "default" (and its token volume) before mutating webhooks see them. Dapr's injector
    # needs it: the token volume it adds is invalid in a pod without a ServiceAccount.
    service_account_admission: bool = False
    # Users whose every request (reads and watches too) is audited, not only their writes:
    # the operator benchmark counts the operator's API requests by verb this way.
    audit_all_requests_of: tuple[str, ...] = ()
    # kube-apiserver's /debug/pprof (a benchmark's CPU profile of the apiserver); off as in
    # hardened clusters otherwise.
    profiling: bool = False
    # The real node instead of kwok's fake one (with workloads): a kubelet, containerd, the CNI
    # bridge, kube-proxy and CoreDNS, running this project's images and Dapr's as pods. Turns
    # on what a real cluster has: ServiceAccount admission and the Node authorizer.
    real_node: bool = False
    dapr_version: str = "1.17.0"  # the tag of the Dapr images loaded into the real node


class KubectlError(subprocess.CalledProcessError):
    """A failed kubectl whose message carries kubectl's own words (stderr), not only argv."""

    def __str__(self) -> str:
        return f"{super().__str__()}: {(self.stderr or '').strip()[-2000:]}"


class Cluster(Started):
    """Start with ``Cluster(workdir).start()``; ``stop()`` leaves no process behind."""

    def __init__(self, workdir: Path, options: ClusterOptions | None = None) -> None:
        self.workdir = workdir
        self.options = options or ClusterOptions()
        self.pki_dir = workdir / "pki"
        self.logs = workdir / "logs"
        self.apiserver_port = free_port()
        self.api_url = f"https://{LOOPBACK}:{self.apiserver_port}"
        self.audit_log: Path | None = workdir / "logs" / "audit.log" if self.options.audit else None
        self._procs: list[Process] = []
        self._cidr_lock: int | None = None
        self.pod_cidr = ""
        self.number = 0
        self.addresses: node_network.NodeAddresses | None = None
        self.node: node.RealNode | None = None
        self.phase_seconds: dict[str, float] = {}
        self.serving_ca: pki.CertificateAuthority
        self.client_ca: pki.CertificateAuthority
        self.kubeconfig: Path

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> Self:
        try:
            self.pod_cidr = self._claim_pod_cidr()
            if self.options.real_node:
                self._start_node_network()
            self._start_pki()
            self._start_etcd()
            self._start_apiserver()
            if self.options.workloads:
                self._start_controller_manager()
                self._start_scheduler()
                if self.options.real_node:
                    self._start_real_node()
                else:
                    self._start_kwok()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.node is not None:
            self.node.stop()
            self.node = None
        for proc in reversed(self._procs):
            proc.stop()
        self._procs.clear()
        if self.addresses is not None:
            node.teardown(self.addresses, f"/{self.addresses.netns}")
            self.addresses = None
        if self._cidr_lock is not None:
            os.close(self._cidr_lock)  # releases the claim on the pod CIDR
            self._cidr_lock = None

    def _claim_pod_cidr(self) -> str:
        """Hold an exclusive lock on one cluster number for as long as this cluster runs."""
        self.number, self._cidr_lock = numbers.claim()
        return f"127.{self.number}.0.0/16"

    # -- users ---------------------------------------------------------------------------

    def user_kubeconfig(self, user: str, groups: list[str] | tuple[str, ...] = ()) -> Path:
        """A kubeconfig for a client-certificate user (CN=user, O=groups): RBAC applies."""
        pair = self.client_ca.issue(user, groups=tuple(groups))
        return kubeconfig.write(
            self.workdir / "kubeconfigs" / f"{user.replace(':', '_')}.kubeconfig",
            server=self.api_url,
            ca_pem=self.serving_ca.pair.cert_pem(),
            user=user,
            client_cert_pem=pair.cert_pem(),
            client_key_pem=pair.key_pem(),
        )

    def serviceaccount_kubeconfig(self, namespace: str, name: str, hours: int = 2) -> Path:
        """A kubeconfig holding a real ServiceAccount token from the TokenRequest API."""
        request = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"expirationSeconds": hours * 3600},
        }
        reply = self.request(
            "POST",
            f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token",
            request,
        )
        token = reply["status"]["token"]
        return kubeconfig.write(
            self.workdir / "kubeconfigs" / f"sa-{namespace}-{name}.kubeconfig",
            server=self.api_url,
            ca_pem=self.serving_ca.pair.cert_pem(),
            user=f"system:serviceaccount:{namespace}:{name}",
            token=token,
            namespace=namespace,
        )

    # -- clients -------------------------------------------------------------------------

    @property
    def env(self) -> dict[str, str]:
        """This process's environment with KUBECONFIG pointing at the admin user, and kubectl's
        discovery cache kept per cluster (it is keyed by host:port, which a later cluster of
        another run may reuse with other APIs)."""
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig), "KUBECACHEDIR": self.cache_dir}

    @property
    def cache_dir(self) -> str:
        return str(self.workdir / "kubectl-cache")

    def kubectl(
        self,
        *args: str,
        check: bool = True,
        input: str | None = None,
        kubeconfig_path: Path | None = None,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        """Run the real kubectl against this cluster (admin unless another kubeconfig)."""
        argv = [
            "kubectl",
            f"--kubeconfig={kubeconfig_path or self.kubeconfig}",
            f"--cache-dir={self.cache_dir}",
            *args,
        ]
        result = subprocess.run(
            argv, input=input, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and result.returncode != 0:
            raise KubectlError(result.returncode, argv, result.stdout, result.stderr)
        return result

    def api_client(self, kubeconfig_path: Path | None = None) -> Any:
        """A kubernetes.client.ApiClient for this cluster (admin unless another kubeconfig)."""
        from kubernetes import config

        path = str(kubeconfig_path or self.kubeconfig)
        return config.new_client_from_config(config_file=path)  # type: ignore[no-untyped-call]

    def request(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        """One admin REST call, for the harness's own bootstrapping."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(  # noqa: S310 - https to our own loopback apiserver
            self.api_url + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        with urllib.request.urlopen(req, context=self._admin_tls, timeout=30) as resp:  # noqa: S310
            return json.loads(resp.read() or b"null")

    def write_requests(self) -> list[dict[str, Any]]:
        """Write requests the apiserver has audited so far (needs ClusterOptions.audit)."""
        if self.audit_log is None or not self.audit_log.exists():
            return []
        events = []
        for line in self.audit_log.read_text().splitlines():
            if line.strip():
                events.append(json.loads(line))
        return events

    # -- components ----------------------------------------------------------------------

    def _start_pki(self) -> None:
        self.serving_ca = pki.CertificateAuthority(self.pki_dir, "serving-ca")
        self.client_ca = pki.CertificateAuthority(self.pki_dir, "client-ca")
        hosts: tuple[str, ...] = (LOOPBACK, "localhost")
        if self.addresses is not None:  # as pods reach it: the kubernetes Service, by IP and name
            names = ("kubernetes", "kubernetes.default", "kubernetes.default.svc")
            hosts += (self.addresses.host_ip, self.addresses.kubernetes_service_ip, *names)
            hosts += (f"kubernetes.default.svc.{node.CLUSTER_DOMAIN}",)
        self.serving = self.serving_ca.issue("kube-apiserver", hosts=hosts, server=True)
        self.sa_keys = pki.service_account_keys(self.pki_dir)
        admin = self.client_ca.issue("taskapi-admin", groups=("system:masters",))
        self.kubeconfig = kubeconfig.write(
            self.workdir / "kubeconfig",
            server=self.api_url,
            ca_pem=self.serving_ca.pair.cert_pem(),
            user="taskapi-admin",
            client_cert_pem=admin.cert_pem(),
            client_key_pem=admin.key_pem(),
        )
        tls = ssl.create_default_context(cafile=str(self.serving_ca.pair.cert))
        tls.load_cert_chain(str(admin.cert), str(admin.key))
        self._admin_tls = tls

    def _spawn(self, name: str, argv: list[str], env: Mapping[str, str] | None = None) -> Process:
        proc = Process(name, argv, self.logs / f"{name}.log", env=env).start()
        self._procs.append(proc)
        return proc

    def _start_etcd(self) -> None:
        client, peer = free_port(), free_port()
        client_url, peer_url = f"http://{LOOPBACK}:{client}", f"http://{LOOPBACK}:{peer}"
        self.etcd_url = client_url
        proc = self._spawn(
            "etcd",
            [
                str(binaries.find("etcd")),
                "--name=default",
                f"--data-dir={self.workdir / 'etcd'}",
                f"--listen-client-urls={client_url}",
                f"--advertise-client-urls={client_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=default={peer_url}",
                f"--listen-metrics-urls=http://{LOOPBACK}:{free_port()}",
                "--unsafe-no-fsync=true",
                "--log-level=warn",
            ],
        )
        proc.wait_until(lambda: _http_ok(f"{client_url}/health"), 30, "healthy")

    @property
    def service_cidr(self) -> str:
        return self.addresses.service_cidr if self.addresses is not None else SERVICE_CIDR

    def _start_apiserver(self) -> None:
        address = self.addresses.host_ip if self.addresses is not None else LOOPBACK
        args = [
            str(binaries.find("kube-apiserver")),
            f"--etcd-servers={self.etcd_url}",
            f"--bind-address={address}",
            f"--advertise-address={address}",
            f"--secure-port={self.apiserver_port}",
            f"--tls-cert-file={self.serving.cert}",
            f"--tls-private-key-file={self.serving.key}",
            f"--client-ca-file={self.client_ca.pair.cert}",
            f"--service-cluster-ip-range={self.service_cidr}",
            "--authorization-mode=Node,RBAC" if self.addresses else "--authorization-mode=RBAC",
            "--allow-privileged=true",
            f"--service-account-issuer=https://{LOOPBACK}:{self.apiserver_port}",
            f"--service-account-key-file={self.sa_keys.cert}",
            f"--service-account-signing-key-file={self.sa_keys.key}",
            f"--cert-dir={self.workdir / 'apiserver-certs'}",
            f"--profiling={str(self.options.profiling).lower()}",
            "--v=1",
        ]
        if self.addresses is not None:
            # the kubelet is dialled by the address it reports, never a name to resolve
            kubelet_client = self.client_ca.issue("kube-apiserver-kubelet-client",
                                                  groups=("system:masters",))  # fmt: skip
            args += [
                "--kubelet-preferred-address-types=InternalIP",
                f"--kubelet-client-certificate={kubelet_client.cert}",
                f"--kubelet-client-key={kubelet_client.key}",
                "--endpoint-reconciler-type=lease",
            ]
        elif not self.options.service_account_admission:
            # as envtest: pods need no pre-existing ServiceAccount token machinery
            args.append("--disable-admission-plugins=ServiceAccount")
        if self.options.endpoint_routing:
            args.append("--enable-aggregator-routing=true")
        if self.audit_log is not None:
            policy = self.workdir / "audit-policy.yaml"
            users = self.options.audit_all_requests_of
            every = f"\n  - level: Metadata\n    users: {json.dumps(list(users))}" if users else ""
            policy.write_text(_AUDIT_POLICY.format(every_request_of=every))
            args += [
                f"--audit-policy-file={policy}",
                f"--audit-log-path={self.audit_log}",
                "--audit-log-format=json",
                "--audit-log-mode=blocking",
                # One file for the whole run: kube-apiserver 1.34 hands its default (0) to
                # lumberjack, which reads 0 as 100 MB; a run with 10,000 pods rotated it, and
                # readers that remember an offset in it (tools/bench/bench_operator.py) then
                # counted nothing. (Newer apiservers read 0 as "never rotate".)
                "--audit-log-maxsize=1000000",
            ]
        proc = self._spawn("kube-apiserver", args)
        proc.wait_until(lambda: self._get_ok("/readyz"), 90, "ready (/readyz)")
        proc.wait_until(lambda: self._get_ok("/api/v1/namespaces/default"), 30, "serving")

    def _component_kubeconfig(self, name: str) -> Path:
        # controllers authenticate as system:masters users of their own, like kubeadm's
        # admin-equivalent component identities (RBAC still governs everyone else)
        pair = self.client_ca.issue(f"system:{name}", groups=("system:masters",))
        return kubeconfig.write(
            self.workdir / "kubeconfigs" / f"{name}.kubeconfig",
            server=self.api_url,
            ca_pem=self.serving_ca.pair.cert_pem(),
            user=f"system:{name}",
            client_cert_pem=pair.cert_pem(),
            client_key_pem=pair.key_pem(),
        )

    def _start_controller(self, name: str, *extra: str) -> None:
        """kube-controller-manager or kube-scheduler: same identity, serving and health."""
        kc = self._component_kubeconfig(name)
        port = free_port()
        proc = self._spawn(
            name,
            [
                str(binaries.find(name)),
                f"--kubeconfig={kc}",
                f"--authentication-kubeconfig={kc}",
                f"--authorization-kubeconfig={kc}",
                "--leader-elect=false",
                f"--bind-address={LOOPBACK}",
                f"--secure-port={port}",
                "--v=1",
                *extra,
            ],
        )
        proc.wait_until(lambda: _https_ok(f"https://{LOOPBACK}:{port}/healthz"), 60, "healthy")

    def _start_controller_manager(self) -> None:
        # kwok's pods have loopback IPs (the pod CIDR is 127.N.0.0/16, so nothing that dials one
        # leaves the machine), which Endpoints and EndpointSlices refuse ("may not be in the
        # loopback range"): there the endpoints controllers would only retry refused updates
        # and post Warning Events about them, ~16 writes per Service that no real cluster
        # makes (8,000 refused updates and 8,800 Event writes for 1000 Services in the
        # operator benchmark). The real node's pods have routable addresses: all run there.
        only = [] if self.addresses is not None else [f"--controllers={_KWOK_CONTROLLERS}"]
        self._start_controller(
            "kube-controller-manager",
            *only,
            f"--root-ca-file={self.serving_ca.pair.cert}",
            f"--service-account-private-key-file={self.sa_keys.key}",
            f"--service-cluster-ip-range={self.service_cidr}",
            "--use-service-account-credentials=false",
            "--concurrent-gc-syncs=5",
            f"--kube-api-qps={CLIENT_QPS}",
            f"--kube-api-burst={CLIENT_BURST}",
            f"--node-monitor-grace-period={NODE_MONITOR_GRACE}",
            f"--concurrent-deployment-syncs={CONTROLLER_SYNCS}",
            f"--concurrent-replicaset-syncs={CONTROLLER_SYNCS}",
            f"--concurrent-service-endpoint-syncs={CONTROLLER_SYNCS}",
        )

    def _start_scheduler(self) -> None:
        # deprecated flags, still honoured without a --config file
        self._start_controller(
            "kube-scheduler", f"--kube-api-qps={CLIENT_QPS}", f"--kube-api-burst={CLIENT_BURST}"
        )

    def _start_node_network(self) -> None:
        reason = node.unavailable_reason()
        if reason:
            raise node.NodeError(f"the real node cannot run here: {reason}")
        began = time.monotonic()
        for stale in node_network.existing():  # left by a killed run: its lock is free
            if stale == self.number or numbers.is_free(stale):
                node.reap(stale)
        self.addresses = node_network.NodeAddresses(self.number)
        node_network.create(self.addresses)
        self.api_url = f"https://{self.addresses.host_ip}:{self.apiserver_port}"
        self.phase_seconds["network"] = time.monotonic() - began

    def _start_real_node(self) -> None:
        assert self.addresses is not None
        node_began = time.monotonic()
        images = node_images.ensure(self.options.dapr_version)
        self.phase_seconds["images"] = images.seconds
        name = self.addresses.netns
        pair = self.client_ca.issue(f"system:node:{name}", groups=("system:nodes",))
        kubelet_kc = kubeconfig.write(
            self.workdir / "kubeconfigs" / "kubelet.kubeconfig",
            server=self.api_url,
            ca_pem=self.serving_ca.pair.cert_pem(),
            user=f"system:node:{name}",
            client_cert_pem=pair.cert_pem(),
            client_key_pem=pair.key_pem(),
        )
        proxy = self.client_ca.issue("system:kube-proxy")  # bound to system:node-proxier
        proxy_kc = kubeconfig.write(
            self.workdir / "kubeconfigs" / "kube-proxy.kubeconfig",
            server=self.api_url,
            ca_pem=self.serving_ca.pair.cert_pem(),
            user="system:kube-proxy",
            client_cert_pem=proxy.cert_pem(),
            client_key_pem=proxy.key_pem(),
        )
        self.node = node.RealNode(
            self.addresses,
            self.workdir / "node",
            kubelet_kubeconfig=kubelet_kc,
            kube_proxy_kubeconfig=proxy_kc,
            client_ca=self.client_ca.pair.cert,
            images=[images.archive],
            is_ready=lambda: self._node_ready(name),
        ).start()
        self.phase_seconds.update(self.node.phase_seconds)
        began = time.monotonic()
        cluster_dns.install(self, self.addresses)
        self.phase_seconds["cluster DNS"] = time.monotonic() - began
        self.phase_seconds["node total"] = time.monotonic() - node_began

    @property
    def node_name(self) -> str:
        return self.addresses.netns if self.addresses is not None else FAKE_NODE

    def _start_kwok(self) -> None:
        kc = self._component_kubeconfig("kwok")
        config = self.workdir / "kwok.yaml"
        config.write_text(_KWOK_CONFIG)
        files = [config, *binaries.kwok_stages(), *sorted(OWN_KWOK_STAGES.glob("*.yaml"))]
        stages = ",".join(str(p) for p in files)
        proc = self._spawn(
            "kwok",
            [
                str(binaries.find("kwok")),
                f"--kubeconfig={kc}",
                f"--config={stages}",
                "--manage-all-nodes=true",
                f"--cidr={self.pod_cidr}",
                f"--node-ip={LOOPBACK}",
                f"--server-address={LOOPBACK}:{free_port()}",
            ],
        )
        fake = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": FAKE_NODE,
                "annotations": {"kwok.x-k8s.io/node": "fake"},
                "labels": {"type": "kwok", "kubernetes.io/hostname": FAKE_NODE},
            },
            "spec": {},
        }
        self.request("POST", "/api/v1/nodes", fake)
        proc.wait_until(
            lambda: self._node_ready(FAKE_NODE), 60, f"managing a Ready node {FAKE_NODE}"
        )

    # -- probes --------------------------------------------------------------------------

    def _get_ok(self, path: str) -> bool:
        req = urllib.request.Request(self.api_url + path)  # noqa: S310
        try:
            with urllib.request.urlopen(req, context=self._admin_tls, timeout=5) as resp:  # noqa: S310
                return bool(resp.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def _node_ready(self, name: str) -> bool:
        try:
            found = self.request("GET", f"/api/v1/nodes/{name}")
        except urllib.error.HTTPError:
            return False
        conditions = found.get("status", {}).get("conditions") or []
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

    def install_crds(self, paths: list[Path], timeout: float = 60) -> None:
        """Apply CRD files and wait until every one of them is Established (served)."""
        for path in paths:
            self.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(path))
        names = [
            doc["metadata"]["name"]
            for path in paths
            for doc in self.load_yaml(path)
            if doc.get("kind") == "CustomResourceDefinition"
        ]
        self.wait_established(names, timeout)

    def wait_established(self, crds: list[str], timeout: float = 60) -> None:
        """Until every CRD named is Established. Polled, not ``kubectl wait``: kubectl 1.32's
        wait fails at once ("accessor error: <nil> is of the type <nil>") on a CRD whose
        status has no conditions yet, which a loaded apiserver shows for a moment."""

        def established() -> bool:
            for name in crds:
                conditions = (self.get_json("crd", name).get("status") or {}).get("conditions")
                if not any(
                    c.get("type") == "Established" and c.get("status") == "True"
                    for c in conditions or []
                ):
                    return False
            return True

        self.wait_for(established, timeout, f"CRDs {', '.join(crds)} Established")

    def apply_yaml(self, text: str, namespace: str | None = None) -> None:
        """kubectl apply (server-side) of a multi-document YAML string."""
        args = ["apply", "--server-side", "--force-conflicts", "-f", "-"]
        if namespace:
            args += ["-n", namespace]
        self.kubectl(*args, input=text)

    def wait_for(self, predicate: Any, timeout: float = 60, what: str = "condition") -> Any:
        """Poll ``predicate`` (returns a truthy value when done) within a bounded time."""
        return eventually(predicate, timeout, what)

    def wait_for_default_serviceaccount(self, namespace: str, timeout: float = 60) -> None:
        """Pods are admitted once the namespace's ``default`` ServiceAccount exists."""
        self.wait_for(
            lambda: (
                self.kubectl(
                    "get", "serviceaccount", "default", "-n", namespace, check=False
                ).returncode
                == 0
            ),
            timeout,
            f"ServiceAccount {namespace}/default",
        )

    def get_json(self, *args: str) -> Any:
        """``kubectl get ... -o json`` parsed."""
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)

    @staticmethod
    def load_yaml(path: Path) -> list[dict[str, Any]]:
        return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - loopback only
        return bool(resp.status == 200)


def _https_ok(url: str) -> bool:
    # the components' self-signed serving certs; /healthz is always-allowed and on loopback
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with urllib.request.urlopen(url, context=ctx, timeout=2) as resp:  # noqa: S310
        return bool(resp.status == 200)
