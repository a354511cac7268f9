"""A real Kubernetes API server as a :class:`~reconcile.protocols.Cluster`, through the official client.

This is the only module that imports ``kubernetes`` (and ``urllib3`` under it). It speaks plain REST through
:meth:`kubernetes.client.ApiClient.call_api` and keeps objects as dicts: no generated models, no dynamic client, no
discovery cache on disk. Each :class:`KubernetesCluster` owns its client configuration, its discovery table, its
thread pools and its request counter; nothing is global.

Errors come out as the library's: :class:`~reconcile.errors.NotFoundError` (404),
:class:`~reconcile.errors.ConflictError` (409), :class:`~reconcile.errors.InvalidError` (422, naming the field),
:class:`~reconcile.errors.UnknownKindError` (the kind is not served), :class:`~reconcile.errors.ClusterError`
otherwise (``status`` 0 when the server could not be reached). Calls that may be repeated safely are retried with
exponential backoff and full jitter when the error is retryable.

::

    with KubernetesCluster.from_kubeconfig(context="staging") as cluster:
        cluster.apply(manifest)                       # server-side apply as "reconcile"
        results = cluster.apply_many(manifests)       # 16 at a time, results in input order
        print(cluster.stats)                          # requests sent, by verb
"""

from __future__ import annotations

import builtins
import contextlib
import json
import os
import random
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import kubernetes
import structlog
import urllib3
import yaml

from reconcile import apiserver
from reconcile.apiserver import Kind
from reconcile.cluster import _arguments as arguments
from reconcile.cluster._kube_discovery import (
    UNLISTED_KINDS,
    build_table,
    group_versions,
    listed_kinds,
)
from reconcile.cluster._kube_errors import error_from_response, json_body, retry_after, secret_values
from reconcile.cluster._kube_merge import read_last_applied, three_way_patch, with_last_applied
from reconcile.cluster._kube_stats import RequestStats
from reconcile.deadline import carried, remaining
from reconcile.errors import (
    ClusterError,
    ConfigurationError,
    ConflictError,
    InvalidError,
    NotFoundError,
    UnknownKindError,
    WatchExpiredError,
)
from reconcile.jsonvalues import deep_copy
from reconcile.model import Capabilities, GroupKind, Manifest, PropagationPolicy, ResourceKey, split_api_version

__all__ = ["UNLISTED_KINDS", "KubernetesCluster", "RequestStats"]

_APPLY_PATCH = "application/apply-patch+yaml"
_MERGE_PATCH = "application/merge-patch+json"
_JSON = "application/json"
# Objects' metadata only; a server that cannot answer so sends the full list, which reads the same.
_METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
_PAGE_SIZE = 500
_CRD = apiserver.CRD
# How a server that does not default list keys refuses an apply missing one.
_OMITS_KEY = "has an element that omits key field"
_CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
_IN_CLUSTER_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
_HTTP_FORBIDDEN = 403
_HTTP_NOT_FOUND = 404
_HTTP_NOT_ALLOWED = 405
_HTTP_GONE = 410
_FIRST_POLL = 0.05  # seconds between the first polls of a CRD's conditions
_MIN_REQUEST_TIMEOUT = 1.0  # a request close to the pass's deadline still gets this long
_LAST_POLL = 0.5


class _Unsent(Exception):  # noqa: N818 - a marker, never raised to callers
    """Marks a connection failure that happened before the request left (safe to repeat any verb)."""


