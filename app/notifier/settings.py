"""The one settings object of the reference notification-service (NOTIFIER_* env)."""

import os
import socket
from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFIER_", frozen=True)

    # Names of a store and a secret, not secret values.
    secret_store: str = "kubernetes-secrets"  # noqa: S105
    secret_name: str = "notification-api-key"  # noqa: S105
    secret_key: str = "api-key"  # noqa: S105
    port: int = 8001
    # All interfaces inside a pod (its network namespace is the boundary); a single
    # loopback address when several "pods" share one machine (tests, the local demo).
    host: str = "0.0.0.0"  # noqa: S104
    api_key_header: str = "X-API-Key"
    # How long the API key read from the secret store is trusted before it is read again.
    secret_cache_seconds: float = Field(default=30.0, ge=0)
    dapr_call_timeout_seconds: float = Field(default=5.0, gt=0)
    sidecar_wait_seconds: float = Field(default=60.0, gt=0)
    # Where the first-write claims per event id live (the component's key prefix keeps them
    # apart from the Task API's keys); how long a claim is kept; how long a pending claim
    # blocks other replicas before they take it over (the sender presumably died).
    state_store: str = "statestore"
    claim_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=60)
    lease_seconds: float = Field(default=30.0, gt=0)
    # Names this replica in its claims (a pod name in Kubernetes).
    replica: str = Field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    # Notifications kept in memory for GET /notifications (the oldest are dropped first): a
    # window for inspection, not a store. About 1.3 KiB each, so 2,000 keep the process flat
    # under load (20,000 grew it by 25 MiB); a reader following the record with ?after=
    # polls more often than 2,000 arrive.
    record_limit: int = Field(default=2_000, ge=1)
    log_format: Literal["text", "json"] = "text"
    log_level: str = "INFO"
    # uvicorn's line per request, off: the kubelet's probes alone would write one every few
    # seconds, its daprd's metrics count the invocations, and a line costs CPU per request.
    access_log: bool = False


@lru_cache
def get_settings() -> Settings:
    return Settings()
