"""Every name, label, annotation and API coordinate the operator uses, in one place."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

# --- the TaskApi resource -------------------------------------------------------------
GROUP: Final = "taskapi.io"
VERSION: Final = "v1alpha1"
API_VERSION: Final = f"{GROUP}/{VERSION}"
KIND: Final = "TaskApi"
PLURAL: Final = "taskapis"

# --- labels on every child (app.kubernetes.io/* recommended labels) --------------------
LABEL_NAME: Final = "app.kubernetes.io/name"
LABEL_INSTANCE: Final = "app.kubernetes.io/instance"
LABEL_COMPONENT: Final = "app.kubernetes.io/component"
LABEL_MANAGED_BY: Final = "app.kubernetes.io/managed-by"
APP_NAME: Final = "taskapi"
MANAGER: Final = "taskapi-operator"

# values of app.kubernetes.io/component, one per kind of child
COMPONENT_API: Final = "api"
COMPONENT_STATESTORE: Final = "statestore"
COMPONENT_PUBSUB: Final = "pubsub"
COMPONENT_SECRETSTORE: Final = "secretstore"
COMPONENT_IDENTITY: Final = "identity"

# Pod labels the operator sets (they select the pods): spec.pod.labels may not set them
# (the CRD's CEL rule on spec.pod.labels lists the same keys; a unit test keeps them equal).
OPERATOR_POD_LABELS: Final = (LABEL_NAME, LABEL_INSTANCE, LABEL_COMPONENT, LABEL_MANAGED_BY)

# --- annotations -----------------------------------------------------------------------
# Set on a TaskApi to stop the operator writing its children (deletion still works).
ANNOTATION_PAUSED: Final = f"{GROUP}/paused"
# Pod-template annotation: a change of the rendered components rolls the pods, because
# daprd loads components only at start (without the HotReload preview feature).
ANNOTATION_COMPONENTS_HASH: Final = f"{GROUP}/components-hash"
# On every child: digest of the manifest the operator last applied. A changed spec (also one
# that only removes a field) changes the digest, so the child is re-applied; fields other
# managers add (an env var from a policy engine) never do, so they cause no write loop.
ANNOTATION_APPLIED: Final = f"{GROUP}/applied"
# Parent metadata that must never reach a child: Argo CD tracks by these.
ARGOCD_PREFIX: Final = "argocd.argoproj.io/"
# Pod annotation prefixes that stay the operator's (spec.pod.annotations may not use them).
OPERATOR_ANNOTATION_PREFIXES: Final = ("dapr.io/", f"{GROUP}/")

# --- RBAC ------------------------------------------------------------------------------
# ClusterRole shipped in deploy/operator/rbac.yaml (get secrets, no list/watch). The operator
# binds it per instance namespace with a RoleBinding; it may `bind` this role and no other,
# so it never needs to read Secrets itself (RBAC's escalation check accepts `bind`).
SECRET_READER_CLUSTER_ROLE: Final = "taskapi-secret-reader"  # noqa: S105 (a role name)

# --- Dapr ------------------------------------------------------------------------------
DAPR_COMPONENT_API_VERSION: Final = "dapr.io/v1alpha1"
DAPR_SIDECAR_CONTAINER: Final = "daprd"
DAPR_ENABLED: Final = "dapr.io/enabled"
DAPR_APP_ID: Final = "dapr.io/app-id"
DAPR_APP_PORT: Final = "dapr.io/app-port"
DAPR_APP_PROTOCOL: Final = "dapr.io/app-protocol"
DAPR_CONFIG: Final = "dapr.io/config"
DAPR_LOG_LEVEL: Final = "dapr.io/log-level"
DAPR_API_LOGGING: Final = "dapr.io/enable-api-logging"
DAPR_SIDECAR_CPU_REQUEST: Final = "dapr.io/sidecar-cpu-request"
DAPR_SIDECAR_CPU_LIMIT: Final = "dapr.io/sidecar-cpu-limit"
DAPR_SIDECAR_MEMORY_REQUEST: Final = "dapr.io/sidecar-memory-request"
DAPR_SIDECAR_MEMORY_LIMIT: Final = "dapr.io/sidecar-memory-limit"
DAPR_METADATA_PATH: Final = "/v1.0/metadata"
# App health checks (dapr 1.17 injector, pkg/injector/patcher/sidecar.go): daprd stops event
# delivery to an unhealthy app and ends a blocked shutdown early.
DAPR_APP_HEALTH_CHECK: Final = "dapr.io/enable-app-health-check"
DAPR_APP_HEALTH_CHECK_PATH: Final = "dapr.io/app-health-check-path"
DAPR_APP_HEALTH_PROBE_INTERVAL: Final = "dapr.io/app-health-probe-interval"  # seconds
DAPR_APP_HEALTH_PROBE_TIMEOUT: Final = "dapr.io/app-health-probe-timeout"  # milliseconds
DAPR_APP_HEALTH_THRESHOLD: Final = "dapr.io/app-health-threshold"
# Shutdown: daprd keeps serving for block-shutdown-duration (a Go duration), then drains for
# at most graceful-shutdown-seconds.
DAPR_BLOCK_SHUTDOWN_DURATION: Final = "dapr.io/block-shutdown-duration"
DAPR_GRACEFUL_SHUTDOWN_SECONDS: Final = "dapr.io/graceful-shutdown-seconds"
DAPR_RESILIENCY_KIND: Final = "Resiliency"
# Retry policy name inside the rendered Resiliency (as in components/resiliency.yaml).
DAPR_EVENT_DELIVERY_POLICY: Final = "eventDelivery"
# Transactional outbox: the state store Component publishes each transaction's event there.
OUTBOX_PUBLISH_PUBSUB: Final = "outboxPublishPubsub"
OUTBOX_PUBLISH_TOPIC: Final = "outboxPublishTopic"
# Drop an internal outbox message whose transaction never committed (after daprd's retries)
# instead of retrying it forever (as components/statestore.yaml does for the plain set).
OUTBOX_DISCARD_WHEN_MISSING_STATE: Final = "outboxDiscardWhenMissingState"

# --- the app container -----------------------------------------------------------------
APP_CONTAINER: Final = "taskapi"
APP_PORT_NAME: Final = "http"
APP_LIVENESS_PATH: Final = "/health"
APP_READINESS_PATH: Final = "/ready"
TMP_VOLUME: Final = "tmp"

# Environment contract with app/taskapi (its settings object reads these).
ENV_STATE_STORE: Final = "TASKAPI_STATE_STORE"
ENV_PUBSUB: Final = "TASKAPI_PUBSUB"
ENV_TOPIC: Final = "TASKAPI_TOPIC"
ENV_DEAD_LETTER_TOPIC: Final = "TASKAPI_DEAD_LETTER_TOPIC"
ENV_SECRET_STORE: Final = "TASKAPI_SECRET_STORE"  # noqa: S105
ENV_NOTIFICATION_APP_ID: Final = "TASKAPI_NOTIFICATION_APP_ID"
ENV_NOTIFICATION_METHOD: Final = "TASKAPI_NOTIFICATION_METHOD"
ENV_NOTIFICATION_SECRET: Final = "TASKAPI_NOTIFICATION_SECRET"  # noqa: S105
ENV_NOTIFICATION_SECRET_KEY: Final = "TASKAPI_NOTIFICATION_SECRET_KEY"  # noqa: S105
ENV_PORT: Final = "TASKAPI_PORT"
# The variables above are the operator's: spec.env may not set them (the CRD's CEL rule on
# spec.env lists the same names; a unit test keeps them equal).
OPERATOR_ENV: Final = (
    ENV_STATE_STORE,
    ENV_PUBSUB,
    ENV_TOPIC,
    ENV_DEAD_LETTER_TOPIC,
    ENV_SECRET_STORE,
    ENV_NOTIFICATION_APP_ID,
    ENV_NOTIFICATION_METHOD,
    ENV_NOTIFICATION_SECRET,
    ENV_NOTIFICATION_SECRET_KEY,
    ENV_PORT,
)

# --- status condition types ------------------------------------------------------------
COND_READY: Final = "Ready"
COND_COMPONENTS_READY: Final = "ComponentsReady"
COND_AVAILABLE: Final = "Available"
COND_SIDECARS_READY: Final = "SidecarsReady"
COND_SUBSCRIPTION_HEALTHY: Final = "SubscriptionHealthy"

# --- reasons of Ready=False: what GitOps tools read (deploy/argocd/argocd-cm-health.yaml) ----
REASON_APPLY_FAILED: Final = "ApplyFailed"
REASON_COMPONENT_NOT_FOUND: Final = "ComponentNotFound"
REASON_SECRET_NOT_FOUND: Final = "SecretNotFound"  # noqa: S105
REASON_INVALID_SPEC: Final = "InvalidSpec"
REASON_SIDECAR_NOT_INJECTED: Final = "SidecarNotInjected"
REASON_SIDECAR_NOT_READY: Final = "SidecarNotReady"
REASON_PODS_NOT_READY: Final = "PodsNotReady"
REASON_PROGRESS_DEADLINE_EXCEEDED: Final = "ProgressDeadlineExceeded"
REASON_SUBSCRIPTION_NOT_REGISTERED: Final = "SubscriptionNotRegistered"
REASON_PAUSED: Final = "Paused"
# An object with a child's name exists and is not controlled by this TaskApi: left alone.
REASON_CHILD_CONFLICT: Final = "ChildConflict"
# A referenced state store lacks the outbox metadata the app's transactions rely on.
REASON_OUTBOX_NOT_CONFIGURED: Final = "OutboxNotConfigured"
# A person must act (Argo CD: Degraded).
READY_FAILURE_REASONS: Final = frozenset(
    {
        REASON_APPLY_FAILED,
        REASON_CHILD_CONFLICT,
        REASON_OUTBOX_NOT_CONFIGURED,
        REASON_COMPONENT_NOT_FOUND,
        REASON_SECRET_NOT_FOUND,
        REASON_INVALID_SPEC,
        REASON_SIDECAR_NOT_INJECTED,
        REASON_PROGRESS_DEADLINE_EXCEEDED,
        REASON_SUBSCRIPTION_NOT_REGISTERED,
    }
)
# Clears by itself (pods starting, a rollout) or on purpose (Paused; Argo CD: Suspended).
READY_TRANSIENT_REASONS: Final = frozenset(
    {REASON_SIDECAR_NOT_READY, REASON_PODS_NOT_READY, REASON_PAUSED}
)
# Every reason the status package may give Ready=False; it refuses to emit any other.
READY_FALSE_REASONS: Final = READY_FAILURE_REASONS | READY_TRANSIENT_REASONS

# --- reasons of the other conditions (and of Ready=True) ------------------------------------
REASON_READY: Final = "Ready"
REASON_COMPONENTS_READY: Final = "ComponentsReady"
REASON_SIDECARS_READY: Final = "SidecarsReady"
REASON_NO_PODS_DESIRED: Final = "NoPodsDesired"
REASON_NO_PODS: Final = "NoPods"
REASON_DEPLOYMENT_NOT_FOUND: Final = "DeploymentNotFound"
REASON_ROLLOUT_IN_PROGRESS: Final = "RolloutInProgress"
REASON_DEPLOYMENT_PROGRESSING: Final = "DeploymentProgressing"
REASON_SUBSCRIPTION_REGISTERED: Final = "SubscriptionRegistered"
REASON_NO_READY_PODS: Final = "NoReadyPods"
REASON_PROBE_FAILED: Final = "ProbeFailed"

# Dapr's transactional outbox: metadata a state store needs to publish from a transaction.
OUTBOX_METADATA: Final = (OUTBOX_PUBLISH_PUBSUB, OUTBOX_PUBLISH_TOPIC)


# --- API kinds: of children (ownership checks, prune, watches, caches and RBAC derive from
# CHILD_KINDS) and of what the operator reads or writes besides (pods, Secrets, Events, Leases)
@dataclass(frozen=True)
class Kind:
    """One API kind: where its objects live (group, version, plural) and what they are called."""

    group: str  # "" for the core API group
    version: str
    kind: str
    plural: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


CHILD_KINDS: Final = (
    Kind("", "v1", "ServiceAccount", "serviceaccounts"),
    Kind("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings"),
    Kind("dapr.io", "v1alpha1", "Component", "components"),
    Kind("", "v1", "Service", "services"),
    Kind("apps", "v1", "Deployment", "deployments"),
    Kind("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets"),  # replicas > 1
    Kind("dapr.io", "v1alpha1", DAPR_RESILIENCY_KIND, "resiliencies"),  # managed pub/sub
)
PODS: Final = Kind("", "v1", "Pod", "pods")  # read only: the ReplicaSet's, not ours
TASKAPIS: Final = Kind(GROUP, VERSION, KIND, PLURAL)
SECRETS: Final = Kind("", "v1", "Secret", "secrets")  # read only: does a referenced one exist
EVENTS: Final = Kind("", "v1", "Event", "events")
LEASES: Final = Kind("coordination.k8s.io", "v1", "Lease", "leases")  # leader election


def kind_of(api_version: str, kind: str) -> Kind:
    """The kind of a child manifest (only children are applied)."""
    for found in CHILD_KINDS:
        if (found.api_version, found.kind) == (api_version, kind):
            return found
    raise KeyError(f"{api_version} {kind} is not a kind of child (names.CHILD_KINDS)")


# The child kinds watched in full, not only where the operator labelled them, so that a miss
# in their watch means absent (a first write needs no GET to check the name is free): a
# TaskApi may reference the user's own (unlabelled) Components; Resiliencies are few in any
# cluster. The other kinds' objects are many (every Deployment, Service, ServiceAccount).
COMPONENTS: Final = kind_of(DAPR_COMPONENT_API_VERSION, "Component")
RESILIENCIES: Final = kind_of(DAPR_COMPONENT_API_VERSION, DAPR_RESILIENCY_KIND)
WATCHED_IN_FULL: Final = (COMPONENTS, RESILIENCIES)


# --- child names: unique per instance so two TaskApis can share a namespace -------------
# Deployment and Service carry the TaskApi's own name (it is the Service's DNS name); a
# same-named object that this TaskApi does not control is reported as ChildConflict and left
# alone. The ServiceAccount gets a suffix, so that an ordinary TaskApi name (e.g. `default`)
# can never hit a namespace's own accounts, to which the operator would grant Secrets.
def deployment_name(instance: str) -> str:
    return instance


def service_name(instance: str) -> str:
    return instance


def service_account_name(instance: str) -> str:
    return f"{instance}-taskapi"


def disruption_budget_name(instance: str) -> str:
    return instance


def resiliency_name(instance: str) -> str:
    """Dapr Resiliency with the event-delivery retries of the instance's managed pub/sub."""
    return f"{instance}-resiliency"


def secret_reader_binding_name(instance: str) -> str:
    """RoleBinding of the instance's ServiceAccount to SECRET_READER_CLUSTER_ROLE."""
    return f"{instance}-secret-reader"


def component_name(instance: str, component: str) -> str:
    """Name of a managed Dapr component, e.g. ``orders-statestore``."""
    return f"{instance}-{component}"


def selector_labels(instance: str) -> dict[str, str]:
    """Labels that select the instance's pods (immutable once the Deployment exists)."""
    return {
        LABEL_NAME: APP_NAME,
        LABEL_INSTANCE: instance,
        LABEL_COMPONENT: COMPONENT_API,
    }


def child_labels(instance: str, component: str) -> dict[str, str]:
    return {
        LABEL_NAME: APP_NAME,
        LABEL_INSTANCE: instance,
        LABEL_COMPONENT: component,
        LABEL_MANAGED_BY: MANAGER,
    }


def managed_selector() -> str:
    """Server-side selector of every watch on children and pods: the cluster's other
    objects never reach the operator."""
    return f"{LABEL_MANAGED_BY}={MANAGER}"


def label_selector(labels: dict[str, str]) -> str:
    """``k=v,k=v`` form used by list calls and the scale subresource."""
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
