"""What a comparison found: one :class:`ResourceDiff` per object, gathered in a :class:`DiffResult`."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from typing import Any

import attrs

from reconcile.diff import _render as render
from reconcile.diff._changes import Change
from reconcile.errors import DiffError
from reconcile.model import Manifest, ResourceKey, SyncStatus


@attrs.frozen(kw_only=True)
class ResourceDiff:
    """The comparison of one object's desired state with its live state.

    Secret values are masked in every field (see :mod:`reconcile.diff._mask`).

    Attributes:
        key: The object.
        desired: The desired object as compared (server-only fields dropped, Secret ``stringData`` folded into
            ``data``, list keys filled), or ``None`` when the object left the desired state.
        live: The object as the cluster returned it, or ``None`` when it does not exist.
        predicted: What the cluster would hold after applying ``desired`` (``None`` when there is nothing to
            apply).
        changes: Each difference between live and predicted, server-only fields left out. Empty when the
            object is missing or is to be pruned: then the whole object is the difference.
    """

    key: ResourceKey
    desired: Manifest | None = attrs.field(hash=False)
    live: Manifest | None = attrs.field(hash=False)
    predicted: Manifest | None = attrs.field(hash=False)
    changes: tuple[Change, ...] = ()

    @property
    def missing(self) -> bool:
        """The object is desired but does not exist in the cluster."""
        return self.desired is not None and self.live is None

    @property
    def requires_pruning(self) -> bool:
        """The object exists but is no longer desired."""
        return self.live is not None and self.desired is None

    @property
    def modified(self) -> bool:
        """Whether a sync would change anything for this object."""
        return self.missing or self.requires_pruning or bool(self.changes)

    @property
    def status(self) -> SyncStatus:
        """``OutOfSync`` when modified, else ``Synced``."""
        return SyncStatus.OUT_OF_SYNC if self.modified else SyncStatus.SYNCED

    def unified(self, context: int = 3) -> str:
        """A unified diff of the live object's YAML against the predicted one's, like ``kubectl diff``.

        Args:
            context: Unchanged lines shown around each change.

        Returns:
            The diff, with ``--- live/<key>`` and ``+++ predicted/<key>`` headers; empty when not modified.
        """
        return render.unified(self, context)

    def summary(self) -> str:
        """One line naming the object and what differs, followed by one indented line per change."""
        return render.summary(self)

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        return render.resource_html(self)


def _sorted_by_key(resources: Iterable[ResourceDiff]) -> tuple[ResourceDiff, ...]:
    return tuple(sorted(resources, key=lambda r: r.key))


@attrs.frozen
class DiffResult:
    """The comparison of a whole application: one :class:`ResourceDiff` per object, sorted by key.

    Indexing by :class:`~reconcile.model.ResourceKey` finds one object's diff; iterating yields every diff.
    """

    resources: tuple[ResourceDiff, ...] = attrs.field(converter=_sorted_by_key)

    def __attrs_post_init__(self) -> None:
        for before, after in zip(self.resources, self.resources[1:], strict=False):
            if before.key == after.key:
                raise DiffError(f"{before.key} is compared twice", key=before.key)

    @property
    def modified(self) -> bool:
        """Whether any object differs."""
        return any(r.modified for r in self.resources)

    @property
    def modified_resources(self) -> tuple[ResourceDiff, ...]:
        """The objects that differ, in key order."""
        return tuple(r for r in self.resources if r.modified)

    @property
    def status(self) -> SyncStatus:
        """``OutOfSync`` when any object differs, else ``Synced``."""
        return SyncStatus.OUT_OF_SYNC if self.modified else SyncStatus.SYNCED

    def get(self, key: ResourceKey) -> ResourceDiff | None:
        """The diff of ``key``, or ``None`` when the comparison did not include it."""
        index = bisect.bisect_left(self.resources, key, key=lambda r: r.key)
        if index < len(self.resources) and self.resources[index].key == key:
            return self.resources[index]
        return None

    def __getitem__(self, key: ResourceKey) -> ResourceDiff:
        found = self.get(key)
        if found is None:
            raise KeyError(key)
        return found

    def __contains__(self, item: Any) -> bool:
        if isinstance(item, ResourceKey):
            return self.get(item) is not None
        return item in self.resources

    def __iter__(self) -> Iterator[ResourceDiff]:
        return iter(self.resources)

    def __len__(self) -> int:
        return len(self.resources)

    def unified(self, context: int = 3) -> str:
        """The unified diffs of every modified object, in key order (empty when nothing differs)."""
        return "".join(r.unified(context) for r in self.modified_resources)

    def __str__(self) -> str:
        return render.result_summary(self)

    def _repr_html_(self) -> str:
        return render.result_html(self)

    def _repr_markdown_(self) -> str:
        """The summary, then the unified diff in a ``diff`` code block (Secret values are masked already)."""
        text = self.unified()
        return f"{self}\n\n```diff\n{text}```\n" if text else f"{self}\n"
