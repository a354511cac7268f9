"""Which application owns a live object: the tracking annotation.

The library writes ``reconcile.dev/tracking-id: <app>:<group>/<kind>:<namespace>/<name>`` on everything it applies
(Argo CD's format, under our own name so both tools can share a cluster). An object counts as owned only when the
annotation names the app *and* the object's own identity: a copy of the annotation on another object (a controller
copying metadata, a manifest pasted from a live dump) does not make that object ours, so it is never pruned.
"""

from __future__ import annotations

from reconcile.jsonvalues import deep_copy
from reconcile.model import Manifest, ResourceKey

__all__ = [
    "CONTROL_PLANE_NAMESPACE",
    "TRACKING_ANNOTATION",
    "annotate",
    "instance_name",
    "is_owned_by",
    "named",
    "owner",
    "tracking_id",
]

TRACKING_ANNOTATION = "reconcile.dev/tracking-id"
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
