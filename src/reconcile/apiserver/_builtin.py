"""What the API server knows of built-in kinds beyond their schema, and the rewrites it does on every write.

List semantics come from the schema (:mod:`._lists`, :class:`~._schema.APISchema`); this module answers them
for a kind when the caller has no release at hand (the newest release's), and holds the write-path rewrites
(``stringData`` folded into ``data``, empty metadata dropped, list keys the server defaults filled in).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from reconcile.apiserver._lists import ATOMIC, SET, FieldPath, ListType, SchemaOverrides
from reconcile.apiserver._schema import APISchema
from reconcile.model import GroupKind, Manifest, split_api_version

_POD_SPEC_AT: Mapping[GroupKind, FieldPath] = MappingProxyType(
    {
        GroupKind("", "Pod"): ("spec",),
        GroupKind("", "PodTemplate"): ("template", "spec"),
        GroupKind("", "ReplicationController"): ("spec", "template", "spec"),
        GroupKind("apps", "Deployment"): ("spec", "template", "spec"),
        GroupKind("apps", "StatefulSet"): ("spec", "template", "spec"),
        GroupKind("apps", "DaemonSet"): ("spec", "template", "spec"),
        GroupKind("apps", "ReplicaSet"): ("spec", "template", "spec"),
        GroupKind("batch", "Job"): ("spec", "template", "spec"),
        GroupKind("batch", "CronJob"): ("spec", "jobTemplate", "spec", "template", "spec"),
    }
)

# A deprecated group that older manifests still name (Ingress in extensions/v1beta1).
_LEGACY_GROUPS = frozenset({"extensions"})

# Every custom resource's ``metadata`` is ObjectMeta, whose lists merge as they do in built-in kinds.
_METADATA_LISTS: Mapping[str, ListType] = MappingProxyType(
    {"ownerReferences": ListType.keyed("uid"), "finalizers": SET}
)


def is_builtin_group(group: str) -> bool:
    """Whether ``group`` is one of Kubernetes' own API groups (its objects have a schema compiled in)."""
    return group in _LEGACY_GROUPS or group in APISchema.for_version().groups


def no_match_message(group_kind: GroupKind, api_version: str | None, served: Sequence[str] = ()) -> str:
    """The server's ``no matches for kind`` words, and what to do about them.

    Args:
        group_kind: The kind asked for.
        api_version: The ``apiVersion`` asked for, when there was one.
        served: The versions the server does serve of this kind (none when it serves none).
    """
    if api_version:
        where = f'version "{api_version}"'
    else:
        where = f'group "{group_kind.group}"' if group_kind.group else "the core group"
    message = f'no matches for kind "{group_kind.kind}" in {where}'
    if served:
        prefix = f"{group_kind.group}/" if group_kind.group else ""
        return f"{message}: the server serves {', '.join(prefix + version for version in served)}"
    if group_kind.group and not is_builtin_group(group_kind.group):
        # Argo CD: "Make sure the "Widget" CRD is installed on the destination cluster."
        return (
            f"{message}: install the CustomResourceDefinition for {group_kind} on the cluster first "
            "(or sync it in an earlier wave of the same application)"
        )
    return f"{message}: this server does not serve it"


def builtin_lists(group_kind: GroupKind) -> SchemaOverrides | None:
    """The list and map types of a built-in kind at the newest release's preferred version, or ``None``."""
    schema = APISchema.for_version()
    kind = schema.kinds.get(group_kind)
    return schema.lists(kind.api_version, kind.kind) if kind is not None else None


def pod_spec_path(group_kind: GroupKind) -> FieldPath | None:
    """Where a kind keeps its pod spec (``("spec", "template", "spec")`` for a Deployment), or ``None``."""
    return _POD_SPEC_AT.get(group_kind)


