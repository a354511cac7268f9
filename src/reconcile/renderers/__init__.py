"""Renderers: turn a snapshot's files into Kubernetes objects."""

from reconcile.renderers.directory import DirectoryRenderer

__all__ = ["DirectoryRenderer"]
