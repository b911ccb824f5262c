"""Fixtures every unit test directory shares."""

from __future__ import annotations

import os

import pytest
from goldens import UPDATE_VARIABLE, Golden


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Golden:
    """The golden files of a test module live in ``golden/`` beside it."""
    return Golden(request.path.parent / "golden", update=os.environ.get(UPDATE_VARIABLE) == "1")
