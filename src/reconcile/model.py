"""Value objects shared by every stage: identities, revisions, snapshots and statuses.

Everything here is frozen and hashable (or holds a dict that the library never mutates after construction).
Statuses are ``str`` enums whose values are the strings Argo CD users already know.
"""

from __future__ import annotations

import enum
import html
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import attrs

from reconcile.jsonvalues import deep_copy

__all__ = [
    "Capabilities",
    "GroupKind",
    "Health",
    "HealthStatus",
    "Location",
    "Manifest",
    "OperationPhase",
    "PropagationPolicy",
    "Resource",
    "ResourceKey",
    "ResultCode",
    "Revision",
    "Snapshot",
    "SyncAction",
    "SyncStatus",
    "health_html",
    "holds_secret_values",
    "split_api_version",
    "sync_html",
]

Manifest = dict[str, Any]
"""A Kubernetes object as a plain JSON-like dict."""

PropagationPolicy = Literal["Foreground", "Background", "Orphan"]
"""How a deletion treats the object's dependents, as the API server's ``propagationPolicy`` says."""


def split_api_version(api_version: str) -> tuple[str, str]:
    """Split ``apps/v1`` into ``("apps", "v1")`` and ``v1`` into ``("", "v1")``."""
    group, _, version = api_version.rpartition("/")
    return group, version


_SECRET_TYPE = re.compile(r"Opaque|(bootstrap\.)?kubernetes\.io/.+")


def holds_secret_values(obj: Mapping[str, Any]) -> bool:
    """Whether ``obj``'s ``data`` and ``stringData`` must be treated as secret, wherever it is shown or logged.

    A Secret of any spelling of the kind (``kind: secret`` is a typo the server refuses, but only after it has been
    shown), and an object of any kind that carries ``data`` or ``stringData`` with a Secret's ``type``
    (``Opaque``, ``kubernetes.io/...``): showing a value first and learning it was a Secret later is too late.
    """
    if str(obj.get("kind") or "").lower() == "secret":
        return True
    kind_of_type = obj.get("type")
    carries = isinstance(obj.get("data"), dict) or isinstance(obj.get("stringData"), dict)
    return carries and isinstance(kind_of_type, str) and _SECRET_TYPE.fullmatch(kind_of_type) is not None


@attrs.frozen(order=True, cache_hash=True)
class GroupKind:
    """A kind within its API group, independent of version (``apps/Deployment``; core group is empty)."""

    group: str
    kind: str

    def __str__(self) -> str:
        return f"{self.group}/{self.kind}" if self.group else self.kind


@attrs.frozen(cache_hash=True)  # keys are looked up in dicts millions of times in a large pass
class ResourceKey:
    """The identity of one object: group, kind, namespace and name, version-agnostic like the API server's.

    ``namespace`` is ``""`` for cluster-scoped objects (and for namespaced ones whose namespace is not set yet).
    """

    group: str
    kind: str
    namespace: str
    name: str
    # Made once: a large pass asks a key for its kind hundreds of thousands of times.
    _group_kind: GroupKind = attrs.field(init=False, eq=False, order=False, hash=False, repr=False)

    def __attrs_post_init__(self) -> None:
        # Four type checks on a hot path: ResourceKey(kind=None) fails here, naming the field, not far away.
        for field in ("group", "kind", "namespace", "name"):
            if not isinstance(getattr(self, field), str):
                # Imported here: errors carry model values (keys, locations), so errors imports the model.
                from reconcile.errors import ConfigurationError  # noqa: PLC0415

                raise ConfigurationError.argument(f"ResourceKey.{field}", "a string", getattr(self, field))
        object.__setattr__(self, "_group_kind", GroupKind(self.group, self.kind))

    @classmethod
    def from_manifest(cls, obj: Manifest) -> ResourceKey:
        """The key of a manifest; missing fields become empty strings (validation happens elsewhere)."""
        metadata = obj.get("metadata") or {}
        group, _ = split_api_version(str(obj.get("apiVersion") or ""))
        return cls(
            group=group,
            kind=str(obj.get("kind") or ""),
            namespace=str(metadata.get("namespace") or ""),
            name=str(metadata.get("name") or ""),
        )

    @property
    def group_kind(self) -> GroupKind:
        """The key's group and kind."""
        return self._group_kind

    def with_namespace(self, namespace: str) -> ResourceKey:
        """A copy of this key in another namespace (``""`` for cluster-scoped)."""
        return attrs.evolve(self, namespace=namespace)

    def __str__(self) -> str:
        """``apps/Deployment/ns/web``; a core kind without the empty group before it (``Service/ns/web``)."""
        kind = f"{self.group}/{self.kind}" if self.group else self.kind
        return f"{kind}/{self.namespace}/{self.name}"

    # Ordering by plain tuples: keys are sorted by the thousand on every pass, and attrs' generic order is slower.
    def _tuple(self) -> tuple[str, str, str, str]:
        return (self.group, self.kind, self.namespace, self.name)

    def __lt__(self, other: ResourceKey) -> bool:
        return self._tuple() < other._tuple()

    def __le__(self, other: ResourceKey) -> bool:
        return self._tuple() <= other._tuple()

    def __gt__(self, other: ResourceKey) -> bool:
        return self._tuple() > other._tuple()

    def __ge__(self, other: ResourceKey) -> bool:
        return self._tuple() >= other._tuple()

    @property
    def display(self) -> str:
        """Kubectl's spelling: ``deployment.apps/web`` (namespace omitted)."""
        kind = self.kind.lower()
        return f"{kind}.{self.group}/{self.name}" if self.group else f"{kind}/{self.name}"


