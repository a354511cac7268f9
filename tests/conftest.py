"""Suite-wide setup: the tier of a test is decided by its marker only.

Policy: a test that starts a real server or runs a real external tool (helm, kubectl and its kustomize) belongs
to the integration tier, as do the control-plane tests that the ``reconcile`` pytest plugin marks. Such tests get
the server or the tool from a fixture below and are marked ``integration`` here, through their fixture closure
(indirect uses count). The tool fixtures fail, never skip, when the tool is missing: ``nox -s tests`` provides
the test assets, and ``nox -s unit`` (``-m "not integration"``) never asks for them. The only skips are clean,
named ones for absent optional data (the conformance corpus).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reconcile.testing import find_binary

# Fixtures that start a real server process or thread (a smart-HTTP Git server).
SERVER_FIXTURES = frozenset({"server", "auth_server", "srv_root"})

# Fixtures that hand a test a real external tool from the test assets (KUBEBUILDER_ASSETS, else PATH).
TOOL_FIXTURES = frozenset({"helm_binary", "kubectl_binary"})


# The conformance corpus lives in the shared folder beside the repository (CI lays it there too).
CONFORMANCE_DIFF = Path(__file__).resolve().parents[2] / "shared" / "conformance" / "diff"


@pytest.fixture
def conformance_diff() -> Path:
    """The diff conformance corpus; its README asks for a clean, named skip where shared/ is absent."""
    if not CONFORMANCE_DIFF.is_dir():
        pytest.skip(f"conformance corpus not found at {CONFORMANCE_DIFF}")
    return CONFORMANCE_DIFF


@pytest.fixture(scope="session")
def helm_binary() -> str:
    """The real helm; fails (ControlPlaneError, never a skip) when it is missing. Its users are integration tests."""
    return str(find_binary("helm"))


@pytest.fixture(scope="session")
def kubectl_binary() -> str:
    """The real kubectl (kustomize is ``kubectl kustomize``); fails, never skips, when it is missing."""
    return str(find_binary("kubectl"))


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``integration`` every test that uses a server or tool fixture, directly or through another fixture."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & (SERVER_FIXTURES | TOOL_FIXTURES) or item.path.name == "test_gitserver.py":
            item.add_marker(pytest.mark.integration)
