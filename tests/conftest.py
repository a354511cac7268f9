"""Suite-wide setup: the tier of a test is its ``integration`` marker, and only that.

Policy: a test that starts a real server or runs a real external tool (helm, kubectl and its kustomize), or uses
the control plane, says so with ``@pytest.mark.integration`` (or a module's ``pytestmark``). Collection refuses
a test that uses a server, tool or cluster fixture without the marker, so a forgotten one fails loudly instead of
slowing the unit tier or breaking it where the assets are absent. The tool fixtures fail, never skip, when the
tool is missing: ``nox -s tests`` provides the test assets, and ``nox -s unit`` (``-m "not integration"``) never
asks for them. The only skips are clean, named ones for absent optional data (the conformance corpus).
"""

from __future__ import annotations

from collections.abc import Iterator
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


CLUSTER_FIXTURES = frozenset({"control_plane", "kube_cluster", "kube_namespace", "kubelet"})


@pytest.hookimpl(wrapper=True)  # before any plugin (the reconcile plugin marks cluster tests for its users)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> Iterator[None]:
    """Refuse a test that uses a server, tool or cluster fixture without saying it is ``integration``."""
    unmarked = [
        item.nodeid
        for item in items
        if (set(getattr(item, "fixturenames", ())) & (SERVER_FIXTURES | TOOL_FIXTURES | CLUSTER_FIXTURES))
        and item.get_closest_marker("integration") is None
    ]
    if unmarked:
        listing = "\n  ".join(unmarked)
        raise pytest.UsageError(f"these tests use real servers or tools but are not marked integration:\n  {listing}")
    return (yield)
