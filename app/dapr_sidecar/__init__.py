"""What both apps share about their Dapr sidecar: the one client of a process
(connection), the bounded call (calls), the cached secret (secrets), the problem
renderer (problems), the log format (logs) and how both serve HTTP (serving)."""

from dapr_sidecar.calls import SidecarCalls
from dapr_sidecar.connection import SidecarConnection, connected_in_background
from dapr_sidecar.secrets import CachedSecret

__all__ = ["CachedSecret", "SidecarCalls", "SidecarConnection", "connected_in_background"]
