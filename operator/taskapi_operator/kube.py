"""The operator's only Kubernetes I/O: server-side apply of children, reads, status patches."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import kubernetes
from kubernetes.client import ApiClient
from kubernetes.utils import parse_quantity

from taskapi_operator import metrics, names
from taskapi_operator.leadership import LeaseConflictError
from taskapi_operator.settings import OperatorSettings

# (apiVersion, kind) -> plural; every kind the operator reads or writes is namespaced.
PLURALS: dict[tuple[str, str], str] = {
    ("v1", "ServiceAccount"): "serviceaccounts",
    ("v1", "Service"): "services",
    ("v1", "Pod"): "pods",
    ("v1", "Secret"): "secrets",
    ("v1", "Event"): "events",
    ("apps/v1", "Deployment"): "deployments",
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): "rolebindings",
    (names.DAPR_COMPONENT_API_VERSION, "Component"): "components",
    (names.API_VERSION, names.KIND): names.PLURAL,
    ("coordination.k8s.io/v1", "Lease"): "leases",  # leader election (leadership.py)
}
_QUANTITY_PARENTS = frozenset({"requests", "limits"})
_QUANTITY = "<quantity>"  # marks a scalar found in a requests/limits map


class KubeError(Exception):
    """A failed API call, carrying the apiserver's own message (it is usually actionable)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


@dataclass
class Counters:
    """Requests issued, by kind: tests assert a steady state issues no writes."""

    reads: int = 0
    writes: int = 0


def resource_path(
    api_version: str,
    kind: str,
    namespace: str,
    name: str | None = None,
    subresource: str | None = None,
) -> str:
    plural = PLURALS[(api_version, kind)]
    prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    path = f"{prefix}/namespaces/{namespace}/{plural}"
    if name:
        path += f"/{name}"
    if subresource:
        path += f"/{subresource}"
    return path


def _same_scalar(desired: Any, live: Any, parent: str | None) -> bool:
    if desired == live:
        return True
    if parent == _QUANTITY and isinstance(desired, str | int) and live is not None:
        # The apiserver canonicalises quantities ("1000m" comes back as "1").
        try:
            return bool(parse_quantity(desired) == parse_quantity(live))  # type: ignore[no-untyped-call]
        except ValueError:
            return False
    return False


def matches(desired: Any, live: Any, parent: str | None = None) -> bool:
    """True when every field we set has the same value live (defaults added by others are fine)."""
    if isinstance(desired, Mapping):
        if not isinstance(live, Mapping):
            return False
        quantities = parent in _QUANTITY_PARENTS
        return all(
            matches(v, live.get(k), _QUANTITY if quantities else k) for k, v in desired.items()
        )
    if isinstance(desired, list):
        if not isinstance(live, list) or len(desired) != len(live):
            return False
        return all(matches(d, lv, parent) for d, lv in zip(desired, live, strict=True))
    return _same_scalar(desired, live, parent)


def load_api_client(settings: OperatorSettings) -> ApiClient:
    """Admin client from in-cluster config, else the kubeconfig (settings, $KUBECONFIG, ~)."""
    # The kubernetes package has no annotations on its config loaders.
    config: Any = kubernetes.config
    if settings.kubeconfig:
        client: ApiClient = config.new_client_from_config(config_file=settings.kubeconfig)
        return client
    try:
        configuration = kubernetes.client.Configuration()
        config.load_incluster_config(client_configuration=configuration)
        return ApiClient(configuration)
    except config.ConfigException:
        fallback: ApiClient = config.new_client_from_config()
        return fallback


