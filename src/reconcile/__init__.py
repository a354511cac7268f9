"""reconcile: Argo CD's GitOps engine as a Python library."""

__version__ = "0.1.0.dev0"
