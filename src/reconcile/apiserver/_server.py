"""The API server of one release in memory: its store, its write path, its kinds, behind one lock.

:class:`APIServer` keeps objects in a dict and writes them as a real server does: server-side apply and updates
with ``managedFields`` (:mod:`._managed`), the release's schema checks and defaults, admission
(:mod:`._admission`), allocated cluster IPs and node ports, ``resourceVersion`` and ``generation``, watch events
(:mod:`._watch`), and the built-in controllers run synchronously after each write (:mod:`._controllers`).
"""

from __future__ import annotations

import builtins
import datetime
import secrets
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

from reconcile.apiserver import _admission as admission
from reconcile.apiserver import _managed as managed
from reconcile.apiserver import fields
from reconcile.apiserver._builtin import (
    CRD,
    NAMESPACE,
    SECRET,
    SERVER_SET_METADATA,
    SERVICE,
    WITHOUT_GENERATION,
    crd_kind,
    fill_list_keys,
    fold_string_data,
    no_match_message,
    omit_empty_metadata,
)
from reconcile.apiserver._cel import CelPrograms
from reconcile.apiserver._controllers import API_SERVER, CONTROLLER_MANAGER, FOREGROUND, Controllers
from reconcile.apiserver._crdrules import rule_violations
from reconcile.apiserver._defaults import INITIAL_STATUS, apply_defaults, metadata_of, spec_of
from reconcile.apiserver._kinds import Kind
from reconcile.apiserver._lists import FieldPath, ListType
from reconcile.apiserver._podadmission import mount_service_account, protect
from reconcile.apiserver._policies import AdmissionRequest, PolicyEnforcer
from reconcile.apiserver._schema import APISchema
from reconcile.apiserver._schemacheck import Checker, SchemaProblem, schema_problems, without_undeclared
from reconcile.apiserver._structural import fill_schema_defaults
from reconcile.apiserver._validation import FieldError, field_errors, invalid_message
from reconcile.apiserver._watch import EventType, Watch, WatchEvent
from reconcile.errors import ClusterError, ConflictError, InvalidError, NotFoundError, UnknownKindError
from reconcile.jsonvalues import deep_copy, json_equal, without_nulls
from reconcile.model import Capabilities, GroupKind, Manifest, PropagationPolicy, ResourceKey, split_api_version

_PROTECTED_NAMESPACES = frozenset({"default", "kube-system", "kube-public"})
_INITIAL_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
_NODE_PORTS = range(30000, 32768)
_GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_POD = GroupKind("", "Pod")
_POLICY = GroupKind("admissionregistration.k8s.io", "ValidatingAdmissionPolicy")
_POLICY_BINDING = GroupKind("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding")

# Server-set metadata a write does not keep from the live object: managedFields each write computes anew (in
# _commit), selfLink the server no longer sets (a copy of an old object may carry it: dropped). The rest is kept.
_NOT_KEPT = ("selfLink", "managedFields")
_KEPT_FROM_LIVE = tuple(name for name in SERVER_SET_METADATA if name not in _NOT_KEPT)


