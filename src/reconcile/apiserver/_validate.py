"""Rendered objects checked against a Kubernetes release's API schema, without a cluster.

What a server of that release would refuse before anything is applied: a kind or ``apiVersion`` the release no
longer serves (``policy/v1beta1`` PodDisruptionBudgets from 1.25, ``autoscaling/v2beta2`` from 1.26), fields the
schema does not declare, values of the wrong type, and fields the schema requires. Custom resources are checked
against the ``openAPIV3Schema`` of a CRD found among the objects or given. The schemas are the in-memory cluster's
(one per release, from ``kubernetes-validate``), so a render validated here and a dry run in memory agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import attrs

from reconcile.apiserver._builtin import CRD, crd_kind, no_match_message
from reconcile.apiserver._schema import APISchema
from reconcile.apiserver._schemacheck import Resolve, schema_problems
from reconcile.model import GroupKind, Location, Manifest, Resource, ResourceKey, split_api_version

__all__ = ["ValidationProblem", "validate", "validate_objects"]


@attrs.frozen
class ValidationProblem:
    """One problem of one object.

    Attributes:
        key: The object.
        source: Where it came from (file and line, or a template), when known.
        path: The field, as the API server names it (``.spec.replicas``); ``""`` for the object as a whole.
        message: What is wrong, in the server's words where it has some.
    """

    key: ResourceKey
    source: Location | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.source}: " if self.source is not None else ""
        field = f" {self.path}" if self.path else ""
        return f"{where}{self.key.display}{field}: {self.message}"


def validate(
    objects: Iterable[Resource | Manifest], *, kube_version: str | None = None, crds: Iterable[Manifest] = ()
) -> tuple[ValidationProblem, ...]:
    """Check rendered objects against the API schema of a Kubernetes release, without a cluster.

    ::

        problems = rc.validate(reconciler.render(), kube_version="1.33")
        for problem in problems:
            print(problem)   # web.yaml:3: apps/Deployment/shop/web .spec.replicas: expected numeric ..., got string

    Args:
        objects: Rendered objects (each :class:`~reconcile.model.Resource` names its file), or bare manifests.
        kube_version: The release (``"1.33"``, ``"v1.33.2"``); the newest supported by default.
        crds: CustomResourceDefinitions the target cluster has, for custom resources whose CRD is not among
            ``objects``.

    Returns:
        Every problem, in object order: unserved kinds and API versions, undeclared fields, wrong types, missing
        required fields. Empty when the objects are valid.

    Raises:
        ConfigurationError: ``kube_version`` is not a supported release.
    """
    return validate_objects(objects, APISchema.for_version(kube_version), crds=crds)


def validate_objects(
    objects: Iterable[Resource | Manifest], schema: APISchema, *, crds: Iterable[Manifest] = ()
) -> tuple[ValidationProblem, ...]:
    """Every problem of ``objects`` against ``schema``'s release, in object order.

    Args:
        objects: Rendered objects (a :class:`~reconcile.model.Resource` names its file), or bare manifests.
        schema: The release's API schema.
        crds: CustomResourceDefinitions the cluster has besides those among ``objects``.
    """
    resources = [o if isinstance(o, Resource) else Resource.from_manifest(o) for o in objects]
    definitions = {crd_kind(crd): crd for crd in crds}
    definitions.update({crd_kind(r.manifest): r.manifest for r in resources if r.key.group_kind == CRD})
    problems: list[ValidationProblem] = []
    for resource in resources:
        problems += [
            ValidationProblem(resource.key, resource.source, path, message)
            for path, message in _problems(resource.manifest, resource.key.group_kind, schema, definitions)
        ]
    return tuple(problems)


def _problems(
    obj: Manifest, group_kind: GroupKind, schema: APISchema, crds: Mapping[GroupKind, Manifest]
) -> Iterator[tuple[str, str]]:
    api_version = str(obj.get("apiVersion") or "")
    definition = schema.definition(api_version, group_kind.kind)
    if definition is not None:
        yield from _against(obj, definition, schema.resolve, custom=False)
        return
    crd = crds.get(group_kind)
    if crd is not None:
        root = _crd_schema(crd, split_api_version(api_version)[1])
        if root is None:
            served = _crd_versions(crd)
            yield "", no_match_message(group_kind, api_version, served)
            return
        yield from _against(obj, root, None, custom=True)
        return
    served_kind = schema.kinds.get(group_kind)
    yield "", no_match_message(group_kind, api_version, served_kind.versions if served_kind is not None else ())


def _against(
    obj: Manifest, root: Mapping[str, Any], resolve: Resolve | None, *, custom: bool
) -> Iterator[tuple[str, str]]:
    for problem in schema_problems(obj, root, resolve=resolve, custom=custom):
        yield problem.path, problem.message
    yield from _missing(obj, root, resolve or (lambda node: node), "", custom=custom)


def _missing(
    value: Any, node: Mapping[str, Any], resolve: Resolve, path: str, *, custom: bool
) -> Iterator[tuple[str, str]]:
    """Fields the schema marks ``required`` that ``value`` lacks, at every level."""
    node = resolve(node)
    if isinstance(value, dict):
        required = node.get("required")
        for name in required if isinstance(required, list) else ():
            if name not in value and not (custom and not path and name in ("apiVersion", "kind", "metadata")):
                yield f"{path}.{name}", "Required value"
        properties = node.get("properties")
        if isinstance(properties, Mapping):
            for name, child in value.items():
                if isinstance(properties.get(name), Mapping):
                    yield from _missing(child, properties[name], resolve, f"{path}.{name}", custom=custom)
    elif isinstance(value, list) and isinstance(node.get("items"), Mapping):
        for index, item in enumerate(value):
            yield from _missing(item, node["items"], resolve, f"{path}[{index}]", custom=custom)


def _crd_versions(crd: Manifest) -> tuple[str, ...]:
    spec = crd.get("spec") or {}
    return tuple(
        str(v.get("name")) for v in spec.get("versions") or () if isinstance(v, dict) and v.get("served", True)
    )


def _crd_schema(crd: Manifest, version: str) -> Mapping[str, Any] | None:
    spec = crd.get("spec") or {}
    for entry in spec.get("versions") or ():
        if isinstance(entry, dict) and entry.get("name") == version and entry.get("served", True):
            found = (entry.get("schema") or spec.get("validation") or {}).get("openAPIV3Schema")
            return (
                found
                if isinstance(found, Mapping)
                else {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
            )
    return None
