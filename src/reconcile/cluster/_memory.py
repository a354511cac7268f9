"""An in-memory model of a Kubernetes API server of a chosen release, for tests and dry runs.

:class:`MemoryCluster` satisfies the :class:`~reconcile.protocols.Cluster` protocol and behaves like a real
API server wherever the library can observe it: server-side apply with field managers stored as real
``managedFields``, conflicts, server defaults and allocated values (cluster IPs), ``resourceVersion`` and
``generation`` rules, dry runs, namespaces, CustomResourceDefinitions, finalizers and garbage collection by
owner references. What real controllers do asynchronously (the namespace controller, the garbage collector,
the ServiceAccount token controller, CRD establishment) happens synchronously inside the write that triggers
it.

Drift and failure helpers for tests: :meth:`MemoryCluster.edit`, :meth:`~MemoryCluster.set_status`,
:meth:`~MemoryCluster.fail`, and :meth:`~MemoryCluster.watch` for an event stream.

The server itself is :class:`reconcile.apiserver.APIServer`; this module is its front: the Cluster protocol, the
test helpers, and failure injection (a test's tool, not the server's semantics).
"""

from __future__ import annotations

import builtins
import copy
import datetime
import threading
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from reconcile.apiserver import APISchema, APIServer, Watch
from reconcile.cluster import _arguments as arguments
from reconcile.errors import ClusterError, ConfigurationError
from reconcile.model import Capabilities, GroupKind, Manifest, PropagationPolicy, ResourceKey

__all__ = ["MemoryCluster"]

_VERBS = frozenset(
    {"get", "list", "is_namespaced", "apply", "create", "patch", "replace", "delete", "edit", "set_status"}
)


@attrs.define
class _Failure:
    verb: str
    target: ResourceKey | GroupKind | None
    error: ClusterError | None
    remaining: int

    def matches(self, verb: str, key: ResourceKey | None, group_kind: GroupKind | None) -> bool:
        if self.verb not in (verb, "*"):
            return False
        if self.target is None:
            return True
        if isinstance(self.target, ResourceKey):
            return key == self.target
        return (key.group_kind if key is not None else group_kind) == self.target


