"""Built-in knowledge of Kubernetes kinds.

The kind table, list semantics for server-side apply, and the few rewrites the API server does on every write.
Nothing here does I/O. The list semantics are those the API server derives from its OpenAPI schema
(``x-kubernetes-list-type`` / ``x-kubernetes-list-map-keys``, and ``patchStrategy: merge`` + ``patchMergeKey``
read as a list keyed by that field), as served by Kubernetes 1.20. Paths are the field names from the object's
root; list items contribute no name (``("spec", "template", "spec", "containers", "ports")``).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Literal

import attrs

from reconcile.model import GroupKind, Manifest, split_api_version

FieldPath = tuple[str, ...]
"""Field names from an object's root; list items contribute no name."""


@attrs.frozen(kw_only=True)
class KindInfo:
    """What the API server knows of one kind.

    Attributes:
        group: The API group (``""`` for the core group).
        kind: The kind (``Deployment``).
        versions: The versions served, preferred first (``("v1",)``).
        plural: The resource name in URLs (``deployments``).
        namespaced: Whether objects live in a namespace.
        status_subresource: Whether ``status`` is written only through the ``/status`` subresource (writes to
            the object itself ignore it).
    """

    group: str
    kind: str
    versions: tuple[str, ...]
    plural: str
    namespaced: bool
    status_subresource: bool

    @property
    def version(self) -> str:
        """The preferred version (``v1``)."""
        return self.versions[0]

    @property
    def group_kind(self) -> GroupKind:
        """The kind's group and kind."""
        return GroupKind(self.group, self.kind)

    @property
    def api_version(self) -> str:
        """The preferred ``apiVersion`` (``apps/v1``, or ``v1`` for the core group)."""
        return f"{self.group}/{self.version}" if self.group else self.version


def _kind(
    group: str, kind: str, versions: str, plural: str, *, namespaced: bool = True, status: bool = False
) -> KindInfo:
    return KindInfo(
        group=group,
        kind=kind,
        versions=tuple(versions.split()),
        plural=plural,
        namespaced=namespaced,
        status_subresource=status,
    )


_RBAC = "rbac.authorization.k8s.io"
_ADMISSION = "admissionregistration.k8s.io"

