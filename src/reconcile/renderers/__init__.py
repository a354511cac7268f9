"""Renderers: turn a snapshot's files into Kubernetes objects (plain manifests, Helm, Kustomize, Jsonnet, plugins)."""

from reconcile.renderers._auto import AutoRenderer
from reconcile.renderers._cache import CachingRenderer, FingerprintedRenderer, RenderCache
from reconcile.renderers._directory import DirectoryRenderer
from reconcile.renderers._helm import HelmRenderer
from reconcile.renderers._jsonnet import JsonnetRenderer
from reconcile.renderers._kustomize import KustomizeRenderer
from reconcile.renderers._plugin import PluginRenderer, PluginSpec
from reconcile.renderers._tools import Tool

__all__ = [
    "AutoRenderer",
    "CachingRenderer",
    "DirectoryRenderer",
    "FingerprintedRenderer",
    "HelmRenderer",
    "JsonnetRenderer",
    "KustomizeRenderer",
    "PluginRenderer",
    "PluginSpec",
    "RenderCache",
    "Tool",
]
