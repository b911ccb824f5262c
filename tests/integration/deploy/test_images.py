"""Dockerfile.app and Dockerfile.operator, built and run for real by scripts/images.sh (podman +
runc, a debootstrap stand-in base where no registry is reachable): non-root, read-only root
filesystem, taskapi serves /health, the operator exits with a clear message without a cluster.

Cold (no podman cache) the script took 131 s here; warm, 18 s: podman's layer cache under
~/.cache/taskapi-operator/podman is keyed on the lock files and the sources (46-63 s when only
the sources changed).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[3]


@pytest.mark.timeout(1500)
def test_images_build_and_run() -> None:
    missing = [t for t in ("podman", "runc") if shutil.which(t) is None]
    assert not missing, f"{missing} missing: scripts/setup.sh installs them from Debian"
    result = subprocess.run(
        ["bash", str(REPO / "scripts" / "images.sh")],
        capture_output=True,
        text=True,
        timeout=1400,
        check=False,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-4000:]
    nonroot = r"runs as uid 10001 \(taskapi(-operator)?\); its root filesystem is read-only"
    assert len(re.findall(nonroot, out)) == 2, out
    assert re.search(r"taskapi serves /health on 127\.0\.0\.1:\d+ under --read-only: 200", out), out
    # the operator says it before kopf tries to log in
    assert re.search(
        r"the operator without a cluster exits 1: .*"
        r"No Kubernetes cluster to connect to: ",
        out,
    ), out
    sizes = re.search(r"image sizes: .*", out)
    assert sizes, out
    print(sizes.group(0))  # shown with -s / -rA: the sizes are reported, never asserted
