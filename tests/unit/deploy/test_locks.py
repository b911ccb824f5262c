"""The hashed lock files agree with pyproject.toml: the images' (each program's lock holds only
its own program's dependencies) and the dev environment's (compiled from this very pyproject's
dependency declarations, every extra included). scripts/lock.sh rewrites them."""

from __future__ import annotations

import importlib.util
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[3]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
LOCKS = {extra: REPO / "requirements" / f"{extra}.lock" for extra in ("app", "operator")}
DEV_LOCK = REPO / "requirements" / "dev.lock"
DEV_EXTRAS = ("dev", "app", "operator", "bench")  # dev pulls in app and operator; bench: mypy
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


@pytest.mark.parametrize(
    "lock", [*sorted(LOCKS.values()), REPO / "requirements" / "build.lock", DEV_LOCK]
)
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


def _lock_inputs() -> Any:
    spec = importlib.util.spec_from_file_location("lock_inputs", REPO / "scripts/lock_inputs.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dev_lock_was_compiled_from_this_pyproject() -> None:
    # A fingerprint of the dependency declarations, not a re-resolve: cheap, offline, and it
    # also catches a removed dependency or a widened range that the pins still satisfy.
    inputs = _lock_inputs()
    recorded = inputs.recorded(DEV_LOCK)
    assert recorded, f"{DEV_LOCK.name} records no inputs digest: run scripts/lock.sh dev"
    assert recorded == inputs.digest(REPO / "pyproject.toml"), (
        f"pyproject.toml's dependencies changed since {DEV_LOCK.name} was compiled: "
        "run scripts/lock.sh dev"
    )


def test_the_inputs_digest_follows_dependencies_not_comments(tmp_path: Path) -> None:
    inputs = _lock_inputs()
    text = (REPO / "pyproject.toml").read_text()
    variants = {
        "comment": text.replace("[tool.mypy]", "# a comment\n[tool.mypy]"),
        "range": text.replace('"pytest>=8,<10"', '"pytest>=8,<11"'),
        "new": text.replace("bench = [\n", 'bench = [\n    "rich",\n'),
    }
    digests = {}
    for name, variant in {"same": text, **variants}.items():
        assert name == "same" or variant != text, name
        (tmp_path / name).write_text(variant)
        digests[name] = inputs.digest(tmp_path / name)
    assert digests["comment"] == digests["same"]
    assert len({digests["same"], digests["range"], digests["new"]}) == 3


def test_dev_lock_satisfies_every_extra() -> None:
    locked = pins(DEV_LOCK)
    assert canonicalize_name(PROJECT["name"]) not in locked  # setup.sh installs it editable
    for req in [r for extra in DEV_EXTRAS for r in requirements(extra)]:
        name = canonicalize_name(req.name)
        if name == canonicalize_name(PROJECT["name"]):
            continue  # dev's own reference to the app and operator extras
        assert name in locked, f"{req} is not in {DEV_LOCK.name}: run scripts/lock.sh dev"
        assert req.specifier.contains(locked[name], prereleases=True), (
            f"{DEV_LOCK.name} pins {name}=={locked[name]} outside {req}: run scripts/lock.sh dev"
        )


def test_every_extra_is_in_the_dev_lock() -> None:
    # an extra left out of the lock is code mypy checks against whatever a resolve brings
    assert set(PROJECT["optional-dependencies"]) == set(DEV_EXTRAS)
