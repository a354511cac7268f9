"""The scenario environment: the same test on the in-memory cluster and on the real control plane."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

import reconcile as rc


@attrs.define
class Env:
    cluster: rc.protocols.Cluster
    namespace: str
    folder: Path
    cleanups: list[Callable[[], None]] = attrs.Factory(list)

    def key(self, group: str, kind: str, name: str, namespace: str | None = None) -> rc.ResourceKey:
        return rc.ResourceKey(group, kind, self.namespace if namespace is None else namespace, name)

    def write(self, name: str, text: str) -> None:
        self.folder.mkdir(exist_ok=True)
        (self.folder / name).write_text(text)

    def app(
        self, namespace: str | None = None, diff_settings: rc.diff.DiffSettings | None = None, **policy: Any
    ) -> rc.Reconciler:
        return rc.Reconciler(
            name=f"app-{self.namespace}",
            source=rc.DirectorySource(self.folder),
            renderer=rc.DirectoryRenderer(),
            cluster=self.cluster,
            namespace=namespace or self.namespace,
            policy=rc.SyncPolicy(**policy),
            diff_settings=diff_settings,
        )

    def eventually_gone(self, key: rc.ResourceKey, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while self.cluster.get(key) is not None:
            assert time.monotonic() < deadline, f"{key} still exists"
            time.sleep(0.1)


@pytest.fixture(params=["memory", pytest.param("kubernetes", marks=pytest.mark.integration)])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Env]:
    if request.param == "memory":
        cluster = rc.MemoryCluster()
        namespace = f"t-{uuid.uuid4().hex[:8]}"
        cluster.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    else:
        cluster = request.getfixturevalue("kube_cluster")
        namespace = request.getfixturevalue("kube_namespace")
    environment = Env(cluster=cluster, namespace=namespace, folder=tmp_path / "app")
    yield environment
    for cleanup in reversed(environment.cleanups):
        cleanup()
