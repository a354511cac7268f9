"""Which application owns a live object: the tracking annotation, and Argo CD's tracking when taking over.

The library writes ``reconcile.dev/tracking-id: <app>:<group>/<kind>:<namespace>/<name>`` on everything it applies
(Argo CD's format, under our own name so both tools can share a cluster). An object counts as owned only when the
annotation names the app *and* the object's own identity: a copy of the annotation on another object (a controller
copying metadata, a manifest pasted from a live dump) does not make that object ours, so it is never pruned.

A host migrating from Argo CD says, with :class:`ArgoCDTracking`, which Argo CD application a Reconciler takes over
and how Argo CD tracked it (its ``argocd.argoproj.io/tracking-id`` annotation, the ``app.kubernetes.io/instance``
label, or both). Objects Argo CD tracked for that application then count as the Reconciler's (pruned when they
leave Git; our annotation is added at their next apply); objects tracked for any other application never do.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from typing import Literal

import attrs

from reconcile.jsonvalues import deep_copy
from reconcile.model import Manifest, ResourceKey

__all__ = [
    "ARGOCD_INSTANCE_LABEL",
    "ARGOCD_TRACKING_ANNOTATION",
    "CONTROL_PLANE_NAMESPACE",
    "TRACKING_ANNOTATION",
    "ArgoCDTracking",
    "OrphanIgnore",
    "annotate",
    "instance_name",
    "is_owned_by",
    "named",
    "orphans",
    "owner",
    "owns",
    "tracking_id",
]

TRACKING_ANNOTATION = "reconcile.dev/tracking-id"
ARGOCD_TRACKING_ANNOTATION = "argocd.argoproj.io/tracking-id"
"""Argo CD's annotation tracking (``annotation`` and ``annotation+label`` methods), in the same format as ours."""
ARGOCD_INSTANCE_LABEL = "app.kubernetes.io/instance"
"""Argo CD's label tracking (``label`` method; the key ``application.instanceLabelKey`` sets)."""
CONTROL_PLANE_NAMESPACE = "argocd"
"""The namespace Argo CD runs in by default: Applications there are tracked by their bare name."""


def instance_name(name: str, namespace: str | None, control_plane_namespace: str = CONTROL_PLANE_NAMESPACE) -> str:
    """The name an Application's objects are tracked by, as Argo CD forms it.

    An Application in the control plane's own namespace (or in none) is tracked by its name; one elsewhere by
    ``<namespace>_<name>``, so that ``argocd/web`` and ``team-b/web`` never claim, and prune, each other's
    objects. ``_`` cannot occur in a Kubernetes name or namespace, so the result is unambiguous.
    """
    if not namespace or namespace == control_plane_namespace:
        return name
    return f"{namespace}_{name}"


def tracking_id(app: str, key: ResourceKey) -> str:
    """The annotation value for ``key`` owned by ``app``."""
    return f"{app}:{key.group}/{key.kind}:{key.namespace}/{key.name}"


def annotate(obj: Manifest, app: str) -> Manifest:
    """A copy of ``obj`` carrying the tracking annotation of ``app``."""
    tracked = deep_copy(obj)
    metadata = tracked.setdefault("metadata", {})
    annotations = metadata.get("annotations") or {}
    annotations[TRACKING_ANNOTATION] = tracking_id(app, ResourceKey.from_manifest(tracked))
    metadata["annotations"] = annotations
    return tracked


def named(obj: Manifest, name: str) -> Manifest:
    """A copy of ``obj`` (tracked while it had only a ``generateName``: a hook) named ``name``, tracked by it.

    The tracking annotation was written for the object without a name (``app:batch/Job:ns/``); it is rewritten
    for the name, so that the created object counts as the app's own (and goes when the app is deleted). An
    annotation that named another identity is left as it was: it never becomes valid by a rename.
    """
    renamed = deep_copy(obj)
    metadata = renamed.setdefault("metadata", {})
    before = ResourceKey.from_manifest(renamed)
    metadata["name"] = name
    metadata.pop("generateName", None)
    annotations = metadata.get("annotations") or {}
    value = annotations.get(TRACKING_ANNOTATION)
    app, sep, _ = value.partition(":") if isinstance(value, str) else ("", "", "")
    if sep and value == tracking_id(app, before):
        annotations[TRACKING_ANNOTATION] = tracking_id(app, ResourceKey.from_manifest(renamed))
    return renamed