@attrs.frozen
class Location:
    """Where a manifest came from: a file relative to the snapshot root and a 1-based line."""

    file: str
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line is not None else self.file


@attrs.frozen(kw_only=True)
class Resource:
    """One rendered object: its key, its manifest and where it came from.

    Build with :meth:`from_manifest`, which copies the manifest so callers' dicts are never shared.
    """

    key: ResourceKey
    manifest: Manifest = attrs.field(eq=False, hash=False, repr=False)
    source: Location | None = None

    @classmethod
    def from_manifest(cls, obj: Manifest, source: Location | None = None) -> Resource:
        """Wrap a copy of ``obj``."""
        manifest = deep_copy(obj)
        return cls(key=ResourceKey.from_manifest(manifest), manifest=manifest, source=source)

    @property
    def api_version(self) -> str:
        """The manifest's ``apiVersion``."""
        return str(self.manifest.get("apiVersion", ""))

    @property
    def annotations(self) -> dict[str, str]:
        """The manifest's annotations (empty when none)."""
        return dict((self.manifest.get("metadata") or {}).get("annotations") or {})

    def where(self) -> str:
        """``key (file:line)`` for messages."""
        return f"{self.key} ({self.source})" if self.source else str(self.key)


@attrs.frozen(kw_only=True)
class Revision:
    """An exact version of the desired state.

    Attributes:
        sha: The Git commit (40 hex digits), a folder's content digest, or a Helm chart archive's SHA-256 (64).
        ref: What the caller asked for (``main``, ``v1.2``, ``HEAD``) or ``None`` for a folder.
        message: The commit message (empty for a folder).
    """

    sha: str
    ref: str | None = None
    message: str = ""

    @property
    def short(self) -> str:
        """The first 7 hex digits, as Git shows them."""
        return self.sha[:7]

    def __str__(self) -> str:
        return f"{self.ref}@{self.short}" if self.ref else self.short


@attrs.frozen(kw_only=True)
class Snapshot:
    """Files of the desired state at one revision, on local disk.

    Attributes:
        revision: The exact revision the files belong to.
        root: The top of the checkout (a repository's root); renderers never read outside it.
        path: The application's folder, relative to ``root`` (``"."`` for the root itself).
    """

    revision: Revision
    root: Path
    path: str = "."

    @property
    def directory(self) -> Path:
        """The application's folder on disk."""
        return self.root / self.path


@attrs.frozen
class Capabilities:
    """What a cluster offers to renderers that depend on it (Helm's ``.Capabilities``).

    Attributes:
        kube_version: The server's version (``v1.36.3``).
        api_versions: Every served ``group/version`` and ``group/version/Kind`` (``apps/v1``,
            ``apps/v1/Deployment``; ``v1``, ``v1/Pod`` for the core group), sorted.
    """

    kube_version: str
    api_versions: tuple[str, ...] = ()

    @classmethod
    def from_kinds(cls, kube_version: str, kinds: Iterable[tuple[str, str, Iterable[str]]]) -> Capabilities:
        """Capabilities from ``(group, kind, versions)`` triples."""
        found: set[str] = set()
        for group, kind, versions in kinds:
            for version in versions:
                group_version = f"{group}/{version}" if group else version
                found |= {group_version, f"{group_version}/{kind}"}
        return cls(kube_version, tuple(sorted(found)))


