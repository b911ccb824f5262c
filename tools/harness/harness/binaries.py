"""Finds the real binaries: conventional locations first, else our Go-module build cache.

Order per tool: an explicit variable (``KUBEBUILDER_ASSETS`` for etcd/kube-*, ``DAPRD``,
``KWOK``, ``HELM``, ``COREDNS``, ``KUSTOMIZE``), then ``PATH`` (and ``~/.dapr/bin`` for
daprd), then ``tools/binaries/build.sh``, which builds into ``~/.cache/taskapi-operator/bin``
once and answers from the cache after.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

from harness.repo import REPO

BUILD_SCRIPT = REPO / "tools" / "binaries" / "build.sh"

# binary -> (wrapper module under tools/binaries, variables naming it or its directory)
_SOURCES: dict[str, tuple[str, tuple[str, ...]]] = {
    "etcd": ("etcd", ("KUBEBUILDER_ASSETS",)),
    "kube-apiserver": ("kubernetes", ("KUBEBUILDER_ASSETS",)),
    "kube-controller-manager": ("kubernetes", ("KUBEBUILDER_ASSETS",)),
    "kube-scheduler": ("kubernetes", ("KUBEBUILDER_ASSETS",)),
    "kwok": ("kwok", ("KWOK",)),
    "daprd": ("dapr", ("DAPRD",)),
    "helm": ("helm", ("HELM",)),
    # the real node's (built only when a real-node run asks for them)
    "kubelet": ("kubernetes-node", ("KUBEBUILDER_ASSETS",)),
    "kube-proxy": ("kubernetes-node", ("KUBEBUILDER_ASSETS",)),
    "coredns": ("coredns", ("COREDNS",)),
    # the GitOps tests' (Argo CD itself always comes from its build: its CRDs, settings
    # objects and repo-server scripts must be the ones of that binary's version)
    "kustomize": ("kustomize", ("KUSTOMIZE",)),
}


def dapr_kubernetes_dir() -> Path:
    """Dapr's operator, sentry and injector, unpatched, for the real node's images (the
    patched sentry and injector the fake node's tests run as processes keep their names)."""
    return build_dir("dapr-kubernetes")


class BinaryNotFoundError(RuntimeError):
    """Raised with the build script's own output, never silently skipped."""


def find(name: str) -> Path:
    module, variables = _SOURCES[name]
    for var in variables:
        value = os.environ.get(var)
        if not value:
            continue
        candidate = Path(value)
        candidate = candidate / name if candidate.is_dir() else candidate
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    extra = [str(Path.home() / ".dapr" / "bin")] if name == "daprd" else []
    on_path = shutil.which(name, path=os.pathsep.join([os.environ.get("PATH", ""), *extra]))
    if on_path:
        return Path(on_path)
    return build_dir(module) / name


def kwok_stages() -> list[Path]:
    """The kwok stage files (node init + heartbeat, pod ready/complete/delete) we copied."""
    stages = build_dir("kwok") / "stages"
    files = sorted(stages.glob("*.yaml"))
    if not files:
        raise BinaryNotFoundError(f"no kwok stage files under {stages}")
    return files


@functools.cache
def build_dir(module: str) -> Path:
    """Directory of a built wrapper module (building it now if the cache lacks it)."""
    result = subprocess.run(
        ["bash", str(BUILD_SCRIPT), module], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise BinaryNotFoundError(
            f"{BUILD_SCRIPT} {module} failed (exit {result.returncode}):\n{result.stderr[-4000:]}"
        )
    for line in result.stdout.splitlines():
        tool, _, directory = line.partition(" ")
        if tool == module:
            return Path(directory)
    raise BinaryNotFoundError(f"{BUILD_SCRIPT} {module} printed no directory:\n{result.stdout}")


def dapr_crds() -> list[Path]:
    """Dapr's own CRDs (from the dapr module we build daprd from), for the local cluster."""
    crds = build_dir("dapr") / "crds"
    files = sorted(crds.glob("*.yaml"))
    if not files:
        raise BinaryNotFoundError(f"no Dapr CRDs under {crds}")
    return files
