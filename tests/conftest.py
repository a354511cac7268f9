"""Suite-wide setup: tests that start real servers belong to the integration tier."""

from __future__ import annotations

from pathlib import Path

import pytest

# Fixtures that start a real server process or thread (a smart-HTTP Git server).
SERVER_FIXTURES = frozenset({"server", "auth_server", "srv_root"})


# The conformance corpus lives in the shared folder beside the repository (CI lays it there too).
CONFORMANCE_DIFF = Path(__file__).resolve().parents[2] / "shared" / "conformance" / "diff"


@pytest.fixture
def conformance_diff() -> Path:
    """The diff conformance corpus; its README asks for a clean, named skip where shared/ is absent."""
    if not CONFORMANCE_DIFF.is_dir():
        pytest.skip(f"conformance corpus not found at {CONFORMANCE_DIFF}")
    return CONFORMANCE_DIFF


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        uses_server = SERVER_FIXTURES & set(getattr(item, "fixturenames", ()))
        if uses_server or item.path.name == "test_gitserver.py":
            item.add_marker(pytest.mark.integration)
