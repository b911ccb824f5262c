"""The hashed lock files the images install from agree with pyproject.toml's extras, and each
program's lock holds only its own program's dependencies (scripts/lock.sh rewrites them)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[3]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
LOCKS = {extra: REPO / "requirements" / f"{extra}.lock" for extra in ("app", "operator")}
# What must never reach the other program's image.
FOREIGN = {"app": {"kopf", "kubernetes"}, "operator": {"fastapi", "uvicorn", "dapr", "starlette"}}
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def pins(lock: Path) -> dict[str, Version]:
    found = {}
    for line in lock.read_text().splitlines():
        match = PIN.match(line)
        if match:
            found[canonicalize_name(match.group(1))] = Version(match.group(2))
    return found


def requirements(extra: str) -> list[Requirement]:
    own = [Requirement(r) for r in PROJECT["optional-dependencies"][extra]]
    return [Requirement(r) for r in PROJECT["dependencies"]] + own


@pytest.mark.parametrize("extra", sorted(LOCKS))
def test_lock_satisfies_the_extra(extra: str) -> None:
    locked = pins(LOCKS[extra])
    for req in requirements(extra):
        name = canonicalize_name(req.name)
        assert name in locked, f"{req} is not in {LOCKS[extra].name}: run scripts/lock.sh"
        assert req.specifier.contains(locked[name], prereleases=True), (
            f"{LOCKS[extra].name} pins {name}=={locked[name]} outside {req}: run scripts/lock.sh"
        )


@pytest.mark.parametrize("extra", sorted(LOCKS))
def test_lock_holds_only_its_program(extra: str) -> None:
    assert not FOREIGN[extra] & set(pins(LOCKS[extra])), LOCKS[extra].name


@pytest.mark.parametrize("lock", [*sorted(LOCKS.values()), REPO / "requirements" / "build.lock"])
def test_every_pin_carries_hashes(lock: Path) -> None:
    # pip --require-hashes (the Dockerfiles) refuses a file without them; catch it here first.
    entries = re.split(r"\n(?=[A-Za-z0-9])", lock.read_text())
    entries = [e for e in entries if PIN.match(e)]
    assert entries, lock
    for entry in entries:
        assert "--hash=sha256:" in entry, entry.splitlines()[0]


def test_dev_extra_installs_both_programs() -> None:
    dev = [Requirement(r) for r in PROJECT["optional-dependencies"]["dev"]]
    self_ref = [r for r in dev if canonicalize_name(r.name) == canonicalize_name(PROJECT["name"])]
    assert self_ref, "dev must pull in the app and operator extras"
    assert {"app", "operator"} <= self_ref[0].extras
