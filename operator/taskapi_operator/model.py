"""Typed view of a TaskApi spec: the raw custom resource is parsed once, here."""

from __future__ import annotations

from collections.abc import Mapping
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
    version: str = "v1"
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


class PubsubSpec(ComponentSpec):
    topic: str = "task-events"
    dead_letter_topic: str = Field(default="task-events-deadletter", alias="deadLetterTopic")


def _default_secret_store() -> ComponentSpec:
    return ComponentSpec(managed=ManagedComponent(type="secretstores.kubernetes"))


class NotificationsSpec(_Model):
    app_id: str = Field(default="notification-service", alias="appId")
    method: str = "notify"
    secret_name: str = Field(default="notification-api-key", alias="secretName")
    secret_key: str = Field(default="api-key", alias="secretKey")


# The CRD accepts int-or-string quantities (cpu: 1); manifests carry them as strings.
Quantity = Annotated[str, BeforeValidator(lambda v: str(v) if isinstance(v, int) else v)]


class Resources(_Model):
    requests: dict[str, Quantity] = Field(default_factory=dict)
    limits: dict[str, Quantity] = Field(default_factory=dict)


class SidecarSpec(_Model):
    log_level: Literal["debug", "info", "warn", "error"] = Field(default="info", alias="logLevel")
    api_logging: bool = Field(default=False, alias="apiLogging")
    config: str | None = None
    resources: Resources = Field(default_factory=Resources)


class TaskApiSpec(_Model):
    replicas: int = Field(default=1, ge=0)
    image: str
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = Field(
        default="IfNotPresent", alias="imagePullPolicy"
    )
    app_id: str | None = Field(default=None, alias="appId")
    port: int = Field(default=8000, ge=1, le=65535)
    resources: Resources = Field(default_factory=Resources)
    state_store: ComponentSpec = Field(alias="stateStore")
    pubsub: PubsubSpec
    secret_store: ComponentSpec = Field(default_factory=_default_secret_store, alias="secretStore")
    notifications: NotificationsSpec = Field(default_factory=NotificationsSpec)
    sidecar: SidecarSpec = Field(default_factory=SidecarSpec)


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

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> TaskApi:
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