class SyncStatus(enum.StrEnum):
    """Whether live state matches the desired state."""

    SYNCED = "Synced"
    OUT_OF_SYNC = "OutOfSync"
    UNKNOWN = "Unknown"

    @property
    def color(self) -> str:
        """Argo CD's colour for the status (a CSS hex colour), shared by every picture the library draws."""
        return _SYNC_LOOKS[self][0]

    @property
    def icon(self) -> str:
        """A one-character sign for the status, for terminals and pictures (Argo CD's icons, in Unicode)."""
        return _SYNC_LOOKS[self][1]


class HealthStatus(enum.StrEnum):
    """Health verdicts, with Argo CD's strings."""

    HEALTHY = "Healthy"
    PROGRESSING = "Progressing"
    DEGRADED = "Degraded"
    SUSPENDED = "Suspended"
    MISSING = "Missing"
    UNKNOWN = "Unknown"

    @property
    def color(self) -> str:
        """Argo CD's colour for the verdict (a CSS hex colour), shared by every picture the library draws."""
        return _HEALTH_LOOKS[self][0]

    @property
    def icon(self) -> str:
        """A one-character sign for the verdict (Argo CD's heart, spinner, broken heart... in Unicode)."""
        return _HEALTH_LOOKS[self][1]


# The colours of Argo CD's user interface, so a tree drawn here reads like the one people know.
_HEALTH_LOOKS = {
    HealthStatus.HEALTHY: ("#18be94", "\u2665"),  # heart
    HealthStatus.PROGRESSING: ("#0dadea", "\u25d0"),  # half-filled circle: a spinner at rest
    HealthStatus.DEGRADED: ("#e96d76", "\u2716"),  # heavy cross
    HealthStatus.SUSPENDED: ("#766f94", "\u23f8"),  # pause
    HealthStatus.MISSING: ("#f4c030", "\u2205"),  # empty set
    HealthStatus.UNKNOWN: ("#8fa4b1", "?"),
}
_SYNC_LOOKS = {
    SyncStatus.SYNCED: ("#18be94", "\u2714"),  # check mark
    SyncStatus.OUT_OF_SYNC: ("#f4c030", "\u2191"),  # up arrow: something to apply
    SyncStatus.UNKNOWN: ("#8fa4b1", "?"),
}


@attrs.frozen
class Health:
    """One health verdict.

    Attributes:
        status: The verdict.
        message: Why, in the words of the check (empty when it has nothing to say).
        aggregate_as: The status to count when aggregating an application's health, where it differs from
            ``status`` (a suspended Job is shown Suspended but counts as Healthy, as in the reference).
    """

    status: HealthStatus
    message: str = ""
    aggregate_as: HealthStatus | None = attrs.field(default=None, kw_only=True)

    @property
    def effective_status(self) -> HealthStatus:
        """The status that counts when aggregating: ``aggregate_as`` when set, otherwise ``status``."""
        return self.aggregate_as or self.status

    def _repr_html_(self) -> str:
        return health_html(self)


def health_html(health: Health | None) -> str:
    """A verdict as HTML: Argo CD's colour and icon, then the message (``-`` for no verdict)."""
    if health is None:
        return "-"
    status = health.status
    badge = f"<span style='color:{status.color}' title='{status}'>{status.icon} {status}</span>"
    return badge + (f" <small>{html.escape(health.message)}</small>" if health.message else "")


def sync_html(status: SyncStatus) -> str:
    """A sync status as HTML, in Argo CD's colour with its icon."""
    return f"<span style='color:{status.color}'>{status.icon} {status}</span>"


class OperationPhase(enum.StrEnum):
    """The phase of a sync operation."""

    RUNNING = "Running"
    TERMINATING = "Terminating"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    ERROR = "Error"


class ResultCode(enum.StrEnum):
    """What a sync did to one object, with Argo CD's strings."""

    SYNCED = "Synced"
    SYNC_FAILED = "SyncFailed"
    PRUNED = "Pruned"
    PRUNE_SKIPPED = "PruneSkipped"


class SyncAction(enum.StrEnum):
    """What reconciling one object takes: create it, update it, prune it, or nothing."""

    CREATE = "create"
    UPDATE = "update"
    PRUNE = "prune"
    NONE = "none"
