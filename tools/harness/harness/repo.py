"""Where the checkout is: the harness reads the project's own manifests, components and tools."""

from __future__ import annotations

from pathlib import Path

# tools/harness/harness/repo.py -> the checkout's root
REPO = Path(__file__).resolve().parents[3]
