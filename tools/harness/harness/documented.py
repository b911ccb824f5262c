"""The commands the README and docs/ tell a user to run, read from those files and run as
written (from the repository's root, ``kubectl`` and ``helm`` against the harness's cluster), so
a test of "the README's Install" cannot drift from the README."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from harness import binaries
from harness.repo import REPO

if TYPE_CHECKING:
    from harness.kube import Cluster


def bash_block(path: Path, heading: str, index: int = 0) -> list[list[str]]:
    """The commands of the ``index``-th ```bash block under ``heading`` (comments and blank
    lines dropped, ``# or: ...`` alternatives too)."""
    text = path.read_text()
    marker = f"\n{heading}\n"
    if marker not in text:
        raise ValueError(f"{path.name} has no heading {heading!r}")
    section = text.split(marker, 1)[1].split("\n## ", 1)[0]
    blocks = section.split("```bash\n")[1:]
    if len(blocks) <= index:
        raise ValueError(f"{path.name} {heading!r} has no bash block {index}")
    block = blocks[index].split("```", 1)[0]
    commands = (shlex.split(line, comments=True) for line in block.splitlines())
    return [argv for argv in commands if argv]


def run(
    cluster: Cluster, argv: list[str], *extra: str, timeout: float = 300, cwd: Path = REPO
) -> subprocess.CompletedProcess[str]:
    """One documented command; ``extra`` arguments appended (a test's ``--set``), run from
    ``cwd`` (the repository's root, or a clone of it a test pushed to). Fails with the
    command and its output."""
    if not argv:
        raise ValueError("an empty command")
    tool = {"kubectl": "kubectl", "helm": str(binaries.find("helm"))}[argv[0]]
    result = subprocess.run(
        [tool, *argv[1:], *extra],
        cwd=cwd,
        env=cluster.env,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"$ {shlex.join(argv + list(extra))}\n{(result.stdout + result.stderr)[-3000:]}"
        )
    return result
