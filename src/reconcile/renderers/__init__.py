"""Renderers: turn a snapshot's files into Kubernetes objects (plain manifests, Helm, Kustomize, Jsonnet)."""

from reconcile.renderers._tools import Tool
from reconcile.renderers.auto import AutoRenderer
from reconcile.renderers.cache import CachingRenderer, RenderCache
from reconcile.renderers.directory import DirectoryRenderer
from reconcile.renderers.helm import HelmRenderer
from reconcile.renderers.jsonnet import JsonnetRenderer
from reconcile.renderers.kustomize import KustomizeRenderer

__all__ = [
    "AutoRenderer",
    "CachingRenderer",
    "DirectoryRenderer",
    "HelmRenderer",
    "JsonnetRenderer",
    "KustomizeRenderer",
    "RenderCache",
    "Tool",
]
