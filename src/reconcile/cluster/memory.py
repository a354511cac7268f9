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
"""

from __future__ import annotations

import builtins
import copy
import datetime
import ipaddress
import queue
import re
import secrets
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from types import TracebackType
from typing import Any, Literal

import attrs

from reconcile import apiserver
from reconcile.apiserver import (
    INITIAL_STATUS,
    APISchema,
    Checker,
    FieldPath,
    Kind,
    ListType,
    SchemaProblem,
    apply_defaults,
    crd_kind,
    fields,
    metadata_of,
    schema_problems,
    spec_of,
    version_priority,
    without_undeclared,
)
from reconcile.apiserver.fields import FieldSet
from reconcile.cluster._workloads import SETTLED_STATUS
from reconcile.errors import (
    ClusterError,
    ConfigurationError,
    ConflictError,
    InvalidError,
    NotFoundError,
    UnknownKindError,
)
from reconcile.jsonvalues import deep_copy, json_equal, without_nulls
from reconcile.model import Capabilities, GroupKind, Manifest, ResourceKey, split_api_version
from reconcile.protocols import PropagationPolicy

__all__ = ["MemoryCluster", "Watch", "WatchEvent"]

EventType = Literal["ADDED", "MODIFIED", "DELETED"]

_NAMESPACE = GroupKind("", "Namespace")
_SERVICE = GroupKind("", "Service")
_SECRET = GroupKind("", "Secret")
_CRD = GroupKind("apiextensions.k8s.io", "CustomResourceDefinition")
_CRD_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
_FOREGROUND = "foregroundDeletion"
_TOKEN_TYPE = "kubernetes.io/service-account-token"  # noqa: S105 - a Secret type, not a password
_CONTROLLER_MANAGER = "kube-controller-manager"
_API_SERVER = "kube-apiserver"

_VERBS = frozenset(
    {"get", "list", "is_namespaced", "apply", "create", "patch", "replace", "delete", "edit", "set_status"}
)

_PROTECTED_NAMESPACES = frozenset({"default", "kube-system", "kube-public"})
_SERVICE_RANGE = ipaddress.ip_network("10.96.0.0/12")
_NODE_PORTS = range(30000, 32768)

# Name rules and messages as the API server words them.
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS1035 = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    f"'{_SUBDOMAIN.pattern}')"
)
_LABEL_MESSAGE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
    f"and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    f"'{_LABEL.pattern}')"
)
_DNS1035_MESSAGE = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
    f"validation is '{_DNS1035.pattern}')"
)
_GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


# ----------------------------------------------------------------------------------------------------
# Watches.


@attrs.frozen
class WatchEvent:
    """One change seen by a :class:`Watch`.

    Attributes:
        type: ``ADDED``, ``MODIFIED`` or ``DELETED``.
        object: A copy of the object after the change (for ``DELETED``, its last state).
    """

    type: EventType
    object: Manifest = attrs.field(eq=False, repr=False)

    @property
    def key(self) -> ResourceKey:
        """The key of the object that changed."""
        return ResourceKey.from_manifest(self.object)


class Watch:
    """A thread-safe stream of changes, from :meth:`MemoryCluster.watch`.

    Iterating yields events until the watch is closed or no event arrives for ``timeout`` seconds; :meth:`get`
    waits for one event. Use it as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        *,
        group_kind: GroupKind | None,
        namespace: str | None,
        timeout: float,
        on_close: Callable[[Watch], None],
    ) -> None:
        self.group_kind = group_kind
        self.namespace = namespace
        self.timeout = timeout
        self._on_close = on_close
        self._queue: queue.Queue[WatchEvent | None] = queue.Queue()
        self._closed = threading.Event()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed.is_set()

    def _offer(self, event: WatchEvent) -> None:
        key = event.key
        if self.group_kind is not None and key.group_kind != self.group_kind:
            return
        if self.namespace is not None and key.namespace != self.namespace:
            return
        if not self.closed:
            self._queue.put(event)

    def get(self, timeout: float | None = None) -> WatchEvent | None:
        """The next event, waiting up to ``timeout`` seconds (``None``: forever); ``None`` when none came."""
        if self.closed and self._queue.empty():
            return None
        try:
            event = self._queue.get(timeout=timeout)
        except queue.Empty:
            return None
        if event is None:
            self._queue.put(None)  # let every other reader see the end too
        return event

    def __iter__(self) -> Iterator[WatchEvent]:
        while (event := self.get(self.timeout)) is not None:
            yield event

    def close(self) -> None:
        """Stop receiving events; iteration ends once the events already received are read."""
        if not self._closed.is_set():
            self._closed.set()
            self._on_close(self)
            self._queue.put(None)

    def __enter__(self) -> Watch:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


# ----------------------------------------------------------------------------------------------------
# Small helpers.


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


@attrs.frozen(kw_only=True)
class _Entry:
    manager: str
    operation: str
    api_version: str
    time: str
    fields: FieldSet = attrs.field(eq=False)

    def render(self) -> dict[str, Any]:
        return {
            "apiVersion": self.api_version,
            "fieldsType": "FieldsV1",
            "fieldsV1": self.fields,
            "manager": self.manager,
            "operation": self.operation,
            "time": self.time,
        }


def _read_entries(managed: object) -> list[_Entry]:
    """Entries of a ``managedFields`` list, those of the same manager and operation merged."""
    merged: dict[tuple[str, str], _Entry] = {}
    for raw in managed if isinstance(managed, list) else []:
        if not isinstance(raw, dict):
            continue
        entry = _Entry(
            manager=str(raw.get("manager") or ""),
            operation=str(raw.get("operation") or "Update"),
            api_version=str(raw.get("apiVersion") or ""),
            time=str(raw.get("time") or ""),
            fields=raw.get("fieldsV1") or {},
        )
        found = merged.get((entry.manager, entry.operation))
        if found is not None:
            entry = attrs.evolve(entry, fields=fields.union(found.fields, entry.fields))
        merged[(entry.manager, entry.operation)] = entry
    return list(merged.values())