def list_type(group_kind: GroupKind, path: FieldPath, overrides: SchemaOverrides | None = None) -> ListType:
    """How server-side apply merges the list at ``path`` in an object of ``group_kind``.

    Args:
        group_kind: The object's kind.
        path: Field names from the root (``("spec", "ports")``); list items contribute no name.
        overrides: The list types of the object's schema: a custom resource's (``x-kubernetes-list-type``), or
            a built-in kind's in the release and version at hand (:meth:`APISchema.lists`). Without them a
            built-in kind's lists are those of the newest release, a custom resource's atomic.

    Returns:
        The list type; :data:`ATOMIC` for anything not declared otherwise.
    """
    if overrides is None and is_builtin_group(group_kind.group):
        overrides = builtin_lists(group_kind)
    if overrides is not None and path in overrides:
        return overrides[path]
    if len(path) == 2 and path[0] == "metadata" and path[1] in _METADATA_LISTS:  # noqa: PLR2004
        return _METADATA_LISTS[path[1]]
    return ATOMIC


def is_atomic_map(group_kind: GroupKind, path: FieldPath, overrides: SchemaOverrides | None = None) -> bool:
    """Whether the map at ``path`` is atomic for server-side apply (owned and replaced whole).

    That is what the schema marks ``x-kubernetes-map-type: atomic`` (every ``LabelSelector``, a Service's
    ``selector``...); ``overrides`` as for :func:`list_type`.
    """
    if overrides is None and is_builtin_group(group_kind.group):
        overrides = builtin_lists(group_kind)
    return overrides is not None and path in overrides and overrides[path].kind == "atomic"


def _with_protocol(ports: Any) -> Any:
    if not isinstance(ports, list):
        return ports
    return [
        {**port, "protocol": "TCP"} if isinstance(port, dict) and port.get("protocol") is None else port
        for port in ports
    ]


def _with_container_protocols(spec: Any) -> Any:
    if not isinstance(spec, dict):
        return spec
    out = dict(spec)
    for field in ("containers", "initContainers"):
        if isinstance(out.get(field), list):
            out[field] = [
                {**container, "ports": _with_protocol(container["ports"])}
                if isinstance(container, dict) and "ports" in container
                else container
                for container in out[field]
            ]
    return out


def _updated(obj: Any, path: FieldPath, update: Callable[[Any], Any]) -> Any:
    """``obj`` with the value at ``path`` replaced by ``update(value)``, copying only the maps on the way."""
    if not path:
        return update(obj)
    if not isinstance(obj, dict) or path[0] not in obj:
        return obj
    return {**obj, path[0]: _updated(obj[path[0]], path[1:], update)}


def fill_list_keys(obj: Manifest) -> Manifest:
    """A new ``obj`` with the defaulted key fields of keyed lists filled in (``protocol: TCP``).

    An API server before 1.21 rejects a server-side apply whose Service port or container port omits ``protocol``
    (a key of those lists), although it defaults the field on any other write. Filling it first makes the
    apply succeed and keeps the keys of applied and live items equal. The result and its ``metadata`` map
    are new; deeper parts it leaves unchanged are shared with ``obj``, and ``obj`` is not modified.
    """
    out = dict(obj)
    if isinstance(out.get("metadata"), dict):
        out["metadata"] = dict(out["metadata"])
    group, _ = split_api_version(str(out.get("apiVersion") or ""))
    group_kind = GroupKind(group, str(out.get("kind") or ""))
    if group_kind == GroupKind("", "Service"):
        out = _updated(out, ("spec", "ports"), _with_protocol)
    pod_spec = _POD_SPEC_AT.get(group_kind)
    if pod_spec is not None:
        out = _updated(out, pod_spec, _with_container_protocols)
    return out


