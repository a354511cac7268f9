"""What a real API server serves, read from its discovery documents; no I/O here.

:func:`group_versions` reads ``/api`` and ``/apis``; :func:`build_table` turns the ``APIResourceList`` of every
group version into one :class:`~reconcile.apiserver.Kind` per group and kind (subresources skipped), the way
``kubectl api-resources`` lists them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from reconcile.apiserver import Kind
from reconcile.model import GroupKind

# Kinds a LIST of "every kind" leaves out: events churn and are never desired state; the others cannot be listed
# usefully (ComponentStatus probes components on every read; Binding is create-only).
UNLISTED_KINDS: frozenset[GroupKind] = frozenset(
    {
        GroupKind("", "Event"),
        GroupKind("events.k8s.io", "Event"),
        GroupKind("", "ComponentStatus"),
        GroupKind("", "Binding"),
    }
)
"""Kinds :meth:`KubernetesCluster.list` skips when asked for every kind."""

# The deprecated group that serves copies of kinds now served elsewhere (Ingress before 1.22): listing both would
# return every such object twice.
_LEGACY_GROUP = "extensions"


@attrs.frozen
class GroupVersions:
    """One API group: its versions in the server's priority order and the preferred one."""

    group: str
    versions: tuple[str, ...]
    preferred: str

    def paths(self) -> list[tuple[str, str]]:
        """``(version, discovery path)`` for each version."""
        prefix = f"/apis/{self.group}" if self.group else "/api"
        return [(version, f"{prefix}/{version}") for version in self.versions]


def group_versions(core: Mapping[str, Any], groups: Mapping[str, Any]) -> list[GroupVersions]:
    """The groups of an ``/api`` (``APIVersions``) and an ``/apis`` (``APIGroupList``) document."""
    core_versions = tuple(str(v) for v in core.get("versions") or ())
    out = [GroupVersions("", core_versions, core_versions[0])] if core_versions else []
    for group in groups.get("groups") or ():
        versions = tuple(str(v.get("version")) for v in group.get("versions") or () if v.get("version"))
        if not versions:
            continue
        preferred = str((group.get("preferredVersion") or {}).get("version") or versions[0])
        out.append(GroupVersions(str(group.get("name") or ""), versions, preferred))
    return out


def build_table(
    groups: Iterable[GroupVersions], resources: Mapping[tuple[str, str], Mapping[str, Any]]
) -> dict[GroupKind, Kind]:
    """One :class:`Kind` per group and kind.

    Args:
        groups: The groups from :func:`group_versions`.
        resources: The ``APIResourceList`` of each ``(group, version)``; versions that could not be read are
            simply absent (an aggregated API that is down), as ``kubectl`` tolerates.
    """
    table: dict[GroupKind, Kind] = {}
    for group in groups:
        # The preferred version first, then the server's order: the first version seen defines the kind.
        ordered = [group.preferred, *(v for v in group.versions if v != group.preferred)]
        versions: dict[str, list[str]] = {}
        facts: dict[str, Mapping[str, Any]] = {}
        subresources: dict[str, set[str]] = {}
        for version in ordered:
            listing = resources.get((group.group, version))
            if listing is None:
                continue
            plural_kinds: dict[str, str] = {}
            for resource in listing.get("resources") or ():
                name = str(resource.get("name") or "")
                kind = str(resource.get("kind") or "")
                if not name or not kind or "/" in name:
                    continue
                plural_kinds[name] = kind
                served_in = versions.setdefault(kind, [])
                if version not in served_in:
                    served_in.append(version)
                facts.setdefault(kind, resource)
            for resource in listing.get("resources") or ():
                parent, _, sub = str(resource.get("name") or "").partition("/")
                if sub and parent in plural_kinds:
                    subresources.setdefault(plural_kinds[parent], set()).add(sub)
        for kind, resource in facts.items():
            served = Kind(
                group=group.group,
                kind=kind,
                versions=tuple(versions[kind]),
                plural=str(resource["name"]),
                namespaced=bool(resource.get("namespaced")),
                verbs=frozenset(str(v) for v in resource.get("verbs") or ()),
                subresources=frozenset(subresources.get(kind, ())),
            )
            table[served.group_kind] = served
    return table


def listed_kinds(table: Mapping[GroupKind, Kind], unlisted: Iterable[GroupKind]) -> list[Kind]:
    """The kinds a LIST of every kind reads, sorted by group and kind.

    Leaves out kinds without the ``list`` verb, those in ``unlisted``, and the ``extensions`` copy of a kind that
    another group serves too.
    """
    skipped = frozenset(unlisted)
    elsewhere = {gk.kind for gk in table if gk.group != _LEGACY_GROUP}
    return [
        served
        for gk, served in sorted(table.items())
        if served.listable and gk not in skipped and not (gk.group == _LEGACY_GROUP and gk.kind in elsewhere)
    ]
