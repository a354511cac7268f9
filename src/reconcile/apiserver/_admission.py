"""What the API server refuses before it stores a write, worded as it words it.

Name rules per kind, the namespace a namespaced object is created in (it must exist and not be terminating),
a CustomResourceDefinition being deleted (no new custom resources), stale ``resourceVersion`` preconditions, a
write that names another object, a Service's ``clusterIP`` (in the service range, free, immutable) and a
CustomResourceDefinition's own shape (:func:`crd_info`, which also reads the kind it defines). Each check takes
what it needs of the store as arguments, so it reads the same whoever calls it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from typing import Any

from reconcile.apiserver._builtin import NAMESPACE, SERVICE
from reconcile.apiserver._defaults import metadata_of
from reconcile.apiserver._kinds import Kind, version_priority
from reconcile.apiserver._lists import FieldPath, ListType, list_types
from reconcile.errors import ClusterError, ConflictError, InvalidError, NotFoundError
from reconcile.model import Manifest, ResourceKey

SERVICE_RANGE = ipaddress.ip_network("10.96.0.0/12")
"""Where Service cluster IPs come from (the API server's ``--service-cluster-ip-range``)."""

# Name rules and messages as the API server words them.
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS1035 = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    f"'{_SUBDOMAIN.pattern}')"
)
LABEL_MESSAGE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
    f"and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    f"'{LABEL.pattern}')"
)
_DNS1035_MESSAGE = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
    f"validation is '{_DNS1035.pattern}')"
)


def _prefix(info: Kind) -> str:
    """How the server names a kind in an Invalid message: ``Deployment.apps``, ``Service``."""
    return f"{info.kind}.{info.group}" if info.group else info.kind


def validate_name(info: Kind, key: ResourceKey) -> None:
    """Refuse a name the kind does not allow: a label for a Namespace, DNS-1035 for a Service, else a subdomain."""
    name = key.name
    prefix = _prefix(info)
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
    elif info.group_kind == NAMESPACE:
        if len(name) > 63 or not LABEL.fullmatch(name):  # noqa: PLR2004
            problem = LABEL_MESSAGE
    elif info.group_kind == SERVICE:
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


def check_can_create(key: ResourceKey, info: Kind, namespace: Manifest | None, crd: Manifest | None) -> None:
    """Refuse a create in a missing or terminating ``namespace``, or of a custom resource whose ``crd`` is going.

    Args:
        key: The object to create.
        info: Its kind.
        namespace: The live Namespace it would live in (``None``: there is none, or the kind is cluster-scoped).
        crd: The live CustomResourceDefinition that defines its kind, if any.
    """
    if info.namespaced:
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
    if crd is not None and metadata_of(crd).get("deletionTimestamp"):
        raise ClusterError(
            f'create not allowed while custom resource definition "{metadata_of(crd)["name"]}" is terminating',
            key=key,
            status=405,
            reason="MethodNotAllowed",
        )


def check_precondition(key: ResourceKey, info: Kind, live: Manifest, requested: object) -> None:
    """Refuse a write whose ``metadata.resourceVersion`` (when it has one) is not the live object's."""
    if requested and str(requested) != metadata_of(live).get("resourceVersion"):
        raise ConflictError(
            f'Operation cannot be fulfilled on {info.resource} "{key.name}": the object has been '
            "modified; please apply your changes to the latest version and try again",
            key=key,
        )


def check_same_identity(key: ResourceKey, info: Kind, obj: Manifest) -> None:
    """Refuse a write to ``key`` whose body names another object."""
    found = ResourceKey.from_manifest(obj)
    if not info.namespaced:
        found = found.with_namespace("")
    if found != key:
        raise InvalidError(
            f"the object {found} does not match the object it replaces ({key})", key=key, field="metadata"
        )


def check_cluster_ip(
    key: ResourceKey, info: Kind, live: Manifest | None, obj: Manifest, used: Callable[[], set[str]]
) -> None:
    """Refuse a Service whose ``spec.clusterIP`` changes, or, on create, is outside the range or ``used``.

    ``used`` is called only when a create asks for an address, as finding the used ones reads every Service.
    """
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
        if address is None or address not in SERVICE_RANGE:
            problem = f"provided IP is not in the valid range. The range of valid IPs is {SERVICE_RANGE}"
        elif cluster_ip in used():
            problem = "provided IP is already allocated"
    if problem:
        raise InvalidError(
            f'{_prefix(info)} "{key.name}" is invalid: spec.clusterIP: Invalid value: "{cluster_ip}": {problem}',
            key=key,
            field="spec.clusterIP",
        )


def crd_info(crd: Manifest, key: ResourceKey) -> tuple[Kind, dict[FieldPath, ListType], dict[str, Mapping[str, Any]]]:
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
        str(v["name"]): (v.get("schema") or spec.get("validation") or {}).get("openAPIV3Schema") or {} for v in versions
    }
    return info, list_types(openapi), schemas