# The versions are those a 1.20 API server serves by default (CronJob and PodDisruptionBudget only in beta).
BUILTIN_KINDS: Mapping[GroupKind, KindInfo] = MappingProxyType(
    {
        info.group_kind: info
        for info in (
            _kind("", "Namespace", "v1", "namespaces", namespaced=False, status=True),
            _kind("", "ConfigMap", "v1", "configmaps"),
            _kind("", "Secret", "v1", "secrets"),
            _kind("", "Service", "v1", "services", status=True),
            _kind("", "ServiceAccount", "v1", "serviceaccounts"),
            _kind("", "Pod", "v1", "pods", status=True),
            _kind("", "PodTemplate", "v1", "podtemplates"),
            _kind("", "PersistentVolume", "v1", "persistentvolumes", namespaced=False, status=True),
            _kind("", "PersistentVolumeClaim", "v1", "persistentvolumeclaims", status=True),
            _kind("", "Endpoints", "v1", "endpoints"),
            _kind("", "Event", "v1", "events"),
            _kind("", "LimitRange", "v1", "limitranges"),
            _kind("", "ResourceQuota", "v1", "resourcequotas", status=True),
            _kind("", "ReplicationController", "v1", "replicationcontrollers", status=True),
            _kind("", "Node", "v1", "nodes", namespaced=False, status=True),
            _kind("apps", "Deployment", "v1", "deployments", status=True),
            _kind("apps", "StatefulSet", "v1", "statefulsets", status=True),
            _kind("apps", "DaemonSet", "v1", "daemonsets", status=True),
            _kind("apps", "ReplicaSet", "v1", "replicasets", status=True),
            _kind("apps", "ControllerRevision", "v1", "controllerrevisions"),
            _kind("batch", "Job", "v1", "jobs", status=True),
            _kind("batch", "CronJob", "v1beta1", "cronjobs", status=True),
            _kind("networking.k8s.io", "Ingress", "v1 v1beta1", "ingresses", status=True),
            _kind("networking.k8s.io", "IngressClass", "v1 v1beta1", "ingressclasses", namespaced=False),
            _kind("networking.k8s.io", "NetworkPolicy", "v1", "networkpolicies"),
            _kind(_RBAC, "Role", "v1 v1beta1", "roles"),
            _kind(_RBAC, "RoleBinding", "v1 v1beta1", "rolebindings"),
            _kind(_RBAC, "ClusterRole", "v1 v1beta1", "clusterroles", namespaced=False),
            _kind(_RBAC, "ClusterRoleBinding", "v1 v1beta1", "clusterrolebindings", namespaced=False),
            _kind("policy", "PodDisruptionBudget", "v1beta1", "poddisruptionbudgets", status=True),
            _kind("policy", "PodSecurityPolicy", "v1beta1", "podsecuritypolicies", namespaced=False),
            _kind(
                "autoscaling",
                "HorizontalPodAutoscaler",
                "v1 v2beta2 v2beta1",
                "horizontalpodautoscalers",
                status=True,
            ),
            _kind(
                "apiextensions.k8s.io",
                "CustomResourceDefinition",
                "v1 v1beta1",
                "customresourcedefinitions",
                namespaced=False,
                status=True,
            ),
            _kind("storage.k8s.io", "StorageClass", "v1 v1beta1", "storageclasses", namespaced=False),
            _kind(
                _ADMISSION,
                "MutatingWebhookConfiguration",
                "v1 v1beta1",
                "mutatingwebhookconfigurations",
                namespaced=False,
            ),
            _kind(
                _ADMISSION,
                "ValidatingWebhookConfiguration",
                "v1 v1beta1",
                "validatingwebhookconfigurations",
                namespaced=False,
            ),
            _kind(
                "apiregistration.k8s.io",
                "APIService",
                "v1 v1beta1",
                "apiservices",
                namespaced=False,
                status=True,
            ),
            _kind("scheduling.k8s.io", "PriorityClass", "v1 v1beta1", "priorityclasses", namespaced=False),
            _kind("coordination.k8s.io", "Lease", "v1 v1beta1", "leases"),
        )
    }
)
"""The kinds a plain 1.20 API server serves, by group and kind."""

_BUILTIN_GROUPS = frozenset(
    {info.group for info in BUILTIN_KINDS.values()}
    | {
        "extensions",
        "events.k8s.io",
        "discovery.k8s.io",
        "certificates.k8s.io",
        "node.k8s.io",
        "authentication.k8s.io",
        "authorization.k8s.io",
        "flowcontrol.apiserver.k8s.io",
    }
)


def is_builtin_group(group: str) -> bool:
    """Whether ``group`` is one of Kubernetes' own API groups (its objects have a schema compiled in)."""
    return group in _BUILTIN_GROUPS


@attrs.frozen
class ListType:
    """How server-side apply treats a list (and, as :data:`ATOMIC`, a map).

    Attributes:
        kind: ``atomic`` (replaced whole, owned as one field), ``set`` (scalar members merged by value) or
            ``map`` (items merged by their key fields).
        keys: The key fields of a ``map`` list, in schema order.
    """

    kind: Literal["atomic", "set", "map"]
    keys: tuple[str, ...] = ()

    @classmethod
    def keyed(cls, *keys: str) -> ListType:
        """A list of objects merged by ``keys``."""
        return cls("map", tuple(keys))


ATOMIC = ListType("atomic")
"""Replaced whole on apply; owned as a single field."""

SET = ListType("set")
"""A list of scalars merged by value."""

SchemaOverrides = Mapping[FieldPath, ListType]
"""Per-path list types (a custom resource's ``x-kubernetes-list-type``); :data:`ATOMIC` on a map's path makes
that map atomic (``x-kubernetes-map-type: atomic``)."""

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

_CONTAINER_FIELDS = ("containers", "initContainers", "ephemeralContainers")

