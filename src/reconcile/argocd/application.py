"""Argo CD ``Application`` manifests in, a wired :class:`~reconcile.reconciler.Reconciler` out.

::

    import reconcile as rc

    app = rc.Application.parse("grade-api-prod.yaml")
    reconciler = app.reconciler({"in-cluster": rc.MemoryCluster()})
    result = reconciler.reconcile()

The mapping follows Argo CD: ``repoURL`` + ``path`` is a :class:`~reconcile.sources.GitSource`, ``repoURL`` +
``chart`` a :class:`~reconcile.sources.HelmRepositorySource`, and an ``oci://`` ``repoURL`` (or a chart whose
``repoURL`` has no scheme) an :class:`~reconcile.sources.OCISource`; ``helm``, ``kustomize`` and
``directory`` pick and configure the renderer (none of them: the folder's files decide, as Argo CD's repo-server
does); multi-source ``ref`` sources provide ``$ref/...`` value files. One source renders per application.

Fields Argo CD has and reconcile does not honour yet are reported with an :class:`UnsupportedFieldWarning` naming
the field; a malformed manifest is a :class:`~reconcile.errors.ConfigurationError` naming the path in it.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import attrs

from reconcile.apiserver import SERVER_SET_METADATA
from reconcile.argocd._app_reading import (
    _DESTINATION,
    _SOURCE,
    _SPEC,
    _SYNC_POLICY,
    _TOP,
    _check_keys,
    _directory_options,
    _fail,
    _helm_options,
    _items,
    _kustomize_options,
    _list,
    _mapping,
    _optional_string,
    _read_policy,
    _Warn,
    _wrapped,
)
from reconcile.argocd._app_writing import _policy_manifest, _rule_manifest
from reconcile.argocd.annotations import CLIENT_SIDE_APPLY_MIGRATION_MANAGER
from reconcile.argocd.tracking import CONTROL_PLANE_NAMESPACE, instance_name
from reconcile.cluster import MemoryCluster
from reconcile.diff import IgnoreRule, as_rules
from reconcile.errors import ConfigurationError, ManifestError
from reconcile.jsonvalues import deep_copy
from reconcile.manifests import load_manifests
from reconcile.model import Manifest, Resource
from reconcile.protocols import Cluster, Renderer, Source
from reconcile.reconciler import Reconciler, SyncPolicy
from reconcile.redaction import redact_url
from reconcile.renderers import (
    AutoRenderer,
    DirectoryRenderer,
    HelmRenderer,
    KustomizeRenderer,
    PluginRenderer,
    PluginSpec,
)
from reconcile.sources import (
    ChartDependencies,
    Credentials,
    DirectorySource,
    GitSource,
    HelmRepositorySource,
    MultiSource,
    OCISource,
)

__all__ = ["Application", "ApplicationSource", "UnsupportedFieldWarning", "child_application"]

API_VERSION = "argoproj.io/v1alpha1"
IN_CLUSTER_URL = "https://kubernetes.default.svc"
IN_CLUSTER_NAME = "in-cluster"

# The server-set metadata an Application written back leaves out: all but the deletion marks, which stay so that a
# manifest written from an Application being deleted still says so (a subset, on purpose: what to_manifest has kept).
_SERVER_METADATA = tuple(
    name for name in SERVER_SET_METADATA if name not in ("deletionTimestamp", "deletionGracePeriodSeconds")
)


_RECONCILER_SETS = ("name", "source", "renderer", "cluster", "namespace", "policy", "ignore_differences")


class UnsupportedFieldWarning(UserWarning):
    """An Application field Argo CD honours and reconcile ignores; the message names its path."""


# ------------------------------------------------------------------------------------------------- reading


@contextlib.contextmanager
def _naming(app: Application) -> Iterator[None]:
    """Prefix a ConfigurationError raised inside with ``Application <namespace>/<name>``."""
    try:
        yield
    except ConfigurationError as exc:
        raise ConfigurationError(f"{_title(app.namespace, app.name)}: {exc.message}") from exc


def _title(namespace: str | None, name: str | None) -> str:
    return f"Application {namespace or CONTROL_PLANE_NAMESPACE}/{name}" if name else "Application"


# ------------------------------------------------------------------------------------------------- sources


@attrs.frozen(kw_only=True)
class ApplicationSource:
    """One entry of ``spec.source`` / ``spec.sources``, as written (tool settings kept as Argo CD's mappings).

    Attributes:
        repo_url: ``repoURL``: a Git repository, a Helm chart repository when ``chart`` is set, or an OCI
            repository (``oci://registry/repo``, or ``registry/charts`` without a scheme when ``chart`` is set).
        path: ``path``: the application's folder in the Git repository.
        chart: ``chart``: the chart's name in the Helm repository.
        target_revision: ``targetRevision``: branch, tag or commit (Git), version or range (chart).
        ref: ``ref``: the name ``$ref/...`` value files use for this source's checkout.
        name: ``name``: the source's own name (informational).
        helm: ``helm`` settings, as in the manifest.
        kustomize: ``kustomize`` settings, as in the manifest.
        directory: ``directory`` settings, as in the manifest.
        plugin: ``plugin`` settings: a config management plugin renders this source, one the host registered
            (``Application.reconciler(plugins=...)``) by ``plugin.name`` or by its discovery rules; without one,
            building a Reconciler is a ConfigurationError naming the plugin, never a render without it.
    """

    repo_url: str = attrs.field(repr=redact_url)
    path: str | None = None
    chart: str | None = None
    target_revision: str | None = None
    ref: str | None = None
    name: str | None = None
    helm: dict[str, Any] | None = attrs.field(default=None, hash=False)
    kustomize: dict[str, Any] | None = attrs.field(default=None, hash=False)
    directory: dict[str, Any] | None = attrs.field(default=None, hash=False)
    plugin: dict[str, Any] | None = attrs.field(default=None, hash=False)

    @property
    def renders(self) -> bool:
        """Whether this source's objects are rendered (a ``ref`` source without path or chart only lends files)."""
        return self.ref is None or self.path is not None or self.chart is not None

    def to_manifest(self) -> Manifest:
        """The source as Argo CD writes it."""
        fields = (
            ("repoURL", self.repo_url),
            ("path", self.path),
            ("chart", self.chart),
            ("targetRevision", self.target_revision),
            ("ref", self.ref),
            ("name", self.name),
            ("helm", self.helm),
            ("kustomize", self.kustomize),
            ("directory", self.directory),
            ("plugin", self.plugin),
        )
        return {key: deep_copy(value) for key, value in fields if value is not None}

    def renderer(
        self,
        *,
        release_name: str,
        namespace: str | None,
        value_sources: Mapping[str, Source],
        path: str,
        plugins: Sequence[PluginSpec] = (),
    ) -> Renderer:
        """The renderer Argo CD would use for this source.

        Args:
            release_name: Helm's release name unless ``helm.releaseName`` sets one (Argo CD: the app's name).
            namespace: The destination namespace (Helm's ``.Release.Namespace`` unless ``helm.namespace`` is set).
            value_sources: Checkouts ``$name/...`` value files and file parameters read from.
            path: This source's path in the manifest, for messages.
            plugins: The config management plugins the host registered, for a ``plugin`` source.

        Raises:
            ConfigurationError: Naming the path of a malformed setting, or a plugin that is not registered.
        """
        if self.plugin is not None:
            return self._plugin_renderer(release_name, namespace, path, plugins)
        return _wrapped(path, lambda: self._renderer(release_name, namespace, value_sources, path))

    def _plugin_renderer(
        self, release_name: str, namespace: str | None, path: str, plugins: Sequence[PluginSpec]
    ) -> Renderer:
        """The registered plugin this source names (or discovers); never a render without it."""
        plugin = self.plugin or {}
        settings: dict[str, Any] = {
            "app_name": release_name,
            "app_namespace": namespace or "",
            "repo_url": self.repo_url,
            "target_revision": self.target_revision or "",
            "env": _plugin_env(plugin.get("env"), f"{path}.plugin.env"),
            "parameters": tuple(_plugin_parameters(plugin.get("parameters"), f"{path}.plugin.parameters")),
        }
        name = plugin.get("name")
        registered = ", ".join(spec.full_name for spec in plugins) or "none"
        if not name:
            if not plugins:
                raise ConfigurationError(f"{path}.plugin: no config management plugin is registered (plugins=...)")
            return PluginRenderer.discovering(plugins, **settings)
        for spec in plugins:
            if name in (spec.full_name, spec.name):
                return PluginRenderer(spec=spec, **settings)
        raise ConfigurationError(
            f"{path}.plugin: the config management plugin {name!r} is not registered (registered: {registered}); "
            "this source cannot be rendered as Argo CD would render it"
        )

    def _renderer(
        self, release_name: str, namespace: str | None, value_sources: Mapping[str, Source], path: str
    ) -> Renderer:
        quiet: _Warn = lambda _: None  # noqa: E731 - warnings were given when the manifest was parsed
        chosen = [key for key in ("helm", "kustomize", "directory", "plugin") if getattr(self, key) is not None]
        if len(chosen) > 1:
            raise ConfigurationError(f"only one of helm, kustomize, directory, plugin may be set, not {chosen}")

        if self.chart is not None and chosen not in ([], ["helm"]):
            raise ConfigurationError(f"a chart from a Helm repository renders with helm, not {chosen[0]}")
        if self.helm is not None or self.chart is not None:
            options = _helm_options(self.helm or {}, f"{path}.helm", quiet)
            options["release_name"] = options["release_name"] or release_name
            options["namespace"] = options["namespace"] or namespace or None
            return HelmRenderer(**options, value_sources=value_sources)
        if self.kustomize is not None:
            return KustomizeRenderer(**_kustomize_options(self.kustomize, f"{path}.kustomize", quiet))
        if self.directory is not None:
            return DirectoryRenderer(**_directory_options(self.directory, f"{path}.directory", quiet))
        # No settings: the folder's files decide, and a chart renders as the app's release, as in Argo CD.
        return AutoRenderer(
            helm={"release_name": release_name, "namespace": namespace or None, "value_sources": value_sources}
        )


def child_application(manifest: Manifest, parent: Application | None = None) -> Application:
    """A child Application from its parent's render (an app of apps), without the tracking its parent added.

    Raises:
        ConfigurationError: The child is malformed (naming the parent when given).
    """
    child = deep_copy(manifest)
    annotations = ((child.get("metadata") or {}).get("annotations")) or {}
    for key in [k for k in annotations if k.endswith("/tracking-id")]:
        del annotations[key]
    try:
        return Application.parse(child)
    except ConfigurationError as exc:
        if parent is None:
            raise
        raise ConfigurationError(f"{parent.display_name()} renders an Application that is malformed: {exc}") from exc


def _plugin_env(raw: Any, path: str) -> dict[str, str]:
    """Argo CD's ``plugin.env``: a list of ``{name, value}``."""
    env = {}
    for index, item in enumerate(raw or ()):
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str) or not item.get("name"):
            raise ConfigurationError(f"{path}[{index}] needs a name and a value")
        env[str(item["name"])] = str(item.get("value") or "")
    return env


def _plugin_parameters(raw: Any, path: str) -> list[dict[str, Any]]:
    """Argo CD's ``plugin.parameters``: a list of ``{name, string | array | map}``."""
    parameters = []
    for index, item in enumerate(raw or ()):
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str) or not item.get("name"):
            raise ConfigurationError(f"{path}[{index}] needs a name")
        parameters.append(dict(item))
    return parameters


