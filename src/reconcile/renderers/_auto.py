"""Picking the renderer from the folder's files, as Argo CD's repo-server does.

``Chart.yaml`` means a Helm chart; ``kustomization.yaml``, ``kustomization.yml`` or ``Kustomization`` a Kustomize
overlay; anything else a directory source: plain manifests and ``*.jsonnet`` files, evaluated, as in Argo CD.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from reconcile.model import Capabilities, Resource, Snapshot
from reconcile.renderers._directory import DirectoryRenderer
from reconcile.renderers._helm import HelmRenderer
from reconcile.renderers._kustomize import KUSTOMIZATION_FILES, KustomizeRenderer


def _helm(value: HelmRenderer | Mapping[str, Any] | None) -> HelmRenderer:
    return value if isinstance(value, HelmRenderer) else HelmRenderer(**(value or {}))


def _kustomize(value: KustomizeRenderer | Mapping[str, Any] | None) -> KustomizeRenderer:
    return value if isinstance(value, KustomizeRenderer) else KustomizeRenderer(**(value or {}))


def _directory(value: DirectoryRenderer | Mapping[str, Any] | None) -> DirectoryRenderer:
    return value if isinstance(value, DirectoryRenderer) else DirectoryRenderer(**(value or {}))


@attrs.frozen(kw_only=True)
class AutoRenderer:
    """Renders a folder with the tool its files call for.

    Each option is the renderer to use for that kind of folder, or a mapping of that renderer's arguments
    (``AutoRenderer(helm={"value_files": ["values-prod.yaml"]})``).

    Attributes:
        helm: For a folder with ``Chart.yaml``.
        kustomize: For a folder with a kustomization file.
        directory: For everything else: YAML and JSON files read, ``*.jsonnet`` files evaluated (its
            ``jsonnet`` renderer holds Jsonnet's variables and libraries).
    """

    helm: HelmRenderer = attrs.field(factory=HelmRenderer, converter=_helm)
    kustomize: KustomizeRenderer = attrs.field(factory=KustomizeRenderer, converter=_kustomize)
    directory: DirectoryRenderer = attrs.field(factory=DirectoryRenderer, converter=_directory)

    def choose(self, snapshot: Snapshot) -> HelmRenderer | KustomizeRenderer | DirectoryRenderer:
        """The renderer ``snapshot``'s folder calls for."""
        folder = Path(snapshot.directory)
        if (folder / "Chart.yaml").is_file():
            return self.helm
        if any((folder / name).is_file() for name in KUSTOMIZATION_FILES):
            return self.kustomize
        return self.directory

    def render(self, snapshot: Snapshot) -> tuple[Resource, ...]:
        """Render with the renderer :meth:`choose` picks."""
        return self.choose(snapshot).render(snapshot)

    def for_cluster(self, capabilities: Capabilities) -> AutoRenderer:
        """This renderer with its Helm renderer set up for the cluster."""
        return attrs.evolve(self, helm=self.helm.for_cluster(capabilities))

    def fingerprint(self) -> str:
        """Every renderer's fingerprint: which one runs depends on the files, which the cache key covers."""
        parts = [self.helm.fingerprint(), self.kustomize.fingerprint(), self.directory.fingerprint()]
        return json.dumps(["auto", parts])
