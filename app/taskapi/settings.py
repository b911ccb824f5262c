"""The one settings object of the Task API: Dapr names come from the operator as TASKAPI_* env."""

from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Defaults equal the names of the plain component set in components/."""

    model_config = SettingsConfigDict(env_prefix="TASKAPI_", frozen=True)

    # Contract with the operator (names and defaults are fixed).
    state_store: str = "statestore"
    pubsub: str = "pubsub"
    topic: str = "task-events"
    dead_letter_topic: str = "task-events-deadletter"
    # Names of a store and a secret, not secret values.
    secret_store: str = "kubernetes-secrets"  # noqa: S105
    notification_app_id: str = "notification-service"
    notification_method: str = "notify"
    notification_secret: str = "notification-api-key"  # noqa: S105
    notification_secret_key: str = "api-key"  # noqa: S105
    port: int = 8000
    # All interfaces inside a pod (its network namespace is the boundary); a single
    # loopback address when several "pods" share one machine (tests, the local demo).
    host: str = "0.0.0.0"  # noqa: S104

    # Tuning: bounded everything, so a slow sidecar turns into a 503, never a hung request.
    api_key_header: str = "X-API-Key"
    dapr_call_timeout_seconds: float = Field(default=5.0, gt=0)
    sidecar_wait_seconds: float = Field(default=60.0, gt=0)
    conflict_retries: int = Field(default=25, ge=1)
    conflict_backoff_seconds: float = Field(default=0.01, ge=0)
    page_size_default: int = Field(default=20, ge=1)
    page_size_max: int = Field(default=100, ge=1)
    # Tasks whose events the subscription handles at once (the rest of a batch waits its
    # turn, see subscriber). 16 was chosen when each event came alone: at 8 the event path
    # fell behind the requests under sustained load (drain 4.2 s after 60 s of 8 clients);
    # at 32 create p99 rose past 4x p50 (docs/benchmarks.md).
    event_concurrency: int = Field(default=16, ge=1)
    # The bulk subscription (taskapi.subscriber): events per delivery at most, and how long
    # daprd gathers them. A batch costs one read and a write per task instead of a request,
    # a read and a write per event; the wait is latency added to the event path only.
    event_batch_max: int = Field(default=100, ge=1, le=1000)
    event_batch_wait_ms: int = Field(default=100, ge=1, le=10_000)
    # Index pages one list request may read: bounds a request that meets many emptied pages.
    list_max_page_reads: int = Field(default=64, ge=1)
    # An index entry is written before its task's record; one whose record is still missing
    # this long after is a failed create's, and listings compact it (taskapi.shards).
    index_grace_seconds: int = Field(default=3600, ge=60)
    # True: PATCH, PUT .../status and DELETE without If-Match are refused with 428.
    require_if_match: bool = False
    # "text" (Kubernetes style `Message key=value`) or "json" (one JSON object per line).
    log_format: Literal["text", "json"] = "text"
    log_level: str = "INFO"
    # uvicorn's line per request, off: the kubelet's probes alone would write one every few
    # seconds, and request counts and latencies are metrics; a line costs CPU on every request.
    access_log: bool = False
    # Deleted tasks stay as tombstones for a while so a racing update cannot resurrect them
    # (an ETag on a missing Redis key skips the check, dapr/dapr#2739).
    tombstone_ttl_seconds: int = Field(default=3600, ge=1)


@lru_cache
def get_settings() -> Settings:
    return Settings()
