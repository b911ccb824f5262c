"""The docs cannot rot: docs/ builds with `mkdocs build --strict` (a broken link or anchor
fails), every page is in the navigation, and the README's relative links resolve."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[3]
DOCS = REPO / "docs"
LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_docs_build_strict(tmp_path: Path) -> None:
    # not --quiet: it hides the warnings from --strict's count, and the build passes
    config, site = REPO / "mkdocs.yml", tmp_path / "site"
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", config, "-d", site],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    assert (site / "operations" / "index.html").exists()


def test_every_page_is_in_the_navigation() -> None:
    config = yaml.safe_load((REPO / "mkdocs.yml").read_text())
    in_nav = {page for entry in config["nav"] for page in entry.values()}
    assert in_nav == {p.name for p in DOCS.glob("*.md")}


def test_readme_links_resolve() -> None:
    readme = (REPO / "README.md").read_text()
    targets = [t for t in LINK.findall(readme) if not t.startswith(("http://", "https://"))]
    assert any(t.startswith("docs/") for t in targets), "the README links no docs page"
    for target in targets:
        path, _, anchor = target.partition("#")
        assert (REPO / path).exists(), f"README links {target}: no such file"
        if anchor:
            headings = re.findall(r"^#+ (.+)$", (REPO / path).read_text(), re.MULTILINE)
            slugs = {re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-") for h in headings}
            assert anchor in slugs, f"README links {target}: no such heading"
