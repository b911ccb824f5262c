"""Removes from the venv what the dev lock does not hold (an earlier install's leftovers, a
stray newer redis), so the venv is the lock: run by scripts/setup.sh after installing it."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib.metadata import distributions
from pathlib import Path

from packaging.utils import canonicalize_name

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==", re.MULTILINE)
# the installers, the project and its development harness
ALWAYS = {"pip", "setuptools", "wheel", "taskapi-operator", "taskapi-harness"}


def main(lock: Path) -> None:
    locked = {canonicalize_name(name) for name in PIN.findall(lock.read_text())}
    installed = {canonicalize_name(d.metadata["Name"]) for d in distributions()}
    stray = sorted(installed - locked - ALWAYS)
    if stray:
        print("==> removing packages requirements/dev.lock does not hold:", " ".join(stray))
        subprocess.run([sys.executable, "-m", "pip", "uninstall", "-q", "-y", *stray], check=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
