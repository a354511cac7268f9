"""What users need to test their own code against reconcile: a smart-HTTP Git server on 127.0.0.1."""

from reconcile.testing.gitserver import GitHTTPServer

__all__ = ["GitHTTPServer"]