class Kube:
    """Async facade over the (blocking) Kubernetes client; one field manager for every write."""

    def __init__(self, api: ApiClient, field_manager: str, timeout: float) -> None:
        self._api = api
        self._field_manager = field_manager
        self._timeout = timeout
        self.counters = Counters()

    def _call(
        self,
        method: str,
        path: str,
        query: Sequence[tuple[str, str]] = (),
        body: Any = None,
        content_type: str | None = None,
    ) -> Any:
        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        _, url, headers, body, _ = self._api.param_serialize(
            method=method,
            resource_path=path,
            query_params=list(query),
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        response = self._api.call_api(
            method, url, header_params=headers, body=body, _request_timeout=self._timeout
        )
        data: bytes = response.read()  # type: ignore[no-untyped-call]
        if response.status >= 400:
            try:
                message = json.loads(data).get("message", "")
            except ValueError:
                message = data.decode(errors="replace")[:500]
            raise KubeError(response.status, message)
        return json.loads(data) if data else None

    async def _request(self, method: str, path: str, *, count: bool = True, **kwargs: Any) -> Any:
        if not count:
            pass  # the Lease: election traffic, not reconcile I/O
        elif method == "GET":
            self.counters.reads += 1
        else:
            self.counters.writes += 1
        metrics.count_api_request(method, path)  # OP-HA hook: API requests by verb
        return await asyncio.to_thread(self._call, method, path, **kwargs)

    async def get(
        self, api_version: str, kind: str, namespace: str, name: str
    ) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = await self._request(
                "GET", resource_path(api_version, kind, namespace, name)
            )
        except KubeError as e:
            if e.status == 404:
                return None
            raise
        return found

    async def list(
        self, api_version: str, kind: str, namespace: str, selector: Mapping[str, str]
    ) -> list[dict[str, Any]]:
        query = [("labelSelector", names.label_selector(dict(selector)))]
        found = await self._request("GET", resource_path(api_version, kind, namespace), query=query)
        items: list[dict[str, Any]] = found.get("items") or []
        return items

    async def apply(self, manifest: Mapping[str, Any]) -> bool:
        """Server-side apply unless the live object already matches; True when it wrote."""
        meta = manifest["metadata"]
        api_version, kind = manifest["apiVersion"], manifest["kind"]
        live = await self.get(api_version, kind, meta["namespace"], meta["name"])
        if live is not None and matches(manifest, live):
            return False
        path = resource_path(api_version, kind, meta["namespace"], meta["name"])
        query = [("fieldManager", self._field_manager), ("force", "true")]
        await self._request(
            "PATCH",
            path,
            query=query,
            body=dict(manifest),
            content_type="application/apply-patch+yaml",
        )
        return True

    async def patch_status(
        self, namespace: str, name: str, patch: Mapping[str, Any]
    ) -> dict[str, Any]:
        path = resource_path(names.API_VERSION, names.KIND, namespace, name, "status")
        updated: dict[str, Any] = await self._request(
            "PATCH", path, body={"status": dict(patch)}, content_type="application/merge-patch+json"
        )
        return updated

    async def post_event(
        self, involved: Mapping[str, Any], kind: str, reason: str, message: str, now: str
    ) -> None:
        """A core/v1 Event about ``involved`` (shown by kubectl describe and get events)."""
        meta = involved["metadata"]
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
            "involvedObject": {
                "apiVersion": involved.get("apiVersion", names.API_VERSION),
                "kind": involved.get("kind", names.KIND),
                "name": meta["name"],
                "namespace": meta["namespace"],
                "uid": meta.get("uid"),
            },
            "type": kind,
            "reason": reason,
            "message": message[:1024],
            "source": {"component": self._field_manager},
            "reportingComponent": self._field_manager,
            "reportingInstance": self._field_manager,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        await self._request("POST", resource_path("v1", "Event", meta["namespace"]), body=event)

    # -- the leader-election Lease (leadership.LeaseApi); OP-HA hook ---------------------------

    async def get_lease(self, namespace: str, name: str) -> dict[str, Any] | None:
        path = resource_path("coordination.k8s.io/v1", "Lease", namespace, name)
        try:
            found: dict[str, Any] = await self._request("GET", path, count=False)
        except KubeError as e:
            if e.status == 404:
                return None
            raise
        return found

    async def create_lease(self, lease: Mapping[str, Any]) -> dict[str, Any]:
        path = resource_path("coordination.k8s.io/v1", "Lease", lease["metadata"]["namespace"])
        return await self._lease_write("POST", path, lease)

    async def replace_lease(self, lease: Mapping[str, Any]) -> dict[str, Any]:
        meta = lease["metadata"]
        path = resource_path("coordination.k8s.io/v1", "Lease", meta["namespace"], meta["name"])
        return await self._lease_write("PUT", path, lease)

    async def _lease_write(
        self, method: str, path: str, lease: Mapping[str, Any]
    ) -> dict[str, Any]:
        try:
            written: dict[str, Any] = await self._request(
                method, path, body=dict(lease), count=False
            )
        except KubeError as e:
            if e.status == 409:
                raise LeaseConflictError(e.message) from e
            raise
        return written