def _is_oci(source: ApplicationSource) -> bool:
    """Whether the source is in an OCI registry: ``oci://``, or a chart whose repository URL has no scheme."""
    url = source.repo_url.strip()
    return url.startswith("oci://") or (source.chart is not None and "://" not in url)


def _read_source(raw: Any, path: str, warn: _Warn) -> ApplicationSource:
    obj = _mapping(raw, path)
    _check_keys(obj, path, _SOURCE, warn)
    repo_url = obj.get("repoURL")
    if not isinstance(repo_url, str) or not repo_url:
        raise _fail(f"{path}.repoURL", "a non-empty string", repo_url)
    settings = {}
    for key in ("helm", "kustomize", "directory", "plugin"):
        if obj.get(key) is not None:
            settings[key] = deep_copy(_mapping(obj[key], f"{path}.{key}"))
    source = ApplicationSource(
        repo_url=repo_url,
        path=_optional_string(obj, "path", path),
        chart=_optional_string(obj, "chart", path),
        target_revision=_optional_string(obj, "targetRevision", path),
        ref=_optional_string(obj, "ref", path),
        name=_optional_string(obj, "name", path),
        **settings,
    )
    # Read each tool's settings once here, so what they lack is reported now, at parse time.
    if source.helm is not None:
        _helm_options(source.helm, f"{path}.helm", warn)
    if source.kustomize is not None:
        _kustomize_options(source.kustomize, f"{path}.kustomize", warn)
    if source.directory is not None:
        _directory_options(source.directory, f"{path}.directory", warn)
    return source


