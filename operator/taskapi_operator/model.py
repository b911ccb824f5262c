"""Typed view of a TaskApi spec: the raw custom resource is parsed once, here.

Defaults live in one place, the CRD (crds/taskapi.yaml): the apiserver applies them to every
object it serves (on write and on read from etcd), so a field the CRD defaults is *required*
here and never given a second default that could drift. Fields without a CRD default are
optional and mean "absent" when missing (tests/unit/operator/test_operator_crd.py keeps the two
in agreement).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from taskapi_operator import names

# Core/v1 structures the operator copies into the pod template as given (tolerations,
# affinity, env, ...): the apiserver validates them when the Deployment is applied.
Json = dict[str, Any]


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True, frozen=True, extra="ignore")


class SecretKeyRef(_Model):
    name: str
    key: str


class MetadataItem(_Model):
    """One Dapr component metadata entry: a literal value or a Secret reference."""

    name: str
    value: str | None = None
    secret_key_ref: SecretKeyRef | None = Field(default=None, alias="secretKeyRef")

    @model_validator(mode="after")
    def _one_source(self) -> MetadataItem:
        if (self.value is None) == (self.secret_key_ref is None):
            raise ValueError(f"metadata {self.name!r}: set exactly one of value, secretKeyRef")
        return self


class ManagedComponent(_Model):
    type: str
    version: str
    metadata: tuple[MetadataItem, ...] = ()


class ComponentRef(_Model):
    name: str


class ComponentSpec(_Model):
    """Either a component the operator manages or a reference to an existing one."""

    managed: ManagedComponent | None = None
    ref: ComponentRef | None = None

    @model_validator(mode="after")
    def _managed_xor_ref(self) -> ComponentSpec:
        if (self.managed is None) == (self.ref is None):
            raise ValueError("set exactly one of managed, ref")
        return self


class DeliveryRetries(_Model):
    """Retries of event delivery to the app before Dapr sends an event to the dead-letter topic."""

    max_retries: int = Field(alias="maxRetries", ge=0)
    max_interval: str = Field(alias="maxInterval")


class PubsubSpec(ComponentSpec):
    topic: str
    dead_letter_topic: str = Field(alias="deadLetterTopic")
    delivery_retries: DeliveryRetries = Field(alias="deliveryRetries")


class NotificationsSpec(_Model):
    app_id: str = Field(alias="appId")
    method: str
    secret_name: str = Field(alias="secretName")
    secret_key: str = Field(alias="secretKey")


# The CRD accepts int-or-string quantities (cpu: 1); manifests carry them as strings.
Quantity = Annotated[str, BeforeValidator(lambda v: str(v) if isinstance(v, int) else v)]


class Resources(_Model):
    requests: dict[str, Quantity] = Field(default_factory=dict)
    limits: dict[str, Quantity] = Field(default_factory=dict)


class AppHealthCheck(_Model):
    """daprd probes the app and stops delivering events to it while it is unhealthy."""

    enabled: bool
    path: str
    probe_interval_seconds: int = Field(alias="probeIntervalSeconds", ge=1)
    probe_timeout_milliseconds: int = Field(alias="probeTimeoutMilliseconds", ge=1)
    threshold: int = Field(ge=1)


class SidecarSpec(_Model):
    log_level: Literal["debug", "info", "warn", "error"] = Field(alias="logLevel")
    api_logging: bool = Field(alias="apiLogging")
    config: str | None = None
    resources: Resources = Field(default_factory=Resources)
    app_health_check: AppHealthCheck = Field(alias="appHealthCheck")


class PodSpec(_Model):
    """Pod-level settings a platform needs (scheduling, pulling, metadata, shutdown)."""

    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    image_pull_secrets: tuple[Json, ...] = Field(default=(), alias="imagePullSecrets")
    node_selector: dict[str, str] = Field(default_factory=dict, alias="nodeSelector")
    tolerations: tuple[Json, ...] = ()
    affinity: Json | None = None
    topology_spread_constraints: tuple[Json, ...] = Field(
        default=(), alias="topologySpreadConstraints"
    )
    priority_class_name: str | None = Field(default=None, alias="priorityClassName")
    termination_grace_period_seconds: int = Field(alias="terminationGracePeriodSeconds", ge=1)


class TaskApiSpec(_Model):
    replicas: int = Field(ge=0)
    image: str
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = Field(alias="imagePullPolicy")
    app_id: str | None = Field(default=None, alias="appId")
    port: int = Field(ge=1, le=65535)
    resources: Resources = Field(default_factory=Resources)
    env: tuple[Json, ...] = ()
    env_from: tuple[Json, ...] = Field(default=(), alias="envFrom")
    pod: PodSpec
    state_store: ComponentSpec = Field(alias="stateStore")
    pubsub: PubsubSpec
    secret_store: ComponentSpec = Field(alias="secretStore")
    notifications: NotificationsSpec
    sidecar: SidecarSpec


@dataclass(frozen=True)
class ComponentNames:
    """The Dapr component names the app is told to use, managed or referenced."""

    statestore: str
    pubsub: str
    secretstore: str


class InvalidSpecError(ValueError):
    """The spec passed admission but cannot be reconciled; the message says why."""


class TaskApi(_Model):
    """What the builders need from one TaskApi object: identity, owner data and spec."""

    name: str
    namespace: str
    uid: str
    generation: int
    paused: bool
    spec: TaskApiSpec

    @property
    def app_id(self) -> str:
        return self.spec.app_id or self.name

    def _component(self, spec: ComponentSpec, component: str) -> str:
        return spec.ref.name if spec.ref is not None else names.component_name(self.name, component)

    @property
    def component_names(self) -> ComponentNames:
        spec = self.spec
        return ComponentNames(
            statestore=self._component(spec.state_store, names.COMPONENT_STATESTORE),
            pubsub=self._component(spec.pubsub, names.COMPONENT_PUBSUB),
            secretstore=self._component(spec.secret_store, names.COMPONENT_SECRETSTORE),
        )

    def referenced_components(self) -> list[str]:
        """Names of existing components the instance uses but does not own."""
        specs = (self.spec.state_store, self.spec.pubsub, self.spec.secret_store)
        return [s.ref.name for s in specs if s.ref is not None]

    def referenced_secrets(self) -> list[str]:
        """Secrets that must exist: managed components' secretKeyRefs and the notification
        key."""
        found = {self.spec.notifications.secret_name}
        for spec in (self.spec.state_store, self.spec.pubsub, self.spec.secret_store):
            if spec.managed is not None:
                found.update(
                    i.secret_key_ref.name for i in spec.managed.metadata if i.secret_key_ref
                )
        return sorted(found)

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> TaskApi:
        """Parse an object as the apiserver serves it (CRD defaults already applied)."""
        meta = body.get("metadata", {})
        annotations = meta.get("annotations") or {}
        try:
            spec = TaskApiSpec.model_validate(body.get("spec") or {})
        except ValidationError as e:
            raise InvalidSpecError(_describe(e)) from e
        return cls(
            name=meta["name"],
            namespace=meta["namespace"],
            uid=meta["uid"],
            generation=int(meta.get("generation", 0)),
            paused=str(annotations.get(names.ANNOTATION_PAUSED, "")).lower() == "true",
            spec=spec,
        )


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"])
        parts.append(f"spec.{where}: {item['msg']}" if where else item["msg"])
    return "; ".join(parts)