def owner(obj: Manifest) -> str | None:
    """The app that owns ``obj``, or ``None`` when no valid tracking annotation names this very object."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    value = annotations.get(TRACKING_ANNOTATION)
    if not isinstance(value, str):
        return None
    app, sep, _ = value.partition(":")
    if not sep or value != tracking_id(app, ResourceKey.from_manifest(obj)):
        return None
    return app


def is_owned_by(obj: Manifest, app: str) -> bool:
    """Whether ``app`` owns ``obj``."""
    return owner(obj) == app


@attrs.frozen
class ArgoCDTracking:
    """How Argo CD tracked the objects of the application a Reconciler takes over.

    Attributes:
        app: The Argo CD application's instance name: its name, or ``<namespace>_<name>`` for an Application
            outside Argo CD's own namespace (see :func:`instance_name`).
        method: Argo CD's ``application.resourceTrackingMethod``: ``annotation`` (Argo CD 3's default),
            ``label`` (Argo CD 2's), or ``annotation+label`` (the annotation decides, the label is informative).
        label: The label key of label tracking (Argo CD's ``application.instanceLabelKey``).
    """

    app: str
    method: Literal["annotation", "label", "annotation+label"] = "annotation"
    label: str = ARGOCD_INSTANCE_LABEL

    def owner(self, obj: Manifest) -> str | None:
        """The Argo CD application that tracks ``obj`` by this method, or ``None``.

        The annotation counts only when it names the object's own identity, as ours does; the label cannot, so
        label tracking also claims copies (Argo CD's own weakness, which is why it moved to annotations).
        """
        metadata = obj.get("metadata") or {}
        if self.method == "label":
            value = (metadata.get("labels") or {}).get(self.label)
            return value if isinstance(value, str) and value else None
        value = (metadata.get("annotations") or {}).get(ARGOCD_TRACKING_ANNOTATION)
        if not isinstance(value, str):
            return None
        app, sep, _ = value.partition(":")
        return app if sep and value == tracking_id(app, ResourceKey.from_manifest(obj)) else None


def owns(obj: Manifest, app: str, adopted: ArgoCDTracking | None = None) -> bool:
    """Whether ``app`` owns ``obj``.

    Our annotation names it; or, carrying none of ours, Argo CD tracked it for the application ``app`` takes over.
    An object our annotation gives to another app is never ``app``'s, whatever Argo CD's tracking says.
    """
    ours = owner(obj)
    if ours is not None:
        return ours == app
    return adopted is not None and adopted.owner(obj) == adopted.app


@attrs.frozen
class OrphanIgnore:
    """An entry of Argo CD's ``orphanedResources.ignore``: objects never reported as orphans (shell patterns).

    Attributes:
        group: The API group (``""`` for the core group; ``*`` any).
        kind: The kind (``*`` any).
        name: The name (``*`` any).
    """

    group: str = "*"
    kind: str = "*"
    name: str = "*"

    def matches(self, key: ResourceKey) -> bool:
        """Whether ``key`` is ignored by this entry."""
        return (
            fnmatch.fnmatchcase(key.group, self.group)
            and fnmatch.fnmatchcase(key.kind, self.kind)
            and fnmatch.fnmatchcase(key.name, self.name)
        )


# Never orphans, as in Argo CD: what every namespace holds, and what the control plane makes and keeps itself.
_NEVER_ORPHANS = (
    OrphanIgnore("", "ServiceAccount", "default"),
    OrphanIgnore("", "ConfigMap", "kube-root-ca.crt"),
    OrphanIgnore("", "Event"),
    OrphanIgnore("events.k8s.io", "Event"),
    OrphanIgnore("", "Endpoints"),
    OrphanIgnore("discovery.k8s.io", "EndpointSlice"),
    OrphanIgnore("coordination.k8s.io", "Lease"),
)


def orphans(
    objects: Iterable[Manifest], *, ignore: Iterable[OrphanIgnore] = (), argocd: ArgoCDTracking | None = None
) -> tuple[ResourceKey, ...]:
    """The orphans among live namespaced ``objects``: top-level, and tracked by no application at all.

    Argo CD's ``orphanedResources``: an object with owner references is some controller's child, not an orphan;
    one our annotation or Argo CD's tracking (by ``argocd``'s method; the annotation when none is given) names for
    any application is not either. The ``default`` ServiceAccount, the ``kube-root-ca.crt`` ConfigMap, the
    ``kubernetes`` Service in ``default``, Events, Endpoints, EndpointSlices, Leases and ``ignore`` never are.
    """
    tracker = argocd if argocd is not None else ArgoCDTracking(app="")
    rules = (*_NEVER_ORPHANS, *ignore)
    found = []
    for obj in objects:
        key = ResourceKey.from_manifest(obj)
        metadata = obj.get("metadata") or {}
        if not key.namespace or metadata.get("ownerReferences"):
            continue
        if owner(obj) is not None or tracker.owner(obj) is not None:
            continue
        if (
            key.group_kind.kind == "Service"
            and not key.group
            and key.namespace == "default"
            and key.name == "kubernetes"
        ):
            continue
        if any(rule.matches(key) for rule in rules):
            continue
        found.append(key)
    return tuple(sorted(found))
