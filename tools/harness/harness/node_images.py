"""The real node's images, made on this machine and never pulled: this project's two images
(scripts/images.sh), Dapr's control plane and daprd from this project's Dapr builds, CoreDNS,
Redis and the pause image, each named and tagged as the manifests that use them expect.

Built with podman into the same storage as scripts/images.sh, then saved once per set of image
ids as one docker-archive that the node's containerd imports (the names travel with it).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from harness import binaries
from harness.node import PAUSE_IMAGE
from harness.repo import REPO

CACHE = Path(os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache")), "taskapi-operator")
PODMAN_ROOT = Path(os.environ.get("TASKAPI_PODMAN_ROOT", str(CACHE / "podman")))
ARCHIVES = CACHE / "node-images"
IMAGE_TAG = os.environ.get("TASKAPI_IMAGE_TAG", "0.1.0")
APP_IMAGE = f"localhost/taskapi:{IMAGE_TAG}"
OPERATOR_IMAGE = f"localhost/taskapi-operator:{IMAGE_TAG}"
# the names deploy/samples and the chart's values use, as the README's `docker build -t` gives
PUBLISHED = {
    APP_IMAGE: f"ghcr.io/example/taskapi:{IMAGE_TAG}",
    OPERATOR_IMAGE: f"ghcr.io/example/taskapi-operator:{IMAGE_TAG}",
}
DAPR_REGISTRY = "ghcr.io/dapr"  # what Dapr's chart and injector name by default
REDIS_IMAGE = "localhost/redis:7"
COREDNS_IMAGE = "registry.k8s.io/coredns/coredns:v1.15.0"
# an app image whose process exits at once: the crash loop a kubelet shows, for a test
EXITS_AT_START_IMAGE = "localhost/exits-at-start:1"
EXITS_AT_START_C = (
    "#include <stdio.h>\n"
    'int main(void) { fputs("exits-at-start: exiting with code 3 (a test image)\\n", stderr); '
    "return 3; }\n"
)
NONROOT = "65532:65532"  # distroless's nonroot user, as Dapr's own images run
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


class ImageError(RuntimeError):
    """An image could not be made; says which and why."""


@dataclass(frozen=True)
class NodeImages:
    archive: Path  # one docker-archive with every image below
    names: tuple[str, ...]
    seconds: float  # building (or finding) and saving them


# as scripts/images.sh runs it: its storage, runc (crun fails on this machine's cgroups)
PODMAN = [
    "podman", "--root", str(PODMAN_ROOT / "storage"), "--runroot", str(PODMAN_ROOT / "run"),
    "--runtime", "runc", "--cgroup-manager", "cgroupfs", "--events-backend", "none",
]  # fmt: skip


def podman(*args: str, timeout: float = 900, check: bool = True) -> str:
    argv = [*PODMAN, *args]
    result = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=timeout)
    if check and result.returncode != 0:
        raise ImageError(f"{' '.join(argv)}: {result.stderr.strip()[-3000:]}")
    return result.stdout


def _exists_rc(name: str) -> int:
    return subprocess.run([*PODMAN, "image", "exists", name], check=False).returncode


def _build(name: str, containerfile: str, files: dict[str, Path], *, network: bool = False) -> None:
    with tempfile.TemporaryDirectory(prefix="taskapi-image-") as tmp:
        context = Path(tmp)
        for target, source in files.items():
            shutil.copy2(source, context / target)
        (context / "Containerfile").write_text(containerfile)
        args = ["build", "--quiet", "--layers", "-t", name, "-f", str(context / "Containerfile")]
        if network:  # package installs only (the registries this machine reaches)
            args += ["--network", "host", "-v", f"{CA_BUNDLE}:{CA_BUNDLE}:ro"]
        podman(*args, str(context))


def _scratch(name: str, binary: Path, *, user: str = NONROOT) -> None:
    if _exists_rc(name) == 0:
        return
    _build(
        name,
        f"FROM scratch\nCOPY {binary.name} /{binary.name}\nUSER {user}\n"
        f'ENTRYPOINT ["/{binary.name}"]\n',
        {binary.name: binary},
    )


def _pause() -> None:
    """Kubernetes' own pause.c, compiled static into a scratch image."""
    if _exists_rc(PAUSE_IMAGE) == 0:
        return
    source = Path(
        subprocess.run(
            ["go", "list", "-m", "-f", "{{.Dir}}", "k8s.io/kubernetes"],
            cwd=REPO / "tools" / "binaries" / "kubernetes",
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local"},
        ).stdout.strip(),
        "build",
        "pause",
        "linux",
        "pause.c",
    )
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "pause"
        subprocess.run(
            ["gcc", "-Os", "-static", "-DVERSION=3.10", "-o", str(out), str(source)], check=True
        )
        _build(
            PAUSE_IMAGE,
            'FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT ["/pause"]\n',
            {"pause": out},
        )