# ------------------------------------------------------------------------------------------------- policy


# ------------------------------------------------------------------------------------------------- the application


def _sources(value: Iterable[ApplicationSource]) -> tuple[ApplicationSource, ...]:
    return tuple(value)


@attrs.frozen(kw_only=True)
class Application:
    """An Argo CD ``argoproj.io/v1alpha1`` Application, read into reconcile's terms.

    Build one with :meth:`parse` (or :meth:`parse_all`), then :meth:`reconciler` for a wired
    :class:`~reconcile.reconciler.Reconciler`; :meth:`from_manifest` does both.

    Attributes:
        name: ``metadata.name``. The Reconciler tracks objects by :meth:`instance_name`, which is this name
            in the control plane's namespace and ``<namespace>_<name>`` elsewhere.
        namespace: ``metadata.namespace``: the Application object's own namespace.
        project: ``spec.project`` (kept for round trips; projects' restrictions are not enforced).
        sources: ``spec.source`` or ``spec.sources``.
        destination_server: ``spec.destination.server``: a cluster URL.
        destination_name: ``spec.destination.name``: a cluster name.
        destination_namespace: ``spec.destination.namespace``: the namespace for namespaced objects that name
            none (``default`` when unset).
        sync_policy: ``spec.syncPolicy``.
        ignore_differences: ``spec.ignoreDifferences``.
        manifest: The manifest this was parsed from (not compared).
    """

    name: str
    namespace: str = "argocd"
    project: str = "default"
    sources: tuple[ApplicationSource, ...] = attrs.field(converter=_sources)
    destination_server: str | None = None
    destination_name: str | None = None
    destination_namespace: str | None = None
    sync_policy: SyncPolicy = attrs.field(factory=SyncPolicy)
    ignore_differences: tuple[IgnoreRule, ...] = attrs.field(default=(), converter=as_rules)
    manifest: Manifest = attrs.field(factory=dict, eq=False, hash=False, repr=False)

    # --------------------------------------------------------------------------------------------- parsing

    @classmethod
    def parse(cls, obj: Manifest | str | os.PathLike[str]) -> Application:
        """One Application from a mapping, YAML or JSON text, or a file holding exactly one.

        Text is told from a file name by a line break or a leading ``{``.

        Raises:
            ConfigurationError: The manifest is malformed (the message names the path in it), is not an
                Application, or the text or file holds other than one document.

        Warns:
            UnsupportedFieldWarning: Once per field reconcile does not honour.
        """
        loaded = _load(obj)
        if len(loaded) != 1:
            raise ConfigurationError(f"{_origin(obj)} holds {len(loaded)} documents: use Application.parse_all")
        app, unsupported = loaded[0]
        _warn(unsupported)
        return app

    @classmethod
    def parse_all(cls, obj: Manifest | str | os.PathLike[str]) -> tuple[Application, ...]:
        """Every Application in a mapping, a multi-document YAML text or file (every document must be one).

        Raises:
            ConfigurationError: A document is malformed or not an Application (named with its file and line).

        Warns:
            UnsupportedFieldWarning: Once per field reconcile does not honour.
        """
        loaded = _load(obj)
        for _, unsupported in loaded:
            _warn(unsupported)
        return tuple(app for app, _ in loaded)

    @classmethod
    def from_manifest(
        cls,
        obj: Manifest | str | os.PathLike[str],
        clusters: Mapping[str, Cluster] | None = None,
        *,
        cache_dir: str | os.PathLike[str] | None = None,
        **reconciler_options: Any,
    ) -> Reconciler:
        """:meth:`parse` then :meth:`reconciler`: an Application manifest in, a wired Reconciler out.

        Raises:
            ConfigurationError: As :meth:`parse` and :meth:`reconciler` do.
        """
        loaded = _load(obj)
        if len(loaded) != 1:
            raise ConfigurationError(f"{_origin(obj)} holds {len(loaded)} documents: use Application.parse_all")
        app, unsupported = loaded[0]
        _warn(unsupported)
        return app.reconciler(clusters, cache_dir=cache_dir, **reconciler_options)

    # --------------------------------------------------------------------------------------------- building

    def instance_name(self, control_plane_namespace: str = CONTROL_PLANE_NAMESPACE) -> str:
        """The name this Application's objects are tracked and pruned by: Argo CD's instance name.

        The bare name in the control plane's namespace, ``<namespace>_<name>`` in any other, so that two
        Applications of one name in two namespaces never claim each other's objects.
        """
        return instance_name(self.name, self.namespace, control_plane_namespace)

    def display_name(self, control_plane_namespace: str = CONTROL_PLANE_NAMESPACE) -> str:
        """``name``, or ``namespace/name`` outside the control plane's namespace: how Argo CD's CLI shows it."""
        if self.namespace == control_plane_namespace:
            return self.name
        return f"{self.namespace}/{self.name}"

    def reconciler(
        self,
        clusters: Mapping[str, Cluster] | None = None,
        *,
        cache_dir: str | os.PathLike[str] | None = None,
        local: str | os.PathLike[str] | None = None,
        revision: str | None = None,
        name: str | None = None,
        control_plane_namespace: str = CONTROL_PLANE_NAMESPACE,
        credentials: Credentials | None = None,
        plugins: Sequence[PluginSpec] = (),
        **reconciler_options: Any,
    ) -> Reconciler:
        """A Reconciler for this application.

        Args:
            clusters: Cluster objects by name or URL; ``https://kubernetes.default.svc`` and ``in-cluster`` are
                the default cluster: the one given under either key, or the only one given.
            cache_dir: Where Git checkouts (``<cache_dir>/git``) and charts (``<cache_dir>/helm-charts``) live;
                default: the user cache folder.
            local: Render this folder instead of the rendering source (``argocd app diff --local``).
            revision: Use this revision instead of the rendering source's ``targetRevision``.
            name: The name the Reconciler tracks and prunes objects by; default :meth:`instance_name`: the
                Application's name in ``control_plane_namespace``, ``<namespace>_<name>`` in any other, as Argo CD
                tracks Applications in any namespace.
            control_plane_namespace: The namespace whose Applications are tracked by their bare name (Argo CD's
                own namespace, ``argocd`` by default).
            credentials: Repository credentials by URL (Argo CD's ``repository`` and ``repo-creds`` Secrets), for
                every Git repository and chart repository the Application names.
            plugins: Config management plugins (:class:`~reconcile.renderers.PluginSpec`) that ``plugin`` sources
                may name (or discover).
            reconciler_options: More :class:`~reconcile.reconciler.Reconciler` arguments (``diff_settings``,
                ``health_checks``, ``logger``...); the ones the Application sets are refused.

        Raises:
            ConfigurationError: No cluster for the destination, ``local`` with several rendering sources, a setting that
                cannot work (naming its path), or an option the Application already sets.
        """
        with _naming(self):
            clash = sorted(set(reconciler_options) & set(_RECONCILER_SETS))
            if clash:
                raise ConfigurationError(f"the Application sets {', '.join(clash)}; change the Application instead")
            cluster = self._cluster(clusters)
            source, renderer = self._build(
                cache_dir=cache_dir, local=local, revision=revision, credentials=credentials, plugins=plugins
            )
        return Reconciler(
            name=name or self.instance_name(control_plane_namespace),
            source=source,
            renderer=renderer,
            cluster=cluster,
            namespace=self.destination_namespace or "default",
            policy=self.sync_policy,
            ignore_differences=self.ignore_differences,
            **reconciler_options,
        )

    def render(
        self,
        cluster: Cluster | None = None,
        *,
        kube_version: str | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        local: str | os.PathLike[str] | None = None,
        revision: str | None = None,
        credentials: Credentials | None = None,
        plugins: Sequence[PluginSpec] = (),
    ) -> tuple[Resource, ...]:
        """The objects a sync of this Application would apply, without a cluster (``argocd app manifests``).

        Args:
            cluster: A cluster to ask which kinds are namespaced and which API versions it serves; by default an
                empty in-memory cluster of ``kube_version``.
            kube_version: The Kubernetes release the in-memory cluster behaves as (Helm's ``.Capabilities``).
            cache_dir: As for :meth:`reconciler`.
            local: Render this folder instead of the source.
            revision: Render this revision instead of ``targetRevision``.
            credentials: As for :meth:`reconciler`.
            plugins: As for :meth:`reconciler`.

        Raises:
            ConfigurationError: A setting cannot work.
            ReconcileError: The source or the render failed.
        """
        target = cluster if cluster is not None else MemoryCluster(version=kube_version)
        where = self.destination_server or self.destination_name or "in-cluster"
        reconciler = self.reconciler(
            {where: target},
            cache_dir=cache_dir,
            local=local,
            revision=revision,
            credentials=credentials,
            plugins=plugins,
        )
        return reconciler.render()

    @classmethod
    def expand(
        cls,
        applications: Iterable[Application],
        *,
        depth: int = 5,
        **render_options: Any,
    ) -> tuple[Application, ...]:
        """The Applications and, app of apps, the Applications their renders contain, to ``depth`` levels.

        Each Application is rendered (:meth:`render`, with ``render_options``); ``argoproj.io`` Applications among
        its objects are its children. An Application met again (same namespace and name) is not followed twice.

        Raises:
            ConfigurationError: A child Application is malformed, or the nesting is deeper than ``depth`` (a cycle
                through Applications of different names ends there too).
            ReconcileError: A parent could not be rendered.
        """
        found: dict[tuple[str, str], Application] = {}
        level = list(applications)
        for current_depth in range(depth + 1):
            children: list[Application] = []
            for app in level:
                key = (app.namespace, app.name)
                if key in found:
                    continue  # met before: a cycle, or a child two parents share
                found[key] = app
                for resource in app.render(**render_options):
                    if resource.key.group == "argoproj.io" and resource.key.kind == "Application":
                        children.append(child_application(resource.manifest, app))
            if not children:
                return tuple(found.values())
            if current_depth == depth and any((c.namespace, c.name) not in found for c in children):
                raise ConfigurationError(f"Applications nest deeper than {depth} levels (app of apps)")
            level = children
        return tuple(found.values())

    def _cluster(self, clusters: Mapping[str, Cluster] | None) -> Cluster:
        given = dict(clusters or {})
        if self.destination_server is not None:
            field, wanted = "server", self.destination_server.rstrip("/")
        else:
            field, wanted = "name", self.destination_name or ""
        if wanted in given:
            return given[wanted]
        if wanted in (IN_CLUSTER_URL, IN_CLUSTER_NAME):
            for key in (IN_CLUSTER_NAME, IN_CLUSTER_URL):
                if key in given:
                    return given[key]
            if len(given) == 1:
                return next(iter(given.values()))
        known = ", ".join(sorted(given)) or "none"
        raise ConfigurationError(f"spec.destination.{field}: no cluster given for {wanted!r} (clusters: {known})")

    def _source_paths(self) -> list[str]:
        single = len(self.sources) == 1 and "sources" not in (self.manifest.get("spec") or {})
        return ["spec.source"] if single else [f"spec.sources[{i}]" for i in range(len(self.sources))]

    def _value_sources(self, git_cache: Path | None, credentials: Credentials | None = None) -> dict[str, Source]:
        """The ``ref`` sources' checkouts, by ref name."""
        value_sources: dict[str, Source] = {}
        for source, path in zip(self.sources, self._source_paths(), strict=True):
            if source.ref is None:
                continue
            if source.chart is not None or _is_oci(source):
                what = "a chart" if source.chart is not None else "an OCI artifact"
                raise ConfigurationError(f"{path}.ref: only Git sources can be referenced, not {what}")
            if source.ref in value_sources:
                raise ConfigurationError(f"{path}.ref: {source.ref!r} names two sources")
            revision = source.target_revision or "HEAD"
            value_sources[source.ref] = _wrapped(
                path, partial(GitSource, source.repo_url, revision, cache_dir=git_cache, credentials=credentials)
            )
        return value_sources

    def _fetcher(
        self,
        source: ApplicationSource,
        path: str,
        cache_dir: Path | None,
        revision: str | None = None,
        credentials: Credentials | None = None,
    ) -> Source:
        """Where ``source``'s files come from: its Git repository, or its chart in a Helm repository."""
        target = revision or source.target_revision
        if _is_oci(source):
            # Argo CD's OCI forms: repoURL oci://registry/repo (an artifact, or a chart with path "."), or a Helm
            # repository in a registry: repoURL registry/charts (no scheme) or oci://registry/charts, with chart.
            chart_name = source.chart
            url = f"{source.repo_url.rstrip('/')}/{chart_name}" if chart_name else source.repo_url
            folder = "." if chart_name else source.path or "."
            fetcher: Source = _wrapped(
                path,
                lambda: OCISource(
                    url,
                    target or ("*" if chart_name else "latest"),
                    folder,
                    cache_dir=cache_dir / "oci" if cache_dir else None,
                    credentials=credentials,
                ),
            )
        elif source.chart is not None:
            chart = source.chart
            pass_credentials = bool((source.helm or {}).get("passCredentials"))
            fetcher = _wrapped(
                path,
                lambda: HelmRepositorySource(
                    source.repo_url,
                    chart,
                    target or "*",
                    cache_dir=cache_dir / "helm-charts" if cache_dir else None,
                    pass_credentials=pass_credentials,
                    credentials=credentials,
                ),
            )
        else:
            git_cache = cache_dir / "git" if cache_dir else None
            fetcher = _wrapped(
                path,
                lambda: GitSource(
                    source.repo_url, target or "HEAD", source.path or ".", cache_dir=git_cache, credentials=credentials
                ),
            )
        # A chart's remote dependencies are fetched here, at the source stage, as Argo CD's dependency build does.
        if cache_dir is None:
            return ChartDependencies(fetcher, credentials=credentials)
        return ChartDependencies(fetcher, credentials=credentials, cache_dir=cache_dir / "chart-dependencies")

    def _check(self) -> None:
        """Build every part once, so settings the sources and renderers refuse fail at parse time.

        A plugin source parses (it can be listed and written back); it is refused when a Reconciler is built.
        """
        value_sources = self._value_sources(None)
        for source, path in zip(self.sources, self._source_paths(), strict=True):
            if source.renders and source.plugin is None:
                self._fetcher(source, path, None)
                source.renderer(
                    release_name=self.name, namespace=self.destination_namespace, value_sources=value_sources, path=path
                )

    def _build(
        self,
        *,
        cache_dir: str | os.PathLike[str] | None,
        local: str | os.PathLike[str] | None = None,
        revision: str | None = None,
        credentials: Credentials | None = None,
        plugins: Sequence[PluginSpec] = (),
    ) -> tuple[Source, Renderer]:
        cache = Path(cache_dir) if cache_dir is not None else None
        value_sources = self._value_sources(cache / "git" if cache else None, credentials)
        paths = self._source_paths()
        rendering = [(source, path) for source, path in zip(self.sources, paths, strict=True) if source.renders]
        where = paths[0].partition("[")[0] if paths else "spec.source"
        if not rendering:
            raise ConfigurationError(f"{where}: no source renders objects (each has a ref and no path or chart)")
        if len(rendering) > 1 and local is not None:
            raise ConfigurationError(f"{where}: a local folder stands in for one source, and {len(rendering)} render")
        parts: list[tuple[Source, Renderer]] = []
        for source, path in rendering:
            fetched: Source = (
                DirectorySource(Path(local))
                if local is not None
                else self._fetcher(source, path, cache, revision, credentials)
            )
            renderer = source.renderer(
                release_name=self.name,
                namespace=self.destination_namespace,
                value_sources=value_sources,
                path=path,
                plugins=plugins,
            )
            parts.append((fetched, renderer))
        if len(parts) == 1:
            return parts[0]
        # Several sources render objects: each with its own renderer, joined as one application (as Argo CD does).
        both = MultiSource(parts=parts, cache_dir=cache / "multi") if cache else MultiSource(parts=parts)
        return both, both

    # --------------------------------------------------------------------------------------------- writing

    def to_manifest(self) -> Manifest:
        """The Application as Argo CD writes it; ``parse(app.to_manifest()) == app``.

        Parts unchanged since :meth:`parse` are written as they were read (fields reconcile ignores included);
        status and server-set metadata are left out.
        """
        out: Manifest = deep_copy(self.manifest) if self.manifest else {}
        out.pop("status", None)
        metadata = out.setdefault("metadata", {})
        for key in _SERVER_METADATA:
            metadata.pop(key, None)
        before = _quiet_read(self.manifest)
        out["apiVersion"], out["kind"] = API_VERSION, "Application"
        metadata["name"] = self.name
        if before is None or before.namespace != self.namespace:
            metadata["namespace"] = self.namespace
        spec = out.setdefault("spec", {})
        if before is None or before.project != self.project:
            spec["project"] = self.project
        if before is None or before.sources != self.sources:
            spec.pop("source", None)
            spec.pop("sources", None)
            written = [source.to_manifest() for source in self.sources]
            if len(written) == 1 and "sources" not in (self.manifest.get("spec") or {}):
                spec["source"] = written[0]
            else:
                spec["sources"] = written
        destination = (self.destination_server, self.destination_name, self.destination_namespace)
        if before is None or (before.destination_server, before.destination_name, before.destination_namespace) != (
            destination
        ):
            pairs = zip(("server", "name", "namespace"), destination, strict=True)
            spec["destination"] = {key: value for key, value in pairs if value is not None}
        if before is None or before.sync_policy != self.sync_policy:
            kept = {k: v for k, v in (spec.get("syncPolicy") or {}).items() if k not in _SYNC_POLICY[0]}
            policy = {**kept, **_policy_manifest(self.sync_policy)}
            spec.pop("syncPolicy", None)
            if policy:
                spec["syncPolicy"] = policy
        if before is None or before.ignore_differences != self.ignore_differences:
            spec.pop("ignoreDifferences", None)
            if self.ignore_differences:
                spec["ignoreDifferences"] = [_rule_manifest(rule) for rule in self.ignore_differences]
        return out


