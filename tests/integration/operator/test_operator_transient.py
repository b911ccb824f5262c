"""Transient API errors are retried, not reported: while the apiserver answers the operator's
writes with 429 and 500 (a real admission webhook refusing them with those codes), no
ApplyFailed appears, and the change lands by the retry's backoff, long before a resync."""

from __future__ import annotations

import base64
import itertools
import json
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from harness import binaries, pki
from harness.kube import Cluster
from harness.operator_stack import (
    CRD,
    apply,
    condition,
    create_secrets,
    get_json,
    running_operator,
    sample,
    wait_for,
)
from harness.ports import LOOPBACK, free_port

pytestmark = pytest.mark.integration
USER = "throttled-operator"
NAME, NS = "burst", "burst"


class _Refuser(BaseHTTPRequestHandler):
    """Admission webhook: while ``failing``, refuses with 429 and 500 in turn."""

    failing: ClassVar[threading.Event] = threading.Event()
    codes: ClassVar[Iterator[int]] = itertools.cycle((429, 500))
    refused: ClassVar[list[int]] = []

    def do_POST(self) -> None:
        review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        response: dict[str, Any] = {"uid": review["request"]["uid"], "allowed": True}
        if self.failing.is_set():
            code = next(self.codes)
            self.refused.append(code)
            response = {
                "uid": review["request"]["uid"],
                "allowed": False,
                "status": {
                    "code": code,
                    "message": f"injected {code} (test)",
                    "reason": "TooManyRequests" if code == 429 else "InternalError",
                },
            }
        body = json.dumps(
            {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:  # quiet
        return


@pytest.fixture(scope="module")
def own_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A cluster of its own: no other operator may reconcile (and hide) the TaskApi here."""
    workdir = tmp_path_factory.mktemp("transient-cluster")
    with Cluster(workdir / "cluster") as cluster:
        cluster.install_crds([*binaries.dapr_crds(), CRD])
        yield cluster


@pytest.fixture
def refuser(own_cluster: Cluster, tmp_path: Path) -> Iterator[type[_Refuser]]:
    """The webhook server on loopback, registered for the operator's writes only."""
    ca = pki.CertificateAuthority(tmp_path / "webhook-pki", "webhook-ca")
    pair = ca.issue("webhook", hosts=(LOOPBACK,), server=True)
    port = free_port()
    server = ThreadingHTTPServer((LOOPBACK, port), _Refuser)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pair.cert, pair.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    config = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "refuse-operator-writes"},
        "webhooks": [
            {
                "name": "refuse.taskapi.test",
                "clientConfig": {
                    "url": f"https://{LOOPBACK}:{port}/",
                    "caBundle": base64.b64encode(ca.pair.cert_pem()).decode(),
                },
                "rules": [
                    {
                        "apiGroups": ["*"],
                        "apiVersions": ["*"],
                        "operations": ["CREATE", "UPDATE", "DELETE"],
                        "resources": ["*", "*/status"],
                        "scope": "Namespaced",
                    }
                ],
                "matchConditions": [
                    {
                        "name": "operator-only",
                        "expression": f"request.userInfo.username == '{USER}'",
                    }
                ],
                "failurePolicy": "Fail",
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
                "timeoutSeconds": 5,
            }
        ],
    }
    own_cluster.kubectl("apply", "-f", "-", input=json.dumps(config))
    try:
        yield _Refuser
    finally:
        _Refuser.failing.clear()
        own_cluster.kubectl(
            "delete", "validatingwebhookconfiguration", "refuse-operator-writes", check=False
        )
        server.shutdown()
        server.server_close()


def test_a_burst_of_429s_and_500s_is_retried_without_apply_failed(
    own_cluster: Cluster, refuser: type[_Refuser], tmp_path: Path
) -> None:
    cluster = own_cluster
    cluster.kubectl("create", "namespace", NS)
    create_secrets(cluster, NS)
    settings = {
        "TASKAPI_OPERATOR_RESYNC_INTERVAL_SECONDS": "600",  # recovery must not wait for it
        "TASKAPI_OPERATOR_RETRY_BASE_SECONDS": "0.5",
        "TASKAPI_OPERATOR_RETRY_MAX_SECONDS": "4",
    }
    with running_operator(cluster, tmp_path, user=USER, env=settings) as op:
        apply(cluster, NS, sample(NAME, replicas=0))
        wait_for(lambda: _ready(cluster) == ("True", "Ready"), 60, "Ready=True", op)

        refuser.failing.set()
        patch = {"spec": {"replicas": 1, "image": "ghcr.io/example/taskapi:0.3.0"}}
        cluster.kubectl("patch", "taskapi", NAME, "-n", NS, "--type=merge", "-p", json.dumps(patch))
        seen = _watch_reasons(cluster, seconds=8)
        assert {429, 500} <= set(refuser.refused), refuser.refused  # the burst happened
        assert seen == {"Ready"}  # previous conditions kept: no ApplyFailed, no flap
        assert _image(cluster) != "ghcr.io/example/taskapi:0.3.0"  # nothing got through

        refuser.failing.clear()
        wait_for(
            lambda: _image(cluster) == "ghcr.io/example/taskapi:0.3.0",
            30,
            "the change applied by a retry (resync is 600 s)",
            op,
        )
        wait_for(lambda: _observed(cluster), 30, "status follows the new generation", op)
        events = cluster.kubectl("get", "events", "-n", NS, "-o", "json").stdout
        reasons = {e["reason"] for e in json.loads(events)["items"]}
        assert "ApplyFailed" not in reasons
        log = op.log_text()
    assert "Reconcile will retry" in log
    assert "HTTP 429" in log
    assert "HTTP 500" in log


def _ready(cluster: Cluster) -> tuple[str, str]:
    ready = condition(get_json(cluster, "taskapi", NAME, "-n", NS), "Ready")
    return (str(ready.get("status")), str(ready.get("reason")))


def _image(cluster: Cluster) -> str:
    found = get_json(cluster, "deployment", NAME, "-n", NS)
    return str(found["spec"]["template"]["spec"]["containers"][0]["image"])


def _observed(cluster: Cluster) -> bool:
    found: dict[str, Any] = get_json(cluster, "taskapi", NAME, "-n", NS)
    return bool(found["status"]["observedGeneration"] == found["metadata"]["generation"])


def _watch_reasons(cluster: Cluster, seconds: float) -> set[str]:
    """Ready reasons seen while polling for ``seconds`` (bounded: one poll per 0.5 s)."""
    seen = set()
    deadline = time.monotonic() + seconds
    for _ in range(int(seconds * 2) + 1):
        if time.monotonic() > deadline:
            break
        seen.add(_ready(cluster)[1])
        time.sleep(0.5)
    return seen