class KubernetesCluster:
    """A Kubernetes API server, reached through a :class:`kubernetes.client.ApiClient`.

    Build one with :meth:`from_kubeconfig` or :meth:`in_cluster`, or hand over a client you configured. Use it as
    a context manager (or call :meth:`close`) to stop its threads and, when it made the client, close the client's
    connections.

    Args:
        api_client: The configured client. Its connection pool should hold ``2 * workers`` connections and its
            configuration should set ``retries = False`` (the named constructors do both) so that only this
            class retries.
        field_manager: The server-side apply field manager used when a call names none.
        max_retries: How many times a failed call is repeated when the error is retryable.
        backoff: The first retry waits up to this many seconds; each next one up to twice as long.
        max_backoff: The longest wait between two attempts (a ``Retry-After`` header may ask for longer, up to
            ``timeout``).
        workers: Threads for :meth:`apply_many` and for reads that fan out (discovery, listing every kind).
        timeout: Seconds one HTTP request may take.
        namespace: The namespace of namespaced objects that name none.
        crd_timeout: How long an apply of a CustomResourceDefinition waits for it to be established.
        discovery_interval: The least time between two discovery refreshes caused by unknown kinds.
        unlisted_kinds: Kinds :meth:`list` skips when asked for every kind.
        owns_client: Close ``api_client`` in :meth:`close`.
        logger: A structlog-style logger; by default ``structlog.get_logger("reconcile")``.
    """

    def __init__(
        self,
        api_client: Any,
        *,
        field_manager: str = "reconcile",
        max_retries: int = 5,
        backoff: float = 0.2,
        max_backoff: float = 5.0,
        workers: int = 16,
        timeout: float = 30.0,
        namespace: str = "default",
        crd_timeout: float = 30.0,
        discovery_interval: float = 1.0,
        unlisted_kinds: Collection[GroupKind] = UNLISTED_KINDS,
        owns_client: bool = False,
        logger: Any = None,
    ) -> None:
        if max_retries < 0 or workers < 1 or timeout <= 0 or backoff < 0 or max_backoff < 0:
            raise ConfigurationError(
                "KubernetesCluster needs max_retries >= 0, workers >= 1, timeout > 0 and non-negative backoffs"
            )
        self._api = api_client
        self.field_manager = field_manager
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.workers = workers
        self.timeout = timeout
        self.namespace = namespace
        self.crd_timeout = crd_timeout
        self.discovery_interval = discovery_interval
        self.unlisted_kinds = frozenset(unlisted_kinds)
        self._owns_client = owns_client
        self._logger = logger
        self.stats = RequestStats()
        self._random = random.Random()  # noqa: S311 - jitter, not secrets
        self._kinds: dict[GroupKind, Kind] | None = None
        self._discovered_at = float("-inf")
        # One refresh at a time (held during its requests); the table itself is swapped under a short lock so
        # that forgetting a kind never waits for a refresh in flight.
        self._discovery_lock = threading.Lock()
        self._table_lock = threading.Lock()
        self._pool_lock = threading.Lock()
        self._writers: ThreadPoolExecutor | None = None
        self._readers: ThreadPoolExecutor | None = None
        self._closed = False

    # --- construction ---

    @classmethod
    def from_kubeconfig(
        cls, path: str | os.PathLike[str] | None = None, context: str | None = None, **options: Any
    ) -> KubernetesCluster:
        """Connect as a kubeconfig file says (``$KUBECONFIG`` or ``~/.kube/config`` when ``path`` is ``None``).

        The configuration is loaded into a new client of this instance only, never into the ``kubernetes``
        package's global default; tokens refreshed by auth plugins are not written back to the file. The
        context's namespace becomes the default ``namespace`` unless ``options`` name one.

        Args:
            path: The kubeconfig file.
            context: The context to use; the file's current context by default.
            **options: Keyword arguments of :class:`KubernetesCluster`.

        Raises:
            ConfigurationError: The file is missing, unreadable, or has no such context.
        """
        configuration = kubernetes.client.Configuration()
        config_file = os.fspath(path) if path is not None else None
        loader: Any = kubernetes.config  # untyped functions
        try:
            loader.load_kube_config(
                config_file=config_file, context=context, client_configuration=configuration, persist_config=False
            )
            contexts, active = loader.list_kube_config_contexts(config_file)
        except (kubernetes.config.ConfigException, OSError, ValueError, TypeError) as exc:
            where = config_file or "the default kubeconfig"
            raise ConfigurationError(f"cannot load {where}: {exc}") from exc
        except yaml.YAMLError as exc:  # the client parses the file with PyYAML and lets its errors through
            raise ConfigurationError(_yaml_problem(config_file, exc)) from exc
        chosen = next((c for c in contexts or () if c.get("name") == context), None) if context else active
        context_namespace = ((chosen or {}).get("context") or {}).get("namespace")
        if context_namespace:
            options.setdefault("namespace", str(context_namespace))
        return cls._from_configuration(configuration, options)

    @classmethod
    def in_cluster(cls, **options: Any) -> KubernetesCluster:
        """Connect as the pod's service account, like ``kubectl`` inside a pod.

        The pod's namespace becomes the default ``namespace`` unless ``options`` name one.

        Raises:
            ConfigurationError: Not running in a pod (no service account token or ``KUBERNETES_SERVICE_HOST``).
        """
        configuration = kubernetes.client.Configuration()
        loader: Any = kubernetes.config  # untyped functions
        try:
            loader.load_incluster_config(client_configuration=configuration)
        except (kubernetes.config.ConfigException, OSError) as exc:
            raise ConfigurationError(f"cannot connect from inside the cluster: {exc}") from exc
        with contextlib.suppress(OSError):
            options.setdefault("namespace", _IN_CLUSTER_NAMESPACE.read_text().strip() or "default")
        return cls._from_configuration(configuration, options)

    @classmethod
    def _from_configuration(cls, configuration: Any, options: dict[str, Any]) -> KubernetesCluster:
        workers = int(options.get("workers", 16))
        configuration.retries = False  # this class retries, with backoff; urllib3 would retry at once
        configuration.connection_pool_maxsize = max(2 * workers, 1)
        options.setdefault("owns_client", True)
        return cls(kubernetes.client.ApiClient(configuration), **options)

    @property
    def host(self) -> str:
        """The API server's URL."""
        return str(self._api.configuration.host)

    def __repr__(self) -> str:
        return f"KubernetesCluster(host={self.host!r}, field_manager={self.field_manager!r})"

    def close(self) -> None:
        """Stop the worker threads and, if this instance made the client, close its connections."""
        with self._pool_lock:
            self._closed = True
            pools, self._writers, self._readers = (self._writers, self._readers), None, None
        for pool in pools:
            if pool is not None:
                pool.shutdown(wait=True)
        if self._owns_client:
            self._api.close()

    def __enter__(self) -> KubernetesCluster:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- discovery ---

    def refresh_discovery(self) -> None:
        """Read every group, version and kind the server serves again (the table is kept in memory only).

        Raises:
            ClusterError: The server could not be reached or refused ``/api`` or ``/apis``.
        """
        self._refresh()

    def capabilities(self) -> Capabilities:
        """The server's version (``GET /version``) and every API version discovery lists."""
        version = self._call("discovery", "GET", "/version")
        kinds = [(served.group, served.kind, served.versions) for served in self.served_kinds()]
        return Capabilities.from_kinds(str(version.get("gitVersion") or ""), kinds)

    def served_kinds(self) -> builtins.list[Kind]:
        """Every kind the server serves, sorted by group and kind (discovery is read on first use)."""
        return [served for _, served in sorted(self._table().items())]

    def served_kind(self, group_kind: GroupKind) -> Kind | None:
        """What discovery says about one kind; ``None`` when it is not served (after a rate-limited refresh)."""
        return self._served(group_kind)

    def is_namespaced(self, group_kind: GroupKind) -> bool | None:
        """Whether the kind is namespaced; ``None`` when the server does not serve it.

        An unknown kind refreshes discovery first (at most once per ``discovery_interval``), so a kind whose CRD
        was just established is found.
        """
        arguments.group_kind("is_namespaced", group_kind)
        served = self._served(group_kind)
        return served.namespaced if served is not None else None

    def wait_established(self, crd: str | GroupKind, timeout: float = 30.0) -> Manifest:
        """Wait until a CustomResourceDefinition is established and its kind is in discovery.

        Args:
            crd: The CRD's name (``widgets.example.com``) or the kind it defines.
            timeout: Seconds to wait.

        Returns:
            The established CRD.

        Raises:
            NotFoundError: There is no such CRD.
            ClusterError: It was not established in time (reason ``Timeout``, retryable).
        """
        name = crd if isinstance(crd, str) else self._crd_name(crd)
        key = ResourceKey(_CRD.group, _CRD.kind, "", name)
        deadline = time.monotonic() + timeout
        pause = _FIRST_POLL
        while True:
            live = self._call("get", "GET", f"{_CRD_PATH}/{name}", key=key)
            if _established(live):
                self._refresh()
                served = (self._kinds or {}).get(apiserver.crd_kind(live))
                wanted = {str(v.get("name")) for v in (live.get("spec") or {}).get("versions") or () if v.get("served")}
                if served is not None and wanted <= set(served.versions):
                    return dict(live)
            left = deadline - time.monotonic()
            if left <= 0:
                raise ClusterError(
                    f'CustomResourceDefinition "{name}" is not established after {timeout:g}s',
                    key=key,
                    reason="Timeout",
                    retryable=True,
                )
            time.sleep(min(pause, left))
            pause = min(pause * 2, _LAST_POLL)

    # --- reads ---

    def get(self, key: ResourceKey, *, api_version: str | None = None) -> Manifest | None:
        """The live object, or ``None`` when it does not exist (nor its namespace).

        A namespaced key without a namespace reads from the instance's default ``namespace``. ``api_version``
        reads the object in that version (the server converts it); by default, the preferred version.

        Raises:
            UnknownKindError: The server does not serve the key's kind.
            ClusterError: Any other failure, after retries.
        """
        arguments.named_key("get", key)
        served = self._require(key.group_kind, key=key)
        version = split_api_version(api_version)[1] if api_version else None
        if version is not None and version not in served.versions:
            raise UnknownKindError(apiserver.no_match_message(key.group_kind, api_version, served.versions), key=key)
        namespace = self._namespace_for(served, key.namespace)
        key = _key(served, namespace, key.name)
        try:
            found = self._call("get", "GET", served.path(namespace, key.name, version=version), key=key, kind=served)
        except NotFoundError:
            return None
        return dict(found)

    def list(self, group_kind: GroupKind | None = None, *, namespace: str | None = None) -> builtins.list[Manifest]:
        """Live objects of one kind, or of every listable kind, sorted by key; ``apiVersion`` and ``kind`` set.

        One paginated LIST per kind (500 objects a page). Listing every kind skips
        :attr:`unlisted_kinds`, kinds without the ``list`` verb, the ``extensions`` copy of Ingress, and kinds the
        credentials may not list (403) or that vanished meanwhile (404); those kinds run in parallel.

        Args:
            group_kind: The kind; ``None`` for every kind.
            namespace: Only objects in this namespace (``None``: everywhere). Cluster-scoped objects have the
                namespace ``""``, as in :class:`~reconcile.model.ResourceKey`.

        Raises:
            UnknownKindError: The server does not serve ``group_kind``.
            ClusterError: Any other failure, after retries.
        """
        arguments.group_kind("list", group_kind, optional=True)
        if group_kind is not None:
            return self._list_kind(self._require(group_kind), namespace)
        kinds = listed_kinds(self._table(), self.unlisted_kinds)
        if namespace is not None:
            kinds = [k for k in kinds if k.namespaced == bool(namespace)]
        return self._fan_out([(k, namespace) for k in kinds])

    def versions(self, group_kind: GroupKind, *, namespace: str | None = None) -> dict[ResourceKey, str]:
        """The resourceVersion of every object of a kind (in ``namespace`` when given), by key.

        One paginated LIST of the objects' metadata only (``PartialObjectMetadataList``, as ``kubectl get -o name``
        and controllers' metadata informers ask): no spec, no status, so a Reconciler's later pass reads a fraction
        of the bytes and then GETs only the objects that changed.

        Raises:
            UnknownKindError: The server does not serve ``group_kind``.
            ClusterError: Any other failure, after retries.
        """
        arguments.group_kind("versions", group_kind)
        served = self._require(group_kind)
        if namespace is not None and served.namespaced != bool(namespace):
            return {}
        path = served.path(namespace or None)
        found: dict[ResourceKey, str] = {}
        token = ""
        while True:
            query = [("limit", str(_PAGE_SIZE))] + ([("continue", token)] if token else [])
            try:
                page = self._call("list", "GET", path, kind=served, query=query, accept=_METADATA_LIST)
            except ClusterError as exc:
                if exc.status != _HTTP_GONE or not token:
                    raise
                found, token = {}, ""  # the continue token expired: read the kind again
                continue
            for item in page.get("items") or ():
                metadata = item.get("metadata") or {}
                key = _key(served, str(metadata.get("namespace") or ""), str(metadata.get("name") or ""))
                found[key] = str(metadata.get("resourceVersion") or "")
            token = str((page.get("metadata") or {}).get("continue") or "")
            if not token:
                return found

    def list_many(
        self, group_kinds: Iterable[GroupKind], *, namespaces: Iterable[str] | None = None
    ) -> builtins.list[Manifest]:
        """Live objects of several kinds, read in parallel, sorted by key.

        Kinds the server does not serve are skipped (their CRD is not applied yet), as are kinds the
        credentials may not list.

        Args:
            group_kinds: The kinds.
            namespaces: Read namespaced kinds only in these namespaces (one LIST each); cluster-scoped kinds are
                always read whole. ``None``: every namespace.
        """
        scopes = sorted(set(namespaces)) if namespaces is not None else None
        jobs: builtins.list[tuple[Kind, str | None]] = []
        for group_kind in sorted(set(group_kinds)):
            served = self._served(group_kind)
            if served is None or not served.listable:
                continue
            if served.namespaced and scopes is not None:
                jobs.extend((served, scope) for scope in scopes)
            else:
                jobs.append((served, None))
        return self._fan_out(jobs)

    def list_with_version(
        self, group_kind: GroupKind, *, namespace: str | None = None
    ) -> tuple[builtins.list[Manifest], str]:
        """Like :meth:`list` for one kind, with the resourceVersion to :meth:`watch` from (an informer's list).

        Raises:
            UnknownKindError: The server does not serve ``group_kind``.
        """
        return self._list_versioned(self._require(group_kind), namespace)

    def watch(
        self, group_kind: GroupKind, resource_version: str, timeout: float = 300.0, *, namespace: str | None = None
    ) -> Iterator[tuple[str, Manifest]]:
        """Changes to objects of one kind after ``resource_version``, as ``(event type, object)``.

        Event types are ``ADDED``, ``MODIFIED``, ``DELETED`` and ``BOOKMARK`` (an object carrying only a newer
        resourceVersion). The server ends the watch after ``timeout`` seconds; closing the iterator ends it early.
        Watches are never retried here: whoever follows them resumes from the last resourceVersion seen.

        Raises:
            WatchExpiredError: ``resource_version`` is too old (HTTP 410): list again.
            UnknownKindError: The server does not serve ``group_kind``.
            ClusterError: The server refused the watch, or the connection broke (status 0).
        """
        served = self._require(group_kind)
        path = served.path(namespace or None) if served.namespaced or not namespace else None
        if path is None:
            return
        query = [
            ("watch", "true"),
            ("resourceVersion", resource_version),
            ("timeoutSeconds", str(max(1, int(timeout)))),
            ("allowWatchBookmarks", "true"),
        ]
        self.stats.record("watch")
        response = self._open_stream(path, query, read_timeout=timeout + self.timeout)
        try:
            if response.status != 200:  # noqa: PLR2004 - OK
                error, _ = error_from_response(response.status, response.read(), key=None)
                if error.status == _HTTP_GONE:
                    raise WatchExpiredError(error.message) from error
                raise error
            yield from _watch_events(response)
        except urllib3.exceptions.HTTPError as exc:
            raise ClusterError(f"the watch of {group_kind} broke: {exc}", status=0, retryable=True) from exc
        finally:
            # Closed, not drained: the rest of a watch may never come. The pool reconnects the slot when reused.
            response.close()
            response.release_conn()

    # --- writes ---

    def apply(
        self, obj: Manifest, *, field_manager: str | None = None, force: bool = False, dry_run: bool = False
    ) -> Manifest:
        """Server-side apply ``obj``; returns the object as stored (or as it would be, with ``dry_run``).

        A server that refuses the apply because a keyed-list item omits a key field with a default (servers
        before 1.21 do so for a port without ``protocol``; newer ones default it) gets it once more with those
        fields filled (:func:`reconcile.apiserver.fill_list_keys`).
        Applying a CustomResourceDefinition waits (up to ``crd_timeout``) until it is established and its kind
        is in discovery, so objects of that kind can be applied next.

        Args:
            obj: The manifest (not changed).
            field_manager: The manager; the instance's ``field_manager`` by default.
            force: Take over fields other managers own instead of failing with a conflict.
            dry_run: Let the server validate and default, persisting nothing.

        Raises:
            ConflictError: Other managers own fields this apply changes (``fields`` lists them).
            InvalidError: The object is invalid (``field`` names where).
            NotFoundError: Its namespace does not exist.
            UnknownKindError: The server does not serve its kind or version.
        """
        arguments.manifest("apply", obj)
        try:
            return self._apply(deep_copy(obj), field_manager=field_manager, force=force, dry_run=dry_run)
        except InvalidError as exc:
            if _OMITS_KEY not in str(exc):
                raise
        return self._apply(apiserver.fill_list_keys(obj), field_manager=field_manager, force=force, dry_run=dry_run)

    def _apply(self, config: Manifest, *, field_manager: str | None, force: bool, dry_run: bool) -> Manifest:
        served, key, version = self._identify(config)
        query = [("fieldManager", field_manager or self.field_manager)]
        if force:
            query.append(("force", "true"))
        result = self._call(
            "dry-run apply" if dry_run else "apply",
            "PATCH",
            served.path(key.namespace, key.name, version=version),
            key=key,
            kind=served,
            query=_with_dry_run(query, dry_run),
            body=config,
            content_type=_APPLY_PATCH,
            retry_conflicts=not _resource_version(config),
            hidden=secret_values(config),
        )
        return self._settle(served, result, dry_run)

    def apply_many(
        self,
        objs: Iterable[Manifest],
        *,
        field_manager: str | None = None,
        force: bool = False,
        dry_run: bool = False,
    ) -> builtins.list[Manifest | ClusterError]:
        """Server-side apply each object, ``workers`` at a time; results in input order.

        Returns:
            For each object, the stored object or the :class:`~reconcile.errors.ClusterError` its apply raised.
        """
        items = builtins.list(objs)

        def one(obj: Manifest) -> Manifest | ClusterError:
            try:
                return self.apply(obj, field_manager=field_manager, force=force, dry_run=dry_run)
            except ClusterError as exc:
                return exc

        if len(items) <= 1 or self.workers == 1:
            return [one(obj) for obj in items]
        self._table()  # read discovery once, not once per thread
        return builtins.list(self._pool("writers").map(carried(one), items))

    def create(self, obj: Manifest, *, field_manager: str | None = None, dry_run: bool = False) -> Manifest:
        """Create ``obj`` (``metadata.generateName`` supported).

        Only a connection refused before the request left is retried: a create cannot be repeated blindly.

        Raises:
            ConflictError: It exists already (reason ``AlreadyExists``).
            InvalidError, NotFoundError, UnknownKindError: As for :meth:`apply`.
        """
        arguments.manifest("create", obj)
        config = deep_copy(obj)
        served, key, version = self._identify(config, generate_name=True)
        result = self._call(
            "create",
            "POST",
            served.path(key.namespace, version=version),
            key=key,
            kind=served,
            query=_with_dry_run([("fieldManager", field_manager or self.field_manager)], dry_run),
            body=config,
            content_type=_JSON,
            retry=False,
            hidden=secret_values(config),
        )
        return self._settle(served, result, dry_run)

    def replace(self, obj: Manifest, *, field_manager: str | None = None, dry_run: bool = False) -> Manifest:
        """Replace the whole object (HTTP PUT).

        Without ``metadata.resourceVersion`` the live one is read first, and read again when someone else wrote
        in between (a retryable conflict). With one, it is a precondition: a stale one raises at once.

        Raises:
            NotFoundError: The object does not exist.
            ConflictError: ``metadata.resourceVersion`` is stale.
            InvalidError, UnknownKindError: As for :meth:`apply`.
        """
        arguments.manifest("replace", obj)
        config = deep_copy(obj)
        served, key, version = self._identify(config)
        given = _resource_version(config)
        path = served.path(key.namespace, key.name, version=version)

        def body() -> Manifest:
            if not given:
                live = self._call("get", "GET", path, key=key, kind=served)
                config["metadata"]["resourceVersion"] = _resource_version(live)
            return config

        return self._call(
            "update",
            "PUT",
            path,
            key=key,
            kind=served,
            query=_with_dry_run([("fieldManager", field_manager or self.field_manager)], dry_run),
            body=body,
            content_type=_JSON,
            retry_conflicts=not given,
            hidden=secret_values(config),
        )

    def patch(
        self,
        key: ResourceKey,
        patch: Mapping[str, Any],
        *,
        field_manager: str | None = None,
        dry_run: bool = False,
    ) -> Manifest:
        """Apply a JSON merge patch (RFC 7386), like ``kubectl patch --type=merge``.

        Raises:
            NotFoundError: The object does not exist.
            ConflictError: The patch carries a stale ``metadata.resourceVersion``.
            InvalidError, UnknownKindError: As for :meth:`apply`.
        """
        arguments.named_key("patch", key)
        arguments.merge_patch(patch)
        served = self._require(key.group_kind, key=key)
        namespace = self._namespace_for(served, key.namespace)
        key = _key(served, namespace, key.name)
        body = deep_copy(dict(patch))
        return self._call(
            "patch",
            "PATCH",
            served.path(namespace, key.name),
            key=key,
            kind=served,
            query=_with_dry_run([("fieldManager", field_manager or self.field_manager)], dry_run),
            body=body,
            content_type=_MERGE_PATCH,
            retry_conflicts=not _resource_version(body),
        )

    def delete(self, key: ResourceKey, *, propagation: PropagationPolicy = "Background", dry_run: bool = False) -> None:
        """Delete the object with the given propagation policy.

        ``Background`` and ``Foreground`` let the garbage collector delete dependents (objects whose
        ``ownerReferences`` name this one); ``Orphan`` keeps them and removes the references.

        Raises:
            NotFoundError: The object does not exist (a retry that finds it gone counts as success).
            UnknownKindError: The server does not serve the key's kind.
        """
        arguments.named_key("delete", key)
        served = self._require(key.group_kind, key=key)
        namespace = self._namespace_for(served, key.namespace)
        key = _key(served, namespace, key.name)
        self._call(
            "delete",
            "DELETE",
            served.path(namespace, key.name),
            key=key,
            kind=served,
            query=_with_dry_run([("propagationPolicy", propagation)], dry_run),
            gone_is_done=True,
        )
        if served.group_kind == _CRD and not dry_run:
            plural, _, group = key.name.partition(".")
            self._forget(lambda k: k.group == group and k.plural == plural)

    def apply_client_side(self, obj: Manifest, *, field_manager: str | None = None, dry_run: bool = False) -> Manifest:
        """Apply ``obj`` as ``kubectl apply`` without ``--server-side`` does, keeping its annotation in step.

        The object's ``kubectl.kubernetes.io/last-applied-configuration`` annotation is written as ``kubectl``
        writes it, so ``kubectl apply`` and ``kubectl apply view-last-applied`` see the same history. The patch is
        three-way: fields dropped from the manifest since the last apply are deleted, fields others set are kept.
        It is a JSON merge patch for every kind, where ``kubectl`` sends a strategic merge patch to built-in
        kinds: a list (a Deployment's containers) is replaced whole rather than merged by key.

        Returns:
            The stored object (the live one, untouched, when nothing would change).

        Raises:
            ClusterError: As for :meth:`create` and :meth:`patch`.
        """
        config = deep_copy(obj)
        served, key, version = self._identify(config)
        modified = with_last_applied(config)
        path = served.path(key.namespace, key.name, version=version)
        manager = field_manager or self.field_manager
        try:
            live = self._call("get", "GET", path, key=key, kind=served)
        except NotFoundError:
            return self.create(modified, field_manager=manager, dry_run=dry_run)
        body = three_way_patch(read_last_applied(live), modified, live)
        if not body:
            return dict(live)
        return self._call(
            "patch",
            "PATCH",
            path,
            key=key,
            kind=served,
            query=_with_dry_run([("fieldManager", manager)], dry_run),
            body=body,
            content_type=_MERGE_PATCH,
            hidden=secret_values(config),
        )

    # --- the HTTP layer ---

    def _call(
        self,
        verb: str,
        method: str,
        path: str,
        *,
        key: ResourceKey | None = None,
        kind: Kind | None = None,
        query: Sequence[tuple[str, str]] = (),
        body: Manifest | Callable[[], Manifest] | None = None,
        content_type: str | None = None,
        accept: str = _JSON,
        retry: bool = True,
        retry_conflicts: bool = True,
        gone_is_done: bool = False,
        hidden: Sequence[str] = (),
    ) -> Manifest:
        """Send one request, retrying as allowed; the response body as JSON.

        Args:
            verb: The :class:`RequestStats` verb.
            method: The HTTP method.
            path: The URL path.
            key: The object, for errors.
            kind: The kind the path belongs to; a 404 about the URL itself means it is no longer served.
            query: Query parameters.
            body: The request body, or a function making it afresh for each attempt.
            content_type: The body's media type.
            accept: The media types the answer may come in.
            retry: Repeat after retryable errors; otherwise only after a connection refused before sending.
            retry_conflicts: Also repeat after an optimistic-concurrency conflict.
            gone_is_done: A 404 after a retry means an earlier attempt succeeded.
            hidden: Values to keep out of error messages.
        """
        attempt = 0
        while True:
            _check_deadline(verb, key or path)
            self.stats.record(verb, retry=attempt > 0)
            payload = body() if callable(body) else body
            try:
                status, data, headers, reason = self._send(method, path, query, payload, content_type, accept=accept)
            except _Unsent as unsent:
                refused: ClusterError = unsent.args[0]
                if attempt < self.max_retries:
                    attempt = self._pause(attempt, refused, None)
                    continue
                raise refused from unsent.__cause__
            except ClusterError as failure:
                if retry and failure.retryable and attempt < self.max_retries:
                    attempt = self._pause(attempt, failure, None)
                    continue
                raise
            if status < 300:  # noqa: PLR2004 - 2xx
                return dict(json_body(data)) if data else {}
            error, parsed = error_from_response(status, data, key=key, http_reason=reason, hidden=hidden)
            if status == _HTTP_NOT_FOUND:
                if attempt > 0 and gone_is_done:
                    return {}
                if kind is not None and not parsed.names_object:
                    self._forget(lambda k: k.group_kind == kind.group_kind)
                    raise UnknownKindError(
                        f"the server does not serve {kind.plural}.{kind.group or 'core'} any more: {error.message}",
                        key=key,
                    ) from error
            conflict_ok = retry_conflicts or not isinstance(error, ConflictError)
            if retry and conflict_ok and error.retryable and attempt < self.max_retries:
                attempt = self._pause(attempt, error, headers)
                continue
            raise error

    def _send(
        self,
        method: str,
        path: str,
        query: Sequence[tuple[str, str]],
        body: Manifest | None,
        content_type: str | None,
        *,
        accept: str = _JSON,
    ) -> tuple[int, bytes, Mapping[str, str], str]:
        url, headers = self._prepare(method, path, query, content_type, accept=accept)
        try:
            left = remaining()
            timeout = self.timeout if left is None else max(min(self.timeout, left), _MIN_REQUEST_TIMEOUT)
            response = self._api.call_api(method, url, header_params=headers, body=body, _request_timeout=timeout)
            data = response.read()
        except urllib3.exceptions.HTTPError as exc:
            cause = exc.reason if isinstance(exc, urllib3.exceptions.MaxRetryError) else exc
            error = ClusterError(
                f"cannot reach the Kubernetes API at {self.host}: {cause}", status=0, reason="", retryable=True
            )
            if isinstance(cause, urllib3.exceptions.ConnectTimeoutError):
                # Refused or timed out while connecting: nothing was sent, so even a create may be repeated.
                raise _Unsent(error) from exc
            raise error from exc
        except kubernetes.client.ApiException as exc:
            # The client's own failures (TLS): trying again unchanged does not help.
            raise ClusterError(
                f"cannot talk to the Kubernetes API at {self.host}: {exc.reason}", status=0, retryable=False
            ) from exc
        return int(response.status), data or b"", response.headers or {}, str(response.reason or "")

    def _open_stream(self, path: str, query: Sequence[tuple[str, str]], *, read_timeout: float) -> Any:
        """Send a GET whose response is read as it arrives; the urllib3 response."""
        url, headers = self._prepare("GET", path, query, None)
        try:
            response = self._api.call_api(
                "GET", url, header_params=headers, _request_timeout=(self.timeout, read_timeout)
            )
        except urllib3.exceptions.HTTPError as exc:
            raise ClusterError(f"cannot reach the Kubernetes API at {self.host}: {exc}", status=0) from exc
        return response.response

    def _prepare(
        self,
        method: str,
        path: str,
        query: Sequence[tuple[str, str]],
        content_type: str | None,
        *,
        accept: str = _JSON,
    ) -> tuple[str, dict[str, str]]:
        """The full URL and the headers (credentials included) of a request."""
        headers = {"Accept": accept}
        if content_type is not None:
            headers["Content-Type"] = content_type
        _, url, headers, _, _ = self._api.param_serialize(
            method, path, query_params=builtins.list(query), header_params=headers, auth_settings=["BearerToken"]
        )
        return str(url), headers

    def _pause(self, attempt: int, error: ClusterError, headers: Mapping[str, str] | None) -> int:
        asked = retry_after(headers)
        if asked is not None:
            delay = min(asked, self.timeout)
        else:
            delay = self._random.uniform(0, min(self.max_backoff, self.backoff * 2**attempt))
        self._log().debug(
            "reconcile.cluster.retrying",
            key=str(error.key) if error.key else None,
            status=error.status,
            reason=error.reason,
            attempt=attempt + 1,
            delay=round(delay, 3),
        )
        left = remaining()
        if left is not None and left <= delay:
            # The next attempt would start after the pass's deadline: report the failure now.
            raise ClusterError(
                f"{error.message} (not retried: the pass's deadline is reached)",
                key=error.key,
                status=error.status,
                reason=error.reason,
                retryable=True,
            ) from error
        time.sleep(delay)
        return attempt + 1

    def _log(self) -> Any:
        return self._logger if self._logger is not None else structlog.get_logger("reconcile")

    def _pool(self, which: str) -> ThreadPoolExecutor:
        """The thread pool for applies (``writers``) or for fan-out reads (``readers``).

        Two pools, so an apply running on a writer thread can fan out reads (discovery after a CRD) without
        waiting for a writer thread of its own.
        """
        with self._pool_lock:
            if self._closed:
                raise ClusterError("the KubernetesCluster is closed", status=0, retryable=False)
            pool = self._writers if which == "writers" else self._readers
            if pool is None:
                pool = ThreadPoolExecutor(self.workers, thread_name_prefix=f"reconcile-kube-{which}")
                if which == "writers":
                    self._writers = pool
                else:
                    self._readers = pool
            return pool

    # --- discovery, internals ---

    def _table(self) -> dict[GroupKind, Kind]:
        kinds = self._kinds
        return kinds if kinds is not None else self._refresh(unless_after=float("-inf"))

    def _refresh(self, *, unless_after: float | None = None) -> dict[GroupKind, Kind]:
        """Read discovery; with ``unless_after``, skip it when another thread refreshed since that time."""
        with self._discovery_lock:
            if unless_after is not None and self._kinds is not None and self._discovered_at > unless_after:
                return self._kinds
            core = self._call("discovery", "GET", "/api")
            groups = group_versions(core, self._call("discovery", "GET", "/apis"))
            paths = [(g.group, version, path) for g in groups for version, path in g.paths()]

            def read(item: tuple[str, str, str]) -> tuple[tuple[str, str], Manifest | None]:
                group, version, path = item
                try:
                    return (group, version), self._call("discovery", "GET", path, retry=False)
                except ClusterError:
                    return (group, version), None  # an aggregated API that is down: its kinds are not served

            listings = dict(self._pool("readers").map(carried(read), paths))
            table = build_table(groups, {gv: doc for gv, doc in listings.items() if doc is not None})
            # A group version that failed to answer this time keeps what it served before: stale beats missing.
            failed = {gv for gv, doc in listings.items() if doc is None}
            for group_kind, served in (self._kinds or {}).items():
                if group_kind not in table and any((served.group, v) in failed for v in served.versions):
                    table[group_kind] = served
            with self._table_lock:
                self._kinds = table
            self._discovered_at = time.monotonic()
            return table

    def _served(self, group_kind: GroupKind) -> Kind | None:
        started = time.monotonic()
        found = self._table().get(group_kind)
        if found is None and started - self._discovered_at >= self.discovery_interval:
            found = self._refresh(unless_after=started).get(group_kind)
        return found

    def _require(self, group_kind: GroupKind, *, key: ResourceKey | None = None, version: str = "") -> Kind:
        """The served kind, or :class:`UnknownKindError` (a version that is not served counts as unknown)."""
        served = self._served(group_kind)
        if served is not None and version and version not in served.versions:
            started = time.monotonic()
            if started - self._discovered_at >= self.discovery_interval:
                served = self._refresh(unless_after=started).get(group_kind)
        if served is None or (version and version not in served.versions):
            api_version = (f"{group_kind.group}/{version}" if group_kind.group else version) if version else None
            versions = served.versions if served is not None else ()
            raise UnknownKindError(apiserver.no_match_message(group_kind, api_version, versions), key=key)
        return served

    def _forget(self, matches: Callable[[Kind], bool]) -> None:
        with self._table_lock:
            if self._kinds is not None:
                self._kinds = {gk: k for gk, k in self._kinds.items() if not matches(k)}

    def _crd_name(self, group_kind: GroupKind) -> str:
        served = (self._kinds or {}).get(group_kind)
        if served is not None:
            return f"{served.plural}.{served.group}"
        for crd in self._list_kind(self._require(_CRD), None):
            if apiserver.crd_kind(crd) == group_kind:
                return str(crd["metadata"]["name"])
        raise NotFoundError(f"no CustomResourceDefinition defines {group_kind}")

    def _settle(self, served: Kind, result: Manifest, dry_run: bool) -> Manifest:
        """After writing a CRD, wait (bounded) until its kind can be used."""
        if served.group_kind != _CRD or dry_run:
            return result
        kind = apiserver.crd_kind(result)
        if _established(result) and kind in (self._kinds or {}):
            return result
        try:
            return self.wait_established(str(result["metadata"]["name"]), timeout=self.crd_timeout)
        except ClusterError as exc:
            # The write itself succeeded; a later write of the kind will say it is unknown.
            self._log().warning("reconcile.cluster.crd_not_established", crd=str(kind), error=exc.message)
            return result

    # --- objects, internals ---

    def _namespace_for(self, served: Kind, namespace: str) -> str:
        return (namespace or self.namespace) if served.namespaced else ""

    def _identify(self, config: Manifest, *, generate_name: bool = False) -> tuple[Kind, ResourceKey, str]:
        """Check the object's kind and name; set its namespace as the server will. Changes ``config``."""
        api_version, kind = config.get("apiVersion"), config.get("kind")
        if not kind or not api_version:
            missing = "kind" if not kind else "apiVersion"
            raise InvalidError(f"Object '{missing}' is missing in the object", field=missing)
        group, version = split_api_version(str(api_version))
        loose = ResourceKey.from_manifest(config)
        served = self._require(GroupKind(group, str(kind)), key=loose, version=version)
        metadata = config.get("metadata")
        if not isinstance(metadata, dict):
            metadata = config["metadata"] = {}
        if served.namespaced:
            metadata["namespace"] = metadata.get("namespace") or self.namespace
        else:
            metadata.pop("namespace", None)
        key = ResourceKey.from_manifest(config)
        if not key.name and not (generate_name and metadata.get("generateName")):
            raise InvalidError(
                f'{kind} "" is invalid: metadata.name: Required value: name or generateName is required',
                key=key,
                field="metadata.name",
            )
        return served, key, version

    def _list_kind(self, served: Kind, namespace: str | None) -> builtins.list[Manifest]:
        return self._list_versioned(served, namespace)[0]

    def _list_versioned(self, served: Kind, namespace: str | None) -> tuple[builtins.list[Manifest], str]:
        """Every page of one LIST, and the resourceVersion the list was read at."""
        if namespace is not None and served.namespaced != bool(namespace):
            return [], ""  # a namespace holds no cluster-scoped object; "" holds no namespaced one
        path = served.path(namespace or None)
        items: builtins.list[Manifest] = []
        token = version = ""
        restarts = 0
        while True:
            query = [("limit", str(_PAGE_SIZE))] + ([("continue", token)] if token else [])
            try:
                page = self._call("list", "GET", path, kind=served, query=query)
            except ClusterError as exc:
                if exc.status != _HTTP_GONE or not token or restarts >= self.max_retries:
                    raise
                # The continue token expired (the server compacted): read the whole kind again.
                items, token, restarts = [], "", restarts + 1
                continue
            api_version = str(page.get("apiVersion") or served.api_version)
            items.extend({"apiVersion": api_version, "kind": served.kind, **item} for item in page.get("items") or ())
            token = str((page.get("metadata") or {}).get("continue") or "")
            version = str((page.get("metadata") or {}).get("resourceVersion") or version)
            if not token:
                break
        items.sort(key=_namespace_and_name)
        return items, version

    def _fan_out(self, jobs: Sequence[tuple[Kind, str | None]]) -> builtins.list[Manifest]:
        """LIST each ``(kind, namespace)`` in parallel; kinds that are gone or forbidden give nothing."""

        def read(job: tuple[Kind, str | None]) -> builtins.list[Manifest]:
            try:
                return self._list_kind(*job)
            except UnknownKindError:
                return []
            except ClusterError as exc:
                if exc.status in (_HTTP_FORBIDDEN, _HTTP_NOT_FOUND, _HTTP_NOT_ALLOWED):
                    return []
                raise

        pages = (
            builtins.list(self._pool("readers").map(carried(read), jobs)) if len(jobs) > 1 else [read(j) for j in jobs]
        )
        out = [obj for page in pages for obj in page]
        out.sort(key=ResourceKey.from_manifest)
        return out