class MemoryCluster:
    """An in-memory Kubernetes API server of one release. Thread-safe: every call holds one lock.

    It starts with the namespaces ``default``, ``kube-system``, ``kube-public`` and ``kube-node-lease``,
    serves the built-in kinds the release serves by default (its API schema says which, in which versions) plus
    those of every CustomResourceDefinition written to it, and returns deep copies only.

    Args:
        version: The Kubernetes release to behave as (``"1.36"``, ``"v1.36.3"``); the newest supported by
            default (:func:`reconcile.apiserver.supported_versions` lists them).
        clock: Where timestamps come from (UTC ``datetime``); the wall clock by default.
        simulate_workloads: Play the controllers and kubelets a real cluster runs: each Deployment, StatefulSet,
            DaemonSet, ReplicaSet, Job and Pod written gets, at once, the status of a settled rollout (replicas
            ready, the Job complete), so health reads as a real cluster's would once it settles. Off by
            default: tests then set each status themselves (:meth:`set_status`).
    """

    def __init__(
        self,
        *,
        version: str | None = None,
        clock: Callable[[], datetime.datetime] | None = None,
        simulate_workloads: bool = False,
    ) -> None:
        self._server = APIServer(APISchema.for_version(version), clock=clock, simulate_workloads=simulate_workloads)
        # Fault injection is the test helper's, not the server's: its own lock guards the failures to come.
        self._lock = threading.Lock()
        self._failures: builtins.list[_Failure] = []

    # --- the Cluster protocol ---

    def get(self, key: ResourceKey, *, api_version: str | None = None) -> Manifest | None:
        """The live object, or ``None`` when it does not exist.

        Objects are kept in the version they were written in; ``api_version`` is accepted for the protocol's sake
        (the model does not convert between versions).

        Raises:
            UnknownKindError: The cluster does not serve the key's kind.
        """
        arguments.named_key("get", key)
        self._maybe_fail("get", key)
        return self._server.get(key, api_version=api_version)

    def list(self, group_kind: GroupKind | None = None, *, namespace: str | None = None) -> builtins.list[Manifest]:
        """Live objects of one kind (or of every kind), sorted by key; only those in ``namespace`` if given.

        Raises:
            UnknownKindError: The cluster does not serve ``group_kind``.
        """
        arguments.group_kind("list", group_kind, optional=True)
        self._maybe_fail("list", None, group_kind)
        return self._server.list(group_kind, namespace=namespace)

    def versions(self, group_kind: GroupKind, *, namespace: str | None = None) -> dict[ResourceKey, str]:
        """The resourceVersion of every object of a kind (in ``namespace`` when given), by key; no object copied.

        Failures injected into ``list`` apply.

        Raises:
            UnknownKindError: The cluster does not serve ``group_kind``.
        """
        arguments.group_kind("versions", group_kind)
        self._maybe_fail("list", None, group_kind)
        return self._server.versions(group_kind, namespace=namespace)

    def select(self, wanted: Callable[[Manifest], bool]) -> builtins.list[Manifest]:
        """Copies of the objects of every kind for which ``wanted(obj)`` is true, sorted by key.

        Only the objects picked are copied (a first pass of one app among many copies its own objects only);
        ``wanted`` reads the stored objects themselves and must not change them. Failures injected into ``list``
        apply.
        """
        self._maybe_fail("list", None, None)
        return self._server.select(wanted)

    def is_namespaced(self, group_kind: GroupKind) -> bool | None:
        """Whether the kind is namespaced; ``None`` when the cluster does not serve it."""
        arguments.group_kind("is_namespaced", group_kind)
        self._maybe_fail("is_namespaced", None, group_kind)
        return self._server.is_namespaced(group_kind)

    @property
    def version(self) -> str:
        """The release this cluster behaves as (``"1.36"``)."""
        return self._server.version

    def capabilities(self) -> Capabilities:
        """The release's version (``v1.36.0``) and the API versions this model serves (CRDs included)."""
        return self._server.capabilities()

    def apply(
        self, obj: Manifest, *, field_manager: str = "reconcile", force: bool = False, dry_run: bool = False
    ) -> Manifest:
        """Server-side apply ``obj`` as ``field_manager``; returns the object as stored (or as it would be).

        Raises:
            ConflictError: Another manager owns a field this apply changes (and ``force`` is false).
            InvalidError: The object is invalid (bad name, a keyed-list item without its key field...).
            NotFoundError: Its namespace does not exist.
            UnknownKindError: The cluster does not serve its kind or version.
        """
        arguments.manifest("apply", obj)
        self._maybe_fail("apply", self._server.key_of(obj))
        return self._server.apply(obj, field_manager=field_manager, force=force, dry_run=dry_run)

    def create(self, obj: Manifest, *, field_manager: str = "reconcile", dry_run: bool = False) -> Manifest:
        """Create ``obj`` (``metadata.generateName`` supported).

        Raises:
            ConflictError: It exists already (reason ``AlreadyExists``).
            InvalidError, NotFoundError, UnknownKindError: As for :meth:`apply`.
        """
        arguments.manifest("create", obj)
        self._maybe_fail("create", self._server.key_of(obj))
        return self._server.create(obj, field_manager=field_manager, dry_run=dry_run)

    def patch(
        self,
        key: ResourceKey,
        patch: Mapping[str, Any],
        *,
        field_manager: str = "reconcile",
        dry_run: bool = False,
    ) -> Manifest:
        """Apply a JSON merge patch (RFC 7386) as an Update by ``field_manager``.

        Raises:
            NotFoundError: The object does not exist.
            ConflictError: The patch carries a stale ``metadata.resourceVersion``.
        """
        arguments.named_key("patch", key)
        arguments.merge_patch(patch)
        self._maybe_fail("patch", key)
        return self._server.patch(key, patch, field_manager=field_manager, dry_run=dry_run)

    def delete(self, key: ResourceKey, *, propagation: PropagationPolicy = "Background", dry_run: bool = False) -> None:
        """Delete the object; with finalizers it stays (``deletionTimestamp`` set) until they are removed.

        ``Background`` and ``Foreground`` delete the object's dependents (objects whose ``ownerReferences``
        name its uid); ``Orphan`` removes those references instead.

        Raises:
            NotFoundError: The object does not exist.
        """
        arguments.named_key("delete", key)
        self._maybe_fail("delete", key)
        self._server.delete(key, propagation=propagation, dry_run=dry_run)

    # --- more verbs and test helpers ---

    def replace(self, obj: Manifest, *, field_manager: str = "reconcile", dry_run: bool = False) -> Manifest:
        """Replace the whole object (HTTP PUT) as an Update by ``field_manager``.

        A ``metadata.resourceVersion`` in ``obj`` must match the live one; allocated values (a Service's
        cluster IP) are kept when ``obj`` leaves them out; ``status`` is ignored for kinds with a status
        subresource.

        Raises:
            NotFoundError: The object does not exist.
            ConflictError: ``metadata.resourceVersion`` is stale.
        """
        arguments.manifest("replace", obj)
        self._maybe_fail("replace", self._server.key_of(obj))
        return self._server.replace(obj, field_manager=field_manager, dry_run=dry_run)

    def edit(self, key: ResourceKey, fn: Callable[[Manifest], Manifest | None]) -> Manifest:
        """Change an object like ``kubectl edit`` does, as an Update by the manager ``kubectl-edit``.

        ``fn`` gets a copy of the live object and returns the edited object, or changes the copy in place and
        returns ``None``.

        Raises:
            NotFoundError: The object does not exist.
        """
        self._maybe_fail("edit", key)
        return self._server.edit(key, fn)

    def set_status(
        self, key: ResourceKey, status: Mapping[str, Any], *, field_manager: str = "kube-controller-manager"
    ) -> Manifest:
        """Replace the object's ``status`` (through the status subresource, as controllers do).

        Raises:
            NotFoundError: The object does not exist.
        """
        self._maybe_fail("set_status", key)
        return self._server.set_status(key, status, field_manager=field_manager)

    def watch(
        self, group_kind: GroupKind | None = None, *, namespace: str | None = None, timeout: float = 1.0
    ) -> Watch:
        """Start receiving ``ADDED``/``MODIFIED``/``DELETED`` events for one kind (or all), from now on.

        Args:
            group_kind: Only this kind; every kind when ``None``.
            namespace: Only objects in this namespace.
            timeout: How long iterating waits for the next event before it stops.
        """
        return self._server.watch(group_kind, namespace=namespace, timeout=timeout)

    def fail(
        self,
        verb: str,
        *,
        key: ResourceKey | GroupKind | None = None,
        error: ClusterError | None = None,
        times: int = 1,
    ) -> None:
        """Make the next ``times`` matching calls raise ``error`` before doing anything.

        Args:
            verb: ``get``, ``list``, ``is_namespaced``, ``apply``, ``create``, ``patch``, ``replace``,
                ``delete``, ``edit``, ``set_status``, or ``*`` for any.
            key: Only calls about this object, or about objects of this kind; any call when ``None``.
            error: What to raise; by default a 500 ``InternalError`` :class:`~reconcile.errors.ClusterError`.
            times: How many calls fail.
        """
        if verb != "*" and verb not in _VERBS:
            raise ConfigurationError(f"cannot inject failures into {verb!r}: verbs are {sorted(_VERBS)}")
        with self._lock:
            self._failures.append(_Failure(verb=verb, target=key, error=error, remaining=times))

    def _maybe_fail(self, verb: str, key: ResourceKey | None, group_kind: GroupKind | None = None) -> None:
        """Raise the first failure injected for this call (:meth:`fail`), counting it down."""
        if not self._failures:
            return
        with self._lock:
            for failure in self._failures:
                if failure.remaining > 0 and failure.matches(verb, key, group_kind):
                    failure.remaining -= 1
                    if failure.remaining <= 0:
                        self._failures.remove(failure)
                    if failure.error is not None:
                        raise copy.copy(failure.error)
                    raise ClusterError(
                        f"Internal error occurred: injected failure of {verb}",
                        key=key,
                        status=500,
                        reason="InternalError",
                    )