_POD_SPEC_LISTS: Mapping[FieldPath, ListType] = MappingProxyType(
    {
        ("containers",): ListType.keyed("name"),
        ("initContainers",): ListType.keyed("name"),
        ("ephemeralContainers",): ListType.keyed("name"),
        ("volumes",): ListType.keyed("name"),
        ("imagePullSecrets",): ListType.keyed("name"),
        ("hostAliases",): ListType.keyed("ip"),
        ("topologySpreadConstraints",): ListType.keyed("topologyKey", "whenUnsatisfiable"),
    }
)

_CONTAINER_LISTS: Mapping[str, ListType] = MappingProxyType(
    {
        "ports": ListType.keyed("containerPort", "protocol"),
        "env": ListType.keyed("name"),
        "volumeMounts": ListType.keyed("mountPath"),
        "volumeDevices": ListType.keyed("devicePath"),
    }
)

_METADATA_LISTS: Mapping[str, ListType] = MappingProxyType(
    {"ownerReferences": ListType.keyed("uid"), "finalizers": SET}
)

_WEBHOOKS: Mapping[FieldPath, ListType] = {("webhooks",): ListType.keyed("name")}

_KIND_LISTS: Mapping[GroupKind, Mapping[FieldPath, ListType]] = MappingProxyType(
    {
        GroupKind("", "Service"): {("spec", "ports"): ListType.keyed("port", "protocol")},
        GroupKind("", "ServiceAccount"): {("secrets",): ListType.keyed("name")},
        GroupKind("", "Node"): {("spec", "podCIDRs"): SET, ("status", "addresses"): ListType.keyed("type")},
        GroupKind("", "Pod"): {("status", "podIPs"): ListType.keyed("ip")},
        GroupKind(_ADMISSION, "MutatingWebhookConfiguration"): _WEBHOOKS,
        GroupKind(_ADMISSION, "ValidatingWebhookConfiguration"): _WEBHOOKS,
    }
)

# Fields typed metav1.LabelSelector, which 1.20 marks `+structType=atomic` (owned and replaced whole).
_SELECTOR = ("spec", "selector")
_ATOMIC_MAPS: Mapping[GroupKind, frozenset[FieldPath]] = MappingProxyType(
    {
        GroupKind("apps", "Deployment"): frozenset({_SELECTOR}),
        GroupKind("apps", "StatefulSet"): frozenset({_SELECTOR}),
        GroupKind("apps", "DaemonSet"): frozenset({_SELECTOR}),
        GroupKind("apps", "ReplicaSet"): frozenset({_SELECTOR}),
        GroupKind("batch", "Job"): frozenset({_SELECTOR}),
        GroupKind("batch", "CronJob"): frozenset({("spec", "jobTemplate", "spec", "selector")}),
        GroupKind("policy", "PodDisruptionBudget"): frozenset({_SELECTOR}),
        GroupKind("", "PersistentVolumeClaim"): frozenset({_SELECTOR}),
        GroupKind("networking.k8s.io", "NetworkPolicy"): frozenset({("spec", "podSelector")}),
        GroupKind(_ADMISSION, "MutatingWebhookConfiguration"): frozenset(
            {("webhooks", "namespaceSelector"), ("webhooks", "objectSelector")}
        ),
        GroupKind(_ADMISSION, "ValidatingWebhookConfiguration"): frozenset(
            {("webhooks", "namespaceSelector"), ("webhooks", "objectSelector")}
        ),
    }
)


def pod_spec_path(group_kind: GroupKind) -> FieldPath | None:
    """Where a kind keeps its pod spec (``("spec", "template", "spec")`` for a Deployment), or ``None``."""
    return _POD_SPEC_AT.get(group_kind)


