"""What users need to test their own code against reconcile.

- :class:`ControlPlane`: a real etcd + kube-apiserver (+ kube-controller-manager) on 127.0.0.1; the pytest plugin
  ``reconcile`` (installed with the package) offers it as the fixtures ``control_plane``, ``kube_cluster`` and
  ``kube_namespace``; :class:`FakeKubelet` (fixture ``kubelet``) writes Pod statuses as a kubelet would.
- :class:`GitHTTPServer`: a smart-HTTP Git server on 127.0.0.1; :class:`LocalRepository` writes commits and tags
  into a local repository.
- :class:`OCIRegistry`: Debian's ``docker-registry`` (an OCI registry) on 127.0.0.1, optionally behind a
  password, for charts pushed with the real ``helm push``.
- :class:`ChartRepositoryServer`: a Helm chart repository on 127.0.0.1, with :func:`build_chart_repository` and
  :func:`write_chart` to fill it with charts packaged by the real helm.
"""

from reconcile.testing._chartrepo import ChartRepositoryServer, build_chart_repository, write_chart
from reconcile.testing._controlplane import ControlPlane, ControlPlaneError, find_binary
from reconcile.testing._gitserver import GitHTTPServer
from reconcile.testing._kubelet import FakeKubelet
from reconcile.testing._registry import OCIRegistry
from reconcile.testing._repository import LocalRepository

__all__ = [
    "ChartRepositoryServer",
    "ControlPlane",
    "ControlPlaneError",
    "FakeKubelet",
    "GitHTTPServer",
    "LocalRepository",
    "OCIRegistry",
    "build_chart_repository",
    "find_binary",
    "write_chart",
]