# ------------------------------------------------------------------------------------------------- loading


def _origin(obj: object) -> str:
    if isinstance(obj, os.PathLike) or (isinstance(obj, str) and not _is_text(obj)):
        return os.fspath(obj)
    return "the text" if isinstance(obj, str) else "the mapping"


def _is_text(text: str) -> bool:
    return "\n" in text or text.lstrip().startswith("{")


def _load(obj: Manifest | str | os.PathLike[str]) -> list[tuple[Application, list[str]]]:
    """Each document's Application and the fields it uses that reconcile ignores."""
    if isinstance(obj, Mapping):
        documents: list[tuple[Any, str]] = [(deep_copy(dict(obj)), "")]
    else:
        if isinstance(obj, str) and _is_text(obj):
            text, file = obj, "<text>"
        else:
            file = os.fspath(obj)
            try:
                text = Path(file).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigurationError(f"cannot read Application file {file}: {exc}") from exc
        try:
            loaded = load_manifests(text, file=file)
        except ManifestError as exc:
            raise ConfigurationError(str(exc), file=exc.file, line=exc.line) from exc
        documents = [(manifest, f"{file}:{line}: ") for manifest, line in loaded]
    out = []
    for manifest, where in documents:
        unsupported: list[str] = []
        try:
            app = _read(manifest, unsupported.append)
        except ConfigurationError as exc:
            raise ConfigurationError(f"{where}{exc.message}") from exc
        # Each warning says which Application (and file and line) it is about: a folder holds many.
        out.append((app, [f"{where}{_title(app.namespace, app.name)}: {path}" for path in unsupported]))
    return out


