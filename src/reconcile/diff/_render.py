"""Text and HTML views of diffs: unified diffs like ``kubectl diff``, summaries, colored notebook output.

Everything shown comes from the (already masked) objects of a :class:`~reconcile.diff.ResourceDiff`, with
server-only fields dropped and map keys sorted so both sides line up.
"""

from __future__ import annotations

import difflib
import html
from typing import TYPE_CHECKING, Any

from reconcile.diff._normalize import normalize
from reconcile.manifests import dump_yaml

if TYPE_CHECKING:
    from reconcile.diff._result import DiffResult, ResourceDiff
    from reconcile.model import Manifest, ResourceKey

_STYLE = {
    "+": "color:#22863a;background:#f0fff4",
    "-": "color:#b31d28;background:#ffeef0",
    "@": "color:#6f42c1",
}
_PRE = "margin:0;padding:4px 8px;font-family:monospace;font-size:12px;line-height:1.35"


def label(key: ResourceKey) -> str:
    """``apps/Deployment/default/web``: the key's non-empty parts, for diff headers."""
    return "/".join(part for part in (key.group, key.kind, key.namespace, key.name) if part)


def display(key: ResourceKey) -> str:
    """The key as kubectl spells it, with the namespace: ``deployment.apps/web -n default``."""
    return f"{key.display} -n {key.namespace}" if key.namespace else key.display


def unified(diff: ResourceDiff, context: int) -> str:
    """The unified diff of one object's live YAML against its predicted YAML (empty when not modified)."""
    if not diff.modified:
        return ""
    name = label(diff.key)
    lines = difflib.unified_diff(
        _yaml_lines(diff.live),
        _yaml_lines(diff.predicted),
        fromfile=f"live/{name}",
        tofile=f"predicted/{name}",
        n=context,
    )
    return "".join(lines)


def summary(diff: ResourceDiff) -> str:
    """``deployment.apps/web -n default: 1 change`` and one indented line per change."""
    head = display(diff.key)
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


def result_summary(result: DiffResult) -> str:
    """A status line, then the summary of each modified object."""
    total = len(result)
    plural = "s" if total != 1 else ""
    modified = result.modified_resources
    if not modified:
        return f"Synced: {total} object{plural}, no differences"
    head = f"OutOfSync: {len(modified)} of {total} object{plural} differ{'s' if len(modified) == 1 else ''}"
    return "\n".join([head, *(summary(r) for r in modified)])


def resource_html(diff: ResourceDiff) -> str:
    """One object's diff as HTML: a collapsible block with the colored unified diff."""
    title = f"<b>{html.escape(display(diff.key))}</b>: {html.escape(_state(diff))}"
    if not diff.modified:
        return f'<div class="reconcile-diff">{title}</div>'
    body = _colored(unified(diff, 3))
    return f'<details class="reconcile-diff" open><summary>{title}</summary>{body}</details>'


def result_html(result: DiffResult) -> str:
    """The whole comparison as HTML: the status line and each modified object's colored diff."""
    first, *_ = result_summary(result).split("\n")
    parts = [f"<p><b>{html.escape(first)}</b></p>", *(resource_html(r) for r in result.modified_resources)]
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
