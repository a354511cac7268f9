"""Suite-wide setup: tests that start real servers belong to the integration tier."""

from __future__ import annotations

import pytest

# Fixtures that start a real server process or thread (a smart-HTTP Git server).
SERVER_FIXTURES = frozenset({"server", "auth_server", "srv_root"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        uses_server = SERVER_FIXTURES & set(getattr(item, "fixturenames", ()))
        if uses_server or item.path.name == "test_gitserver.py":
            item.add_marker(pytest.mark.integration)
