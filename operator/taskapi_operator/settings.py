"""The operator's one settings object: every tunable, read from TASKAPI_OPERATOR_* env."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class OperatorSettings(BaseSettings):
    """Tunables of the operator process; defaults suit a real cluster."""

    model_config = SettingsConfigDict(env_prefix="TASKAPI_OPERATOR_", frozen=True)

    # Namespaces to watch; empty means cluster-wide.
    namespaces: list[str] = Field(default_factory=list)
    liveness_endpoint: str | None = "http://0.0.0.0:8080/healthz"
    field_manager: str = "taskapi-operator"

    # Sidecar metadata probe: daprd serves /v1.0/metadata on its public port (3501).
    probe_port: int = Field(default=3501, ge=1, le=65535)
    probe_scheme: Literal["http", "https"] = "http"
    probe_timeout_seconds: float = Field(default=2.0, gt=0)
    # How often every TaskApi is re-reconciled and its sidecars probed.
    resync_interval_seconds: float = Field(default=30.0, gt=0)
    # lastProbeTime is rewritten at most this often when nothing else changed, so a
    # steady state costs one status write per interval instead of one per probe.
    status_heartbeat_seconds: float = Field(default=300.0, ge=0)

    # Kubernetes API timeouts (kopf's default request timeout is 300 s: too long).
    request_timeout_seconds: float = Field(default=30.0, gt=0)
    watch_server_timeout_seconds: int = Field(default=300, gt=0)
    watch_client_timeout_seconds: int = Field(default=330, gt=0)
    # Path to a kubeconfig; unset means in-cluster config, falling back to ~/.kube/config.
    kubeconfig: str | None = None