# ----------------------------------------------------------------------------------------------------
# Small helpers.


def _yaml_problem(config_file: str | None, exc: yaml.YAMLError) -> str:
    """``<file>:<line>: not valid YAML: <problem>`` for a kubeconfig PyYAML could not parse."""
    where = config_file or "the default kubeconfig"
    mark = getattr(exc, "problem_mark", None)
    if mark is not None:
        where = f"{where}:{mark.line + 1}"
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"{where}: the kubeconfig is not valid YAML: {problem}"


def _check_deadline(verb: str, target: ResourceKey | str) -> None:
    """Refuse to start a request once the pass's deadline (see ``reconcile.deadline``) has passed."""
    left = remaining()
    if left is not None and left <= 0:
        key = target if isinstance(target, ResourceKey) else None
        raise ClusterError(
            f"{verb} {target}: not sent, the pass's deadline is reached", key=key, reason="Timeout", retryable=True
        )


def _key(served: Kind, namespace: str, name: str) -> ResourceKey:
    return ResourceKey(served.group, served.kind, namespace, name)


def _with_dry_run(query: builtins.list[tuple[str, str]], dry_run: bool) -> builtins.list[tuple[str, str]]:
    return [*query, ("dryRun", "All")] if dry_run else query


def _resource_version(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


def _namespace_and_name(obj: Manifest) -> tuple[str, str]:
    metadata = obj.get("metadata") or {}
    return str(metadata.get("namespace") or ""), str(metadata.get("name") or "")


def _watch_events(response: Any) -> Iterator[tuple[str, Manifest]]:
    """The events of a watch response: one JSON object a line, arriving in chunks."""
    buffer = b""
    for chunk in response.stream(None):
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            yield from _watch_event(line)
    yield from _watch_event(buffer)  # a last line without its newline


def _watch_event(line: bytes) -> Iterator[tuple[str, Manifest]]:
    if not line.strip():
        return
    event = json.loads(line)
    kind, obj = str(event.get("type") or ""), event.get("object") or {}
    if kind == "ERROR":
        error, _ = error_from_response(int(obj.get("code") or 500), json.dumps(obj).encode(), key=None)
        if error.status == _HTTP_GONE:
            raise WatchExpiredError(error.message) from error
        raise error
    yield kind, obj


def _established(crd: Manifest) -> bool:
    conditions = (crd.get("status") or {}).get("conditions") or ()
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions if isinstance(c, dict))
