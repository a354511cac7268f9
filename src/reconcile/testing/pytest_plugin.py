"""pytest fixtures for testing against a real Kubernetes control plane.

Installed with reconcile as the pytest plugin ``reconcile`` (``-p no:reconcile`` turns it off)::

    def test_apply(kube_cluster, kube_namespace):
        ...  # a real API server; a fresh namespace for this test only

``control_plane`` starts one :class:`~reconcile.testing._controlplane.ControlPlane` per test session (binaries
from ``$KUBEBUILDER_ASSETS`` or ``PATH``, see ``scripts/test-assets.sh``); override the fixture in a
``conftest.py`` to start it differently. Tests that use these fixtures are marked ``integration``.
"""

from __future__ import annotations

import contextlib
import re
import secrets
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from reconcile.errors import NotFoundError
from reconcile.testing._controlplane import ControlPlane
from reconcile.testing._kubelet import FakeKubelet

if TYPE_CHECKING:
    from reconcile.cluster import KubernetesCluster

#: The fixtures that need the control plane; a test using any of them is an integration test.
CLUSTER_FIXTURES = frozenset({"control_plane", "kube_cluster", "kube_namespace", "kubelet"})
_INTEGRATION = "integration: talks to real processes (git server, API server); part of the full suite"
_NAME_ROOM = 50  # of a namespace name's 63 characters, what the test's name may take


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``integration`` marker, so that ``--strict-markers`` accepts it in any project."""
    config.addinivalue_line("markers", _INTEGRATION)


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses a control-plane fixture ``integration``."""
    for item in items:
        if CLUSTER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def control_plane() -> Iterator[ControlPlane]:
    """etcd, kube-apiserver and kube-controller-manager on 127.0.0.1, shared by the whole test session.

    Fails (never skips) with :class:`~reconcile.testing._controlplane.ControlPlaneError` when a binary is
    missing or the control plane does not start.
    """
    with ControlPlane() as plane:
        yield plane


@pytest.fixture(scope="session")
def kube_cluster(control_plane: ControlPlane) -> Iterator[KubernetesCluster]:
    """A :class:`~reconcile.cluster._kubernetes.KubernetesCluster` talking to ``control_plane`` as the admin."""
    # Imported here so that the plugin costs nothing (no kubernetes import) in sessions that do not use it.
    from reconcile.cluster import KubernetesCluster  # noqa: PLC0415

    with KubernetesCluster.from_kubeconfig(control_plane.kubeconfig) as cluster:
        yield cluster


@pytest.fixture
def kube_namespace(control_plane: ControlPlane, request: pytest.FixtureRequest) -> Iterator[str]:
    """The name of a namespace made for this test; deleted afterwards (without waiting for it to go)."""
    name = namespace_name(request.node.name)
    manifest = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    control_plane.request("POST", "/api/v1/namespaces", manifest)
    yield name
    with contextlib.suppress(NotFoundError):  # the test deleted it itself
        control_plane.request("DELETE", f"/api/v1/namespaces/{name}")


@pytest.fixture
def kubelet(control_plane: ControlPlane) -> FakeKubelet:
    """Writes Pod statuses as a kubelet would, so Deployments become available and Jobs complete."""
    return FakeKubelet(control_plane)


def namespace_name(test_name: str) -> str:
    """A unique, valid namespace name that shows which test made it: ``test-apply-prunes-3f9a1c``."""
    slug = re.sub(r"[^a-z0-9]+", "-", test_name.lower()).strip("-")[:_NAME_ROOM].strip("-") or "test"
    return f"{slug}-{secrets.token_hex(3)}"