def _exits_at_start() -> None:
    if _exists_rc(EXITS_AT_START_IMAGE) == 0:
        return
    with tempfile.TemporaryDirectory() as tmp:
        source, out = Path(tmp) / "exit.c", Path(tmp) / "exit"
        source.write_text(EXITS_AT_START_C)
        subprocess.run(["gcc", "-Os", "-static", "-o", str(out), str(source)], check=True)
        _build(
            EXITS_AT_START_IMAGE,
            'FROM scratch\nCOPY exit /exit\nUSER 10001:10001\nENTRYPOINT ["/exit"]\n',
            {"exit": out},
        )


def _base() -> str:
    """The stand-in Debian base scripts/images.sh made (the newest, if several)."""
    out = podman("images", "--format", "{{.Repository}}:{{.Tag}}", "localhost/taskapi-base")
    names = [line for line in out.splitlines() if line.strip()]
    if not names:
        raise ImageError("no localhost/taskapi-base image: scripts/images.sh builds it")
    return names[0]


def _redis() -> None:
    """Debian's redis-server (the same one the tests run on the host) on the stand-in base."""
    if _exists_rc(REDIS_IMAGE) == 0:
        return
    _build(
        REDIS_IMAGE,
        f"FROM {_base()}\n"
        "RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
        "--no-install-recommends redis-server >/dev/null && rm -rf /var/lib/apt/lists/*\n"
        "USER 1001:1001\nWORKDIR /data\n"
        'ENTRYPOINT ["redis-server"]\n',
        {},
        network=True,
    )


def ensure(dapr_version: str) -> NodeImages:
    """Every image the real node runs, then one archive of them all (cached by image ids)."""
    began = time.monotonic()
    # Always: the node must run the images of the code under test, not whatever an earlier
    # checkout built (podman's layer cache makes an unchanged rebuild take seconds).
    result = subprocess.run(
        ["bash", str(REPO / "scripts" / "images.sh")], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise ImageError(f"scripts/images.sh failed:\n{(result.stdout + result.stderr)[-3000:]}")
    for local, published in PUBLISHED.items():
        podman("tag", local, published)
    control_plane = binaries.dapr_kubernetes_dir()
    names = [*PUBLISHED.values(), PAUSE_IMAGE, REDIS_IMAGE, COREDNS_IMAGE, EXITS_AT_START_IMAGE]
    _pause()
    _exits_at_start()
    _redis()
    _scratch(COREDNS_IMAGE, binaries.find("coredns"))
    _scratch(f"{DAPR_REGISTRY}/daprd:{dapr_version}", binaries.find("daprd"))
    names.append(f"{DAPR_REGISTRY}/daprd:{dapr_version}")
    for program in ("operator", "sentry", "injector"):
        name = f"{DAPR_REGISTRY}/{program}:{dapr_version}"
        _scratch(name, control_plane / program)
        names.append(name)
    ids = podman("image", "inspect", "--format", "{{.Id}}", *names).split()
    key = hashlib.sha256(" ".join([*names, *ids]).encode()).hexdigest()[:16]
    archive = ARCHIVES / f"{key}.tar"
    if not archive.exists():
        ARCHIVES.mkdir(parents=True, exist_ok=True)
        for old in ARCHIVES.glob("*.tar"):
            old.unlink()  # one set at a time: they are hundreds of MB
        partial = archive.with_suffix(f".tmp{os.getpid()}")
        podman("save", "--multi-image-archive", "--format", "docker-archive", "-o", str(partial),
               *names)  # fmt: skip
        partial.rename(archive)
    return NodeImages(archive, tuple(names), time.monotonic() - began)
