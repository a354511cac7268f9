"""What a change to a GitOps repository will change: every Application rendered at two revisions and compared.

The question of a pull request ("what will this change?"), answered without a cluster: each Application of a
file, folder or list is rendered at ``base`` and at ``head`` exactly as a sync would apply it, and the two sets of
objects are compared: objects added, removed and changed, each with a unified diff (Secret values masked, the
Application's ``ignoreDifferences`` applied). An app whose render fails is reported with its error, never raised.

Renders are cached by what they depend on: an Application annotated with Argo CD's
``argocd.argoproj.io/manifest-generate-paths`` is keyed by the content of those paths, so when the change touches
none of them its head render is the base render, and no tool runs twice. Without the annotation a render is keyed
by the whole repository's content (any change renders again), because what a Helm chart or a kustomization reads
cannot be known beforehand.

With ``repository`` (a local clone, the CI checkout), Git sources are read from it at ``base`` and ``head``, so a
pull request's commits need not be pushed anywhere.
"""

from __future__ import annotations

import html
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

import attrs

from reconcile.argocd.application import Application, ApplicationSource, child_application
from reconcile.cluster import MemoryCluster
from reconcile.diff import compare
from reconcile.errors import ConfigurationError, ReconcileError
from reconcile.model import Resource, ResourceKey
from reconcile.protocols import Cluster
from reconcile.reconciler import Reconciler
from reconcile.renderers import CachingRenderer, FingerprintedRenderer, PluginSpec, RenderCache
from reconcile.sources import Credentials, GitCheckoutSource

__all__ = ["AppPreview", "ObjectChange", "PreviewResult", "preview"]

GENERATE_PATHS = "argocd.argoproj.io/manifest-generate-paths"
"""Argo CD's annotation: the paths (``;``-separated, relative to the app's path, ``/`` from the root) a render reads."""

_MARKDOWN_LIMIT = 60_000  # GitHub refuses comments over 65,536 characters


@attrs.frozen
class ObjectChange:
    """One object that differs between the two revisions.

    Attributes:
        key: The object.
        change: ``added`` (only at head), ``removed`` (only at base) or ``changed``.
        diff: The unified diff from base to head, Secret values masked.
    """

    key: ResourceKey
    change: Literal["added", "removed", "changed"]
    diff: str = attrs.field(repr=False)


@attrs.frozen
class AppPreview:
    """One Application's preview.

    Attributes:
        name: The Application (``namespace/name`` outside Argo CD's namespace).
        changes: The objects that differ, by key.
        error: Why it could not be rendered (at head, or at base), or ``None``.
        live: With a cluster: how the live objects differ from head (what a sync of head would change), as
            :class:`ObjectChange` values (``added``: missing live, ``removed``: to be pruned, ``changed``).
    """

    name: str
    changes: tuple[ObjectChange, ...] = ()
    error: str | None = None
    live: tuple[ObjectChange, ...] = ()

    @property
    def status(self) -> str:
        """``error``, ``changed`` or ``unchanged``."""
        return "error" if self.error is not None else "changed" if self.changes else "unchanged"


