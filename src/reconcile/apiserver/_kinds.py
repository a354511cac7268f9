"""One descriptor for a kind an API server serves, whoever learned it (discovery, a schema, a CRD)."""

from __future__ import annotations

import re
from urllib.parse import quote

import attrs

from reconcile.model import GroupKind

ALL_VERBS = frozenset({"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"})
"""What a resource without narrower verbs accepts."""


@attrs.frozen(kw_only=True)
class Kind:
    """One kind an API server serves.

    Attributes:
        group: The API group (``""`` for the core group).
        kind: The kind (``Deployment``).
        versions: The versions serving the kind, the preferred version first (``("v2", "v1")``).
        plural: The resource name in URLs (``deployments``).
        namespaced: Whether objects live in a namespace.
        subresources: Its subresources (``status``, ``scale``).
        verbs: What the resource accepts (``get``, ``list``, ``patch``...).
    """

    group: str
    kind: str
    versions: tuple[str, ...]
    plural: str
    namespaced: bool
    subresources: frozenset[str] = frozenset()
    verbs: frozenset[str] = ALL_VERBS

    @property
    def group_kind(self) -> GroupKind:
        """The kind's group and kind."""
        return GroupKind(self.group, self.kind)

    @property
    def version(self) -> str:
        """The preferred version (``v1``)."""
        return self.versions[0]

    @property
    def api_version(self) -> str:
        """The preferred ``apiVersion`` (``apps/v1``, or ``v1`` for the core group)."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def status_subresource(self) -> bool:
        """Whether ``status`` is written only through the ``/status`` subresource (writes to the object ignore it)."""
        return "status" in self.subresources

    @property
    def listable(self) -> bool:
        """Whether the resource accepts LIST."""
        return "list" in self.verbs

    @property
    def resource(self) -> str:
        """The resource as the server names it in messages: ``deployments.apps``, or ``pods`` in the core group."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def path(self, namespace: str | None = None, name: str | None = None, *, version: str | None = None) -> str:
        """The URL path of one object (``name``) or of the collection, in ``namespace`` when namespaced.

        ``namespace=None`` on a namespaced kind is the collection across every namespace.
        """
        version = version or self.version
        path = f"/apis/{self.group}/{version}" if self.group else f"/api/{version}"
        if self.namespaced and namespace is not None:
            path += f"/namespaces/{quote(namespace, safe='')}"
        path += f"/{self.plural}"
        if name is not None:
            path += f"/{quote(name, safe='')}"
        return path


_VERSION = re.compile(r"v(\d+)(?:(alpha|beta)(\d+))?")


def version_priority(version: str) -> tuple[int, int, int, str]:
    """Kubernetes' version order as a sort key: GA before beta before alpha, higher numbers first, others last."""
    match = _VERSION.fullmatch(version)
    if match is None:
        return (3, 0, 0, version)
    stage = {None: 0, "beta": 1, "alpha": 2}[match.group(2)]
    return (stage, -int(match.group(1)), -int(match.group(3) or 0), version)
