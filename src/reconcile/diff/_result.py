"""What a comparison found: one :class:`ResourceDiff` per object, gathered in a :class:`DiffResult`, and its views.

The views are text and HTML: unified diffs like ``kubectl diff``, summaries, colored notebook output. Everything
shown comes from the (already masked) objects of a :class:`ResourceDiff`, with server-only fields dropped and map
keys sorted so both sides line up.
"""

from __future__ import annotations

import bisect
import difflib
import html
from collections.abc import Iterable, Iterator
from typing import Any

import attrs

from reconcile.diff._changes import Change
from reconcile.diff._normalize import normalize
from reconcile.errors import DiffError
from reconcile.manifests import dump_yaml
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
        dry_run_by: The field manager whose server-side dry-run apply of this very desired object, on this very
            live resourceVersion, the server accepted and ``predicted`` comes from; ``None`` when the prediction
            was made locally. A sync that would send the same request skips its own dry run.
    """

    key: ResourceKey
    desired: Manifest | None = attrs.field(hash=False)
    live: Manifest | None = attrs.field(hash=False)
    predicted: Manifest | None = attrs.field(hash=False)
    changes: tuple[Change, ...] = ()
    dry_run_by: str | None = attrs.field(default=None, eq=False, repr=False)

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
        return _unified(self, context)

    def summary(self) -> str:
        """One line naming the object and what differs, followed by one indented line per change."""
        return _summary(self)

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        return _resource_html(self)


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
        return _result_summary(self)

    def _repr_html_(self) -> str:
        return _result_html(self)

    def _repr_markdown_(self) -> str:
        """The summary, then the unified diff in a ``diff`` code block (Secret values are masked already)."""
        text = self.unified()
        return f"{self}\n\n```diff\n{text}```\n" if text else f"{self}\n"


# ------------------------------------------------------------------------------------------------ views

_STYLE = {
    "+": "color:#22863a;background:#f0fff4",
    "-": "color:#b31d28;background:#ffeef0",
    "@": "color:#6f42c1",
}
_PRE = "margin:0;padding:4px 8px;font-family:monospace;font-size:12px;line-height:1.35"


def _label(key: ResourceKey) -> str:
    """``apps/Deployment/default/web``: the key's non-empty parts, for diff headers."""
    return "/".join(part for part in (key.group, key.kind, key.namespace, key.name) if part)


def _display(key: ResourceKey) -> str:
    """The key as kubectl spells it, with the namespace: ``deployment.apps/web -n default``."""
    return f"{key.display} -n {key.namespace}" if key.namespace else key.display


def _unified(diff: ResourceDiff, context: int) -> str:
    """The unified diff of one object's live YAML against its predicted YAML (empty when not modified)."""
    if not diff.modified:
        return ""
    name = _label(diff.key)
    lines = difflib.unified_diff(
        _yaml_lines(diff.live),
        _yaml_lines(diff.predicted),
        fromfile=f"live/{name}",
        tofile=f"predicted/{name}",
        n=context,
    )
    return "".join(lines)


def _summary(diff: ResourceDiff) -> str:
    """``deployment.apps/web -n default: 1 change`` and one indented line per change."""
    head = _display(diff.key)
    if diff.missing:
        return f"{head}: missing from the cluster"
    if diff.requires_pruning:
        return f"{head}: requires pruning"
    if not diff.changes:
        return f"{head}: in sync"
    count = len(diff.changes)
    lines = [f"{head}: {count} change{'s' if count != 1 else ''}"]
    lines += [f"  {change}" for change in diff.changes]
    return "\n".join(lines)


def _result_summary(result: DiffResult) -> str:
    """A status line, then the summary of each modified object."""
    total = len(result)
    plural = "s" if total != 1 else ""
    modified = result.modified_resources
    if not modified:
        return f"Synced: {total} object{plural}, no differences"
    head = f"OutOfSync: {len(modified)} of {total} object{plural} differ{'s' if len(modified) == 1 else ''}"
    return "\n".join([head, *(_summary(r) for r in modified)])


def _resource_html(diff: ResourceDiff) -> str:
    """One object's diff as HTML: a collapsible block with the colored unified diff."""
    title = f"<b>{html.escape(_display(diff.key))}</b>: {html.escape(_state(diff))}"
    if not diff.modified:
        return f'<div class="reconcile-diff">{title}</div>'
    body = _colored(_unified(diff, 3))
    return f'<details class="reconcile-diff" open><summary>{title}</summary>{body}</details>'


def _result_html(result: DiffResult) -> str:
    """The whole comparison as HTML: the status line and each modified object's colored diff."""
    first, *_ = _result_summary(result).split("\n")
    parts = [f"<p><b>{html.escape(first)}</b></p>", *(_resource_html(r) for r in result.modified_resources)]
    return f'<div class="reconcile-diff-result">{"".join(parts)}</div>'


def _state(diff: ResourceDiff) -> str:
    if diff.missing:
        return "missing from the cluster"
    if diff.requires_pruning:
        return "requires pruning"
    count = len(diff.changes)
    return f"{count} change{'s' if count != 1 else ''}" if count else "in sync"


def _colored(text: str) -> str:
    rows = []
    for line in text.splitlines():
        style = "font-weight:bold" if line.startswith(("---", "+++")) else _STYLE.get(line[:1], "")
        escaped = html.escape(line) or " "
        rows.append(f'<div style="{style}">{escaped}</div>' if style else f"<div>{escaped}</div>")
    return f'<pre style="{_PRE}">{"".join(rows)}</pre>'


def _yaml_lines(obj: Manifest | None) -> list[str]:
    if obj is None:
        return []
    text = dump_yaml(_sorted(normalize(obj)))
    if text and not text.endswith("\n"):
        text += "\n"
    return text.splitlines(keepends=True)


def _sorted(value: Any) -> Any:
    # Sorted map keys line both sides up, whatever order the server or the merge produced.
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value