class APIServer:
    """An in-memory Kubernetes API server of one release. Thread-safe: every call holds one lock.

    It starts with the namespaces ``default``, ``kube-system``, ``kube-public`` and ``kube-node-lease``, serves
    the built-in kinds its release serves by default plus those of every CustomResourceDefinition written to it,
    runs the built-in controllers (garbage collector, namespace finalizer, CRD establishment, token cleanup)
    synchronously inside the write that gives them work, and returns deep copies only.
    :class:`~reconcile.MemoryCluster` is the front tests and notebooks use; this is what it fronts.

    Args:
        schema: The release to behave as (:meth:`APISchema.for_version`).
        clock: Where timestamps come from (UTC ``datetime``); the wall clock by default.
        simulate_workloads: Also play the workload controllers and kubelets: each Deployment, StatefulSet,
            DaemonSet, ReplicaSet, Job and Pod written gets, at once, the status of a settled rollout.
    """

    def __init__(
        self,
        schema: APISchema,
        *,
        clock: Callable[[], datetime.datetime] | None = None,
        simulate_workloads: bool = False,
    ) -> None:
        self._schema = schema
        self._lock = threading.RLock()
        self._simulate_workloads = simulate_workloads
        self._clock = clock or (lambda: datetime.datetime.now(datetime.UTC))
        self._objects: dict[ResourceKey, Manifest] = {}
        # The keys stored by kind and namespace: listing one app's namespace reads its objects, not everyone's.
        self._places: dict[tuple[GroupKind, str], set[ResourceKey]] = {}
        self._kinds: dict[GroupKind, Kind] = dict(schema.kinds)
        self._overrides: dict[GroupKind, dict[FieldPath, ListType]] = {}
        self._crd_schemas: dict[GroupKind, dict[str, Mapping[str, Any]]] = {}
        self._crd_checkers: dict[GroupKind, Checker] = {}
        self._crd_rules = CelPrograms(["self", "oldSelf"])
        self._enforcer = PolicyEnforcer()
        self._policy_keys: set[ResourceKey] = set()  # the admission policies and bindings stored
        self._resource_version = 0
        self._watches: builtins.list[Watch] = []
        # Whether the garbage collector may have work: a deletion, or an object with owners, was stored.
        self._pending_collection = False
        self._controllers = Controllers(
            objects=self._objects,
            store=self._store,
            remove=self._remove,
            delete=self._delete,
            write=self._controller_write,
            serve=self._serve,
            now=self._now,
            create=self._controller_create,
        )
        for name in _INITIAL_NAMESPACES:
            self.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}, field_manager=API_SERVER)

    # --- reads ---

    @property
    def version(self) -> str:
        """The release this server behaves as (``"1.36"``)."""
        return str(self._schema.version)

    def get(self, key: ResourceKey, *, api_version: str | None = None) -> Manifest | None:
        """The live object, or ``None`` when it does not exist (objects are kept in the version written in).

        Raises:
            UnknownKindError: The server does not serve the key's kind.
        """
        with self._lock:
            info = self._kind(key.group_kind)
            found = self._objects.get(self._scoped(key, info))
            return deep_copy(found) if found is not None else None

    def list(self, group_kind: GroupKind | None = None, *, namespace: str | None = None) -> builtins.list[Manifest]:
        """Live objects of one kind (or of every kind), sorted by key; only those in ``namespace`` if given.

        Raises:
            UnknownKindError: The server does not serve ``group_kind``.
        """
        with self._lock:
            if group_kind is not None:
                self._kind(group_kind)
            if group_kind is None:
                keys: Iterable[ResourceKey] = (k for k in self._objects if namespace in (None, k.namespace))
            else:
                keys = self._keys_of(group_kind, namespace)
            return [deep_copy(self._objects[key]) for key in sorted(keys)]

    def versions(self, group_kind: GroupKind, *, namespace: str | None = None) -> dict[ResourceKey, str]:
        """The resourceVersion of every object of a kind (in ``namespace`` when given), without copying objects.

        Raises:
            UnknownKindError: The server does not serve ``group_kind``.
        """
        with self._lock:
            self._kind(group_kind)
            return {
                key: str(metadata_of(self._objects[key]).get("resourceVersion", ""))
                for key in self._keys_of(group_kind, namespace)
            }

    def _keys_of(self, group_kind: GroupKind, namespace: str | None) -> Iterable[ResourceKey]:
        """The stored keys of one kind, in one namespace or all (the caller holds the lock)."""
        if namespace is not None:
            return self._places.get((group_kind, namespace), ())
        return (key for (kind, _), place in self._places.items() if kind == group_kind for key in place)

    def select(self, wanted: Callable[[Manifest], bool]) -> builtins.list[Manifest]:
        """Copies of the objects of every kind for which ``wanted`` is true, sorted by key; only those are copied.

        ``wanted`` reads the stored objects themselves and must not change them.
        """
        with self._lock:
            found = [(key, obj) for key, obj in self._objects.items() if wanted(obj)]
            return [deep_copy(obj) for _, obj in sorted(found, key=lambda item: item[0])]

    def is_namespaced(self, group_kind: GroupKind) -> bool | None:
        """Whether the kind is namespaced; ``None`` when the server does not serve it."""
        with self._lock:
            info = self._kinds.get(group_kind)
            return info.namespaced if info is not None else None

    def capabilities(self) -> Capabilities:
        """The release's version (``v1.36.0``) and the API versions served (CRDs included)."""
        with self._lock:
            kinds = [(info.group, info.kind, info.versions) for info in self._kinds.values()]
        return Capabilities.from_kinds(self._schema.git_version, kinds)

    def key_of(self, obj: Manifest) -> ResourceKey:
        """The key ``obj`` would be stored under, unchecked: no namespace for a cluster-scoped kind, else ``default``.

        The namespace is left as it is for a kind the server does not serve.
        """
        with self._lock:
            return self._loose_key(obj)

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

    # --- writes ---

    def apply(
        self, obj: Manifest, *, field_manager: str = "reconcile", force: bool = False, dry_run: bool = False
    ) -> Manifest:
        """Server-side apply ``obj`` as ``field_manager``; returns the object as stored (or as it would be).

        Raises:
            ConflictError: Another manager owns a field this apply changes (and ``force`` is false).
            InvalidError: The object is invalid (bad name, a keyed-list item without its key field...).
            NotFoundError: Its namespace does not exist.
            UnknownKindError: The server does not serve its kind or version.
        """
        with self._lock:
            config = deep_copy(obj)
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
            info = self._kind(key.group_kind)
            key = self._scoped(key, info)
            live = self._live(key, info)
            patched = _merge_patch(deep_copy(live), patch)
            requested = (patch.get("metadata") or {}).get("resourceVersion") if isinstance(patch, Mapping) else None
            admission.check_precondition(key, info, live, requested)
            admission.check_same_identity(key, info, patched)
            return self._update(key, info, live, patched, field_manager, dry_run=dry_run)

    def delete(self, key: ResourceKey, *, propagation: PropagationPolicy = "Background", dry_run: bool = False) -> None:
        """Delete the object; with finalizers it stays (``deletionTimestamp`` set) until they are removed.

        ``Background`` and ``Foreground`` delete the object's dependents (objects whose ``ownerReferences``
        name its uid); ``Orphan`` removes those references instead.

        Raises:
            NotFoundError: The object does not exist.
            ClusterError: The namespace ``default``, ``kube-system`` or ``kube-public`` (403 ``Forbidden``).
        """
        with self._lock:
            info = self._kind(key.group_kind)
            key = self._scoped(key, info)
            self._live(key, info)
            if key.group_kind == NAMESPACE and key.name in _PROTECTED_NAMESPACES:
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
            info, key = self._identify(config)
            live = self._live(key, info)
            admission.check_precondition(key, info, live, metadata_of(config).get("resourceVersion"))
            return self._update(key, info, live, config, field_manager, dry_run=dry_run)

    def edit(
        self, key: ResourceKey, fn: Callable[[Manifest], Manifest | None], *, field_manager: str = "kubectl-edit"
    ) -> Manifest:
        """Change an object as one read and one replace under the lock, as an Update by ``field_manager``.

        ``fn`` gets a copy of the live object and returns the edited object, or changes the copy in place and
        returns ``None``.

        Raises:
            NotFoundError: The object does not exist.
        """
        with self._lock:
            info = self._kind(key.group_kind)
            key = self._scoped(key, info)
            live = self._live(key, info)
            draft = deep_copy(live)
            result = fn(draft)
            edited = deep_copy(result if result is not None else draft)
            admission.check_same_identity(key, info, edited)
            admission.check_precondition(key, info, live, metadata_of(edited).get("resourceVersion"))
            return self._update(key, info, live, edited, field_manager, dry_run=False)

    def set_status(
        self, key: ResourceKey, status: Mapping[str, Any], *, field_manager: str = CONTROLLER_MANAGER
    ) -> Manifest:
        """Replace the object's ``status`` (through the status subresource, as controllers do).

        Raises:
            NotFoundError: The object does not exist.
        """
        with self._lock:
            info = self._kind(key.group_kind)
            key = self._scoped(key, info)
            live = self._live(key, info)
            updated = deep_copy(live)
            updated["status"] = deep_copy(dict(status))
            return self._update(key, info, live, updated, field_manager, dry_run=False, status_write=True)

    # --- identity, kinds, checks ---

    def _kind(self, group_kind: GroupKind, api_version: str | None = None) -> Kind:
        info = self._kinds.get(group_kind)
        version = split_api_version(api_version)[1] if api_version else None
        if info is None or (version is not None and version not in info.versions):
            raise UnknownKindError(no_match_message(group_kind, api_version, info.versions if info else ()))
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
        admission.validate_name(info, key)
        return info, key

    def _live(self, key: ResourceKey, info: Kind) -> Manifest:
        found = self._objects.get(key)
        if found is None:
            raise NotFoundError(f'{info.resource} "{key.name}" not found', key=key)
        return found

    def _check_can_create(self, key: ResourceKey, info: Kind) -> None:
        namespace = self._objects.get(ResourceKey("", "Namespace", "", key.namespace)) if info.namespaced else None
        admission.check_can_create(key, info, namespace, self._crd_of(info.group_kind))

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
        keyed = fill_list_keys(obj)  # the server defaults list keys first: paths name them
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

    # --- the write path ---

    def _now(self) -> str:
        return self._clock().astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def _apply(
        self, key: ResourceKey, info: Kind, config: Manifest, manager: str, *, force: bool, dry_run: bool
    ) -> Manifest:
        """A server-side apply: checked against the schema, merged with what others own, ``config``'s fields owned."""
        group_kind, overrides = info.group_kind, self._overrides_of(info, str(config.get("apiVersion") or ""))
        metadata = metadata_of(config)
        if metadata.get("managedFields") is not None:
            raise InvalidError("metadata.managedFields must be nil", key=key, field="metadata.managedFields")
        problems = [(p.path, p.message) for p in self._schema_problems(info, config, overrides)]
        # The server defaults list keys that have defaults (a port's protocol) before it checks them.
        problems = problems or fields.list_key_errors(fill_list_keys(config), group_kind, overrides=overrides)
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
            admission.check_precondition(key, info, live, metadata.get("resourceVersion"))
        prepared = fields.apply_configuration(config)
        if info.status_subresource:
            prepared.pop("status", None)
        entries = managed.read_entries(metadata_of(live).get("managedFields") if live else None)
        mine = next((e for e in entries if e.manager == manager and e.operation == "Apply"), None)
        others = [e for e in entries if e is not mine]
        merged = fields.merge_apply(
            live,
            prepared,
            previously_owned=mine.fields if mine else {},
            owned_by_others=managed.owned_by_any(others),
            group_kind=group_kind,
            overrides=overrides,
        )
        comparison = fields.compare(live, merged, group_kind, overrides=overrides)
        kept = managed.kept_after_apply(key, others, comparison, force=force)
        candidate = self._prepare(key, info, live, merged, status_write=False)
        applied = fields.applied_field_set(prepared, config, group_kind, overrides=overrides)
        if not fields.is_empty(applied):
            unchanged = live is not None and json_equal(
                managed.without_managed_fields(candidate), managed.without_managed_fields(live)
            )
            time = mine.time if (mine is not None and unchanged) else self._now()
            api_version = str(config["apiVersion"])
            entry = managed.Entry(
                manager=manager, operation="Apply", api_version=api_version, time=time, fields=applied
            )
            kept.append(entry)
        return self._commit(key, info, live, candidate, kept, dry_run=dry_run)

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
            entries = managed.read_entries(requested_entries)  # a write may reset managedFields ([]) or set them
        else:
            entries = managed.read_entries(metadata_of(live).get("managedFields") if live else None)
        comparison = fields.compare(live, managed.without_managed_fields(candidate), group_kind, overrides=overrides)
        if info.status_subresource and not status_write:
            # A write to the object itself cannot change status (it is reset): its writer takes no status field.
            comparison = attrs.evolve(
                comparison,
                added={k: v for k, v in comparison.added.items() if k != "f:status"},
                modified={k: v for k, v in comparison.modified.items() if k != "f:status"},
            )
        kept = managed.kept_after_update(entries, manager, api_version, comparison, self._now)
        return self._commit(key, info, live, candidate, kept, dry_run=dry_run, controllers=controllers)

    def _prepare(
        self, key: ResourceKey, info: Kind, live: Manifest | None, obj: Manifest, *, status_write: bool
    ) -> Manifest:
        """The object as it would be stored: nulls gone, server metadata set, status kept, defaults filled."""
        if status_write and live is not None:
            # Through the status subresource only status changes.
            status = obj.get("status")
            obj = deep_copy(managed.without_managed_fields(live))
            obj.pop("status", None)
            if status is not None:
                obj["status"] = status
        out: Manifest = omit_empty_metadata(without_nulls(self._without_undeclared(info, obj)))
        if info.group_kind == SECRET:
            out = fold_string_data(out)
        metadata = metadata_of(out)
        metadata["name"] = key.name
        if info.namespaced:
            metadata["namespace"] = key.namespace
        live_metadata = metadata_of(live) if live is not None else {}
        metadata.pop("deletionGracePeriodSeconds", None)  # so that it comes last, as deletion wrote it
        for name in _KEPT_FROM_LIVE:
            if name in live_metadata:
                metadata[name] = live_metadata[name]
            else:
                metadata.pop(name, None)
        for name in _NOT_KEPT:
            metadata.pop(name, None)
        if live is None:
            metadata["uid"] = str(uuid.uuid4())
            metadata["creationTimestamp"] = self._now()
        if info.status_subresource and not status_write:
            out.pop("status", None)
            if live is not None and "status" in live:
                out["status"] = deep_copy(live["status"])
        self._default(out, info, live)
        self._validate(key, info, live, out)
        if not status_write:
            self._admit(key, info, live, out)
        return out

    def _commit(
        self,
        key: ResourceKey,
        info: Kind,
        live: Manifest | None,
        candidate: Manifest,
        entries: builtins.list[managed.Entry],
        *,
        dry_run: bool,
        controllers: bool = True,
    ) -> Manifest:
        """Store ``candidate`` unless it equals ``live``, bumping resourceVersion and generation."""
        metadata = metadata_of(candidate)
        if entries:
            metadata["managedFields"] = managed.render_entries(entries)
        else:
            metadata.pop("managedFields", None)
        if live is not None and json_equal(candidate, live):
            return deep_copy(live)  # nothing changed: no new resourceVersion, no event
        generation = _generation(info, live, candidate)
        if generation is None:
            metadata.pop("generation", None)
        else:
            metadata["generation"] = generation
        if dry_run:
            if live is None:
                metadata.pop("resourceVersion", None)
            return deep_copy(candidate)
        self._store(key, candidate, "ADDED" if live is None else "MODIFIED")
        result = deep_copy(candidate)
        if controllers:
            if info.group_kind == CRD:
                self._controllers.establish(key)
            if live is None and info.group_kind == NAMESPACE:
                self._controllers.populate(key.name)
            if self._simulate_workloads and (
                live is None or metadata.get("generation") != metadata_of(live).get("generation")
            ):
                self._controllers.settle(key)
            self._collect()
        return result

    def _store(self, key: ResourceKey, obj: Manifest, event: EventType) -> None:
        metadata = metadata_of(obj)
        if metadata.get("deletionTimestamp") or metadata.get("ownerReferences"):
            self._pending_collection = True
        self._resource_version += 1
        metadata_of(obj)["resourceVersion"] = str(self._resource_version)
        if key not in self._objects:
            self._places.setdefault((key.group_kind, key.namespace), set()).add(key)
        self._objects[key] = obj
        if key.group_kind in (_POLICY, _POLICY_BINDING):
            self._policy_keys.add(key)
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

    def _controller_create(self, obj: Manifest, manager: str) -> None:
        """A create by a built-in controller (a namespace's default ServiceAccount), through the write path."""
        info, key = self._identify(obj)
        self._update(key, info, None, obj, manager, dry_run=False, controllers=False)

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
        if group_kind in self._crd_schemas:
            found = self._type_schema(info, str(obj.get("apiVersion") or ""))
            if found is not None:
                fill_schema_defaults(obj, found[0])
            return
        apply_defaults(obj, group_kind, live, schema=self._schema)
        if group_kind == SERVICE:
            self._allocate(obj, live)
        if live is None:
            self._admit_new(obj, group_kind)
        if live is None and info.status_subresource and "status" not in obj and group_kind in self._schema.kinds:
            # Built-in kinds always have a status (their Go types print one); custom resources only when written.
            initial = INITIAL_STATUS.get(group_kind)
            obj["status"] = initial(obj) if initial is not None else {}

    def _admit_new(self, obj: Manifest, group_kind: GroupKind) -> None:
        """The admission plugins that change a new object: storage protection, a Pod's service account token."""
        protect(obj, group_kind)
        if group_kind == _POD:
            key = ResourceKey.from_manifest(obj)
            account_name = str(spec_of(obj).get("serviceAccountName") or "default")
            account = self._objects.get(ResourceKey("", "ServiceAccount", key.namespace, account_name))
            mount_service_account(obj, key, account)

    def _used_cluster_ips(self) -> set[str]:
        used = {"10.96.0.1"}  # the `kubernetes` Service's address on every cluster
        for key, obj in self._objects.items():
            if key.group_kind == SERVICE:
                used.update(str(ip) for ip in (obj.get("spec") or {}).get("clusterIPs") or [])
        return used

    def _used_node_ports(self) -> set[int]:
        used: set[int] = set()
        for key, obj in self._objects.items():
            if key.group_kind != SERVICE:
                continue
            spec = obj.get("spec") or {}
            used.update(
                int(p["nodePort"]) for p in spec.get("ports") or [] if isinstance(p, dict) and p.get("nodePort")
            )
            if spec.get("healthCheckNodePort"):
                used.add(int(spec["healthCheckNodePort"]))
        return used

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
            spec["clusterIP"] = next(str(ip) for ip in admission.SERVICE_RANGE.hosts() if str(ip) not in used)
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
            # A LoadBalancer that keeps client addresses gets a node port for its load balancer's health checks.
            if kind == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local":
                kept_check = live_spec.get("healthCheckNodePort")
                if not spec.get("healthCheckNodePort"):
                    spec["healthCheckNodePort"] = kept_check or next(p for p in _NODE_PORTS if p not in taken)

    def _validate(self, key: ResourceKey, info: Kind, live: Manifest | None, obj: Manifest) -> None:
        if info.group_kind == SERVICE:
            admission.check_cluster_ip(key, info, live, obj, self._used_cluster_ips)
        if info.group_kind == CRD:
            admission.crd_info(obj, key)
        errors = self._field_errors(info, live, obj)
        if errors:
            message = invalid_message(info.kind, info.group, key.name, errors)
            raise InvalidError(message, key=key, field=errors[0].field)

    def _field_errors(self, info: Kind, live: Manifest | None, obj: Manifest) -> builtins.list[FieldError]:
        """The release's validation of a built-in kind, or a custom resource's CRD validation rules."""
        if info.group_kind in self._schema.kinds:
            return field_errors(obj, info.group_kind)
        found = self._type_schema(info, str(obj.get("apiVersion") or ""))
        if found is None:
            return []
        broken = rule_violations(obj, live, found[0], self._crd_rules)
        return [FieldError(violation.field, violation.message) for violation in broken]

    def _admit(self, key: ResourceKey, info: Kind, live: Manifest | None, obj: Manifest) -> None:
        """The ValidatingAdmissionPolicies bound to deny: :class:`InvalidError` when one denies the write."""
        if not self._policy_keys:
            return
        stored = [self._objects[k] for k in sorted(self._policy_keys)]
        policies = [o for o in stored if ResourceKey.from_manifest(o).group_kind == _POLICY]
        bindings = [o for o in stored if ResourceKey.from_manifest(o).group_kind == _POLICY_BINDING]
        group, version = split_api_version(str(obj.get("apiVersion") or info.api_version))
        request = AdmissionRequest(
            operation="CREATE" if live is None else "UPDATE",
            group=group,
            version=version,
            kind=info.kind,
            resource=info.plural,
            namespaced=info.namespaced,
            name=key.name,
            namespace=key.namespace,
            obj=obj,
            old=managed.without_managed_fields(live) if live is not None else None,
            namespace_object=self._objects.get(ResourceKey("", "Namespace", "", key.namespace)),
        )
        reason = self._enforcer.denial(policies, bindings, request)
        if reason is not None:
            raise InvalidError(f'{info.resource} "{key.name}" is forbidden: {reason}', key=key)

    # --- CustomResourceDefinitions ---

    def _crd_of(self, group_kind: GroupKind) -> Manifest | None:
        if group_kind in self._schema.kinds:
            return None
        for key, obj in self._objects.items():
            if key.group_kind == CRD and crd_kind(obj) == group_kind:
                return obj
        return None

    def _serve(self, info: Kind, overrides: dict[FieldPath, ListType], schemas: dict[str, Mapping[str, Any]]) -> None:
        """Serve the kind a CustomResourceDefinition defines, with its list types and its schema per version."""
        self._kinds[info.group_kind] = info
        self._overrides[info.group_kind] = overrides
        self._crd_schemas[info.group_kind] = schemas
        self._crd_checkers[info.group_kind] = Checker()

    # --- deletion ---

    def _delete(self, key: ResourceKey, propagation: PropagationPolicy) -> None:
        """What a DELETE does: remove the object, or mark it terminating while finalizers (or dependents) wait."""
        obj = self._objects.get(key)
        if obj is None or metadata_of(obj).get("deletionTimestamp"):
            return
        uid = metadata_of(obj).get("uid")
        if propagation == "Orphan" and uid:
            for dependent in self._controllers.dependents(uid):
                self._controllers.orphan(dependent, uid)
            obj = self._objects[key]
        finalizers = list(metadata_of(obj).get("finalizers") or [])
        if propagation == "Foreground" and uid and self._controllers.dependents(uid) and FOREGROUND not in finalizers:
            finalizers.append(FOREGROUND)
        # A namespace always terminates first: the namespace controller empties it.
        if not finalizers and key.group_kind != NAMESPACE:
            self._remove(key)
            return
        terminating = deep_copy(obj)
        metadata = metadata_of(terminating)
        metadata["deletionTimestamp"] = self._now()
        metadata["deletionGracePeriodSeconds"] = 0
        if finalizers:
            metadata["finalizers"] = finalizers
        if key.group_kind == NAMESPACE:
            terminating.setdefault("status", {})["phase"] = "Terminating"
        self._store(key, terminating, "MODIFIED")

    def _remove(self, key: ResourceKey) -> None:
        self._pending_collection = True
        obj = self._objects.pop(key)
        place = self._places.get((key.group_kind, key.namespace))
        if place is not None:
            place.discard(key)
            if not place:
                del self._places[(key.group_kind, key.namespace)]
        self._policy_keys.discard(key)
        self._resource_version += 1
        metadata_of(obj)["resourceVersion"] = str(self._resource_version)
        self._emit("DELETED", obj)
        if key.group_kind == CRD:
            group_kind = crd_kind(obj)
            if group_kind not in self._schema.kinds:
                self._kinds.pop(group_kind, None)
                self._overrides.pop(group_kind, None)
                self._crd_schemas.pop(group_kind, None)
                self._crd_checkers.pop(group_kind, None)

    def _collect(self) -> None:
        """Let the controllers act on deletions, when a write since they last ran may have given them work."""
        if not self._pending_collection:
            return
        self._pending_collection = False
        self._controllers.collect()
        self._pending_collection = False


def _generation(info: Kind, live: Manifest | None, candidate: Manifest) -> int | None:
    """``candidate``'s generation: 1 when created, one more when anything outside metadata and status changed."""
    if info.group_kind in WITHOUT_GENERATION:
        return None
    if live is None:
        return 1
    generation = int(metadata_of(live).get("generation") or 1)
    if not json_equal(_without(candidate, "metadata", "status"), _without(live, "metadata", "status")):
        generation += 1
    return generation


def _typed_name(key: ResourceKey, obj: Manifest) -> str:
    """How structured-merge-diff names an object in its errors: ``default/web; apps/v1, Kind=Deployment``."""
    group, version = split_api_version(str(obj.get("apiVersion") or ""))
    return f"{key.namespace}/{key.name}; {group}/{version}, Kind={key.kind}"


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
