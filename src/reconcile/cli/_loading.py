"""Finding the Applications a command names, and the cluster it talks to."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from reconcile.errors import ConfigurationError, ManifestError
from reconcile.manifests import load_manifests

if TYPE_CHECKING:
    from reconcile.argocd.application import Application
    from reconcile.protocols import Cluster

_SUFFIXES = (".yaml", ".yml", ".json")
_IN_CLUSTER = ("https://kubernetes.default.svc", "in-cluster")  # how Applications name the cluster they run in


def load_applications(path: Path, warn: Callable[[str], None]) -> tuple[Application, ...]:
    """Every Application in a file, or in the YAML and JSON files of a folder (recursively, in path order).

    In a folder, files holding no Application (charts, plain manifests) are passed over; a file named on the
    command line must hold at least one.

    Args:
        path: A file or folder.
        warn: Called with each warning the parser gives (a field not supported yet).

    Raises:
        ConfigurationError: Nothing was found, or an Application is malformed.
        ManifestError: A file is not valid YAML or JSON.
    """
    from reconcile.argocd.application import Application  # noqa: PLC0415 - the CLI's slow imports wait for a command

    if not path.exists():
        raise ConfigurationError(f"{path}: no such file or folder")
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.suffix in _SUFFIXES and p.is_file())
    found: list[Application] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for file in files:
            if path.is_dir() and not _holds_application(file):
                continue
            found += Application.parse_all(file)
    for warning in caught:
        warn(str(warning.message))
    if not found:
        raise ConfigurationError(f"{path}: no argoproj.io Application found")
    return tuple(found)


def _holds_application(file: Path) -> bool:
    try:
        documents = load_manifests(file.read_bytes(), file=str(file))
    except (ManifestError, OSError):
        return False  # not ours to judge: a chart's template is not YAML until rendered
    return any(obj.get("kind") == "Application" and "argoproj.io" in str(obj.get("apiVersion")) for obj, _ in documents)


def pick(applications: Sequence[Application], name: str | None, control_plane_namespace: str) -> Application:
    """The Application ``name`` names (``name`` or ``namespace/name``), or the only one.

    Raises:
        ConfigurationError: No Application has that name, a bare name matches Applications in several
            namespaces, or several were found and none was named.
    """
    names = [app.display_name(control_plane_namespace) for app in applications]
    if name is not None:
        namespace, slash, bare = name.rpartition("/")
        matches = [app for app in applications if app.name == bare and (not slash or app.namespace == namespace)]
        if len(matches) == 1:
            return matches[0]
        if matches:
            found = ", ".join(f"{app.namespace}/{app.name}" for app in matches)
            raise ConfigurationError(f"{name!r} names Applications in several namespaces ({found}): give --app NS/NAME")
        raise ConfigurationError(f"no Application named {name!r}; found: {', '.join(names)}")
    if len(applications) > 1:
        raise ConfigurationError(f"{len(applications)} Applications found ({', '.join(names)}); pick one with --app")
    return applications[0]


@contextlib.contextmanager
def open_cluster(*, memory: bool, kubeconfig: str | None, context: str | None) -> Iterator[Cluster]:
    """The cluster a command talks to: in memory, or as a kubeconfig says; closed on exit.

    Raises:
        ConfigurationError: The kubeconfig is missing or has no such context.
    """
    if memory:
        from reconcile.cluster import MemoryCluster  # noqa: PLC0415

        yield MemoryCluster(simulate_workloads=True)  # a demo cluster whose workloads settle, so health reads true
        return
    from reconcile.cluster import KubernetesCluster  # noqa: PLC0415 - a slow import, only when used

    with KubernetesCluster.from_kubeconfig(kubeconfig, context) as cluster:
        yield cluster


def cluster_map(app: Application, cluster: Cluster) -> dict[str, Cluster]:
    """Every name the Application may use for its destination, mapped to ``cluster``."""
    destination = (app.to_manifest().get("spec") or {}).get("destination") or {}
    server = destination.get("server")
    names = [*_IN_CLUSTER, server, str(server).rstrip("/") if server else None, destination.get("name")]
    return {str(name): cluster for name in names if name}