def fold_string_data(obj: Manifest) -> Manifest:
    """A new ``obj`` with a Secret's ``stringData`` folded into base64 ``data``, as the server stores it.

    Keys in ``stringData`` win over the same keys in ``data``. Objects of other kinds come back unchanged. The
    result shares the parts it leaves unchanged with ``obj``; neither is modified.
    """
    out = dict(obj)
    group, _ = split_api_version(str(out.get("apiVersion") or ""))
    if group or out.get("kind") != "Secret" or "stringData" not in out:
        return out
    string_data = out.pop("stringData") or {}
    if isinstance(string_data, dict) and string_data:
        data = dict(out.get("data") or {})
        for name, text in string_data.items():
            data[name] = base64.b64encode(str(text).encode()).decode()
        out["data"] = data
    return out


SERVER_SET_METADATA: tuple[str, ...] = (
    "uid",
    "creationTimestamp",
    "resourceVersion",
    "generation",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "selfLink",
    "managedFields",
)
"""The ``metadata`` fields the API server sets itself, whatever a write says.

``uid``, ``creationTimestamp``, ``resourceVersion`` and ``generation`` are the object's identity and history;
``deletionTimestamp`` and ``deletionGracePeriodSeconds`` only a DELETE sets; ``managedFields`` is the server's own
record of who owns which field, kept by its own rules; ``selfLink`` has not been set since 1.20 but still comes
back in copies of older objects. So none of them is ever drift, part of an apply configuration or of a field set:
code that compares, applies or writes objects back drops them. This is the one list; the others derive from it.
"""

_OMITTED_WHEN_EMPTY = ("labels", "annotations", "finalizers", "ownerReferences")


def omit_empty_metadata(obj: Manifest) -> Manifest:
    """A new ``obj`` without empty ``metadata`` labels, annotations, finalizers or owner references.

    The API server never stores them (its Go types omit them when empty), so ``annotations: {}`` in a
    manifest leaves no trace on the live object. The result shares the parts it leaves unchanged with ``obj``;
    neither is modified.
    """
    out = dict(obj)
    metadata = out.get("metadata")
    if isinstance(metadata, dict):
        out["metadata"] = {
            name: value for name, value in metadata.items() if name not in _OMITTED_WHEN_EMPTY or value not in ({}, [])
        }
    return out


LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
"""kubectl's annotation: the manifest a client-side apply sent, which the server stores as any annotation."""

CRD = GroupKind("apiextensions.k8s.io", "CustomResourceDefinition")

WITHOUT_GENERATION: frozenset[GroupKind] = frozenset(
    GroupKind(group, kind)
    for group, kind in (
        ("", "ConfigMap"),
        ("", "Endpoints"),
        ("", "LimitRange"),
        ("", "Namespace"),
        ("", "PersistentVolume"),
        ("", "PersistentVolumeClaim"),
        ("", "ResourceQuota"),
        ("", "Secret"),
        ("", "Service"),
        ("", "ServiceAccount"),
        ("apiregistration.k8s.io", "APIService"),
        ("autoscaling", "HorizontalPodAutoscaler"),
        ("coordination.k8s.io", "Lease"),
        ("rbac.authorization.k8s.io", "ClusterRole"),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
        ("rbac.authorization.k8s.io", "Role"),
        ("rbac.authorization.k8s.io", "RoleBinding"),
        ("storage.k8s.io", "CSIDriver"),
        ("storage.k8s.io", "StorageClass"),
    )
)
"""Built-in kinds whose objects carry no ``metadata.generation``: their registry strategies never set one (read
off a real 1.36 server, which the defaults conformance test compares with). Every other kind, custom resources
included, starts at 1 and counts changes outside ``metadata`` and ``status``."""
NAMESPACE = GroupKind("", "Namespace")
SERVICE = GroupKind("", "Service")
SECRET = GroupKind("", "Secret")


def crd_kind(crd: Manifest) -> GroupKind:
    """The kind a CustomResourceDefinition serves (``spec.group`` and ``spec.names.kind``)."""
    spec = crd.get("spec") or {}
    return GroupKind(str(spec.get("group") or ""), str((spec.get("names") or {}).get("kind") or ""))
