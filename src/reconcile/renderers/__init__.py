"""Renderers: turn a snapshot's files into Kubernetes objects (plain manifests, Helm, Kustomize, Jsonnet)."""

from reconcile.renderers.cache import CachingRenderer, RenderCache
from reconcile.renderers.directory import DirectoryRenderer
from reconcile.renderers.helm import HelmRenderer

__all__ = ["CachingRenderer", "DirectoryRenderer", "HelmRenderer", "RenderCache"]