def list_type(group_kind: GroupKind, path: FieldPath, overrides: SchemaOverrides | None = None) -> ListType:
    """How server-side apply merges the list at ``path`` in an object of ``group_kind``.

    Args:
        group_kind: The object's kind.
        path: Field names from the root (``("spec", "ports")``); list items contribute no name.
        overrides: List types declared by a custom resource's schema; they win over the built-in table.

    Returns:
        The list type; :data:`ATOMIC` for anything not known to be a set or keyed list (every list of a custom
        resource without an override, except ``metadata.ownerReferences`` and ``metadata.finalizers``).
    """
    if overrides is not None and path in overrides:
        return overrides[path]
    builtin = is_builtin_group(group_kind.group)
    # Custom resources share only the root ObjectMeta with built-in kinds.
    if path[-2:-1] == ("metadata",) and path[-1] in _METADATA_LISTS and (builtin or len(path) == 2):  # noqa: PLR2004
        return _METADATA_LISTS[path[-1]]
    if not builtin:
        return ATOMIC
    if path == ("status", "conditions"):
        return ListType.keyed("type")
    return _pod_spec_list(group_kind, path) or _KIND_LISTS.get(group_kind, {}).get(path, ATOMIC)


def _pod_spec_list(group_kind: GroupKind, path: FieldPath) -> ListType | None:
    pod_spec = _POD_SPEC_AT.get(group_kind)
    if pod_spec is None or path[: len(pod_spec)] != pod_spec:
        return None
    rest = path[len(pod_spec) :]
    if rest in _POD_SPEC_LISTS:
        return _POD_SPEC_LISTS[rest]
    if len(rest) == 2 and rest[0] in _CONTAINER_FIELDS:  # noqa: PLR2004
        return _CONTAINER_LISTS.get(rest[1])
    return None


def is_atomic_map(group_kind: GroupKind, path: FieldPath, overrides: SchemaOverrides | None = None) -> bool:
    """Whether the map at ``path`` is atomic for server-side apply (owned and replaced whole).

    In 1.20 that is every field typed ``LabelSelector`` (``spec.selector`` of workloads, a pod's
    ``topologySpreadConstraints[].labelSelector``...); for custom resources, paths that ``overrides`` marks
    :data:`ATOMIC`.
    """
    if overrides is not None and path in overrides:
        return overrides[path].kind == "atomic"
    if not is_builtin_group(group_kind.group):
        return False
    if path in _ATOMIC_MAPS.get(group_kind, frozenset()):
        return True
    pod_spec = _POD_SPEC_AT.get(group_kind)
    return pod_spec is not None and path == (*pod_spec, "topologySpreadConstraints", "labelSelector")


def overrides_from_openapi(schema: Mapping[str, Any]) -> dict[FieldPath, ListType]:
    """The list and map types a CRD version's ``openAPIV3Schema`` declares, ready for :func:`list_type`.

    ``x-kubernetes-list-type: map`` with ``x-kubernetes-list-map-keys`` gives a keyed list, ``set`` a set,
    ``atomic`` an atomic list; ``x-kubernetes-map-type: atomic`` on an object makes that map atomic.
    Arrays without a list type stay atomic, which is also what :func:`list_type` answers for them.
    """
    out: dict[FieldPath, ListType] = {}

    def walk(node: Mapping[str, Any], path: FieldPath) -> None:
        declared = node.get("x-kubernetes-list-type")
        if declared == "map":
            out[path] = ListType.keyed(*[str(k) for k in node.get("x-kubernetes-list-map-keys") or ()])
        elif declared == "set":
            out[path] = SET
        elif declared == "atomic":
            out[path] = ATOMIC
        if node.get("x-kubernetes-map-type") == "atomic":
            out[path] = ATOMIC
        items = node.get("items")
        if isinstance(items, Mapping):
            walk(items, path)
        properties = node.get("properties")
        if isinstance(properties, Mapping):
            for name, child in properties.items():
                if isinstance(child, Mapping):
                    walk(child, (*path, str(name)))

    walk(schema, ())
    return out


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

    A 1.20 API server rejects a server-side apply whose Service port or container port omits ``protocol``
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


CRD = GroupKind("apiextensions.k8s.io", "CustomResourceDefinition")


def crd_kind(crd: Manifest) -> GroupKind:
    """The kind a CustomResourceDefinition serves (``spec.group`` and ``spec.names.kind``)."""
    spec = crd.get("spec") or {}
    return GroupKind(str(spec.get("group") or ""), str((spec.get("names") or {}).get("kind") or ""))