@attrs.frozen
class PreviewResult:
    """Every Application's preview, and the ways to show it (terminal, Markdown for a pull request, HTML, JSON).

    Attributes:
        base: The base revision.
        head: The head revision.
        apps: Each Application's preview, in the order the Applications were given.
        renders: How many renders ran (the others came from the cache).
    """

    base: str
    head: str
    apps: tuple[AppPreview, ...]
    renders: int = 0

    @property
    def exit_code(self) -> int:
        """0 no change, 1 changes (or, with a cluster, live differences), 2 an app could not be rendered."""
        if any(app.error is not None for app in self.apps):
            return 2
        return 1 if any(app.changes or app.live for app in self.apps) else 0

    def unified(self) -> str:
        """Every changed object's unified diff, app by app (what a terminal shows)."""
        parts = []
        for app in self.apps:
            if app.error is not None:
                parts.append(f"=== {app.name}: error: {app.error}\n")
            elif app.changes:
                parts.append(f"=== {app.name}\n" + "".join(change.diff for change in app.changes))
            if app.live:
                parts.append(f"=== {app.name} (head against the cluster)\n" + "".join(c.diff for c in app.live))
        return "".join(parts)

    def summary(self) -> list[tuple[str, str, int, int, int]]:
        """Per app: ``(name, status, added, removed, changed)``."""
        rows = []
        for app in self.apps:
            counts = {kind: sum(1 for c in app.changes if c.change == kind) for kind in ("added", "removed", "changed")}
            rows.append((app.name, app.status, counts["added"], counts["removed"], counts["changed"]))
        return rows

    def markdown(self, max_chars: int = _MARKDOWN_LIMIT) -> str:
        """GitHub-flavoured Markdown for a pull request: a summary table, then one collapsed section per app.

        The text stays under ``max_chars`` (GitHub's comment limit is 65,536): sections that do not fit are cut,
        and a note at the end says which.
        """
        lines = [f"### reconcile preview: `{self.base}` → `{self.head}`", ""]
        lines += ["| Application | Status | Added | Removed | Changed |", "| --- | --- | ---: | ---: | ---: |"]
        lines += [f"| {n} | {s} | {a} | {r} | {c} |" for n, s, a, r, c in self.summary()]
        text = "\n".join(lines) + "\n"
        cut = []
        for app in self.apps:
            if app.status == "unchanged":
                continue
            body = f"error: {app.error}" if app.error is not None else "".join(c.diff for c in app.changes)
            if app.live:
                body += "# head against the cluster\n" + "".join(c.diff for c in app.live)
            summary = f"<summary>{html.escape(app.name)} ({app.status})</summary>"
            section = f"\n<details>{summary}\n\n```diff\n{body}```\n\n</details>\n"
            if len(text) + len(section) > max_chars - 200:
                cut.append(app.name)
                continue
            text += section
        if cut:
            text += f"\n_Cut to stay under {max_chars} characters: {', '.join(cut)}._\n"
        return text

    def html(self) -> str:
        """A standalone HTML page: the summary table and each app's diffs."""
        rows = "".join(
            f"<tr><td>{html.escape(n)}</td><td>{s}</td><td>{a}</td><td>{r}</td><td>{c}</td></tr>"
            for n, s, a, r, c in self.summary()
        )
        sections = "".join(
            f"<h3>{html.escape(app.name)}</h3><pre>"
            + html.escape(f"error: {app.error}" if app.error is not None else "".join(c.diff for c in app.changes))
            + "</pre>"
            for app in self.apps
            if app.status != "unchanged"
        )
        title = f"reconcile preview: {html.escape(self.base)} → {html.escape(self.head)}"
        return (
            f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head><body><h2>{title}</h2>"
            "<table><tr><th>Application</th><th>Status</th><th>Added</th><th>Removed</th><th>Changed</th></tr>"
            f"{rows}</table>{sections}</body></html>\n"
        )

    def to_json(self) -> dict[str, Any]:
        """The preview as JSON data."""
        return {
            "base": self.base,
            "head": self.head,
            "apps": [
                {
                    "name": app.name,
                    "status": app.status,
                    "error": app.error,
                    "changes": [{"key": str(c.key), "change": c.change, "diff": c.diff} for c in app.changes],
                    "live": [{"key": str(c.key), "change": c.change, "diff": c.diff} for c in app.live],
                }
                for app in self.apps
            ],
        }


