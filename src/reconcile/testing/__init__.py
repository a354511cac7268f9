"""What users need to test their own code against reconcile.

- :class:`ControlPlane`: a real etcd + kube-apiserver (+ kube-controller-manager) on 127.0.0.1; the pytest plugin
  ``reconcile`` (installed with the package) offers it as the fixtures ``control_plane``, ``kube_cluster`` and
  ``kube_namespace``.
- :class:`GitHTTPServer`: a smart-HTTP Git server on 127.0.0.1.
"""

from reconcile.testing.controlplane import ControlPlane, ControlPlaneError
from reconcile.testing.gitserver import GitHTTPServer

__all__ = ["ControlPlane", "ControlPlaneError", "GitHTTPServer"]
