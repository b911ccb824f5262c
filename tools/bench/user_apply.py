"""A user's own ``kubectl apply`` of many TaskApis, timed: what the operator's load costs the
people sharing its apiserver (issue 20, item 7: a good API citizen).

The files are what a user keeps in Git: TaskApis of 1 replica, ``per_file`` to a YAML file.
``kubectl apply -f`` reads and then creates or patches each object (a GET and a write per
object, at kubectl's own client rate limit), one file after the other.
"""

from __future__ import annotations

import time
from pathlib import Path

import yaml

from harness.kube import Cluster
from harness.operator_stack import sample

# kubectl's own default request timeout is none: a stalled apiserver must not hang the bench.
_APPLY_TIMEOUT = 900.0


def write_files(directory: Path, namespace: str, count: int, per_file: int) -> list[Path]:
    """``count`` TaskApis ``bench-NNNN`` in files of ``per_file``."""
    directory.mkdir(parents=True, exist_ok=True)
    files = []
    for first in range(0, count, per_file):
        docs = []
        for i in range(first, min(first + per_file, count)):
            body = sample(f"bench-{i:04d}", replicas=1)
            body["metadata"]["namespace"] = namespace
            docs.append(body)
        path = directory / f"taskapis-{first // per_file:02d}.yaml"
        path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
        files.append(path)
    return files


def timed_apply(cluster: Cluster, files: list[Path]) -> tuple[float, list[float]]:
    """Seconds for ``kubectl apply -f`` of every file in turn, and per file."""
    each = []
    began = time.monotonic()
    for path in files:
        start = time.monotonic()
        cluster.kubectl("apply", "-f", str(path), timeout=_APPLY_TIMEOUT)
        each.append(time.monotonic() - start)
    return time.monotonic() - began, each


def delete_all(cluster: Cluster, namespace: str, timeout: float = 300.0) -> None:
    """Delete the TaskApis again (they carry no finalizer) and wait until none is listed.
    (``kubectl delete --wait`` waits for each object in turn: minutes for 1000.)"""
    cluster.kubectl("delete", "taskapis", "--all", "-n", namespace, "--wait=false", timeout=timeout)
    deadline = time.monotonic() + timeout
    left = -1
    while time.monotonic() < deadline:  # bounded
        listing = cluster.kubectl("get", "taskapis", "-n", namespace, "-o", "name").stdout
        left = len(listing.split())
        if left == 0:
            return
        time.sleep(2)
    raise RuntimeError(f"{left} TaskApis left in {namespace} {timeout:.0f}s after delete")
