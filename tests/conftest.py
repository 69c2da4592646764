"""Shared test fixtures: the hand-written fixtures in tests/data and the real catalogs.

The real catalogs live outside the repository (licence), in ``../shared/data`` relative to the
repository root; tests that use them skip cleanly when that folder is absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

DATA_DIR = Path(__file__).resolve().parent / "data"
SHARED_DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """Folder of the small hand-written fixture files."""
    return DATA_DIR


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Folder of the real catalogs; skips the test when it is absent."""
    if not SHARED_DATA_DIR.is_dir():
        pytest.skip(f"real catalogs not available ({SHARED_DATA_DIR} is absent)")
    return SHARED_DATA_DIR