def preview(
    applications: str | os.PathLike[str] | Iterable[Application],
    *,
    base: str,
    head: str = "HEAD",
    repository: str | os.PathLike[str] | None = None,
    kube_version: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    credentials: Credentials | None = None,
    plugins: Sequence[PluginSpec] = (),
    cache: RenderCache | None = None,
    app_of_apps_depth: int = 3,
    cluster: Cluster | None = None,
) -> PreviewResult:
    """Render every Application at ``base`` and ``head`` and compare, without a cluster.

    ::

        result = rc.preview("apps/", base="main", head="HEAD", repository=".")
        print(result.markdown())      # for the pull request
        sys.exit(result.exit_code)    # 0 no change, 1 changes, 2 errors

    Args:
        applications: A file or folder of Application manifests, or Applications.
        base: The revision to compare from (a branch, tag or commit).
        head: The revision to compare to.
        repository: A local clone (path or ``file://`` URL) to read every Git source from, at both revisions
            (:class:`~reconcile.sources.GitCheckoutSource`: ``origin/main``, ``HEAD~1`` and SHAs resolve as git
            resolves them); by default each source's own ``repoURL``.
        kube_version: The Kubernetes release the renders target (Helm's ``.Capabilities``).
        cache_dir: Where clones and charts are cached.
        credentials: Repository credentials by URL.
        plugins: Config management plugins the Applications may use.
        cache: The render cache (share one across previews to reuse renders).
        app_of_apps_depth: How deep to follow an app of apps: Applications rendered by an Application (at either
            revision) are previewed too, to this many levels; each Application once.
        cluster: A cluster to compare head with too (``AppPreview.live``): what a sync of head would change
            there, compared as the Reconciler compares (server-side predictions, ignore rules). Read only.

    Raises:
        ConfigurationError: The Applications cannot be read.
    """
    apps = _applications(applications)
    renders = cache if cache is not None else RenderCache(max_entries=max(128, 4 * len(apps)))
    settings = _Settings(
        os.fspath(repository) if repository is not None else None,
        kube_version,
        cache_dir,
        credentials,
        tuple(plugins),
        renders,
        cluster,
    )
    results: list[AppPreview] = []
    seen: set[tuple[str, str]] = set()
    level: list[tuple[Application, frozenset[str]]] = [(app, frozenset({"base", "head"})) for app in apps]
    for _ in range(app_of_apps_depth + 1):
        children: list[tuple[Application, frozenset[str]]] = []
        for app, present in level:
            if (app.namespace, app.name) in seen:
                continue  # an app of apps that names an app twice, or itself
            seen.add((app.namespace, app.name))
            found, before, after = _preview_one(app, base=base, head=head, settings=settings, present=present)
            results.append(found)
            at_base, malformed = _children(before)
            at_head, malformed_head = _children(after)
            for identity, child in {**at_base, **at_head}.items():
                where = frozenset(w for w, at in (("base", at_base), ("head", at_head)) if identity in at)
                children.append((child, where))
            for bad, error in {**malformed, **malformed_head}.items():
                results.append(AppPreview(name=f"{found.name} → {bad.name}", error=error))
        level = children
        if not level:
            break
    return PreviewResult(base=base, head=head, apps=tuple(results), renders=renders.misses)


def _applications(given: str | os.PathLike[str] | Iterable[Application]) -> list[Application]:
    if isinstance(given, str | os.PathLike):
        path = Path(given)
        files = sorted(path.rglob("*.y*ml")) + sorted(path.rglob("*.json")) if path.is_dir() else [path]
        found: list[Application] = []
        for file in files:
            found += list(Application.parse_all(file))
        return found
    return list(given)


def _preview_one(
    app: Application, *, base: str, head: str, settings: _Settings, present: frozenset[str]
) -> tuple[AppPreview, tuple[Resource, ...], tuple[Resource, ...]]:
    """The app's preview and its objects at base and at head.

    An app only one revision has (an app of apps' child added or removed) has no objects at the other.
    """
    name = app.display_name()
    before: tuple[Resource, ...] = ()
    after: tuple[Resource, ...] = ()
    try:
        if "base" in present:
            before = _render(app, base, settings)
    except ReconcileError as exc:
        return AppPreview(name=name, error=f"at {base}: {exc}"), (), ()
    try:
        if "head" in present:
            after = _render(app, head, settings)
    except ReconcileError as exc:
        return AppPreview(name=name, error=f"at {head}: {exc}"), before, ()
    changes = _compare(app, before, after, base, head)
    if settings.cluster is None or "head" not in present:
        return AppPreview(name=name, changes=changes), before, after
    try:
        live = _against_live(app, head, settings)
    except ReconcileError as exc:
        return AppPreview(name=name, changes=changes, error=f"against the cluster: {exc}"), before, after
    return AppPreview(name=name, changes=changes, live=live), before, after


