"""The built-in API of one Kubernetes release: the kinds it serves and each type's schema.

Everything a release decides comes from that release's OpenAPI definitions (through :mod:`._openapi`): which
group, version and kind exist, each field's type, list and map types. Two facts are not in a schema and come
from :mod:`._served`: each kind's URL name, scope and subresources (stable across releases), and which beta
versions a server enables by default (only those older than 1.24's "new betas off" rule).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from reconcile.apiserver import _openapi, _served
from reconcile.apiserver._kinds import Kind, version_priority
from reconcile.apiserver._lists import ATOMIC, FieldPath, ListType, list_types
from reconcile.apiserver._schemacheck import Checker
from reconcile.apiserver._versions import KubeVersion
from reconcile.errors import ConfigurationError
from reconcile.model import GroupKind, split_api_version

OLDEST_SUPPORTED = KubeVersion(1, 25)
"""The oldest release modelled."""

_DEFS = "#/$defs/"


@functools.cache
def supported_versions() -> tuple[KubeVersion, ...]:
    """The releases modelled, oldest first: every release from 1.25 whose API schema is installed."""
    return tuple(v for v in (KubeVersion(*r) for r in _openapi.releases()) if v >= OLDEST_SUPPORTED)


def newest_version() -> KubeVersion:
    """The newest release modelled (the default everywhere a release is not named)."""
    return supported_versions()[-1]


def resolve_version(version: str | KubeVersion | None) -> KubeVersion:
    """The release ``version`` names (``None``: the newest), checked against the supported range.

    Raises:
        ConfigurationError: ``version`` is malformed or outside the supported range (the message names it).
    """
    supported = supported_versions()
    if version is None or version == supported[-1]:
        return supported[-1]
    release = version if isinstance(version, KubeVersion) else KubeVersion.parse(version)
    if release not in supported:
        raise ConfigurationError(
            f"Kubernetes {release} is not supported: the supported versions are {supported[0]} to {supported[-1]}"
        )
    return release


class APISchema:
    """The built-in kinds and type schemas of one Kubernetes release.

    Get one with :meth:`for_version`; it is immutable and shared (a release's schema is read once per process).
    Per-kind answers (:meth:`lists`) are computed on first use and kept.
    """

    def __init__(self, version: KubeVersion, definitions: Mapping[str, Any]) -> None:
        self.version = version
        self._definitions = definitions
        self._roots: dict[tuple[str, str, str], str] = {}
        for name, definition in definitions.items():
            for gvk in definition.get("x-kubernetes-group-version-kind") or ():
                if _is_resource(name, definition, gvk):
                    self._roots[(str(gvk.get("group") or ""), str(gvk["version"]), str(gvk["kind"]))] = name
        self.kinds: Mapping[GroupKind, Kind] = MappingProxyType(self._served_kinds())
        self.groups: frozenset[str] = frozenset(group for group, _, _ in self._roots)
        """Every API group the release defines, served by default or not."""
        self._lists: dict[tuple[str, str, str], Mapping[FieldPath, ListType]] = {}
        self._lock = threading.Lock()
        self.checker = Checker(self.resolve)
        """Checks objects of built-in kinds against these definitions (:meth:`Checker.clean`)."""

    @classmethod
    def for_version(cls, version: str | KubeVersion | None = None) -> APISchema:
        """The schema of ``version`` (``"1.36"``, ``"v1.36.3"``; ``None``: the newest supported).

        Raises:
            ConfigurationError: The version is outside the supported range.
        """
        return _load(resolve_version(version))

    def __repr__(self) -> str:
        return f"APISchema({self.version})"

    @property
    def git_version(self) -> str:
        """What a server of this release reports as its version (``v1.36.0``)."""
        return self.version.git_version

    def _served_kinds(self) -> dict[GroupKind, Kind]:
        versions: dict[GroupKind, list[str]] = {}
        for group, version, kind in self._roots:
            if _served.enabled_by_default(group, version, self.version.minor):
                versions.setdefault(GroupKind(group, kind), []).append(version)
        out: dict[GroupKind, Kind] = {}
        for group_kind, served in versions.items():
            facts = _served.facts(group_kind)
            if facts is None:
                continue  # a subresource's type (Scale, Eviction), not a resource
            out[group_kind] = Kind(
                group=group_kind.group,
                kind=group_kind.kind,
                versions=tuple(sorted(served, key=version_priority)),
                plural=facts.plural,
                namespaced=facts.namespaced,
                subresources=facts.subresources,
                verbs=facts.verbs,
            )
        return out

    def definition(self, api_version: str, kind: str) -> Mapping[str, Any] | None:
        """The schema of one built-in kind in one version, or ``None`` when the release has no such type."""
        group, version = split_api_version(api_version)
        name = self._roots.get((group, version, kind))
        return self._definitions[name] if name is not None else None

    def resolve(self, node: Mapping[str, Any]) -> Mapping[str, Any]:
        """``node`` itself, or the definition its ``$ref`` names."""
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_DEFS):
            found = self._definitions.get(ref[len(_DEFS) :])
            if isinstance(found, Mapping):
                return found
        return node

    def lists(self, api_version: str, kind: str) -> Mapping[FieldPath, ListType] | None:
        """How server-side apply merges each list and map of a built-in kind, by path; ``None`` for other kinds.

        Paths not in the answer hold atomic lists and granular maps.
        """
        group, version = split_api_version(api_version)
        cache_key = (group, version, kind)
        found = self._lists.get(cache_key)
        if found is not None:
            return found
        root = self.definition(api_version, kind)
        if root is None:
            return None
        computed = MappingProxyType(list_types(root, self._definitions))
        with self._lock:
            return self._lists.setdefault(cache_key, computed)

    def list_type(self, api_version: str, kind: str, path: FieldPath) -> ListType:
        """How server-side apply merges the list at ``path`` (:data:`ATOMIC` for anything undeclared)."""
        return (self.lists(api_version, kind) or {}).get(path, ATOMIC)

    def preferred_api_version(self, group_kind: GroupKind) -> str | None:
        """The ``apiVersion`` a server of this release prefers for a built-in kind, or ``None``."""
        found = self.kinds.get(group_kind)
        return found.api_version if found is not None else None


def _is_resource(name: str, definition: Mapping[str, Any], gvk: Mapping[str, Any]) -> bool:
    """Whether a definition is a stored kind: it has object metadata and is neither a list nor a meta type."""
    if name.startswith("io.k8s.apimachinery.") or str(gvk.get("kind") or "").endswith("List"):
        return False
    metadata = (definition.get("properties") or {}).get("metadata") or {}
    return str(metadata.get("$ref") or "").endswith("meta.v1.ObjectMeta")


@functools.cache
def _load(version: KubeVersion) -> APISchema:
    # The cache holds immutable, read-only data from the installed package: one parse per release per process.
    return APISchema(version, MappingProxyType(_openapi.definitions((version.major, version.minor))))