def _warn(unsupported: list[str]) -> None:
    for path in unsupported:
        # stacklevel 3: the caller of parse, parse_all or from_manifest.
        warnings.warn(f"{path}: not supported by reconcile; ignored", UnsupportedFieldWarning, stacklevel=3)


def _quiet_read(manifest: Manifest) -> Application | None:
    if not manifest:
        return None
    try:
        return _read(manifest, lambda _: None)
    except ConfigurationError:
        return None


def _with_migration_manager(policy: SyncPolicy, metadata: Any) -> SyncPolicy:
    """The policy with the manager the Application's client-side-apply-migration-manager annotation names."""
    annotations = (metadata.get("annotations") or {}) if isinstance(metadata, Mapping) else {}
    manager = annotations.get(CLIENT_SIDE_APPLY_MIGRATION_MANAGER) if isinstance(annotations, Mapping) else None
    if manager is None:
        return policy
    if not isinstance(manager, str) or not manager.strip():
        raise ConfigurationError(f"metadata.annotations.{CLIENT_SIDE_APPLY_MIGRATION_MANAGER} must name a manager")
    return attrs.evolve(policy, client_side_apply_migration_manager=manager.strip())


def _read(obj: Any, warn: _Warn) -> Application:
    """An Application from one manifest, checked: malformed parts raise, ignored ones are passed to ``warn``."""
    obj = _mapping(obj, "the document")
    if obj.get("apiVersion") != API_VERSION:
        raise _fail("apiVersion", repr(API_VERSION), obj.get("apiVersion"))
    if obj.get("kind") != "Application":
        raise _fail("kind", "'Application'", obj.get("kind"))
    _check_keys(obj, "", _TOP, warn)
    metadata = _mapping(obj.get("metadata"), "metadata")
    name = metadata.get("name")
    if not isinstance(name, str) or not name:
        raise _fail("metadata.name", "a non-empty string", name)
    spec = _mapping(obj.get("spec"), "spec")
    _check_keys(spec, "spec", _SPEC, warn)
    if spec.get("source") is not None and spec.get("sources") is not None:
        raise ConfigurationError("spec: give source or sources, not both")
    if spec.get("sources") is not None:
        raw = _list(spec["sources"], "spec.sources")
        sources = [_read_source(item, f"spec.sources[{i}]", warn) for i, item in enumerate(raw)]
        if not sources:
            raise ConfigurationError("spec.sources: expected at least one source")
    elif spec.get("source") is not None:
        sources = [_read_source(spec["source"], "spec.source", warn)]
    else:
        raise ConfigurationError("spec.source: required (or spec.sources)")
    if spec.get("destination") is None:
        raise ConfigurationError("spec.destination: required")
    destination = _mapping(spec["destination"], "spec.destination")
    _check_keys(destination, "spec.destination", _DESTINATION, warn)
    server = _optional_string(destination, "server", "spec.destination")
    cluster = _optional_string(destination, "name", "spec.destination")
    if (server is None) == (cluster is None):
        raise ConfigurationError("spec.destination: give exactly one of server and name")
    rules = []
    for where, item in _items(spec, "ignoreDifferences", "spec"):
        try:
            rules.append(IgnoreRule.from_argo(item))
        except ConfigurationError as exc:
            raise ConfigurationError(f"{where}: {exc.message.removeprefix('ignoreDifferences: ')}") from exc
    policy = _with_migration_manager(_read_policy(spec.get("syncPolicy"), "spec.syncPolicy", warn), metadata)
    app = Application(
        name=name,
        namespace=_optional_string(metadata, "namespace", "metadata") or "argocd",
        project=_optional_string(spec, "project", "spec") or "default",
        sources=sources,
        destination_server=server,
        destination_name=cluster,
        destination_namespace=_optional_string(destination, "namespace", "spec.destination"),
        sync_policy=policy,
        ignore_differences=rules,
        manifest=obj,
    )
    app._check()
    return app
