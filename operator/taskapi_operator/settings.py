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
    # kopf's own probe endpoint (JSON counters, read by tests); off by default: the kubelet
    # probes /livez and /readyz on the metrics port (health.py).
    liveness_endpoint: str | None = None
    field_manager: str = "taskapi-operator"

    # Sidecar metadata probe: daprd serves /v1.0/metadata on its public port (3501).
    probe_port: int = Field(default=3501, ge=1, le=65535)
    probe_scheme: Literal["http", "https"] = "http"
    probe_timeout_seconds: float = Field(default=2.0, gt=0)
    # Probes in flight at once, over all TaskApis (one HTTP session).
    probe_concurrency: int = Field(default=32, ge=1)
    # The published subscription state changes only after this many consecutive passes
    # agree; a pending change is re-probed after probe_confirm_seconds, not a whole resync.
    probe_confirmations: int = Field(default=2, ge=1)
    probe_confirm_seconds: float = Field(default=5.0, gt=0)
    # How often every TaskApi is re-reconciled and its sidecars probed; each TaskApi's turn
    # is spread over the interval and jittered by this fraction, so they never come at once.
    resync_interval_seconds: float = Field(default=30.0, gt=0)
    # Ready=True turns False for a self-healing reason (pods or sidecars not ready) only once
    # that has lasted this long: a blip (a node heartbeat late under load) is not a flap.
    ready_hold_seconds: float = Field(default=5.0, ge=0)
    resync_jitter: float = Field(default=0.1, ge=0, le=0.5)
    # While a TaskApi's pods start (Ready=False, PodsNotReady or SidecarNotReady) its status is
    # written at most this often: each pod and Deployment event is progress, not news.
    # Becoming Ready, or any other change, is written at once.
    status_progress_seconds: float = Field(default=2.0, ge=0)
    # Transient API errors (409/429/5xx/timeouts) are retried after base * 2^n seconds
    # (jittered, at most max) instead of being reported.
    retry_base_seconds: float = Field(default=0.5, gt=0)
    retry_max_seconds: float = Field(default=30.0, gt=0)
    # The same Event (reason and message) about one TaskApi is posted at most this often.
    event_repeat_seconds: float = Field(default=600.0, ge=0)
    # Whether referenced Secrets exist (and whether the operator may read them at all) is
    # re-checked this often per namespace, not on every pass.
    secret_check_seconds: float = Field(default=60.0, ge=0)
    # Page size of the watches' initial lists (0: one list).
    list_chunk_size: int = Field(default=500, ge=0)

    # Client-side rate limit of the reconciler's API requests (ratelimit.py; the Lease's
    # renewals apart): a token bucket of api_burst tokens refilled at api_qps per second, as
    # client-go's --kube-api-qps/--kube-api-burst; Events have a bucket of their own with the
    # same settings, as client-go's event recorder. 0 turns it off. With the wait for a burst
    # of arrivals (below), the defaults keep a user's kubectl apply of 1000 TaskApis within 3x
    # of its time on an idle apiserver while slowing the operator's own first pass little
    # (docs/benchmarks.md: 1.05-1.5x, all Ready in 159-179 s at N=1000).
    api_qps: float = Field(default=100.0, ge=0)
    api_burst: int = Field(default=200, ge=1)
    # Connections to the API server at once (apiclient.py; kopf's watches have their own):
    # at api_qps 100 and ~0.1-0.3 s per request under load, 10-30 requests are in flight.
    api_connections: int = Field(default=32, ge=1)
    # A mass create has the apiserver first (arrivals.py): while TaskApis arrive in a burst
    # (arrival_burst of them within arrival_window_seconds), a new one's first pass waits
    # for the burst to end, at most arrival_max_wait_seconds after it arrived (0: never).
    # The rate that counts as a burst (2/s) is well below what a writer slowed down by the
    # operator's own first passes still sends: at 20 within 2 s, a run whose apply had
    # slowed to ~6/s before the burst was seen stayed slow (first passes and apply feeding
    # each other); no one creates 10 TaskApis within 5 s by hand.
    arrival_burst: int = Field(default=10, ge=1)
    arrival_window_seconds: float = Field(default=5.0, gt=0)
    arrival_max_wait_seconds: float = Field(default=30.0, ge=0)

    # Kubernetes API timeouts (kopf's default request timeout is 300 s: too long).
    request_timeout_seconds: float = Field(default=30.0, gt=0)
    watch_server_timeout_seconds: int = Field(default=300, gt=0)
    watch_client_timeout_seconds: int = Field(default=330, gt=0)
    # Path to a kubeconfig; unset means in-cluster config, falling back to ~/.kube/config.
    kubeconfig: str | None = None

    # -- high availability, metrics, logs (leadership.py, health.py, metrics.py) -------------
    # Every replica watches; only the holder of this Lease reconciles. Off: always reconcile.
    leader_election: bool = True
    lease_name: str = "taskapi-operator"
    # deploy/operator sets it to the pod's namespace (downward API).
    lease_namespace: str = "taskapi-system"
    # Unique per replica; deploy/operator sets the pod name. Empty: hostname and pid.
    identity: str = ""
    # client-go's defaults; a standby takes over at most lease_duration after a leader dies.
    lease_duration_seconds: float = Field(default=15.0, gt=0)
    lease_renew_deadline_seconds: float = Field(default=10.0, gt=0)
    lease_retry_period_seconds: float = Field(default=2.0, gt=0)
    # /metrics, /livez, /readyz. Port 0 turns the server off.
    metrics_host: str = "0.0.0.0"  # noqa: S104 - Prometheus and the kubelet scrape the pod IP
    metrics_port: int = Field(default=8080, ge=0, le=65535)
    # Reconcile passes running at once, over all TaskApis (the rest wait their turn).
    max_concurrent_passes: int = Field(default=16, ge=1)
    # Liveness fails when work is pending and no pass finished for this long.
    liveness_stuck_seconds: float = Field(default=300.0, gt=0)
    # "json": one JSON object per line (kopf's JSON format), for log pipelines.
    log_format: Literal["text", "json"] = "text"
