"""A stand-in for Dapr's sidecar injector: a real mutating admission webhook on loopback.

The real injector adds a ``daprd`` container to pods annotated ``dapr.io/enabled: "true"``.
This one does the same through the real apiserver's admission chain, so the operator sees
pods shaped exactly as in a Dapr cluster (kwok then marks both containers ready).
"""

from __future__ import annotations

import base64
import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from harness import pki
from harness.kube import Cluster
from harness.ports import LOOPBACK

# Namespaces labelled with this get no sidecar: "Dapr is not installed here".
NO_DAPR_LABEL = "taskapi-test/no-dapr"
WEBHOOK_NAME = "test-dapr-sidecar-injector"

_DAPRD = {
    "name": "daprd",
    "image": "ghcr.io/dapr/daprd:1.17.0",
    "ports": [
        {"name": "dapr-http", "containerPort": 3500},
        {"name": "dapr-grpc", "containerPort": 50001},
        {"name": "dapr-public", "containerPort": 3501},
    ],
}


def _patch_for(pod: dict[str, Any]) -> list[dict[str, Any]]:
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    containers = (pod.get("spec") or {}).get("containers") or []
    if annotations.get("dapr.io/enabled") != "true" or any(
        c.get("name") == "daprd" for c in containers
    ):
        return []
    return [{"op": "add", "path": "/spec/containers/-", "value": _DAPRD}]


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        request = review["request"]
        response: dict[str, Any] = {"uid": request["uid"], "allowed": True}
        patch = _patch_for(request.get("object") or {})
        if patch:
            response["patchType"] = "JSONPatch"
            response["patch"] = base64.b64encode(json.dumps(patch).encode()).decode()
        body = json.dumps(
            {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def sidecar_injector(cluster: Cluster, workdir: Path) -> Iterator[None]:
    ca = pki.CertificateAuthority(workdir, "injector-ca")
    serving = ca.issue("dapr-injector", hosts=(LOOPBACK,), server=True)
    server = ThreadingHTTPServer((LOOPBACK, 0), _Handler)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(str(serving.cert), str(serving.key))
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    config = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": WEBHOOK_NAME},
        "webhooks": [
            {
                "name": "sidecar-injector.dapr.test",
                "clientConfig": {
                    "url": f"https://{LOOPBACK}:{server.server_address[1]}/mutate",
                    "caBundle": base64.b64encode(ca.pair.cert_pem()).decode(),
                },
                "rules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE"],
                        "resources": ["pods"],
                        "scope": "Namespaced",
                    }
                ],
                "objectSelector": {
                    "matchLabels": {"app.kubernetes.io/managed-by": "taskapi-operator"}
                },
                "namespaceSelector": {
                    "matchExpressions": [{"key": NO_DAPR_LABEL, "operator": "DoesNotExist"}]
                },
                "admissionReviewVersions": ["v1"],
                "sideEffects": "None",
                "failurePolicy": "Fail",
                "timeoutSeconds": 5,
            }
        ],
    }
    cluster.apply_yaml(json.dumps(config))
    try:
        yield
    finally:
        cluster.kubectl("delete", "mutatingwebhookconfiguration", WEBHOOK_NAME, check=False)
        server.shutdown()
        server.server_close()
