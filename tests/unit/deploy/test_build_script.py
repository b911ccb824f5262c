"""tools/binaries/build.sh can build every tool it has a wrapper for. A warm binary cache hides a
missing build function (the cache key still matches, nothing is built), so a clean machine is
the first to find it: this test finds it first."""

from __future__ import annotations

import re
import subprocess

from harness.repo import REPO

BINARIES = REPO / "tools" / "binaries"
SCRIPT = BINARIES / "build.sh"


def tools() -> list[str]:
    return sorted(
        d.name for d in BINARIES.iterdir() if (d / "go.mod").is_file() or (d / "wrapper").is_file()
    )


def test_every_wrapper_has_a_build_function() -> None:
    defined = set(re.findall(r"^build_(\w+)\(\) \{", SCRIPT.read_text(), re.MULTILINE))
    missing = [t for t in tools() if t.replace("-", "_") not in defined]
    assert not missing, f"build.sh has no build_<tool> for {missing}"


def test_every_wrapper_file_names_a_module_directory() -> None:
    for tool in tools():
        wrapper = BINARIES / tool / "wrapper"
        if wrapper.is_file():
            target = BINARIES / wrapper.read_text().strip()
            assert (target / "go.mod").is_file(), f"{tool}/wrapper names {target}, no go.mod there"


def test_the_script_parses() -> None:
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)


def test_a_toolchain_file_names_a_go_at_least_its_modules() -> None:
    """A wrapper that needs a newer Go than the machine's (Argo CD v3.6: go 1.27.0) names one in
    its ``toolchain`` file; build.sh sets GOTOOLCHAIN from it for that build only."""
    found = 0
    for tool in tools():
        pinned = BINARIES / tool / "toolchain"
        if not pinned.is_file():
            continue
        found += 1
        have = re.fullmatch(r"go(\d+)\.(\d+)\.(\d+)", pinned.read_text().strip())
        assert have, f"{pinned}: want goX.Y.Z"
        need = re.search(
            r"^go (\d+)\.(\d+)(?:\.(\d+))?$", (BINARIES / tool / "go.mod").read_text(), re.M
        )
        assert need, f"{tool}/go.mod has no go line"
        want = tuple(int(x or 0) for x in need.groups())
        assert tuple(map(int, have.groups())) >= want, f"{pinned} is older than go.mod's go {want}"
    assert found, "argocd's wrapper names its Go in tools/binaries/argocd/toolchain"
