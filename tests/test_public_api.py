"""The public surface is a promise: the front door's names, and every exported name documented and in the reference."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import reconcile as rc

DOCS = Path(__file__).parents[1] / "docs" / "reference"

FRONT_DOOR = {
    # what a notebook user types after ``rc.``
    "Reconciler", "SyncPolicy", "RetryPolicy", "ReconcileResult", "ResourceStatus",
    "Application", "ApplicationSet", "UnsupportedFieldWarning",
    "GitSource", "DirectorySource", "HelmRepositorySource", "OCISource", "MultiSource", "Credentials",
    "AutoRenderer", "DirectoryRenderer", "HelmRenderer", "KustomizeRenderer", "JsonnetRenderer", "PluginRenderer",
    "CachingRenderer", "RenderCache",
    "MemoryCluster", "KubernetesCluster",
    "ResourceKey", "GroupKind", "SyncStatus", "Health", "HealthStatus", "OperationPhase", "SyncAction", "ResultCode",
    "ReconcileError", "ConfigurationError", "SourceError", "RenderError", "ManifestError", "ClusterError",
    "DiffError", "SyncError",
    "validate", "preview", "watch",
    "argocd", "diff", "errors", "health", "sync", "testing", "__version__",
}  # fmt: skip

PUBLIC_MODULES = [
    "reconcile",
    "reconcile.apiserver",
    "reconcile.apiserver.fields",
    "reconcile.argocd",
    "reconcile.argocd.annotations",
    "reconcile.argocd.application",
    "reconcile.argocd.applicationset",
    "reconcile.argocd.hooks",
    "reconcile.argocd.tracking",
    "reconcile.cluster",
    "reconcile.deadline",
    "reconcile.diff",
    "reconcile.errors",
    "reconcile.events",
    "reconcile.health",
    "reconcile.jsonvalues",
    "reconcile.manifests",
    "reconcile.model",
    "reconcile.previews",
    "reconcile.protocols",
    "reconcile.reconciler",
    "reconcile.redaction",
    "reconcile.renderers",
    "reconcile.results",
    "reconcile.sources",
    "reconcile.sync",
    "reconcile.testing",
    "reconcile.tree",
    "reconcile.watching",
]
ENTRY_POINTS = {"reconcile/cli", "reconcile/cli/__main__", "reconcile/testing/pytest_plugin"}
"""Public because something outside names them: the console script and the pytest plugin."""


def test_the_front_door_holds_what_a_notebook_user_needs():
    assert set(rc.__all__) == FRONT_DOOR


def _documented() -> tuple[set[int], set[str]]:
    """Objects (by identity) and dotted paths the reference renders: named ones, and the members of modules."""
    objects: set[int] = set()
    paths: set[str] = set()
    for page in DOCS.glob("*.md"):
        for target in re.findall(r"^::: (\S+)$", page.read_text(), flags=re.MULTILINE):
            paths.add(target)
            found = _resolve(target)
            objects.add(id(found))
            if isinstance(found, ModuleType):
                for name in getattr(found, "__all__", ()):
                    paths.add(f"{target}.{name}")
                    objects.add(id(getattr(found, name)))
    return objects, paths


def _resolve(path: str) -> Any:
    module, _, name = path.rpartition(".")
    try:
        return importlib.import_module(path)
    except ModuleNotFoundError:
        return getattr(importlib.import_module(module), name)


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_every_exported_name_has_a_docstring_and_a_place_in_the_reference(module_name):
    module = importlib.import_module(module_name)
    assert module.__doc__, module_name
    exported = getattr(module, "__all__", None)
    assert exported, f"{module_name} has no __all__"
    objects, paths = _documented()
    for name in exported:
        value = getattr(module, name)
        if inspect.isclass(value) or inspect.isfunction(value) or isinstance(value, ModuleType):
            assert inspect.getdoc(value), f"{module_name}.{name} has no docstring"
            if not isinstance(value, ModuleType) or name in ("fields",):
                assert id(value) in objects or f"{module_name}.{name}" in paths, (
                    f"{module_name}.{name} is not in the reference docs"
                )
        elif name != "__version__":
            assert f"{module_name}.{name}" in paths or module_name in paths, (
                f"{module_name}.{name} is not in the reference docs"
            )


def test_implementation_modules_are_private():
    src = Path(rc.__file__).parent
    public = {m.replace(".", "/") for m in PUBLIC_MODULES} | ENTRY_POINTS
    for path in src.rglob("*.py"):
        relative = path.relative_to(src.parent).with_suffix("")
        parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
        if any(part.startswith("_") and part != "__main__" for part in parts):
            continue
        assert "/".join(parts) in public, f"{'/'.join(parts)} is public by accident"