def _render_entries(entries: list[_Entry]) -> list[dict[str, Any]]:
    # The API server's order: Apply before Update, then oldest first, then by manager.
    ordered = sorted(entries, key=lambda e: (e.operation, e.time, e.manager, e.api_version))
    return [entry.render() for entry in ordered]


def _merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: maps merge, ``null`` deletes, everything else replaces."""
    if not isinstance(patch, Mapping):
        return deep_copy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for name, value in patch.items():
        if value is None:
            out.pop(name, None)
        else:
            out[name] = _merge_patch(out.get(name), value)
    return out


def _without(obj: Manifest, *names: str) -> Manifest:
    return {name: value for name, value in obj.items() if name not in names}


# ----------------------------------------------------------------------------------------------------
# The cluster.


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
        self._schema = APISchema.for_version(version)
        self._lock = threading.RLock()
        self._simulate_workloads = simulate_workloads
        self._clock = clock or (lambda: datetime.datetime.now(datetime.UTC))
        self._objects: dict[ResourceKey, Manifest] = {}
        self._kinds: dict[GroupKind, Kind] = dict(self._schema.kinds)
        self._overrides: dict[GroupKind, dict[FieldPath, ListType]] = {}
        self._crd_schemas: dict[GroupKind, dict[str, Mapping[str, Any]]] = {}
        self._crd_checkers: dict[GroupKind, Checker] = {}
        self._resource_version = 0
        self._watches: builtins.list[Watch] = []
        self._failures: builtins.list[_Failure] = []
        # Whether the garbage collector may have work: a deletion, or an object with owners, was stored.
        self._pending_collection = False
        for name in ("default", "kube-system", "kube-public", "kube-node-lease"):
            self.create(
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
                field_manager=_API_SERVER,
            )

    # --- the Cluster protocol ---

    def get(self, key: ResourceKey, *, api_version: str | None = None) -> Manifest | None:
        """The live object, or ``None`` when it does not exist.

        Objects are kept in the version they were written in; ``api_version`` is accepted for the protocol's sake
        (the model does not convert between versions).

        Raises:
            UnknownKindError: The cluster does not serve the key's kind.
        """
        with self._lock:
            self._maybe_fail("get", key)
            info = self._kind(key.group_kind)
            found = self._objects.get(self._scoped(key, info))
            return deep_copy(found) if found is not None else None

    def list(self, group_kind: GroupKind | None = None, *, namespace: str | None = None) -> builtins.list[Manifest]:
        """Live objects of one kind (or of every kind), sorted by key; only those in ``namespace`` if given.

        Raises:
            UnknownKindError: The cluster does not serve ``group_kind``.
        """
        with self._lock:
            self._maybe_fail("list", None, group_kind)
            if group_kind is not None:
                self._kind(group_kind)
            return [
                deep_copy(obj)
                for key, obj in sorted(self._objects.items())
                if (group_kind is None or key.group_kind == group_kind)
                and (namespace is None or key.namespace == namespace)
            ]

    def is_namespaced(self, group_kind: GroupKind) -> bool | None:
        """Whether the kind is namespaced; ``None`` when the cluster does not serve it."""
        with self._lock:
            self._maybe_fail("is_namespaced", None, group_kind)
            info = self._kinds.get(group_kind)
            return info.namespaced if info is not None else None

    @property
    def version(self) -> str:
        """The release this cluster behaves as (``"1.36"``)."""
        return str(self._schema.version)

    def capabilities(self) -> Capabilities:
        """The release's version (``v1.36.0``) and the API versions this model serves (CRDs included)."""
        with self._lock:
            kinds = [(info.group, info.kind, info.versions) for info in self._kinds.values()]
        return Capabilities.from_kinds(self._schema.git_version, kinds)

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
        with self._lock:
            config = deep_copy(obj)
            self._maybe_fail("apply", self._loose_key(config))
            info, key = self._identify(config)
            return self._apply(key, info, config, field_manager, force=force, dry_run=dry_run)

    def create(self, obj: Manifest, *, field_manager: str = "reconcile", dry_run: bool = False) -> Manifest:
        """Create ``obj`` (``metadata.generateName`` supported).

        Raises:
            ConflictError: It exists already (reason ``AlreadyExists``).
            InvalidError, NotFoundError, UnknownKindError: As for :meth:`apply`.
        """
        with self._lock:
            config = deep_copy(obj)
            self._maybe_fail("create", self._loose_key(config))
            metadata = metadata_of(config)
            if not metadata.get("name") and metadata.get("generateName"):
                metadata["name"] = self._generate_name(config)
            info, key = self._identify(config)
            if key in self._objects:
                raise ConflictError(
                    f'{info.resource} "{key.name}" already exists',
                    key=key,
                    reason="AlreadyExists",
                    retryable=False,
                )
            self._check_can_create(key, info)
            return self._update(key, info, None, config, field_manager, dry_run=dry_run)

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
        with self._lock:
            self._maybe_fail("patch", key)
            info = self._kind(key.group_kind)
            key = self._scoped(key, info)
            live = self._live(key, info)
            patched = _merge_patch(deep_copy(live), patch)
            requested = (patch.get("metadata") or {}).get("resourceVersion") if isinstance(patch, Mapping) else None
            self._check_precondition(key, info, live, requested)
            self._check_same_identity(key, info, patched)
            return self._update(key, info, live, patched, field_manager, dry_run=dry_run)

    def delete(self, key: ResourceKey, *, propagation: PropagationPolicy = "Background", dry_run: bool = False) -> None:
        """Delete the object; with finalizers it stays (``deletionTimestamp`` set) until they are removed.

        ``Background`` and ``Foreground`` delete the object's dependents (objects whose ``ownerReferences``
        name its uid); ``Orphan`` removes those references instead.

        Raises:
            NotFoundError: The object does not exist.
        """
        with self._lock:
            self._maybe_fail("delete", key)
            info = self._kind(key.group_kind)
            key = self._scoped(key, info)
            self._live(key, info)
            if key.group_kind == _NAMESPACE and key.name in _PROTECTED_NAMESPACES:
                raise ClusterError(
                    f'namespaces "{key.name}" is forbidden: this namespace may not be deleted',
                    key=key,
                    status=403,
                    reason="Forbidden",
                )
            if dry_run:
                return
            self._delete(key, propagation)
            self._collect()

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
        with self._lock:
            config = deep_copy(obj)
            self._maybe_fail("replace", self._loose_key(config))
            info, key = self._identify(config)
            live = self._live(key, info)
            self._check_precondition(key, info, live, metadata_of(config).get("resourceVersion"))
            return self._update(key, info, live, config, field_manager, dry_run=dry_run)

    def edit(self, key: ResourceKey, fn: Callable[[Manifest], Manifest | None]) -> Manifest:
        """Change an object like ``kubectl edit`` does, as an Update by the manager ``kubectl-edit``.

        ``fn`` gets a copy of the live object and returns the edited object, or changes the copy in place and
        returns ``None``.

        Raises:
            NotFoundError: The object does not exist.
        """
        with self._lock:
            self._maybe_fail("edit", key)
            info = self._kind(key.group_kind)
            key = self._scoped(key, info)
            live = self._live(key, info)
            draft = deep_copy(live)
            result = fn(draft)
            edited = deep_copy(result if result is not None else draft)
            self._check_same_identity(key, info, edited)
            self._check_precondition(key, info, live, metadata_of(edited).get("resourceVersion"))
            return self._update(key, info, live, edited, "kubectl-edit", dry_run=False)

    def set_status(
        self, key: ResourceKey, status: Mapping[str, Any], *, field_manager: str = _CONTROLLER_MANAGER
    ) -> Manifest:
        """Replace the object's ``status`` (through the status subresource, as controllers do).

        Raises:
            NotFoundError: The object does not exist.
        """
        with self._lock:
            self._maybe_fail("set_status", key)
            info = self._kind(key.group_kind)
            key = self._scoped(key, info)
            live = self._live(key, info)
            updated = deep_copy(live)
            updated["status"] = deep_copy(dict(status))
            return self._update(key, info, live, updated, field_manager, dry_run=False, status_write=True)

    def watch(
        self, group_kind: GroupKind | None = None, *, namespace: str | None = None, timeout: float = 1.0
    ) -> Watch:
        """Start receiving ``ADDED``/``MODIFIED``/``DELETED`` events for one kind (or all), from now on.

        Args:
            group_kind: Only this kind; every kind when ``None``.
            namespace: Only objects in this namespace.
            timeout: How long iterating waits for the next event before it stops.
        """
        with self._lock:
            stream = Watch(group_kind=group_kind, namespace=namespace, timeout=timeout, on_close=self._unwatch)
            self._watches.append(stream)
            return stream

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

    # --- identity, kinds, checks ---

    def _maybe_fail(self, verb: str, key: ResourceKey | None, group_kind: GroupKind | None = None) -> None:
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

    def _kind(self, group_kind: GroupKind, api_version: str | None = None) -> Kind:
        info = self._kinds.get(group_kind)
        version = split_api_version(api_version)[1] if api_version else None
        if info is None or (version is not None and version not in info.versions):
            where = f'version "{api_version}"' if api_version else f'group "{group_kind.group}"'
            raise UnknownKindError(f'no matches for kind "{group_kind.kind}" in {where}')
        return info

    @staticmethod
    def _scoped(key: ResourceKey, info: Kind) -> ResourceKey:
        return key if info.namespaced else key.with_namespace("")

    def _loose_key(self, obj: Manifest) -> ResourceKey:
        key = ResourceKey.from_manifest(obj)
        info = self._kinds.get(key.group_kind)
        if info is not None and not info.namespaced:
            return key.with_namespace("")
        return key if key.namespace or info is None else key.with_namespace("default")

    def _identify(self, obj: Manifest) -> tuple[Kind, ResourceKey]:
        """Check the object's kind, version and name; set its namespace as the server would."""
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        if not kind or not api_version:
            missing = "kind" if not kind else "apiVersion"
            raise InvalidError(f"Object '{missing}' is missing in the object", field=missing)
        group, _ = split_api_version(str(api_version))
        info = self._kind(GroupKind(group, str(kind)), str(api_version))
        metadata = metadata_of(obj)
        if info.namespaced:
            metadata["namespace"] = metadata.get("namespace") or "default"
        else:
            metadata.pop("namespace", None)
        key = ResourceKey.from_manifest(obj)
        self._validate_name(info, key)
        return info, key

    def _validate_name(self, info: Kind, key: ResourceKey) -> None:
        name = key.name
        prefix = f"{info.kind}.{info.group}" if info.group else info.kind
        if not name:
            raise InvalidError(
                f'{prefix} "" is invalid: metadata.name: Required value: name or generateName is required',
                key=key,
                field="metadata.name",
            )
        problem = ""
        if info.group == "rbac.authorization.k8s.io":
            if name in (".", "..") or "/" in name or "%" in name:
                problem = "may not be '.' or '..' and may not contain '/' or '%'"
        elif info.group_kind == _NAMESPACE:
            if len(name) > 63 or not _LABEL.fullmatch(name):  # noqa: PLR2004
                problem = _LABEL_MESSAGE
        elif info.group_kind == _SERVICE:
            if len(name) > 63 or not _DNS1035.fullmatch(name):  # noqa: PLR2004
                problem = _DNS1035_MESSAGE
        elif len(name) > 253 or not _SUBDOMAIN.fullmatch(name):  # noqa: PLR2004
            problem = _SUBDOMAIN_MESSAGE
        if problem:
            raise InvalidError(
                f'{prefix} "{name}" is invalid: metadata.name: Invalid value: "{name}": {problem}',
                key=key,
                field="metadata.name",
            )

    def _live(self, key: ResourceKey, info: Kind) -> Manifest:
        found = self._objects.get(key)
        if found is None:
            raise NotFoundError(f'{info.resource} "{key.name}" not found', key=key)
        return found

    def _check_can_create(self, key: ResourceKey, info: Kind) -> None:
        if info.namespaced:
            namespace = self._objects.get(ResourceKey("", "Namespace", "", key.namespace))
            if namespace is None:
                raise NotFoundError(f'namespaces "{key.namespace}" not found', key=key)
            if metadata_of(namespace).get("deletionTimestamp"):
                raise ClusterError(
                    f'{info.resource} "{key.name}" is forbidden: unable to create new content in '
                    f"namespace {key.namespace} because it is being terminated",
                    key=key,
                    status=403,
                    reason="Forbidden",
                )
        crd = self._crd_of(info.group_kind)
        if crd is not None and metadata_of(crd).get("deletionTimestamp"):
            raise ClusterError(
                f'create not allowed while custom resource definition "{metadata_of(crd)["name"]}" is terminating',
                key=key,
                status=405,
                reason="MethodNotAllowed",
            )

    def _check_precondition(self, key: ResourceKey, info: Kind, live: Manifest, requested: object) -> None:
        if requested and str(requested) != metadata_of(live).get("resourceVersion"):
            raise ConflictError(
                f'Operation cannot be fulfilled on {info.resource} "{key.name}": the object has been '
                "modified; please apply your changes to the latest version and try again",
                key=key,
            )

    def _check_same_identity(self, key: ResourceKey, info: Kind, obj: Manifest) -> None:
        found = ResourceKey.from_manifest(obj)
        if not info.namespaced:
            found = found.with_namespace("")
        if found != key:
            raise InvalidError(
                f"the object {found} does not match the object it replaces ({key})", key=key, field="metadata"
            )

    def _generate_name(self, obj: Manifest) -> str:
        prefix = str(metadata_of(obj)["generateName"])
        probe = self._loose_key(obj)
        while True:
            name = prefix + "".join(secrets.choice(_GENERATE_ALPHABET) for _ in range(5))
            if attrs.evolve(probe, name=name) not in self._objects:
                return name

    def _overrides_of(self, info: Kind, api_version: str) -> Mapping[FieldPath, ListType] | None:
        """The list and map types of ``info``'s objects written in ``api_version``: its CRD's, or the release's."""
        if info.group_kind in self._overrides:
            return self._overrides[info.group_kind]
        return self._schema.lists(api_version or info.api_version, info.kind)

    def _type_schema(self, info: Kind, api_version: str) -> tuple[Mapping[str, Any], bool] | None:
        """The schema of ``info``'s objects in ``api_version`` and whether it is a custom resource's."""
        version = split_api_version(api_version)[1] or info.version
        if info.group_kind in self._crd_schemas:
            found = self._crd_schemas[info.group_kind].get(version)
            return (found, True) if found else None
        definition = self._schema.definition(api_version or info.api_version, info.kind)
        return (definition, False) if definition is not None else None

    def _schema_problems(
        self, info: Kind, obj: Manifest, lists: Mapping[FieldPath, ListType] | None
    ) -> builtins.list[SchemaProblem]:
        found = self._type_schema(info, str(obj.get("apiVersion") or ""))
        if found is None:
            return []
        root, custom = found
        if self._checker(info).clean(obj, root, custom=custom):
            return []
        keyed = apiserver.fill_list_keys(obj)  # the server defaults list keys first: paths name them
        return schema_problems(keyed, root, resolve=self._schema.resolve, lists=lists, custom=custom)

    def _checker(self, info: Kind) -> Checker:
        return self._crd_checkers.get(info.group_kind) or self._schema.checker

    def _without_undeclared(self, info: Kind, obj: Manifest) -> Manifest:
        """``obj`` without the fields its schema does not declare; :class:`InvalidError` for a mistyped value."""
        found = self._type_schema(info, str(obj.get("apiVersion") or ""))
        if found is None:
            return obj
        root, custom = found
        if self._checker(info).clean(obj, root, custom=custom):
            return obj
        problems = schema_problems(obj, root, resolve=self._schema.resolve, custom=custom)
        mistyped = next((p for p in problems if not p.undeclared), None)
        if mistyped is not None:
            where = ".".join(mistyped.names)
            version = split_api_version(str(obj.get("apiVersion") or ""))[1]
            raise InvalidError(
                f'{info.kind} in version "{version}" cannot be handled as a {info.kind}: {where}: {mistyped.message}',
                key=ResourceKey.from_manifest(obj),
                field=where,
            )
        return without_undeclared(obj, root, resolve=self._schema.resolve, custom=custom) if problems else obj

    # --- writes ---

    def _now(self) -> str:
        return self._clock().astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def _apply(
        self, key: ResourceKey, info: Kind, config: Manifest, manager: str, *, force: bool, dry_run: bool
    ) -> Manifest:
        group_kind, overrides = info.group_kind, self._overrides_of(info, str(config.get("apiVersion") or ""))
        metadata = metadata_of(config)
        if metadata.get("managedFields") is not None:
            raise InvalidError("metadata.managedFields must be nil", key=key, field="metadata.managedFields")
        problems = [(p.path, p.message) for p in self._schema_problems(info, config, overrides)]
        # The server defaults list keys that have defaults (a port's protocol) before it checks them.
        problems = problems or fields.list_key_errors(apiserver.fill_list_keys(config), group_kind, overrides=overrides)
        if problems:
            where, problem = problems[0]
            raise InvalidError(
                f"failed to create typed patch object ({_typed_name(key, config)}): {where}: {problem}",
                key=key,
                field=where,
            )
        live = self._objects.get(key)
        if live is None:
            self._check_can_create(key, info)
        else:
            self._check_precondition(key, info, live, metadata.get("resourceVersion"))
        prepared = fields.apply_configuration(config)
        if info.status_subresource:
            prepared.pop("status", None)
        entries = _read_entries(metadata_of(live).get("managedFields") if live else None)
        mine = next((e for e in entries if e.manager == manager and e.operation == "Apply"), None)
        others = [e for e in entries if e is not mine]
        owned_by_others: FieldSet = {}
        for entry in others:
            owned_by_others = fields.union(owned_by_others, entry.fields)
        merged = fields.merge_apply(
            live,
            prepared,
            previously_owned=mine.fields if mine else {},
            owned_by_others=owned_by_others,
            group_kind=group_kind,
            overrides=overrides,
        )
        comparison = fields.compare(live, merged, group_kind, overrides=overrides)
        changed = fields.union(comparison.added, comparison.modified)
        overlaps = [(entry, fields.intersection(entry.fields, changed)) for entry in others]
        clashes = [(entry, clash) for entry, clash in overlaps if not fields.is_empty(clash)]
        if clashes and not force:
            raise self._conflict(key, clashes)
        kept: builtins.list[_Entry] = []
        for entry in others:
            owned = fields.difference(entry.fields, comparison.removed)
            if force:
                owned = fields.difference(owned, changed)
            if not fields.is_empty(owned):
                kept.append(attrs.evolve(entry, fields=owned))
        candidate = self._prepare(key, info, live, merged, status_write=False)
        applied = fields.field_set(prepared, group_kind, overrides=overrides)
        if not fields.is_empty(applied):
            unchanged = live is not None and json_equal(_without_mf(candidate), _without_mf(live))
            time = mine.time if (mine is not None and unchanged) else self._now()
            api_version = str(config["apiVersion"])
            kept.append(_Entry(manager=manager, operation="Apply", api_version=api_version, time=time, fields=applied))
        return self._commit(key, info, live, candidate, kept, dry_run=dry_run)

    def _conflict(self, key: ResourceKey, clashes: builtins.list[tuple[_Entry, FieldSet]]) -> ConflictError:
        lines: builtins.list[str] = []
        found: builtins.list[str] = []
        for entry, clash in sorted(clashes, key=lambda pair: pair[0].manager):
            owner = f'"{entry.manager}"' + (f" using {entry.api_version}" if entry.operation == "Update" else "")
            clash_paths = fields.paths(clash)
            found.extend(clash_paths)
            if len(clashes) == 1 and len(clash_paths) == 1:
                lines.append(f"conflict with {owner}: {clash_paths[0]}")
            else:
                lines.append(f"conflicts with {owner}:")
                lines.extend(f"- {path}" for path in clash_paths)
        count = len(found)
        message = f"Apply failed with {count} conflict{'s' if count != 1 else ''}: " + "\n".join(lines)
        # Trying again unchanged meets the same owners: only force or a change of config helps.
        return ConflictError(message, key=key, fields=tuple(sorted(set(found))), retryable=False)

    def _update(
        self,
        key: ResourceKey,
        info: Kind,
        live: Manifest | None,
        request: Manifest,
        manager: str,
        *,
        dry_run: bool,
        status_write: bool = False,
        controllers: bool = True,
    ) -> Manifest:
        """An Update operation (create, replace, patch, edit, status): the manager takes what it changed."""
        group_kind, overrides = info.group_kind, self._overrides_of(info, str(request.get("apiVersion") or ""))
        requested_entries = metadata_of(request).get("managedFields")
        api_version = str(request.get("apiVersion") or info.api_version)
        candidate = self._prepare(key, info, live, request, status_write=status_write)
        if requested_entries is not None:
            entries = _read_entries(requested_entries)  # a write may reset managedFields ([]) or set them
        else:
            entries = _read_entries(metadata_of(live).get("managedFields") if live else None)
        comparison = fields.compare(live, _without_mf(candidate), group_kind, overrides=overrides)
        taken = fields.union(comparison.added, comparison.modified)
        mine = next((e for e in entries if e.manager == manager and e.operation == "Update"), None)
        kept: builtins.list[_Entry] = []
        for entry in entries:
            if entry is not mine:
                owned = fields.difference(fields.difference(entry.fields, taken), comparison.removed)
                if not fields.is_empty(owned):
                    kept.append(attrs.evolve(entry, fields=owned))
        owned = fields.difference(fields.union(mine.fields if mine else {}, taken), comparison.removed)
        if not fields.is_empty(owned):
            time = mine.time if (mine is not None and fields.is_empty(taken)) else self._now()
            kept.append(_Entry(manager=manager, operation="Update", api_version=api_version, time=time, fields=owned))
        return self._commit(key, info, live, candidate, kept, dry_run=dry_run, controllers=controllers)

    def _prepare(
        self, key: ResourceKey, info: Kind, live: Manifest | None, obj: Manifest, *, status_write: bool
    ) -> Manifest:
        """The object as it would be stored: nulls gone, server metadata set, status kept, defaults filled."""
        if status_write and live is not None:
            # Through the status subresource only status changes.
            status = obj.get("status")
            obj = deep_copy(_without_mf(live))
            obj.pop("status", None)
            if status is not None:
                obj["status"] = status
        out: Manifest = apiserver.omit_empty_metadata(without_nulls(self._without_undeclared(info, obj)))
        if info.group_kind == _SECRET:
            out = apiserver.fold_string_data(out)
        metadata = metadata_of(out)
        metadata["name"] = key.name
        if info.namespaced:
            metadata["namespace"] = key.namespace
        live_metadata = metadata_of(live) if live is not None else {}
        for name in ("uid", "creationTimestamp", "resourceVersion", "generation", "deletionTimestamp"):
            if name in live_metadata:
                metadata[name] = live_metadata[name]
            else:
                metadata.pop(name, None)
        metadata.pop("deletionGracePeriodSeconds", None)
        if "deletionGracePeriodSeconds" in live_metadata:
            metadata["deletionGracePeriodSeconds"] = live_metadata["deletionGracePeriodSeconds"]
        metadata.pop("selfLink", None)
        metadata.pop("managedFields", None)
        if live is None:
            metadata["uid"] = str(uuid.uuid4())
            metadata["creationTimestamp"] = self._now()
        if info.status_subresource and not status_write:
            out.pop("status", None)
            if live is not None and "status" in live:
                out["status"] = deep_copy(live["status"])
        self._default(out, info, live)
        self._validate(key, info, live, out)
        return out

    def _commit(
        self,
        key: ResourceKey,
        info: Kind,
        live: Manifest | None,
        candidate: Manifest,
        entries: builtins.list[_Entry],
        *,
        dry_run: bool,
        controllers: bool = True,
    ) -> Manifest:
        """Store ``candidate`` unless it equals ``live``, bumping resourceVersion and generation."""
        metadata = metadata_of(candidate)
        if entries:
            metadata["managedFields"] = _render_entries(entries)
        else:
            metadata.pop("managedFields", None)
        if live is not None and json_equal(candidate, live):
            return deep_copy(live)  # nothing changed: no new resourceVersion, no event
        if live is None:
            metadata["generation"] = 1
        else:
            generation = int(metadata_of(live).get("generation") or 1)
            if not json_equal(_without(candidate, "metadata", "status"), _without(live, "metadata", "status")):
                generation += 1
            metadata["generation"] = generation
        if dry_run:
            if live is None:
                metadata.pop("resourceVersion", None)
            return deep_copy(candidate)
        self._store(key, candidate, "ADDED" if live is None else "MODIFIED")
        result = deep_copy(candidate)
        if controllers:
            if info.group_kind == _CRD:
                self._establish(key)
            settled = SETTLED_STATUS.get(info.group_kind) if self._simulate_workloads else None
            if settled is not None and (
                live is None or metadata.get("generation") != metadata_of(live).get("generation")
            ):
                now = self._now()
                self._controller_write(
                    key, lambda obj: obj.__setitem__("status", settled(obj, now)), _CONTROLLER_MANAGER
                )
            self._collect()
        return result

    def _store(self, key: ResourceKey, obj: Manifest, event: EventType) -> None:
        metadata = metadata_of(obj)
        if metadata.get("deletionTimestamp") or metadata.get("ownerReferences"):
            self._pending_collection = True
        self._resource_version += 1
        metadata_of(obj)["resourceVersion"] = str(self._resource_version)
        self._objects[key] = obj
        self._emit(event, obj)

    def _controller_write(self, key: ResourceKey, change: Callable[[Manifest], None], manager: str) -> None:
        """A write by a built-in controller, recorded as an Update by ``manager``."""
        live = self._objects.get(key)
        if live is None:
            return
        info = self._kind(key.group_kind)
        updated = deep_copy(live)
        change(updated)
        status_write = info.status_subresource and json_equal(_without(updated, "status"), _without(live, "status"))
        self._update(key, info, live, updated, manager, dry_run=False, status_write=status_write, controllers=False)

    def _emit(self, event: EventType, obj: Manifest) -> None:
        for stream in list(self._watches):
            stream._offer(WatchEvent(event, deep_copy(obj)))  # Watch is ours

    def _unwatch(self, stream: Watch) -> None:
        with self._lock:
            if stream in self._watches:
                self._watches.remove(stream)

    # --- defaults and validation ---

    def _default(self, obj: Manifest, info: Kind, live: Manifest | None) -> None:
        group_kind = info.group_kind
        apply_defaults(obj, group_kind, live, schema=self._schema)
        if group_kind == _SERVICE:
            self._allocate(obj, live)
        if live is None and info.status_subresource and "status" not in obj and group_kind in self._schema.kinds:
            # Built-in kinds always have a status (their Go types print one); custom resources only when written.
            initial = INITIAL_STATUS.get(group_kind)
            obj["status"] = initial(obj) if initial is not None else {}

    def _used_cluster_ips(self) -> set[str]:
        used = {"10.96.0.1"}  # the `kubernetes` Service's address on every cluster
        for key, obj in self._objects.items():
            if key.group_kind == _SERVICE:
                used.update(str(ip) for ip in (obj.get("spec") or {}).get("clusterIPs") or [])
        return used

    def _used_node_ports(self) -> set[int]:
        return {
            int(port["nodePort"])
            for key, obj in self._objects.items()
            if key.group_kind == _SERVICE
            for port in (obj.get("spec") or {}).get("ports") or []
            if isinstance(port, dict) and port.get("nodePort")
        }

    def _allocate(self, service: Manifest, live: Manifest | None) -> None:
        """A Service's cluster IP and node ports, kept from ``live`` when the write leaves them out."""
        spec = spec_of(service)
        kind = spec.get("type")
        if kind == "ExternalName":
            return
        live_spec = (live or {}).get("spec") or {}
        if not spec.get("clusterIP") and live_spec.get("clusterIP"):
            spec["clusterIP"] = live_spec["clusterIP"]
            spec.setdefault("clusterIPs", list(live_spec.get("clusterIPs") or [live_spec["clusterIP"]]))
        if not spec.get("clusterIP"):
            used = self._used_cluster_ips()
            spec["clusterIP"] = next(str(ip) for ip in _SERVICE_RANGE.hosts() if str(ip) not in used)
        spec.setdefault("clusterIPs", [spec["clusterIP"]])
        if kind in ("NodePort", "LoadBalancer"):
            previous = {
                (p.get("port"), p.get("protocol", "TCP")): p.get("nodePort")
                for p in live_spec.get("ports") or []
                if isinstance(p, dict)
            }
            taken = self._used_node_ports() - {int(p) for p in previous.values() if p}
            for port in spec.get("ports") or []:
                if isinstance(port, dict) and not port.get("nodePort"):
                    kept = previous.get((port.get("port"), port.get("protocol")))
                    port["nodePort"] = kept or next(p for p in _NODE_PORTS if p not in taken)
                    taken.add(int(port["nodePort"]))

    def _validate(self, key: ResourceKey, info: Kind, live: Manifest | None, obj: Manifest) -> None:
        prefix = f"{info.kind}.{info.group}" if info.group else info.kind
        if info.group_kind == _SERVICE:
            cluster_ip = (obj.get("spec") or {}).get("clusterIP")
            live_ip = ((live or {}).get("spec") or {}).get("clusterIP")
            problem = ""
            if live_ip and cluster_ip != live_ip:
                problem = "field is immutable"
            elif live is None and cluster_ip and cluster_ip != "None":
                try:
                    address = ipaddress.ip_address(cluster_ip)
                except ValueError:
                    address = None
                if address is None or address not in _SERVICE_RANGE:
                    problem = f"provided IP is not in the valid range. The range of valid IPs is {_SERVICE_RANGE}"
                elif cluster_ip in self._used_cluster_ips():
                    problem = "provided IP is already allocated"
            if problem:
                raise InvalidError(
                    f'{prefix} "{key.name}" is invalid: spec.clusterIP: Invalid value: "{cluster_ip}": {problem}',
                    key=key,
                    field="spec.clusterIP",
                )
        if info.group_kind == _CRD:
            self._crd_info(obj, key)

    # --- CustomResourceDefinitions ---

    def _crd_info(
        self, crd: Manifest, key: ResourceKey
    ) -> tuple[Kind, dict[FieldPath, ListType], dict[str, Mapping[str, Any]]]:
        """The kind a CRD defines, its list types and each version's schema; :class:`InvalidError` when malformed."""
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        group, kind, plural = (
            str(spec.get("group") or ""),
            str(names.get("kind") or ""),
            str(names.get("plural") or ""),
        )
        versions = [v for v in spec.get("versions") or [] if isinstance(v, dict) and v.get("name")]
        if not versions and spec.get("version"):  # apiextensions.k8s.io/v1beta1
            versions = [{"name": spec["version"], "served": True, "storage": True}]

        def invalid(field: str, problem: str) -> InvalidError:
            return InvalidError(
                f'CustomResourceDefinition.apiextensions.k8s.io "{key.name}" is invalid: {field}: {problem}',
                key=key,
                field=field,
            )

        if not group or not kind or not plural:
            missing = "spec.group" if not group else ("spec.names.kind" if not kind else "spec.names.plural")
            raise invalid(missing, "Required value")
        if key.name != f"{plural}.{group}":
            raise invalid("metadata.name", f'Invalid value: "{key.name}": must be spec.names.plural+"."+spec.group')
        if spec.get("scope") not in ("Namespaced", "Cluster"):
            raise invalid("spec.scope", f'Unsupported value: "{spec.get("scope")}"')
        storage = [v for v in versions if v.get("storage")]
        if len(storage) != 1:
            raise invalid("spec.versions", "Invalid value: must have exactly one version marked as storage version")
        served = sorted((str(v["name"]) for v in versions if v.get("served")), key=version_priority)
        if not served:
            raise invalid("spec.versions", "Invalid value: must serve at least one version")
        stored = storage[0]
        openapi = ((stored.get("schema") or spec.get("validation") or {}).get("openAPIV3Schema")) or {}
        subresources = stored.get("subresources") or spec.get("subresources") or {}
        info = Kind(
            group=group,
            kind=kind,
            versions=tuple(served),
            plural=plural,
            namespaced=spec["scope"] == "Namespaced",
            subresources=frozenset(str(name) for name in subresources),
        )
        schemas = {
            str(v["name"]): (v.get("schema") or spec.get("validation") or {}).get("openAPIV3Schema") or {}
            for v in versions
        }
        return info, apiserver.list_types(openapi), schemas

    def _crd_of(self, group_kind: GroupKind) -> Manifest | None:
        if group_kind in self._schema.kinds:
            return None
        for key, obj in self._objects.items():
            if key.group_kind == _CRD and crd_kind(obj) == group_kind:
                return obj
        return None

    def _establish(self, key: ResourceKey) -> None:
        """What the apiextensions controllers do once a CRD is written: serve it, accept its names."""
        crd = self._objects[key]
        info, overrides, schemas = self._crd_info(crd, key)
        if not metadata_of(crd).get("deletionTimestamp"):
            self._kinds[info.group_kind] = info
            self._overrides[info.group_kind] = overrides
            self._crd_schemas[info.group_kind] = schemas
            self._crd_checkers[info.group_kind] = Checker()
        names = dict((crd.get("spec") or {}).get("names") or {})
        names.setdefault("singular", info.kind.lower())
        names.setdefault("listKind", f"{info.kind}List")
        versions = (crd.get("spec") or {}).get("versions") or [{"name": info.version}]
        storage = next(str(v["name"]) for v in versions if v.get("storage", True))
        now = self._now()

        def accept(obj: Manifest) -> None:
            metadata = metadata_of(obj)
            if not metadata.get("deletionTimestamp") and _CRD_FINALIZER not in (metadata.get("finalizers") or []):
                metadata["finalizers"] = [*(metadata.get("finalizers") or []), _CRD_FINALIZER]

        def establish(obj: Manifest) -> None:
            status = obj.setdefault("status", {})
            conditions = {c.get("type"): c for c in status.get("conditions") or [] if isinstance(c, dict)}
            for kind, reason, message in (
                ("NamesAccepted", "NoConflicts", "no conflicts found"),
                ("Established", "InitialNamesAccepted", "the initial names have been accepted"),
            ):
                if (conditions.get(kind) or {}).get("status") != "True":
                    conditions[kind] = {
                        "lastTransitionTime": now,
                        "message": message,
                        "reason": reason,
                        "status": "True",
                        "type": kind,
                    }
            status["conditions"] = list(conditions.values())
            status["acceptedNames"] = names
            stored = list(status.get("storedVersions") or [])
            status["storedVersions"] = stored if storage in stored else [*stored, storage]

        self._controller_write(key, accept, _API_SERVER)
        self._controller_write(key, establish, _API_SERVER)

    # --- deletion and garbage collection ---

    def _dependents(self, uid: str) -> builtins.list[ResourceKey]:
        return [
            key
            for key, obj in self._objects.items()
            if any(ref.get("uid") == uid for ref in metadata_of(obj).get("ownerReferences") or [])
        ]

    def _delete(self, key: ResourceKey, propagation: PropagationPolicy) -> None:
        obj = self._objects.get(key)
        if obj is None or metadata_of(obj).get("deletionTimestamp"):
            return
        uid = metadata_of(obj).get("uid")
        if propagation == "Orphan" and uid:
            for dependent in self._dependents(uid):
                self._orphan(dependent, uid)
            obj = self._objects[key]
        finalizers = list(metadata_of(obj).get("finalizers") or [])
        if propagation == "Foreground" and uid and self._dependents(uid) and _FOREGROUND not in finalizers:
            finalizers.append(_FOREGROUND)
        # A namespace always terminates first: the namespace controller empties it.
        if not finalizers and key.group_kind != _NAMESPACE:
            self._remove(key)
            return
        terminating = deep_copy(obj)
        metadata = metadata_of(terminating)
        metadata["deletionTimestamp"] = self._now()
        metadata["deletionGracePeriodSeconds"] = 0
        if finalizers:
            metadata["finalizers"] = finalizers
        if key.group_kind == _NAMESPACE:
            terminating.setdefault("status", {})["phase"] = "Terminating"
        self._store(key, terminating, "MODIFIED")

    def _orphan(self, key: ResourceKey, owner_uid: str) -> None:
        obj = deep_copy(self._objects[key])
        metadata = metadata_of(obj)
        references = [ref for ref in metadata.get("ownerReferences") or [] if ref.get("uid") != owner_uid]
        if references:
            metadata["ownerReferences"] = references
        else:
            metadata.pop("ownerReferences", None)
        self._store(key, obj, "MODIFIED")

    def _remove(self, key: ResourceKey) -> None:
        self._pending_collection = True
        obj = self._objects.pop(key)
        self._resource_version += 1
        metadata_of(obj)["resourceVersion"] = str(self._resource_version)
        self._emit("DELETED", obj)
        if key.group_kind == _CRD:
            group_kind = crd_kind(obj)
            if group_kind not in self._schema.kinds:
                self._kinds.pop(group_kind, None)
                self._overrides.pop(group_kind, None)
                self._crd_schemas.pop(group_kind, None)
                self._crd_checkers.pop(group_kind, None)

    def _drop_finalizer(self, key: ResourceKey, finalizer: str) -> None:
        obj = deep_copy(self._objects[key])
        metadata = metadata_of(obj)
        remaining = [f for f in metadata.get("finalizers") or [] if f != finalizer]
        if remaining:
            metadata["finalizers"] = remaining
        else:
            metadata.pop("finalizers", None)
        self._store(key, obj, "MODIFIED")

    def _collect(self) -> None:
        """Run the controllers that act on deletions until nothing more happens."""
        if not self._pending_collection:
            return
        self._pending_collection = False
        progressed = True
        while progressed:
            progressed = False
            uids = {metadata_of(obj).get("uid") for obj in self._objects.values()}
            for key in sorted(self._objects):
                obj = self._objects.get(key)
                if obj is None:
                    continue
                metadata = metadata_of(obj)
                if metadata.get("deletionTimestamp"):
                    progressed = self._finish_deletion(key) or progressed
                    continue
                references = metadata.get("ownerReferences") or []
                orphaned_token = (
                    key.group_kind == _SECRET
                    and obj.get("type") == _TOKEN_TYPE
                    and (metadata.get("annotations") or {}).get("kubernetes.io/service-account.uid") not in uids
                )
                if (references and not any(ref.get("uid") in uids for ref in references)) or orphaned_token:
                    self._delete(key, "Background")
                    progressed = True
        self._pending_collection = False

    def _delete_each(self, keys: builtins.list[ResourceKey], propagation: PropagationPolicy) -> bool:
        """Delete those of ``keys`` not already being deleted; whether any was."""
        started = False
        for key in keys:
            if not metadata_of(self._objects[key]).get("deletionTimestamp"):
                self._delete(key, propagation)
                started = True
        return started

    def _finish_deletion(self, key: ResourceKey) -> bool:
        """Act on an object being deleted like its controllers would; whether anything happened."""
        obj = self._objects[key]
        uid = str(metadata_of(obj).get("uid"))
        progressed = False
        if key.group_kind == _NAMESPACE:
            progressed = self._delete_each([k for k in self._objects if k.namespace == key.name], "Background")
            empty = not any(k.namespace == key.name for k in self._objects)
            if empty and (obj.get("spec") or {}).get("finalizers"):
                finalized = deep_copy(obj)
                finalized["spec"]["finalizers"] = []
                self._store(key, finalized, "MODIFIED")
                progressed = True
        if key.group_kind == _CRD and _CRD_FINALIZER in (metadata_of(obj).get("finalizers") or []):
            kind = crd_kind(obj)
            progressed = self._delete_each([k for k in self._objects if k.group_kind == kind], "Background")
            if not any(k.group_kind == kind for k in self._objects):
                self._drop_finalizer(key, _CRD_FINALIZER)
                progressed = True
        if _FOREGROUND in (metadata_of(self._objects[key]).get("finalizers") or []):
            progressed = self._delete_each(self._dependents(uid), "Foreground") or progressed
            if not self._dependents(uid):
                self._drop_finalizer(key, _FOREGROUND)
                progressed = True
        current = self._objects[key]
        waiting = metadata_of(current).get("finalizers") or (
            key.group_kind == _NAMESPACE and (current.get("spec") or {}).get("finalizers")
        )
        if not waiting:
            self._remove(key)
            progressed = True
        return progressed


def _typed_name(key: ResourceKey, obj: Manifest) -> str:
    """How structured-merge-diff names an object in its errors: ``default/web; apps/v1, Kind=Deployment``."""
    group, version = split_api_version(str(obj.get("apiVersion") or ""))
    return f"{key.namespace}/{key.name}; {group}/{version}, Kind={key.kind}"


def _without_mf(obj: Manifest | None) -> Manifest:
    """A shallow view of ``obj`` without ``metadata.managedFields``."""
    if obj is None:
        return {}
    out = dict(obj)
    metadata = out.get("metadata")
    if isinstance(metadata, dict) and "managedFields" in metadata:
        out["metadata"] = {k: v for k, v in metadata.items() if k != "managedFields"}
    return out