def _against_live(app: Application, head: str, settings: _Settings) -> tuple[ObjectChange, ...]:
    """How the cluster's objects differ from head's, as the Reconciler compares them (it changes nothing)."""
    assert settings.cluster is not None  # noqa: S101 - checked by the caller
    reconciler = _reconciler(app, head, settings, settings.cluster)
    found = []
    for diff in reconciler.diff().resources:
        if not diff.modified:
            continue
        kind: Literal["added", "removed", "changed"] = (
            "added" if diff.missing else "removed" if diff.requires_pruning else "changed"
        )
        text = diff.unified().replace("+++ predicted/", f"+++ {head}/", 1)
        found.append(ObjectChange(key=diff.key, change=kind, diff=text))
    return tuple(found)


def _children(rendered: Sequence[Resource]) -> tuple[dict[tuple[str, str], Application], dict[ResourceKey, str]]:
    """The Applications among rendered objects (an app of apps), by namespace and name, and the malformed ones."""
    found: dict[tuple[str, str], Application] = {}
    malformed: dict[ResourceKey, str] = {}
    for resource in rendered:
        key = resource.key
        if key.group != "argoproj.io" or key.kind != "Application":
            continue
        try:
            child = child_application(resource.manifest)
        except ConfigurationError as exc:
            malformed[key] = f"a malformed Application: {exc}"
            continue
        found.setdefault((child.namespace, child.name), child)
    return found, malformed


@attrs.frozen
class _Settings:
    clone: str | None
    kube_version: str | None
    cache_dir: str | os.PathLike[str] | None
    credentials: Credentials | None
    plugins: tuple[PluginSpec, ...]
    cache: RenderCache
    cluster: Cluster | None = None


def _render(app: Application, revision: str, settings: _Settings) -> tuple[Resource, ...]:
    return _reconciler(app, revision, settings, MemoryCluster(version=settings.kube_version)).render()


def _reconciler(app: Application, revision: str, settings: _Settings, cluster: Cluster) -> Reconciler:
    """The app's Reconciler at ``revision`` on ``cluster``: from the clone when given, renders cached."""
    where = app.destination_server or app.destination_name or "in-cluster"
    reconciler: Reconciler = app.reconciler(
        {where: cluster},
        cache_dir=settings.cache_dir,
        revision=revision,
        credentials=settings.credentials,
        plugins=settings.plugins,
    )
    source = _single_git_source(app)
    if settings.clone is not None and source is not None:
        checkouts = Path(settings.cache_dir) / "git-checkouts" if settings.cache_dir is not None else None
        reconciler.source = GitCheckoutSource(settings.clone, revision, source.path or ".", cache_dir=checkouts)
    inner = reconciler.renderer
    if isinstance(inner, FingerprintedRenderer):
        reconciler.renderer = CachingRenderer(inner=inner, cache=settings.cache, generate_paths=_generate_paths(app))
    return reconciler


def _single_git_source(app: Application) -> ApplicationSource | None:
    rendering = [source for source in app.sources if source.renders]
    if len(rendering) != 1 or rendering[0].chart is not None or rendering[0].repo_url.startswith("oci://"):
        return None
    return rendering[0]


def _generate_paths(app: Application) -> tuple[str, ...]:
    annotations = ((app.manifest.get("metadata") or {}).get("annotations") or {}) if app.manifest else {}
    value = annotations.get(GENERATE_PATHS)
    if isinstance(value, str) and value.strip():
        return tuple(part.strip() for part in value.split(";") if part.strip())
    return ("/",)


def _compare(
    app: Application, before: Sequence[Resource], after: Sequence[Resource], base: str, head: str
) -> tuple[ObjectChange, ...]:
    old = {r.key: r.manifest for r in before}
    new = {r.key: r.manifest for r in after}
    changes = []
    for key in sorted(set(old) | set(new)):
        was, now = old.get(key), new.get(key)
        if was is not None and now is not None and was == now:
            continue
        found = compare(now, was, predicted_live=now, ignore_differences=app.ignore_differences)
        if was is not None and now is not None and not found.modified:
            continue  # the only differences were ignored
        kind: Literal["added", "removed", "changed"] = (
            "added" if was is None else "removed" if now is None else "changed"
        )
        text = found.unified()
        text = text.replace("--- live/", f"--- {base}/", 1).replace("+++ predicted/", f"+++ {head}/", 1)
        changes.append(ObjectChange(key=key, change=kind, diff=text))
    return tuple(changes)
