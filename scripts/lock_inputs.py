"""The fingerprint of what the dev lock is compiled from (pyproject.toml's requires-python and
dependency declarations), so a test sees a lock made from another pyproject without resolving."""

from __future__ import annotations

import hashlib
import json
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

HEADER = "# inputs-sha256: "  # the lock's second line: HEADER + digest(pyproject)


def digest(pyproject: Path) -> str:
    project = tomllib.loads(pyproject.read_text())["project"]

    def canonical(requirements: list[str]) -> list[str]:
        return sorted(str(Requirement(r)) for r in requirements)

    inputs = {
        "requires-python": project.get("requires-python", ""),
        "dependencies": canonical(project.get("dependencies", [])),
        "optional-dependencies": {
            extra: canonical(reqs)
            for extra, reqs in project.get("optional-dependencies", {}).items()
        },
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def recorded(lock: Path) -> str | None:
    """The digest a lock's header records, or None when it records none."""
    for line in lock.read_text().splitlines()[:5]:
        if line.startswith(HEADER):
            return line.removeprefix(HEADER).strip()
    return None


if __name__ == "__main__":
    print(HEADER + digest(Path(sys.argv[1] if len(sys.argv) > 1 else "pyproject.toml")))
