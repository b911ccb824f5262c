"""TaskApi.status as pure functions of observed objects, one concern per module."""

from taskapi_operator.status.compute import (
    Observed,
    StatusPolicy,
    compute_status,
    invalid_spec_status,
)
from taskapi_operator.status.conditions import Cond, format_time, ready_lost, ready_of
from taskapi_operator.status.patch import merge_patch
from taskapi_operator.status.pods import live_pods, probe_targets
from taskapi_operator.status.subscription import PodProbe, assess

__all__ = [
    "Cond",
    "Observed",
    "PodProbe",
    "StatusPolicy",
    "assess",
    "compute_status",
    "format_time",
    "invalid_spec_status",
    "live_pods",
    "merge_patch",
    "probe_targets",
    "ready_lost",
    "ready_of",
]
